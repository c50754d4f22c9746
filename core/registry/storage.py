"""Where registry bytes live, behind the small interface the registry needs.

The registry only ever reads whole objects, replaces whole objects atomically, checks
existence, lists a folder and takes a writer lock, so an object store (S3 conditional
writes, GCS generation preconditions) can implement `Storage` later without any change
to `ModelRegistry` or its callers.

`LocalStorage` makes every write crash-safe: the bytes go to a temporary file in the
same folder, are fsynced, renamed over the target with `os.replace` (atomic on POSIX and
Windows) and the folder is fsynced so the rename itself survives a power cut. A reader
therefore sees the old object or the new one, never a torn one, and never blocks.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol, runtime_checkable

import filelock

from core.registry.exceptions import InvalidName, RegistryBusy

TEMP_PREFIX = ".tmp-"
"""Temporary files a crashed writer may leave behind; `list` never returns them."""


@runtime_checkable
class Storage(Protocol):
    """Keys are relative, '/'-separated paths such as `churn/versions/3/model.joblib`."""

    def read_bytes(self, key: str) -> bytes:
        """The whole object; raises FileNotFoundError when it does not exist."""
        ...

    def write_bytes(self, key: str, data: bytes) -> None:
        """Replace the object atomically: readers see the old bytes or the new, never a mix."""
        ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str) -> list[str]:
        """Names of the entries directly under `prefix` ('' for the root), sorted."""
        ...

    def lock(self, key: str) -> AbstractContextManager[None]:
        """An exclusive lock across processes; raises RegistryBusy when it times out."""
        ...

    def locate(self, key: str) -> str:
        """Where `key` lives, for messages that must tell a person which file is wrong."""
        ...


class LocalStorage:
    """A folder on a local (or POSIX network) file system."""

    def __init__(self, root: Path, *, lock_timeout_s: float = 60.0) -> None:
        self.root = Path(root)
        self._lock_timeout_s = lock_timeout_s

    def path(self, key: str) -> Path:
        """The file for `key`; keys that would leave the root are refused."""
        parts = key.split("/") if key else []
        if key.startswith("/") or any(p in ("", ".", "..") or "\\" in p for p in parts):
            raise InvalidName(key, "storage keys are relative paths without '.' or '..'")
        return self.root.joinpath(*parts)

    def locate(self, key: str) -> str:
        return str(self.path(key))

    def read_bytes(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self.path(key).exists()

    def list(self, prefix: str) -> list[str]:
        folder = self.path(prefix)
        try:
            names = os.listdir(folder)
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(n for n in names if not n.startswith("."))

    def write_bytes(self, key: str, data: bytes) -> None:
        target = self.path(key)
        self._make_dirs(target.parent)
        fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        _fsync_dir(target.parent)

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        path = self.path(key)
        self._make_dirs(path.parent)
        lock = filelock.FileLock(str(path), timeout=self._lock_timeout_s)
        try:
            lock.acquire()
        except filelock.Timeout:
            raise RegistryBusy(
                f"could not take the registry lock {path} within {self._lock_timeout_s:g}s"
            ) from None
        try:
            yield
        finally:
            lock.release()

    def _make_dirs(self, folder: Path) -> None:
        """Create missing folders and fsync each parent so the new entries are durable."""
        missing: list[Path] = []
        current = folder
        while not current.exists():
            missing.append(current)
            current = current.parent
        for path in reversed(missing):
            with contextlib.suppress(FileExistsError):
                path.mkdir()
            _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    """Persist a folder's entries (a rename or a new file); a no-op where unsupported."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open folders
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
