"""Signed indexes: who can write the registry folder must not be able to run code in
every scorer.

A joblib artifact is a pickle, so it is code. The index already records the SHA-256 of
every file of every version and nothing is unpickled before its bytes match; what it
could not say is who wrote the index. With `registry.signing_key` set, every index is
written with an HMAC-SHA-256 over its canonical JSON, and every read checks it before
anything the index names is used. The chain of trust is key -> index MAC -> SHA-256 of
each file (artifact, metadata, profile) -> bytes, so one MAC covers every artifact and
record, and an artifact swapped for another fails its digest as before.

A MAC alone does not stop a replay: an older index, validly signed, put back in place
of a newer one (to bring back a version that was rolled back for a reason). Every
signed index therefore carries a `sequence` that each write increments and the MAC
covers, and readers keep a `HighWaterMark`: the highest sequence (and its MAC) seen per
model, in memory for the life of the process and, when `registry.high_water_path` is
set, in a file that survives restarts. An index below the mark, or at the mark with
another MAC (a fork), is refused. See docs/hardening.md for what this does not cover.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import filelock
from pydantic import SecretStr

from core.registry.exceptions import HighWaterUnreadable
from core.registry.records import canonical_json

ALGORITHM: Final = "hmac-sha256"
SIGNATURE_FIELD: Final = "signature"
MIN_KEY_LENGTH: Final = 16


class IndexSigner:
    """HMAC-SHA-256 with one key; the key never leaves this object (`repr` hides it)."""

    def __init__(self, key: SecretStr | str | bytes) -> None:
        raw = key.get_secret_value() if isinstance(key, SecretStr) else key
        data = raw.encode() if isinstance(raw, str) else bytes(raw)
        if len(data) < MIN_KEY_LENGTH:
            raise ValueError(f"a signing key must be at least {MIN_KEY_LENGTH} bytes")
        self._key = data
        self.key_id = hmac.new(data, b"streamscore registry key id", hashlib.sha256).hexdigest()[
            :16
        ]
        """Names the key in an index and in errors without revealing it."""

    def __repr__(self) -> str:
        return f"IndexSigner(key_id={self.key_id!r})"

    def mac(self, payload: bytes) -> str:
        return hmac.new(self._key, payload, hashlib.sha256).hexdigest()

    def verify(self, payload: bytes, mac: str) -> bool:
        """Constant-time: how much of a forged MAC matched must not leak through timing."""
        return hmac.compare_digest(self.mac(payload), mac)


def signed_payload(document: dict[str, Any]) -> bytes:
    """The bytes the MAC covers: the index's canonical JSON without its signature.

    Computed from the parsed file on read and from the very dict written on write, so
    no re-serialization by a newer pydantic can change it.

    >>> signed_payload({"b": 1, "signature": {"mac": "x"}, "a": 2})
    b'{"a":2,"b":1}'
    """
    return canonical_json({k: v for k, v in document.items() if k != SIGNATURE_FIELD})


@dataclass(frozen=True, slots=True)
class Mark:
    sequence: int
    mac: str


class HighWaterMark:
    """The highest signed sequence seen per model, so a replayed older index is refused.

    In memory it protects a running process; with `path` the mark survives restarts and
    is shared by the processes on one host. Keep that file where the registry's writers
    cannot write (a rolled-back mark is as good as no mark).
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._marks: dict[str, Mark] = {}
        self._lock = threading.Lock()

    def check(self, name: str, sequence: int, mac: str) -> Mark | None:
        """The mark `sequence`/`mac` falls behind (refuse the index), else None after
        raising the mark to it."""
        with self._lock:
            if self.path is None:
                return self._raise(self._marks, name, sequence, mac)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with filelock.FileLock(str(self.path) + ".lock", timeout=30):
                on_disk = self._read()
                marks = dict(on_disk)
                for known, mark in self._marks.items():
                    if known not in marks or marks[known].sequence < mark.sequence:
                        marks[known] = mark
                behind = self._raise(marks, name, sequence, mac)
                if behind is None:
                    if marks != on_disk:  # a poll that saw nothing new writes nothing
                        self._write(marks)
                    self._marks = marks
                return behind

    def _raise(self, marks: dict[str, Mark], name: str, sequence: int, mac: str) -> Mark | None:
        mark = marks.get(name)
        if mark is not None and (
            sequence < mark.sequence
            or (sequence == mark.sequence and not hmac.compare_digest(mac, mark.mac))
        ):
            return mark
        marks[name] = Mark(sequence, mac)
        return None

    def _read(self) -> dict[str, Mark]:
        assert self.path is not None
        try:
            document = json.loads(self.path.read_bytes())
            return {
                str(name): Mark(int(entry["sequence"]), str(entry["mac"]))
                for name, entry in document["models"].items()
            }
        except FileNotFoundError:
            return {}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise HighWaterUnreadable(self.path, f"{type(exc).__name__}: {exc}") from None

    def _write(self, marks: dict[str, Mark]) -> None:
        assert self.path is not None
        document = {"models": {n: {"sequence": m.sequence, "mac": m.mac} for n, m in marks.items()}}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(json.dumps(document, indent=1, sort_keys=True).encode())
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
