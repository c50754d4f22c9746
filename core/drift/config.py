"""Drift settings section (`STREAMSCORE_DRIFT__*`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class DriftConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group_id: str = "streamscore-drift"
    """Consumer group of the drift watcher (separate from the scorers')."""

    window_events: int = 5000
    """Tumbling window size in events; used when `window_seconds` is unset."""

    window_seconds: float | None = None
    """Tumbling event-time window size in seconds; takes precedence over `window_events`."""

    min_window_events: int = 500
    """Windows with fewer valid events are skipped and reported as such."""

    http_port: int = 8002
    """Port of `/health` and `/metrics`; 0 picks a free one."""
