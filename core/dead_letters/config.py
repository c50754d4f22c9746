"""`dlq` settings section (`STREAMSCORE_DLQ__*`): how `streamscore dlq` reads and replays."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DeadLetterConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group_id: str = "streamscore-dlq-replay"
    """Consumer group of `dlq replay`: its committed offsets are the dead letters already
    examined, so each is replayed at most once per group. It is also the transactional
    id, so a rerun after a crash fences the dead run's open transaction at once (and a
    second concurrent run fences the first)."""

    batch_size: int = Field(default=500, ge=1)
    """Dead letters examined per transaction."""

    batch_timeout_ms: int = Field(default=200, ge=1)
    """Longest wait to fill a batch."""

    transaction_timeout_ms: int = Field(default=30000, ge=1000)

    samples: int = Field(default=3, ge=0, le=100)
    """Redacted samples per reason that `dlq stats` shows."""
