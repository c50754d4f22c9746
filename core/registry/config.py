"""Registry settings section (`STREAMSCORE_REGISTRY__*`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


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

    signing_key: SecretStr | None = Field(default=None, min_length=16)
    """HMAC-SHA-256 key (at least 16 characters; e.g. `secrets.token_hex(32)`). Set: every
    index written is signed, and an index that is unsigned, signed with another key or
    older than one already seen is refused before anything it names is unpickled. Give
    every process the same key, through the environment or a file only they can read;
    `streamscore registry sign` signs an existing registry. See docs/hardening.md."""

    high_water_path: Path | None = None
    """With a signing key: a file keeping the highest signed index sequence seen per
    model, so a replayed older index is refused after a restart too. Put it where the
    registry's writers cannot write (e.g. each host's own state folder). Unset: the mark
    lives in each process's memory only."""
