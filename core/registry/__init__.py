"""The model registry: versioned, verified scikit-learn models with stages and history.

`ModelRegistry` is imported on first use: its module loads joblib and numpy, and
`core.settings` reaches this package for `core.registry.config` on every settings load.
"""

from typing import TYPE_CHECKING

from core.registry.exceptions import (
    ArtifactIntegrityError,
    ArtifactLoadError,
    ArtifactMissing,
    IndexRolledBack,
    IndexSignatureError,
    IndexSignatureInvalid,
    InvalidName,
    InvalidRegistration,
    InvalidStage,
    LibraryVersionMismatch,
    ModelNotFound,
    NoPreviousProduction,
    NoProductionModel,
    RegistryBusy,
    RegistryCorrupted,
    RegistryError,
    SigningKeyRequired,
    UnsignedIndex,
)
from core.registry.records import ModelVersion, Transition, VerifyResult
from core.registry.storage import LocalStorage, Storage

if TYPE_CHECKING:
    from core.registry.registry import ModelRegistry
else:

    def __getattr__(name: str) -> object:
        if name == "ModelRegistry":
            from core.registry.registry import ModelRegistry

            return ModelRegistry
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ArtifactIntegrityError",
    "ArtifactLoadError",
    "ArtifactMissing",
    "IndexRolledBack",
    "IndexSignatureError",
    "IndexSignatureInvalid",
    "InvalidName",
    "InvalidRegistration",
    "InvalidStage",
    "LibraryVersionMismatch",
    "LocalStorage",
    "ModelNotFound",
    "ModelRegistry",
    "ModelVersion",
    "NoPreviousProduction",
    "NoProductionModel",
    "RegistryBusy",
    "RegistryCorrupted",
    "RegistryError",
    "SigningKeyRequired",
    "Storage",
    "Transition",
    "UnsignedIndex",
    "VerifyResult",
]
