"""What the multi-process benchmarks observe of their pipelines from outside.

A consumer group turning stable is the common start mark of every pipeline (each loads
its model before it subscribes), and a process's CPU seconds are the figure a shared
machine moves least. Used by `scale_bench.py` and `peers/peers_bench.py`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

from confluent_kafka import ConsumerGroupState, KafkaException
from confluent_kafka.admin import AdminClient
from scoring_bench import Pipeline

from core.settings import Settings


def wait_stable(
    s: Settings,
    group: str,
    procs: Sequence[Pipeline],
    members: int | None = None,
    timeout_s: float = 180.0,
) -> float:
    """When `group` became stable with every member assigned (and `members` of them,
    when given): raises if a pipeline exits or the group never settles."""
    admin = AdminClient({"bootstrap.servers": s.kafka.bootstrap_servers})
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        exited = next((p for p in procs if p.exited()), None)
        if exited is not None:
            raise RuntimeError(f"a pipeline exited; log {exited.log}:\n{exited.tail()}")
        try:
            d = admin.describe_consumer_groups([group], request_timeout=5)[group].result()
        except KafkaException:
            d = None
        if (
            d is not None
            and d.state == ConsumerGroupState.STABLE
            and d.members
            and (members is None or len(d.members) == members)
            and all(m.assignment and m.assignment.topic_partitions for m in d.members)
        ):
            return time.time()
        time.sleep(0.02)
    raise RuntimeError(f"group {group} never became stable; log {procs[0].log}")


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of a live process (every thread); 0 when gone."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
