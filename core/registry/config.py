"""Registry settings section (`STREAMSCORE_REGISTRY__*`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class RegistryConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: Path = Field(default=Path(".streamscore/registry"))
    """Root folder of the file-based model registry."""

    model_name: str = "churn"
    """The registered model that scorers serve and the retrainer replaces."""

    on_version_mismatch: Literal["warn", "refuse"] = "warn"
    """What loading does when the artifact was saved with other library versions."""

    poll_s: float = Field(default=5.0, gt=0)
    """How often every process following the production version (scorer, drift watcher,
    HTTP API) re-reads the registry; `model-events` announcements make it sooner."""
