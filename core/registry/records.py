"""What the registry writes down: per-version records, the per-model index, transitions.

A version folder holds `model.joblib`, `profile.json` and `metadata.json`; all three are
immutable once the index names the version. The index (`<name>/index.json`) is the only
file that changes: the list of versions with the SHA-256 of each of their files, the
stages and the full transition history. Because it is replaced atomically and written
last, whatever it names is complete and any reader sees one consistent state.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Stage = Literal["staging", "production"]
STAGES: tuple[Stage, ...] = ("staging", "production")
INDEX_FORMAT = 1


def canonical_json(value: Any) -> bytes:
    """One byte string per JSON value (sorted keys, no spaces), so digests are stable.

    >>> canonical_json({"b": 1, "a": [1.5, None]})
    b'{"a":[1.5,null],"b":1}'
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def finite_metrics(metrics: dict[str, float]) -> dict[str, float]:
    """Metrics as plain floats; NaN or infinity would make every later comparison lie."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"metric {key!r} is {number}")
        out[str(key)] = number
    return out


class ModelVersion(BaseModel):
    """One registered version, as every consumer of the registry sees it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: int
    created_at: datetime
    sha256: str
    """SHA-256 of the joblib artifact; checked before every load."""
    size: int
    """Artifact size in bytes."""
    metrics: dict[str, float] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    threshold: float = Field(default=0.5, gt=0, lt=1)
    """Decision threshold: `prediction` is 1 when the churn probability reaches it."""
    feature_schema: dict[str, Any] = Field(default_factory=dict)
    """Input features: `{"features": [{"name", "type", "categories"?}, ...]}`."""
    library_versions: dict[str, str] = Field(default_factory=dict)
    """python, scikit-learn, numpy, joblib, ... at registration; compared at load."""
    training_summary: dict[str, Any] = Field(default_factory=dict)
    parent_version: int | None = None
    """The version this one was trained to replace (lineage), if any."""
    trigger: str = "manual"
    """What started the training: manual, initial, drift, schedule, ..."""
    profile_digest: str
    """SHA-256 of the canonical JSON of the reference profile."""
    artifact: str = "model.joblib"
    stages: list[Stage] = Field(default_factory=list)
    """Stages that point at this version now (from the index, not stored per version)."""


class VersionEntry(BaseModel):
    """What the index records about a version: enough to verify every file it owns."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int
    created_at: datetime
    sha256: str
    size: int
    metadata_sha256: str
    profile_sha256: str


class Transition(BaseModel):
    """One line of a model's history: registration, promotion, rollback or rejection."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    at: datetime
    event: Literal["registered", "promoted", "rolled_back", "rejected"]
    """rejected: a registered challenger failed the retrainer's gate (no stage moved)."""
    stage: Stage | None = None
    from_version: int | None = None
    """What the stage pointed at before (None for a registration or an empty stage)."""
    to_version: int
    reason: str = ""
    by: str = ""
    """user@host (pid) of the writer."""


class IndexSignature(BaseModel):
    """HMAC-SHA-256 over the index's canonical JSON (`core.registry.signing`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    algorithm: Literal["hmac-sha256"] = "hmac-sha256"
    key_id: str
    """Names the key that signed, without revealing it."""
    mac: str


class ModelIndex(BaseModel):
    """The single mutable record of a model; replaced atomically as a whole."""

    model_config = ConfigDict(extra="forbid")

    format: int = INDEX_FORMAT
    name: str
    versions: list[VersionEntry] = Field(default_factory=list)
    production: list[int] = Field(default_factory=list)
    """Production versions in promotion order; the last one serves, rollback pops it."""
    staging: int | None = None
    history: list[Transition] = Field(default_factory=list)
    sequence: int | None = Field(default=None, ge=1)
    """Signed indexes only: one more on every write, so a replayed older index shows."""
    signature: IndexSignature | None = None
    """Signed indexes only (`registry.signing_key`); unsigned indexes omit both fields,
    so they read exactly as before signing existed."""

    def entry(self, version: int) -> VersionEntry | None:
        for entry in self.versions:
            if entry.version == version:
                return entry
        return None

    @property
    def production_version(self) -> int | None:
        return self.production[-1] if self.production else None

    def stages_of(self, version: int) -> list[Stage]:
        stages: list[Stage] = []
        if self.staging == version:
            stages.append("staging")
        if self.production_version == version:
            stages.append("production")
        return stages

    def problems(self) -> list[str]:
        """Broken invariants; empty for every index this registry can write."""
        known = {e.version for e in self.versions}
        found: list[str] = []
        if len(known) != len(self.versions):
            found.append("duplicate version entries")
        if self.staging is not None and self.staging not in known:
            found.append(f"staging points at unknown version {self.staging}")
        found += [
            f"production stack names unknown version {v}" for v in self.production if v not in known
        ]
        found += [
            f"history names unknown version {t.to_version}"
            for t in self.history
            if t.to_version not in known
        ]
        return found


class VerifyResult(BaseModel):
    """The outcome of re-checking one version's files against the index."""

    model_config = ConfigDict(frozen=True)

    name: str
    version: int
    ok: bool
    problems: list[str] = Field(default_factory=list)
    path: str
