"""The model registry: versioned, verified scikit-learn models with stages and history."""

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
from core.registry.registry import ModelRegistry
from core.registry.storage import LocalStorage, Storage

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
