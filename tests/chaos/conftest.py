"""The chaos suite's report: the fault table goes to the terminal summary (and stdout)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

_REPORT = pytest.StashKey[list[str]]()


@pytest.fixture
def chaos_report(request: pytest.FixtureRequest) -> Callable[[str], None]:
    def add(text: str) -> None:
        request.config.stash.setdefault(_REPORT, []).append(text)
        print("\n" + text, flush=True)

    return add


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    for text in config.stash.get(_REPORT, []):
        terminalreporter.section("chaos suite")
        terminalreporter.write_line(text)
