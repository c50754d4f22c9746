"""Where the demo's narration and snapshots go: a live view on a terminal, plain lines
elsewhere (CI, `| cat`, a log file), nothing under `--json`.

The demo picks one with `display_for(out)`; the three share `say` (a narrated line),
`show` (a snapshot, called by the feed's thread) and `close`.
"""

from __future__ import annotations

import io
import threading
import time
from typing import Protocol, TextIO

from rich.console import Console
from rich.live import Live

from streamscore.live_view import DemoSnapshot, plain_line, render

PLAIN_EVERY_S = 2.0
"""Off a terminal, one progress line this often: enough to follow, not a flood."""


class Display(Protocol):
    live: bool
    """True when snapshots are drawn a few times a second (the feed samples faster)."""

    def say(self, text: str) -> None: ...

    def show(self, snapshot: DemoSnapshot) -> None: ...

    def close(self) -> None: ...


class SilentDisplay:
    live = False

    def say(self, text: str) -> None:
        return

    def show(self, snapshot: DemoSnapshot) -> None:
        return

    def close(self) -> None:
        return


class PlainDisplay:
    """Narration as it comes, and a progress line every `every_s`; one lock keeps the
    feed's lines and the narration's whole."""

    live = False

    def __init__(self, out: TextIO, every_s: float = PLAIN_EVERY_S) -> None:
        self._out = out
        self._every_s = every_s
        self._next = 0.0
        self._lock = threading.Lock()

    def say(self, text: str) -> None:
        with self._lock:
            print(text, file=self._out, flush=True)

    def show(self, snapshot: DemoSnapshot) -> None:
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self._every_s
        self.say(plain_line(snapshot))

    def close(self) -> None:
        return


class LiveDisplay:
    """A rich `Live` region redrawn on each snapshot; narration scrolls above it. The
    last frame stays on screen when it closes, above the summary."""

    live = True

    def __init__(self, out: TextIO) -> None:
        self._console = Console(file=out)
        self._live = Live(
            console=self._console,
            auto_refresh=False,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._started = False

    def say(self, text: str) -> None:
        self._console.print(text, markup=False, highlight=False, soft_wrap=True)

    def show(self, snapshot: DemoSnapshot) -> None:
        if not self._started:
            self._live.start()
            self._started = True
        self._live.update(render(snapshot), refresh=True)

    def close(self) -> None:
        if self._started:
            self._live.stop()
            self._started = False


def display_for(out: TextIO | None) -> Display:
    """Live on a terminal, plain lines elsewhere, silent without an output."""
    if out is None:
        return SilentDisplay()
    return LiveDisplay(out) if out.isatty() else PlainDisplay(out)


def frame_text(snapshot: DemoSnapshot, width: int = 100) -> str:
    """One frame of the live view as plain text (what docs/demo-live-view.txt holds)."""
    console = Console(record=True, width=width, file=io.StringIO())
    console.print(render(snapshot))
    return console.export_text()
