"""`streamscore demo` as a person or CI runs it: the whole loop, its plain progress lines
off a terminal, and nothing left running afterwards, also when it is interrupted."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PROGRESS = re.compile(r"^\[\s*\d+\.\d s\] in [\d,]+/s out [\d,]+/s \| serving ")


def demo_env(state_dir: Path, bootstrap: str | None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("STREAMSCORE_") and k != "KAFKA_BOOTSTRAP_SERVERS"
    }
    env["STREAMSCORE_STATE_DIR"] = str(state_dir)
    if bootstrap is not None:
        env["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
    return env


def children(pid: int) -> set[int]:
    """Every live descendant of `pid` (from /proc), zombies left out."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rindex(")") + 2] != "Z"


def test_off_a_terminal_the_demo_prints_progress_lines_then_the_summary_and_leaves_nothing(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamscore", "demo", "--events", "6000", "--frame",
         str(tmp_path / "frame.txt")],
        env=demo_env(tmp_path / "state", kafka_bootstrap),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    seen: set[int] = set()
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        seen |= children(proc.pid)
    assert proc.wait(timeout=60) == 0, "\n".join(lines)
    seconds = time.monotonic() - started

    progress = [line for line in lines if PROGRESS.match(line)]
    assert len(progress) >= 5
    assert len(progress) <= seconds / 1.5, "a line every second or two, not a flood"
    assert not any("\x1b[" in line for line in lines), "no terminal codes off a terminal"
    assert any("serving v2" in line for line in progress)
    text = "\n".join(lines)
    assert "retrain decisions: promoted 1" in text
    assert re.search(r"drift report: \S+\.html", text)
    assert "logs of every process:" in text
    assert lines[-1].strip().startswith("done in")
    frame = (tmp_path / "frame.txt").read_text()
    assert "Live ROC AUC per version" in frame
    assert re.search(r"serving\s+v2", frame)
    assert not {pid for pid in seen if alive(pid)}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_an_interrupted_demo_stops_the_broker_it_started_and_leaves_no_process(
    tmp_path: Path, signum: signal.Signals
) -> None:
    state = tmp_path / "state"
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamscore", "demo"],
        env=demo_env(state, None),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("[5] Publish"):
                break
        else:
            pytest.fail("the demo ended before publishing:\n" + "\n".join(lines))
        broker_pid = json.loads((state / "broker" / "state.json").read_text())["pid"]
        seen = children(proc.pid) | {broker_pid}
        assert alive(broker_pid)
        time.sleep(2)  # mid-stream
        proc.send_signal(signum)
        rest, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    lines += rest.splitlines()
    assert proc.returncode == 130, "\n".join(lines)
    assert "streamscore demo: interrupted" in lines[-1]
    assert any("Broker stopped" in line for line in lines)
    assert not (state / "broker" / "state.json").exists()
    assert not {pid for pid in seen if alive(pid)}
