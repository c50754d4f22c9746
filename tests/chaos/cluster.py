"""Every streamscore role as a real OS process, started through the CLI as a user would,
with the faults the chaos suite injects: SIGKILL, restart, SIGTERM, the broker's
SIGKILL and restart on the same port and data.

Each process gets the same environment (settings as STREAMSCORE_* variables), its own
/health port and its own log file; a restarted process reuses its name, port and (for a
scorer) instance id, so it fences its dead predecessor's transactions at once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.kafka.local_broker import free_port

STOP_BOUND_S = 30.0
"""Every process must exit 0 within this many seconds of SIGTERM."""


class Role:
    """One named process: `streamscore <args>` with the cluster's environment."""

    def __init__(
        self, name: str, args: list[str], env: dict[str, str], logs: Path, http: bool = True
    ) -> None:
        self.name = name
        self.args = args
        self.env = env
        self.port = free_port() if http else None
        self.log = logs / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> Role:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "streamscore", *self.args, *self._port_args()],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.starts += 1
        return self

    def _port_args(self) -> list[str]:
        return [] if self.port is None else ["--port", str(self.port)]

    def wait(self, timeout_s: float) -> int:
        if self.proc is None:
            raise AssertionError(f"{self.name} was not started")
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.name} still running after {timeout_s:.0f} s") from None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, open transactions stay open."""
        if self.proc is None:
            raise AssertionError(f"{self.name} is not running")
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self) -> tuple[int | None, float]:
        """SIGTERM and wait up to STOP_BOUND_S: (exit code or None if still running, s)."""
        if self.proc is None:
            raise AssertionError(f"{self.name} is not running")
        asked = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code: int | None = self.proc.wait(STOP_BOUND_S)
        except subprocess.TimeoutExpired:
            code = None
            self.proc.kill()
            self.proc.wait(10)
        return code, time.monotonic() - asked

    def terminate_wait(self, asked: float) -> tuple[int | None, float]:
        """After SIGTERM was sent at `asked`: the exit code (None if still running at
        `asked + STOP_BOUND_S`, then killed) and the seconds it took."""
        if self.proc is None:
            raise AssertionError(f"{self.name} is not running")
        try:
            code: int | None = self.proc.wait(max(0.0, asked + STOP_BOUND_S - time.monotonic()))
        except subprocess.TimeoutExpired:
            code = None
            self.proc.kill()
            self.proc.wait(10)
        return code, time.monotonic() - asked

    def health(self) -> dict[str, Any] | None:
        """The /health body (also when it answers 503), or None when nothing answers."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as r:
                body: dict[str, Any] = json.loads(r.read())
                return body
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read())
            return body
        except (OSError, ValueError):
            return None

    def metric(self, name: str, **labels: str) -> float | None:
        """One sample of /metrics, or None."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=2) as r:
                text = r.read().decode()
        except OSError:
            return None
        want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        for line in text.splitlines():
            head, _, value = line.rpartition(" ")
            if head == name or head == f"{name}{{{want}}}":
                return float(value)
        return None


@dataclass
class Faults:
    """How often each fault was injected: the report's first column."""

    injected: Counter[str] = field(default_factory=Counter)

    def count(self, fault: str) -> None:
        self.injected[fault] += 1


class Broker:
    """The local broker through `streamscore broker start|status|stop`, with SIGKILL."""

    def __init__(self, env: dict[str, str], port: int, logs: Path) -> None:
        self.env = env
        self.port = port
        self.logs = logs

    def _cli(self, *args: str, timeout_s: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "streamscore", "broker", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    def start(self) -> None:
        # A restart recovers the logs of a broker killed mid-write: give it time on a
        # loaded machine (still a bounded wait, with the CLI's own one-line error).
        done = self._cli(
            "start", "--port", str(self.port), "--timeout", "300", "--json", timeout_s=360
        )
        if done.returncode != 0:
            raise AssertionError(f"broker start failed: {done.stderr.strip()}")
        state = json.loads(done.stdout)
        if state["port"] != self.port:
            raise AssertionError(f"broker started on {state['port']}, not {self.port}")
        self.data_dir = state["data_dir"]

    def kill(self) -> None:
        done = self._cli("status", "--json")
        state = json.loads(done.stdout)
        if not state.get("running"):
            raise AssertionError("no broker to kill")
        os.killpg(int(state["pid"]), signal.SIGKILL)
        deadline = time.monotonic() + 10
        while self._cli("status", "--json").returncode == 0:
            if time.monotonic() > deadline:
                raise AssertionError("the broker outlived its SIGKILL")
            time.sleep(0.2)

    def stop(self) -> None:
        self._cli("stop")


def wait_for(what: str, check: Callable[[], bool], timeout_s: float, every_s: float = 0.5) -> float:
    """Poll `check` until it holds; fail naming `what` after `timeout_s`. Returns seconds."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(every_s)
    return time.monotonic() - started
