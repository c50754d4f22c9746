"""Ctrl-C, SIGTERM and SIGHUP for a program that must clean up: a request, honoured at safe points.

Raising KeyboardInterrupt from the signal handler would land wherever the main thread
is, inside confluent-kafka's C code among other places, where it can surface as an
unrelated error (a `TypeError` from `produce`) and skip the cleanup that stops the
broker. So the first signal only sets a flag; the program calls `check()` between
steps and chunks, which raises KeyboardInterrupt from plain Python. A second signal
raises at once, for a person who will not wait; `shielded()` holds both off while
something must finish (stopping a broker).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType
from typing import Any

_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""SIGHUP too: closing the terminal window must not leave the broker running."""


class Interruption:
    """Use as a context manager; outside the main thread it installs nothing.

    >>> with Interruption() as interruption:
    ...     interruption.check()  # nothing asked yet
    ...     interruption.requested.set()
    ...     try:
    ...         interruption.check()
    ...     except KeyboardInterrupt:
    ...         print("stopped at the check")
    stopped at the check
    """

    def __init__(self) -> None:
        self.requested = threading.Event()
        self._previous: dict[int, Callable[[int, FrameType | None], Any] | int | None] = {}

    def __enter__(self) -> Interruption:
        if threading.current_thread() is threading.main_thread():
            self._previous = {sig: signal.signal(sig, self._handle) for sig in _SIGNALS}
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    def check(self) -> None:
        """Raise KeyboardInterrupt if a stop was asked for."""
        if self.requested.is_set():
            raise KeyboardInterrupt

    def sleep(self, seconds: float) -> None:
        """Sleep, cut short by a signal (which is then raised as KeyboardInterrupt)."""
        self.requested.wait(max(0.0, seconds))
        self.check()

    @contextmanager
    def shielded(self) -> Iterator[None]:
        """No signal interrupts the block (each one is still counted as a request)."""
        if not self._previous:
            yield
            return
        for sig in _SIGNALS:
            signal.signal(sig, self._note)
        try:
            yield
        finally:
            for sig in _SIGNALS:
                signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested.is_set():
            raise KeyboardInterrupt
        self.requested.set()

    def _note(self, signum: int, frame: FrameType | None) -> None:
        self.requested.set()
