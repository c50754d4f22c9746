"""Graceful stop on SIGTERM and SIGINT: finish the batch in hand, then leave."""

from __future__ import annotations

import signal
import threading
from types import FrameType


def stop_on_signals(stop: threading.Event | None = None) -> threading.Event:
    """An event set by SIGTERM or SIGINT; loops check it between batches.

    A second signal while stopping restores the default handler's behaviour, so a stuck
    process can still be interrupted by a person.
    """
    event = stop or threading.Event()

    def _handle(signum: int, frame: FrameType | None) -> None:
        if event.is_set():
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)
        event.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _handle)
        signal.signal(signal.SIGINT, _handle)
    return event
