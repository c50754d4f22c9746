"""Errors the model registry raises on purpose.

Every one names what is wrong (which model, version or file) and carries a `hint`
saying what to do, so `streamscore registry ...` can print one line and a scorer can log
both fields. A loaded artifact is code (pickle), so integrity errors are loud and specific.
"""

from __future__ import annotations

from pathlib import Path

from core.errors import StreamscoreError


class RegistryError(StreamscoreError):
    """Base class of every registry error."""

    hint = "run `streamscore registry verify` to check the registry"


class InvalidName(RegistryError):
    """A model name or version that could escape the registry folder or is malformed."""

    hint = (
        "use 1-64 characters: letters, digits, '.', '_' or '-', starting with a letter or "
        "digit; versions are positive integers"
    )

    def __init__(self, value: object, reason: str) -> None:
        super().__init__(f"invalid model name or version {value!r}: {reason}")
        self.value = value
        self.reason = reason


class InvalidRegistration(RegistryError):
    """What `register` was given cannot be stored faithfully (unfitted model, bad JSON)."""

    hint = "register a fitted scikit-learn estimator with finite metrics and JSON metadata"


class ModelNotFound(RegistryError):
    """The model, or one version of it, is not in the registry."""

    def __init__(self, name: str, version: int | None = None) -> None:
        what = f"model {name!r}" if version is None else f"model {name!r} version {version}"
        super().__init__(
            f"{what} is not in the registry",
            hint="list what exists with `streamscore registry list`",
        )
        self.name = name
        self.version = version


class NoProductionModel(RegistryError):
    """Nothing is promoted to production, so there is nothing to serve."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"model {name!r} has no production version",
            hint=(
                "train one with `streamscore train`, or promote a version with "
                f"`streamscore registry promote {name} VERSION`"
            ),
        )
        self.name = name


class NoPreviousProduction(RegistryError):
    """`rollback` needs an earlier production version to return to."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"model {name!r} has no earlier production version to roll back to",
            hint=f"promote a known-good version instead: `streamscore registry promote {name} "
            "VERSION --reason ...`",
        )
        self.name = name


class ArtifactIntegrityError(RegistryError):
    """A stored file does not match its recorded SHA-256 or size: never load it."""

    def __init__(
        self, path: Path | str, detail: str = "does not match its recorded SHA-256"
    ) -> None:
        super().__init__(
            f"refusing to use {path}: {detail}",
            hint=(
                "the file was changed or corrupted after registration; do not load it. Restore "
                "it from a backup, or promote or retrain another version"
            ),
        )
        self.path = Path(path)


class ArtifactMissing(ArtifactIntegrityError):
    """A version in the index whose file is gone."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(path, "the file is missing")


class LibraryVersionMismatch(RegistryError):
    """The artifact was pickled with library versions scikit-learn cannot promise to load."""

    def __init__(self, name: str, version: int, problems: list[str]) -> None:
        super().__init__(
            f"model {name!r} version {version} was saved with other library versions: "
            + "; ".join(problems),
            hint=(
                "retrain with the running versions (`streamscore train`), run with the "
                "recorded ones, or set STREAMSCORE_REGISTRY__ON_VERSION_MISMATCH=warn"
            ),
        )
        self.problems = problems


class ArtifactLoadError(RegistryError):
    """The artifact is intact but could not be unpickled in this environment."""

    hint = "check the recorded library versions with `streamscore registry show NAME VERSION`"


class RegistryCorrupted(RegistryError):
    """An index file exists but cannot be read; writes are atomic, so this is outside damage."""

    def __init__(self, path: Path | str, detail: str) -> None:
        super().__init__(
            f"registry index {path} is unreadable: {detail}",
            hint="restore the index from a backup; the version folders next to it are intact",
        )
        self.path = Path(path)


class RegistryBusy(RegistryError):
    """Another writer held the registry lock for longer than the timeout."""

    hint = "another train, promote or rollback is running; retry when it has finished"


class InvalidStage(RegistryError):
    """Only `staging` and `production` exist."""

    hint = "use --stage production or --stage staging"


class IndexSignatureError(RegistryError):
    """With `registry.signing_key` set, an index that cannot be trusted: never used."""

    def __init__(self, path: Path | str, detail: str, hint: str) -> None:
        super().__init__(f"refusing registry index {path}: {detail}", hint=hint)
        self.path = Path(path)


class UnsignedIndex(IndexSignatureError):
    """The index carries no signature although this process requires one."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(
            path,
            "it is not signed, and registry.signing_key is set",
            "if the registry was written before signing was turned on, sign it with "
            "`streamscore registry sign` (which verifies every version's files first); "
            "otherwise someone without the key wrote it: restore a signed index from a backup",
        )


class IndexSignatureInvalid(IndexSignatureError):
    """The signature does not match: forged, edited, or signed with another key."""

    def __init__(self, path: Path | str, detail: str) -> None:
        super().__init__(
            path,
            detail,
            "the index was changed or re-signed without this key; do not use it. Restore "
            "it from a backup and find out who can write the registry folder (or, after a "
            "key rotation, give every process the new key)",
        )


class IndexRolledBack(IndexSignatureError):
    """A validly signed index older than one this host has already seen (a replay)."""

    def __init__(self, path: Path | str, sequence: int, seen: int) -> None:
        super().__init__(
            path,
            f"its sequence {sequence} is behind sequence {seen} already seen here: an older "
            "index was put back in place of a newer one",
            "restore the newest index from a backup; to roll production back on purpose "
            "use `streamscore registry rollback`, which writes a newer index",
        )
        self.sequence = sequence
        self.seen = seen


class SigningKeyRequired(RegistryError):
    """A process without the key must not overwrite a signed index with an unsigned one."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"model {name!r} has a signed index and this process has no signing key",
            hint="set STREAMSCORE_REGISTRY__SIGNING_KEY (registry.signing_key) to change it",
        )
        self.name = name


class HighWaterUnreadable(RegistryError):
    """The file of signed-index high-water marks (`registry.high_water_path`) is damaged."""

    def __init__(self, path: Path | str, detail: str) -> None:
        super().__init__(
            f"registry high-water file {path} is unreadable: {detail}",
            hint="restore it from a backup; deleting it gives up replay protection until "
            "each model's index is read again",
        )
        self.path = Path(path)
