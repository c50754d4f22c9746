"""The broker a benchmark runs against, found the way the tests find theirs.

`KAFKA_BOOTSTRAP_SERVERS` if set (with `BENCH_BROKER_PID`, the broker's pid, when the
bench reports the broker's CPU), else the project's local single-node broker, started for
the run and stopped after it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from core.kafka.local_broker import LocalBroker


@dataclass(frozen=True)
class BenchBroker:
    bootstrap: str
    pid: int | None
    """The broker's process, for its CPU figures; None when an external one is unnamed."""


@contextmanager
def bench_broker(workdir: Path, log: Callable[[str], None] | None = None) -> Iterator[BenchBroker]:
    """The broker for the block; `log` hears when a local one starts and stops."""
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if bootstrap:
        pid = os.environ.get("BENCH_BROKER_PID")
        yield BenchBroker(bootstrap, int(pid) if pid else None)
        return
    broker = LocalBroker(workdir / "broker")
    if log is not None:
        log("starting a local Kafka broker")
    state = broker.start()
    try:
        yield BenchBroker(state.bootstrap, state.pid)
    finally:
        if log is not None:
            log("stopping the local Kafka broker")
        broker.stop()
