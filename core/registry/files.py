"""The registry's files: where each one lives and how it is read back with its checksum.

Every read of a version file goes through `read_checked`, which compares the bytes with
the SHA-256 (and size) the index recorded, so nothing downstream ever handles bytes that
differ from what was registered, and the bytes that were checked are the bytes used.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from typing import Any, Final

from core.registry.exceptions import (
    ArtifactIntegrityError,
    ArtifactMissing,
    IndexRolledBack,
    IndexSignatureInvalid,
    InvalidName,
    ModelNotFound,
    RegistryCorrupted,
    SigningKeyRequired,
    UnsignedIndex,
)
from core.registry.names import validate_name
from core.registry.records import (
    IndexSignature,
    ModelIndex,
    ModelVersion,
    VersionEntry,
    sha256_hex,
)
from core.registry.signing import SIGNATURE_FIELD, HighWaterMark, IndexSigner, signed_payload
from core.registry.storage import Storage

ARTIFACT: Final = "model.joblib"
PROFILE: Final = "profile.json"
METADATA: Final = "metadata.json"


def index_key(name: str) -> str:
    return f"{name}/index.json"


def lock_key(name: str) -> str:
    return f"{name}/.lock"


def version_key(name: str, version: int, filename: str) -> str:
    return f"{name}/versions/{version}/{filename}"


class RegistryFiles:
    """Typed, checksum-verified access to one registry's objects in a `Storage`; with a
    signer, every index read is verified and every index written is signed."""

    def __init__(
        self,
        storage: Storage,
        signer: IndexSigner | None = None,
        high_water: HighWaterMark | None = None,
    ) -> None:
        self.storage = storage
        self.signer = signer
        self.high_water = high_water if high_water is not None else HighWaterMark()

    def locate(self, key: str) -> str:
        return self.storage.locate(key)

    def lock(self, name: str) -> AbstractContextManager[None]:
        return self.storage.lock(lock_key(name))

    def models(self) -> list[str]:
        """Names of the registered models: folders with a valid name and an index."""
        return [
            name
            for name in self.storage.list("")
            if _is_valid_name(name) and self.storage.exists(index_key(name))
        ]

    def read_index(self, name: str, *, verify_signature: bool = True) -> ModelIndex | None:
        """The model's index, None when it has none; RegistryCorrupted when unreadable,
        and with a signer an `IndexSignatureError` unless it is signed, by this key, and
        not older than one seen before."""
        key = index_key(name)
        try:
            data = self.storage.read_bytes(key)
        except FileNotFoundError:
            return None
        try:
            document = json.loads(data)
            index = ModelIndex.model_validate(document)
        except (ValueError, RecursionError) as exc:
            raise RegistryCorrupted(self.locate(key), str(exc).splitlines()[0]) from None
        problems = index.problems()
        if index.name != name:
            problems.append(f"index is for model {index.name!r}")
        if problems:
            raise RegistryCorrupted(self.locate(key), "; ".join(problems))
        if self.signer is not None and verify_signature:
            self._check_signature(key, document, index, self.signer)
        return index

    def _check_signature(
        self, key: str, document: dict[str, Any], index: ModelIndex, signer: IndexSigner
    ) -> None:
        signature = index.signature
        if signature is None:
            raise UnsignedIndex(self.locate(key))
        if signature.key_id != signer.key_id:
            raise IndexSignatureInvalid(
                self.locate(key),
                f"it is signed with key {signature.key_id}, not this process's key {signer.key_id}",
            )
        if not signer.verify(signed_payload(document), signature.mac) or index.sequence is None:
            raise IndexSignatureInvalid(self.locate(key), "its signature does not match")
        behind = self.high_water.check(index.name, index.sequence, signature.mac)
        if behind is not None:
            raise IndexRolledBack(self.locate(key), index.sequence, behind.sequence)

    def require_index(self, name: str) -> ModelIndex:
        index = self.read_index(name)
        if index is None:
            raise ModelNotFound(name)
        return index

    def write_index(self, index: ModelIndex) -> None:
        """Replace the index atomically: the commit point of every registry write.

        Signed: the sequence goes up by one and the MAC covers it. Unsigned: written as
        before signing existed, and refused over a signed index (`SigningKeyRequired`),
        which a process without the key would otherwise quietly downgrade.
        """
        signer = self.signer
        if signer is None:
            if index.signature is not None:
                raise SigningKeyRequired(index.name)
            document = index.model_dump(mode="json", exclude={"sequence", SIGNATURE_FIELD})
        else:
            sequence = (index.sequence or 0) + 1
            signed = index.model_copy(update={"sequence": sequence, "signature": None})
            document = signed.model_dump(mode="json", exclude={SIGNATURE_FIELD})
            mac = signer.mac(signed_payload(document))
            document[SIGNATURE_FIELD] = IndexSignature(key_id=signer.key_id, mac=mac).model_dump()
        self.storage.write_bytes(index_key(index.name), json.dumps(document, indent=1).encode())
        if signer is not None:
            self.high_water.check(
                index.name, document["sequence"], document[SIGNATURE_FIELD]["mac"]
            )

    def write_version_file(self, name: str, version: int, filename: str, data: bytes) -> None:
        self.storage.write_bytes(version_key(name, version, filename), data)

    def read_checked(
        self, name: str, version: int, filename: str, sha256: str, size: int | None = None
    ) -> bytes:
        """The file's bytes, or a named error when they are missing or not as recorded."""
        key = version_key(name, version, filename)
        try:
            data = self.storage.read_bytes(key)
        except FileNotFoundError:
            raise ArtifactMissing(self.locate(key)) from None
        if size is not None and len(data) != size:
            raise ArtifactIntegrityError(
                self.locate(key), f"size {len(data)} bytes, recorded {size}"
            )
        actual = sha256_hex(data)
        if actual != sha256:
            raise ArtifactIntegrityError(
                self.locate(key), f"SHA-256 {actual[:12]}…, recorded {sha256[:12]}…"
            )
        return data

    def read_artifact(self, name: str, entry: VersionEntry) -> bytes:
        return self.read_checked(name, entry.version, ARTIFACT, entry.sha256, entry.size)

    def read_record(self, name: str, entry: VersionEntry) -> ModelVersion:
        """The version's metadata.json, checked against the digest in the index."""
        data = self.read_checked(name, entry.version, METADATA, entry.metadata_sha256)
        return ModelVersion.model_validate_json(data)


def _is_valid_name(name: str) -> bool:
    try:
        validate_name(name)
    except InvalidName:
        return False
    return True
