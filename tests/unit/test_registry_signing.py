"""A signed registry: whoever can write the registry folder but has no key cannot make a
scorer unpickle anything: not by forging the index, swapping an artifact, re-signing
with another key, stripping the signature or putting an older signed index back."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path
from typing import Any

import joblib
import pytest
from structlog.testing import capture_logs

from core.errors import ConfigError
from core.follower import ProductionFollower
from core.registry import (
    ArtifactIntegrityError,
    IndexRolledBack,
    IndexSignatureInvalid,
    ModelRegistry,
    SigningKeyRequired,
    UnsignedIndex,
)
from core.registry.config import RegistryConfig
from core.registry.exceptions import HighWaterUnreadable
from core.registry.signing import HighWaterMark, IndexSigner, signed_payload
from core.scoring import LoadedModel
from core.settings import load_settings
from tests.models import train_and_register

KEY = "CANARY-signing-key-0123456789abcdef"
OTHER_KEY = "another-key-that-is-long-enough"


class Payload:
    """An artifact an attacker would plant: unpickling it touches a file."""

    def __init__(self, canary: Path) -> None:
        self.canary = canary

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (Path.touch, (self.canary,))


def evil_artifact(canary: Path) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(Payload(canary), buffer)
    return buffer.getvalue()


def index_path(root: Path) -> Path:
    return root / "churn" / "index.json"


def read_index(root: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(index_path(root).read_bytes())
    return document


def write_index(root: Path, document: dict[str, Any]) -> None:
    index_path(root).write_text(json.dumps(document, indent=1))


@pytest.fixture
def signed(tmp_path: Path) -> tuple[Path, ModelRegistry]:
    root = tmp_path / "registry"
    registry = ModelRegistry(root, signing_key=KEY)
    train_and_register(registry, seed=1, rows=400)
    return root, registry


def test_a_signed_registry_signs_every_index_write_and_serves_as_before(
    signed: tuple[Path, ModelRegistry],
) -> None:
    root, registry = signed
    first = read_index(root)
    assert first["signature"]["algorithm"] == "hmac-sha256"
    train_and_register(registry, seed=2, rows=400)
    second = read_index(root)
    assert second["sequence"] > first["sequence"]
    model, version = ModelRegistry(root, signing_key=KEY).production("churn")
    assert version.version == 2
    assert hasattr(model, "predict_proba")


def test_an_unsigned_registry_writes_the_index_exactly_as_before(tmp_path: Path) -> None:
    train_and_register(tmp_path, seed=1, rows=400)
    assert {"sequence", "signature"}.isdisjoint(read_index(tmp_path))


def test_a_forged_index_pointing_at_a_planted_artifact_is_refused_before_unpickling(
    signed: tuple[Path, ModelRegistry], tmp_path: Path
) -> None:
    root, _ = signed
    canary = tmp_path / "code-ran"
    planted = evil_artifact(canary)
    (root / "churn" / "versions" / "1" / "model.joblib").write_bytes(planted)
    document = read_index(root)
    document["versions"][0]["sha256"] = hashlib.sha256(planted).hexdigest()
    document["versions"][0]["size"] = len(planted)
    write_index(root, document)
    with pytest.raises(IndexSignatureInvalid) as refused:
        ModelRegistry(root, signing_key=KEY).production("churn")
    assert "Restore" in refused.value.hint
    assert not canary.exists()
    ModelRegistry(root).load("churn", 1)  # the same forgery, read without the key...
    assert canary.exists(), "...runs the planted code: what signing is for"


def test_a_swapped_artifact_is_refused_before_unpickling(
    signed: tuple[Path, ModelRegistry], tmp_path: Path
) -> None:
    root, _ = signed
    canary = tmp_path / "code-ran"
    (root / "churn" / "versions" / "1" / "model.joblib").write_bytes(evil_artifact(canary))
    with pytest.raises(ArtifactIntegrityError):
        ModelRegistry(root, signing_key=KEY).production("churn")
    assert not canary.exists()


def test_an_index_re_signed_with_another_key_is_refused_and_named_by_key_id(
    signed: tuple[Path, ModelRegistry],
) -> None:
    root, _ = signed
    document = read_index(root)
    document["production"] = []
    forger = IndexSigner(OTHER_KEY)
    document["signature"] = {
        "algorithm": "hmac-sha256",
        "key_id": forger.key_id,
        "mac": forger.mac(signed_payload(document)),
    }
    write_index(root, document)
    with pytest.raises(IndexSignatureInvalid, match=forger.key_id):
        ModelRegistry(root, signing_key=KEY).production_version("churn")
    document["signature"]["key_id"] = IndexSigner(KEY).key_id  # claim the right key id
    write_index(root, document)
    with pytest.raises(IndexSignatureInvalid, match="does not match"):
        ModelRegistry(root, signing_key=KEY).production_version("churn")


def test_an_unsigned_index_is_refused_when_a_key_is_set(
    signed: tuple[Path, ModelRegistry],
) -> None:
    root, _ = signed
    document = read_index(root)
    del document["signature"]
    write_index(root, document)
    with pytest.raises(UnsignedIndex) as refused:
        ModelRegistry(root, signing_key=KEY).production_version("churn")
    assert "streamscore registry sign" in refused.value.hint


def test_a_rolled_back_index_is_refused_by_a_reader_that_saw_a_newer_one(
    signed: tuple[Path, ModelRegistry], tmp_path: Path
) -> None:
    root, registry = signed
    marks = tmp_path / "host-state" / "registry-high-water.json"
    reader = ModelRegistry(root, signing_key=KEY, high_water=HighWaterMark(marks))
    assert reader.production_version("churn") == 1
    old = index_path(root).read_bytes()
    train_and_register(registry, seed=2, rows=400)
    assert reader.production_version("churn") == 2
    index_path(root).write_bytes(old)  # validly signed, but older
    with pytest.raises(IndexRolledBack) as refused:
        reader.production_version("churn")
    assert "streamscore registry rollback" in refused.value.hint
    restarted = ModelRegistry(root, signing_key=KEY, high_water=HighWaterMark(marks))
    with pytest.raises(IndexRolledBack):
        restarted.production_version("churn")
    with pytest.raises(IndexRolledBack):
        registry.promote("churn", 1)  # a writer never builds on a replayed index
    forgetful = ModelRegistry(root, signing_key=KEY)
    assert forgetful.production_version("churn") == 1, "the documented limit: no mark kept"


def test_a_deliberate_rollback_writes_a_newer_index_and_is_accepted(
    signed: tuple[Path, ModelRegistry],
) -> None:
    root, registry = signed
    reader = ModelRegistry(root, signing_key=KEY)
    train_and_register(registry, seed=2, rows=400)
    assert reader.production_version("churn") == 2
    registry.rollback("churn", reason="v2 misbehaves")
    assert reader.production_version("churn") == 1


def test_a_process_without_the_key_reads_but_never_downgrades_a_signed_index(
    signed: tuple[Path, ModelRegistry],
) -> None:
    root, _ = signed
    keyless = ModelRegistry(root)
    assert keyless.production_version("churn") == 1
    with pytest.raises(SigningKeyRequired):
        keyless.promote("churn", 1, "staging")
    assert "signature" in read_index(root)


def test_signing_an_existing_registry_verifies_it_first_then_signs_it(tmp_path: Path) -> None:
    train_and_register(tmp_path, seed=1, rows=400)
    keyed = ModelRegistry(tmp_path, signing_key=KEY)
    with pytest.raises(UnsignedIndex):
        keyed.production_version("churn")
    assert keyed.sign("churn") is True
    assert keyed.sign("churn") is False
    assert ModelRegistry(tmp_path, signing_key=KEY).production_version("churn") == 1


def test_signing_refuses_a_registry_whose_files_no_longer_match(tmp_path: Path) -> None:
    train_and_register(tmp_path, seed=1, rows=400)
    (tmp_path / "churn" / "versions" / "1" / "model.joblib").write_bytes(b"swapped")
    with pytest.raises(ArtifactIntegrityError):
        ModelRegistry(tmp_path, signing_key=KEY).sign("churn")
    assert "signature" not in read_index(tmp_path)


def test_signing_refuses_an_index_signed_with_another_key(
    signed: tuple[Path, ModelRegistry],
) -> None:
    root, _ = signed
    with pytest.raises(IndexSignatureInvalid):
        ModelRegistry(root, signing_key=OTHER_KEY).sign("churn")


def test_the_key_is_never_written_logged_or_shown(tmp_path: Path) -> None:
    root = tmp_path / "registry"
    with capture_logs() as logs:
        registry = ModelRegistry(root, signing_key=KEY)
        train_and_register(registry, seed=1, rows=400)
        registry.production("churn")
    assert KEY not in repr(logs)
    for path in root.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    assert KEY not in repr(RegistryConfig(signing_key=KEY))
    assert KEY not in repr(IndexSigner(KEY))


def test_the_key_comes_from_the_settings_and_a_short_one_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("STREAMSCORE_REGISTRY__SIGNING_KEY", KEY)
    settings = load_settings(registry={"path": tmp_path})
    assert ModelRegistry.from_config(settings.registry).signed
    monkeypatch.setenv("STREAMSCORE_REGISTRY__SIGNING_KEY", "short")
    with pytest.raises(ConfigError) as bad:
        load_settings()
    assert "short" not in str(bad.value)


def test_a_copied_signed_index_of_another_registry_with_the_same_key_is_accepted(
    signed: tuple[Path, ModelRegistry], tmp_path: Path
) -> None:
    """The documented limit: one key vouches for every registry that shares it."""
    root, _ = signed
    twin = tmp_path / "twin"
    shutil.copytree(root, twin)
    assert ModelRegistry(twin, signing_key=KEY).production_version("churn") == 1


def test_a_follower_keeps_serving_its_version_when_the_index_is_forged(
    signed: tuple[Path, ModelRegistry],
) -> None:
    root, _ = signed
    follower = ProductionFollower(
        ModelRegistry(root, signing_key=KEY), "churn", LoadedModel.load, poll_s=3600
    )
    assert follower.refresh(force=True)
    document = read_index(root)
    document["production"] = [1, 1]
    write_index(root, document)
    with capture_logs() as logs:
        assert follower.refresh(force=True) is False
    assert follower.version == 1
    assert [e["event"] for e in logs] == ["registry_unreadable"]
    assert "signature does not match" in logs[0]["error"]


def test_a_damaged_high_water_file_is_a_named_registry_error(
    signed: tuple[Path, ModelRegistry], tmp_path: Path
) -> None:
    root, _ = signed
    marks = tmp_path / "marks.json"
    marks.write_text("{not json")
    reader = ModelRegistry(root, signing_key=KEY, high_water=HighWaterMark(marks))
    with pytest.raises(HighWaterUnreadable):
        reader.production_version("churn")
