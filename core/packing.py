"""State as checkpoint bytes: compact JSON, zlib-compressed.

One codec for every checkpoint (drift windows, metric states): JSON keeps a checkpoint
readable with standard tools and stable across library versions; zlib brings
histograms' zeros down to a few kilobytes. State rewritten every batch and mostly
numbers (the monitor's join buffer and windows) packs its numbers as raw arrays beside
a JSON header instead (`pack_columns`).
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from core.errors import StreamscoreError


def pack(value: dict[str, Any], level: int = 6) -> bytes:
    """`level` 1 for state written every batch where speed matters more than size."""
    return zlib.compress(json.dumps(value, separators=(",", ":")).encode(), level)


def unpack(data: bytes, error: type[StreamscoreError], what: str) -> dict[str, Any]:
    """The packed dict, or `error` saying which `what` could not be read."""
    try:
        value = json.loads(zlib.decompress(data))
    except (zlib.error, ValueError) as exc:
        raise error(f"{what} is unreadable: {exc}") from None
    if not isinstance(value, dict):
        raise error(f"{what} is unreadable: not a JSON object")
    return value


_ENCODE_JSON = msgspec.json.Encoder().encode
"""Compact JSON as `json.dumps` writes it with `separators=(",", ":")`, but several times
faster on the join's list of event ids (non-ASCII text stays UTF-8 rather than escaped:
the same JSON to any reader)."""

_COLUMNS_MAGIC = b"SSCOL1"
_LENGTH = struct.Struct(">I")


def pack_columns(
    header: dict[str, Any],
    columns: Mapping[str, npt.NDArray[Any]],
    uncompressed: Iterable[str] = (),
) -> bytes:
    """`header` as JSON and numeric `columns` as raw little-endian arrays, compressed
    once at level 1: for state written every batch whose bulk is numbers, where
    printing and parsing every float as JSON text cost more than the rest of the batch.
    Columns named in `uncompressed` (random floats, which zlib cannot shrink and only
    slows down on) follow the compressed part as they are."""
    raw = set(uncompressed)
    arrays = {
        n: np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")) for n, a in columns.items()
    }
    described = {
        **header,
        "columns": [[n, a.dtype.str, len(a), n in raw] for n, a in arrays.items()],
    }
    head = _ENCODE_JSON(described)
    packed = [a.tobytes() for n, a in arrays.items() if n not in raw]
    body = zlib.compress(b"".join([_LENGTH.pack(len(head)), head, *packed]), 1)
    plain = [a.tobytes() for n, a in arrays.items() if n in raw]
    return b"".join([_COLUMNS_MAGIC, _LENGTH.pack(len(body)), body, *plain])


def is_columns(data: bytes) -> bool:
    return data.startswith(_COLUMNS_MAGIC)


def unpack_columns(
    data: bytes, error: type[StreamscoreError], what: str
) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    """The header and columns `pack_columns` wrote, or `error` naming `what`."""
    if not is_columns(data):
        raise error(f"{what} is unreadable: not a column checkpoint")
    try:
        at = len(_COLUMNS_MAGIC)
        (size,) = _LENGTH.unpack_from(data, at)
        at += _LENGTH.size
        body = zlib.decompress(data[at : at + size])
        at += size
        (length,) = _LENGTH.unpack_from(body)
        start = _LENGTH.size + length
        header = json.loads(body[_LENGTH.size : start])
        described = header.pop("columns")
        columns: dict[str, npt.NDArray[Any]] = {}
        for name, dtype, count, raw in described:
            if not raw:
                columns[name] = np.frombuffer(body, np.dtype(dtype), count, start)
                start += columns[name].nbytes
        for name, dtype, count, raw in described:
            if raw:
                columns[name] = np.frombuffer(data, np.dtype(dtype), count, at)
                at += columns[name].nbytes
    except (zlib.error, ValueError, TypeError, struct.error) as exc:
        raise error(f"{what} is unreadable: {exc}") from None
    if start != len(body) or at != len(data):
        raise error(f"{what} is unreadable: its length does not match its columns")
    return header, columns
