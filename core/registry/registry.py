"""The file-based model registry every scorer, the drift watcher and the retrainer read.

Layout under the root, one folder per model::

    churn/index.json                 the only mutable file: versions, stages, history
    churn/.lock                      writers' cross-process lock (filelock)
    churn/versions/3/model.joblib    the fitted Pipeline
    churn/versions/3/profile.json    reference profile of the training data
    churn/versions/3/metadata.json   metrics, schema, library versions, lineage, SHA-256

Write order makes crashes harmless: a version's files are written (atomically) before
the index names it, and the index is replaced atomically last. A crash therefore leaves
either the old index, with at worst an unnamed version folder that the next `register`
overwrites, or the new one, whose files all exist. Writers serialize on the per-model
lock; readers never lock, they read whichever index is current.

Trust: an artifact is only unpickled after its bytes match the SHA-256 and size in the
index, and the very bytes that were hashed are the ones loaded.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import SecretStr

from core.logging import get_logger
from core.registry.config import RegistryConfig
from core.registry.encoding import (
    dump_model,
    json_bytes,
    load_model,
    require_fitted,
    writer_identity,
)
from core.registry.environment import library_versions, unsupported_differences
from core.registry.exceptions import (
    ArtifactIntegrityError,
    ArtifactLoadError,
    InvalidRegistration,
    InvalidStage,
    LibraryVersionMismatch,
    ModelNotFound,
    NoPreviousProduction,
    NoProductionModel,
    RegistryCorrupted,
    SigningKeyRequired,
)
from core.registry.feature_schema import schema_from_model
from core.registry.files import (
    ARTIFACT,
    METADATA,
    PROFILE,
    RegistryFiles,
    index_key,
    version_key,
)
from core.registry.names import validate_name, validate_version
from core.registry.records import (
    STAGES,
    ModelIndex,
    ModelVersion,
    Stage,
    Transition,
    VerifyResult,
    VersionEntry,
    finite_metrics,
    sha256_hex,
)
from core.registry.signing import HighWaterMark, IndexSigner
from core.registry.storage import LocalStorage, Storage

MismatchPolicy = Literal["warn", "refuse"]
MAX_TRIGGER_LENGTH = 64


class ModelRegistry:
    """Register, promote, roll back, load and verify model versions under one root."""

    def __init__(
        self,
        root: Path,
        on_version_mismatch: MismatchPolicy = "warn",
        *,
        storage: Storage | None = None,
        signing_key: SecretStr | str | bytes | None = None,
        high_water: HighWaterMark | None = None,
    ) -> None:
        if on_version_mismatch not in ("warn", "refuse"):
            raise ValueError(
                f"on_version_mismatch must be 'warn' or 'refuse', not {on_version_mismatch!r}"
            )
        self.root = Path(root)
        self.on_version_mismatch: MismatchPolicy = on_version_mismatch
        signer = IndexSigner(signing_key) if signing_key is not None else None
        self._files = RegistryFiles(
            storage if storage is not None else LocalStorage(self.root), signer, high_water
        )
        self._log = get_logger(component="registry")

    @classmethod
    def from_config(cls, config: RegistryConfig, root: Path | None = None) -> ModelRegistry:
        """The registry every process opens: path, mismatch policy, key and high-water
        mark from the `registry` settings section (`root` overrides the path)."""
        return cls(
            root if root is not None else config.path,
            config.on_version_mismatch,
            signing_key=config.signing_key,
            high_water=HighWaterMark(config.high_water_path),
        )

    @property
    def signed(self) -> bool:
        """Whether this registry signs what it writes and verifies what it reads."""
        return self._files.signer is not None

    # ---- writes -------------------------------------------------------------------------

    def register(
        self,
        name: str,
        model: Any,
        metrics: dict[str, float],
        metadata: dict[str, Any],
        *,
        reference_profile: dict[str, Any],
        feature_schema: dict[str, Any] | None = None,
        training_summary: dict[str, Any] | None = None,
        parent_version: int | None = None,
        trigger: str = "manual",
        threshold: float = 0.5,
    ) -> ModelVersion:
        """Store a fitted estimator as the next version; stages are left unchanged.

        Everything is validated and serialized before the lock is taken, so a slow dump
        never holds other writers up and a bad argument never leaves a trace on disk.
        """
        name = validate_name(name)
        parent = validate_version(parent_version) if parent_version is not None else None
        require_fitted(model)
        if not trigger or len(trigger) > MAX_TRIGGER_LENGTH:
            raise InvalidRegistration(f"trigger must be 1-{MAX_TRIGGER_LENGTH} characters")
        try:
            clean_metrics = finite_metrics(metrics)
        except (TypeError, ValueError) as exc:
            raise InvalidRegistration(f"metrics must be finite numbers: {exc}") from None
        if not 0.0 < threshold < 1.0:
            raise InvalidRegistration(f"threshold must be between 0 and 1, not {threshold}")
        if not isinstance(reference_profile, dict):
            raise InvalidRegistration("reference_profile must be a JSON object (dict)")
        schema = feature_schema if feature_schema is not None else schema_from_model(model)
        summary = training_summary or {}
        profile_bytes = json_bytes("reference_profile", reference_profile, canonical=True)
        for label, value in (("metadata", metadata), ("feature_schema", schema)):
            json_bytes(label, value)
        json_bytes("training_summary", summary)
        artifact = dump_model(model)

        with self._files.lock(name):
            index = self._files.read_index(name) or ModelIndex(name=name)
            if parent is not None and index.entry(parent) is None:
                raise ModelNotFound(name, parent)
            version = max((e.version for e in index.versions), default=0) + 1
            now = datetime.now(UTC)
            record = ModelVersion(
                name=name,
                version=version,
                created_at=now,
                sha256=sha256_hex(artifact),
                size=len(artifact),
                metrics=clean_metrics,
                metadata=metadata,
                threshold=threshold,
                feature_schema=schema,
                library_versions=library_versions(),
                training_summary=summary,
                parent_version=parent,
                trigger=trigger,
                profile_digest=sha256_hex(profile_bytes),
                artifact=ARTIFACT,
            )
            record_bytes = json_bytes(
                "metadata", record.model_dump(mode="json", exclude={"stages"})
            )
            # Files first, index last: the index never names a version with missing files.
            self._files.write_version_file(name, version, ARTIFACT, artifact)
            self._files.write_version_file(name, version, PROFILE, profile_bytes)
            self._files.write_version_file(name, version, METADATA, record_bytes)
            entry = VersionEntry(
                version=version,
                created_at=now,
                sha256=record.sha256,
                size=record.size,
                metadata_sha256=sha256_hex(record_bytes),
                profile_sha256=record.profile_digest,
            )
            transition = Transition(
                at=now, event="registered", to_version=version, reason=trigger, by=writer_identity()
            )
            self._files.write_index(
                index.model_copy(
                    update={
                        "versions": [*index.versions, entry],
                        "history": [*index.history, transition],
                    }
                )
            )
        self._log.info("model.registered", model_name=name, version=version, sha256=record.sha256)
        return record

    def promote(
        self, name: str, version: int, stage: str = "production", reason: str = ""
    ) -> ModelVersion:
        """Point `stage` at `version` after checking its artifact is intact.

        Promoting the version a stage already points at is recorded in the history (it is
        an audited decision) but does not push a second copy onto the rollback stack.
        """
        name = validate_name(name)
        version = validate_version(version)
        target = _stage(stage)
        with self._files.lock(name):
            index = self._files.require_index(name)
            entry = index.entry(version)
            if entry is None:
                raise ModelNotFound(name, version)
            self._files.read_artifact(name, entry)
            if target == "production":
                before = index.production_version
                stack = index.production if before == version else [*index.production, version]
                update: dict[str, Any] = {"production": stack}
            else:
                before = index.staging
                update = {"staging": version}
            transition = Transition(
                at=datetime.now(UTC),
                event="promoted",
                stage=target,
                from_version=before,
                to_version=version,
                reason=reason,
                by=writer_identity(),
            )
            index = index.model_copy(update={**update, "history": [*index.history, transition]})
            self._files.write_index(index)
        self._log.info(
            "model.promoted", model_name=name, version=version, stage=target, previous=before
        )
        return self._version(index, entry)

    def rollback(self, name: str, reason: str = "") -> ModelVersion:
        """Return production to the version it pointed at before the current one."""
        name = validate_name(name)
        with self._files.lock(name):
            index = self._files.require_index(name)
            if not index.production:
                raise NoProductionModel(name)
            if len(index.production) < 2:
                raise NoPreviousProduction(name)
            current, previous = index.production[-1], index.production[-2]
            entry = index.entry(previous)
            if entry is None:  # excluded by ModelIndex.problems(); kept for the type checker
                raise RegistryCorrupted(self._files.locate(index_key(name)), "bad stack")
            self._files.read_artifact(name, entry)
            transition = Transition(
                at=datetime.now(UTC),
                event="rolled_back",
                stage="production",
                from_version=current,
                to_version=previous,
                reason=reason,
                by=writer_identity(),
            )
            index = index.model_copy(
                update={
                    "production": index.production[:-1],
                    "history": [*index.history, transition],
                }
            )
            self._files.write_index(index)
        self._log.info("model.rolled_back", model_name=name, version=previous, previous=current)
        return self._version(index, entry)

    def reject(self, name: str, version: int, reason: str = "") -> ModelVersion:
        """Record that `version` was judged and refused (no stage moves).

        A rejected challenger stays registered, so its gate figures and lineage can be
        read with `registry show` and a person who disagrees can still promote it; the
        `rejected` line makes the decision visible in `registry history`. Rejecting a
        version twice records it once.
        """
        name = validate_name(name)
        version = validate_version(version)
        with self._files.lock(name):
            index = self._files.require_index(name)
            entry = index.entry(version)
            if entry is None:
                raise ModelNotFound(name, version)
            if not any(t.event == "rejected" and t.to_version == version for t in index.history):
                transition = Transition(
                    at=datetime.now(UTC),
                    event="rejected",
                    to_version=version,
                    reason=reason,
                    by=writer_identity(),
                )
                index = index.model_copy(update={"history": [*index.history, transition]})
                self._files.write_index(index)
        self._log.info("model.rejected", model_name=name, version=version)
        return self._version(index, entry)

    # ---- reads (never lock) ---------------------------------------------------------------

    def production_version(self, name: str) -> int | None:
        """The production version, or None; reads one small file, loads no artifact."""
        index = self._files.read_index(validate_name(name))
        return index.production_version if index else None

    def production(self, name: str) -> tuple[Any, ModelVersion]:
        """The verified production model and its version; NoProductionModel when none."""
        name = validate_name(name)
        index = self._files.read_index(name)
        version = index.production_version if index else None
        if index is None or version is None:
            raise NoProductionModel(name)
        return self._load(index, version)

    def load(self, name: str, version: int) -> Any:
        """The estimator of one version, only after its bytes match the recorded SHA-256."""
        index = self._files.require_index(validate_name(name))
        model, _ = self._load(index, validate_version(version))
        return model

    def get(self, name: str, version: int) -> ModelVersion:
        index = self._files.require_index(validate_name(name))
        return self._version(index, self._entry(index, version))

    def versions(self, name: str) -> list[ModelVersion]:
        index = self._files.require_index(validate_name(name))
        return [self._version(index, entry) for entry in index.versions]

    def models(self) -> list[str]:
        """Names of the registered models."""
        return self._files.models()

    def history(self, name: str) -> list[Transition]:
        return list(self._files.require_index(validate_name(name)).history)

    def reference_profile(self, name: str, version: int) -> dict[str, Any]:
        """The reference profile stored with a version, checked against its digest."""
        index = self._files.require_index(validate_name(name))
        entry = self._entry(index, version)
        data = self._files.read_checked(index.name, entry.version, PROFILE, entry.profile_sha256)
        profile: dict[str, Any] = json.loads(data)
        return profile

    def verify(self, name: str | None = None, version: int | None = None) -> list[VerifyResult]:
        """Recompute the checksums of one version, one model or everything; never unpickles."""
        if name is None:
            if version is not None:
                raise ModelNotFound("<any>", version)
            return [r for model in self.models() for r in self.verify(model)]
        index = self._files.require_index(validate_name(name))
        entries = index.versions if version is None else [self._entry(index, version)]
        return [self._verify_entry(index.name, entry) for entry in entries]

    def sign(self, name: str) -> bool:
        """Sign an unsigned index with this registry's key (turning signing on for an
        existing registry); False when it is already signed with it.

        Signing vouches for whatever the index names now, so every version's files are
        verified first and any failure refuses. A signature by another key is refused
        too: re-signing is how a forgery would be laundered.
        """
        if self._files.signer is None:
            raise SigningKeyRequired(name)
        name = validate_name(name)
        with self._files.lock(name):
            index = self._files.read_index(name, verify_signature=False)
            if index is None:
                raise ModelNotFound(name)
            if index.signature is not None:
                self._files.read_index(name)  # raises unless signed by this key and current
                return False
            results = [self._verify_entry(name, entry) for entry in index.versions]
            failed = [r for r in results if not r.ok]
            if failed:
                raise ArtifactIntegrityError(failed[0].path, "; ".join(failed[0].problems))
            self._files.write_index(index)
        self._log.info("model.index_signed", model_name=name)
        return True

    # ---- internals ------------------------------------------------------------------------

    def _entry(self, index: ModelIndex, version: int) -> VersionEntry:
        wanted = validate_version(version)
        entry = index.entry(wanted)
        if entry is None:
            raise ModelNotFound(index.name, wanted)
        return entry

    def _verify_entry(self, name: str, entry: VersionEntry) -> VerifyResult:
        problems: list[str] = []
        checks = (
            (ARTIFACT, entry.sha256, entry.size),
            (METADATA, entry.metadata_sha256, None),
            (PROFILE, entry.profile_sha256, None),
        )
        for filename, sha, size in checks:
            try:
                self._files.read_checked(name, entry.version, filename, sha, size)
            except ArtifactIntegrityError as exc:
                problems.append(str(exc))
        if not problems:
            record = self._files.read_record(name, entry)
            if record.sha256 != entry.sha256 or record.profile_digest != entry.profile_sha256:
                problems.append("metadata.json disagrees with the index")
        folder = Path(self._files.locate(version_key(name, entry.version, ARTIFACT))).parent
        return VerifyResult(
            name=name, version=entry.version, ok=not problems, problems=problems, path=str(folder)
        )

    def _load(self, index: ModelIndex, version: int) -> tuple[Any, ModelVersion]:
        entry = self._entry(index, version)
        record = self._version(index, entry)
        data = self._files.read_artifact(index.name, entry)
        problems = unsupported_differences(record.library_versions, library_versions())
        if problems:
            if self.on_version_mismatch == "refuse":
                raise LibraryVersionMismatch(index.name, version, problems)
            self._log.warning(
                "model.library_version_mismatch",
                model_name=index.name,
                version=version,
                problems=problems,
            )
        try:
            model = load_model(data)
        except Exception as exc:
            raise ArtifactLoadError(
                f"model {index.name!r} version {version} could not be unpickled: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        return model, record

    def _version(self, index: ModelIndex, entry: VersionEntry) -> ModelVersion:
        record = self._files.read_record(index.name, entry)
        return record.model_copy(update={"stages": index.stages_of(entry.version)})

    # Last in the class body: as a method name, `list` would shadow the builtin in
    # the annotations of every method defined after it.
    def list(self) -> list[ModelVersion]:
        """Every version of every model, by name then version."""
        return [mv for name in self.models() for mv in self.versions(name)]


def _stage(stage: str) -> Stage:
    for known in STAGES:
        if stage == known:
            return known
    raise InvalidStage(f"unknown stage {stage!r}: expected one of {', '.join(STAGES)}")
