"""The settings every consumer section shares (scorer, drift watcher, and the ones to
come), so one scaffold (`core.kafka.service.ConsumerSpec.from_config`) reads them alike."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ConsumerConfig(BaseModel):
    """Each section subclasses this and sets its own defaults."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    group_id: str
    """Consumer group: replicas of one role share it, other roles have their own."""

    batch_size: int = Field(ge=1)
    """Largest batch consumed and committed at once (one transaction each)."""

    batch_timeout_ms: int = Field(ge=1)
    """Longest wait to fill a batch; bounds latency under light load."""

    http_port: int
    """Port of `/health` and `/metrics`; 0 picks a free one."""

    instance_id: str | None = Field(
        default=None,
        description="Stable name of this instance within its group (e.g. a StatefulSet pod "
        "name), part of its transactional ids. Unset: host and pid, unique per process. "
        "Never give two running instances the same one: they would fence each other "
        "(docs/scaling.md).",
    )
    http_host: str = "127.0.0.1"
    """Interface `/health` and `/metrics` listen on. Loopback by default: nothing off
    the host can reach them. `0.0.0.0` in a container, where probes and Prometheus come
    from outside (docker-compose.yml sets it); neither endpoint needs a credential."""
