"""The model registry: every transition, every error, and the trust rules for loading."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import filelock
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from structlog.testing import capture_logs

import core.registry.registry as registry_module
from core.errors import StreamscoreError
from core.registry import (
    ArtifactIntegrityError,
    ArtifactMissing,
    InvalidName,
    InvalidRegistration,
    InvalidStage,
    LibraryVersionMismatch,
    LocalStorage,
    ModelNotFound,
    ModelRegistry,
    ModelVersion,
    NoPreviousProduction,
    NoProductionModel,
    RegistryBusy,
    RegistryCorrupted,
    Storage,
)
from core.registry.records import canonical_json

PROFILE: dict[str, Any] = {"format": 1, "numeric": {"age": {"mean": 41.5}}, "categorical": {}}
X = np.array([[0.0], [1.0], [2.0], [3.0], [4.0], [5.0]])
Y = np.array([0, 0, 0, 1, 1, 1])


@pytest.fixture
def model() -> LogisticRegression:
    return LogisticRegression().fit(X, Y)


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    return ModelRegistry(tmp_path / "registry")


def register(registry: ModelRegistry, model: Any, name: str = "churn", **kw: Any) -> ModelVersion:
    kw.setdefault("reference_profile", PROFILE)
    return registry.register(name, model, {"roc_auc": 0.8}, {"note": "test"}, **kw)


def artifact_path(registry: ModelRegistry, name: str, version: int) -> Path:
    return registry.root / name / "versions" / str(version) / "model.joblib"


# ---- register ------------------------------------------------------------------------------


def test_register_assigns_consecutive_versions_starting_at_one(registry, model):
    assert [register(registry, model).version for _ in range(3)] == [1, 2, 3]


def test_register_records_checksum_size_metrics_metadata_and_library_versions(registry, model):
    mv = register(registry, model, trigger="drift")
    data = artifact_path(registry, "churn", 1).read_bytes()
    assert mv.sha256 == hashlib.sha256(data).hexdigest()
    assert mv.size == len(data)
    assert mv.metrics == {"roc_auc": 0.8}
    assert mv.metadata == {"note": "test"}
    assert mv.trigger == "drift"
    assert mv.stages == []
    assert {"python", "scikit-learn", "numpy", "joblib"} <= set(mv.library_versions)
    assert registry.get("churn", 1) == mv


def test_register_records_the_parent_version_and_refuses_an_unknown_parent(registry, model):
    register(registry, model)
    assert register(registry, model, parent_version=1).parent_version == 1
    with pytest.raises(ModelNotFound):
        register(registry, model, parent_version=7)
    assert [v.version for v in registry.versions("churn")] == [1, 2]


def test_register_stores_the_reference_profile_under_its_canonical_digest(registry, model):
    mv = register(registry, model)
    assert mv.profile_digest == hashlib.sha256(canonical_json(PROFILE)).hexdigest()
    assert registry.reference_profile("churn", 1) == PROFILE


def test_profile_digest_equals_the_drift_profile_digest(registry, model):
    import pandas as pd

    from core.drift.profile import ReferenceProfile

    df = pd.DataFrame({"age": np.arange(100.0), "contract_type": ["one_year"] * 100})
    profile = ReferenceProfile.from_frame(df, numeric=["age"], categorical=["contract_type"])
    mv = register(registry, model, reference_profile=profile.to_dict())
    assert mv.profile_digest == profile.digest()


def test_register_infers_the_feature_schema_from_a_fitted_pipeline(registry):
    from core.training import build_pipeline

    rng = np.random.default_rng(0)
    import pandas as pd

    df = pd.DataFrame(
        {
            "age": rng.integers(18, 80, 60),
            "tenure_months": rng.integers(0, 72, 60),
            "monthly_charges": rng.uniform(20, 100, 60),
            "total_charges": rng.uniform(0, 5000, 60),
            "contract_type": rng.choice(["month-to-month", "one_year", "two_year"], 60),
        }
    )
    pipeline = build_pipeline("logistic").fit(df, rng.integers(0, 2, 60))
    schema = register(registry, pipeline).feature_schema["features"]
    assert [f["name"] for f in schema][:4] == [
        "age",
        "tenure_months",
        "monthly_charges",
        "total_charges",
    ]
    assert schema[4] == {
        "name": "contract_type",
        "type": "categorical",
        "categories": ["month-to-month", "one_year", "two_year"],
    }


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param({"model": LogisticRegression()}, id="unfitted"),
        pytest.param({"model": object()}, id="not-an-estimator"),
        pytest.param({"metrics": {"auc": float("nan")}}, id="nan-metric"),
        pytest.param({"metadata": {"when": object()}}, id="metadata-not-json"),
        pytest.param({"reference_profile": [1, 2]}, id="profile-not-a-dict"),
        pytest.param({"reference_profile": {"x": float("inf")}}, id="profile-not-json"),
        pytest.param({"trigger": ""}, id="empty-trigger"),
    ],
)
def test_register_refuses_what_it_cannot_store_faithfully_and_writes_nothing(registry, model, bad):
    args: dict[str, Any] = {
        "model": model,
        "metrics": {"auc": 0.8},
        "metadata": {},
        "reference_profile": PROFILE,
    }
    args.update(bad)
    with pytest.raises(InvalidRegistration):
        registry.register(
            "churn",
            args.pop("model"),
            args.pop("metrics"),
            args.pop("metadata"),
            **args,
        )
    assert not registry.root.exists()


# ---- promote and rollback --------------------------------------------------------------------


def test_promote_to_production_sets_the_stage_and_records_the_transition(registry, model):
    register(registry, model)
    mv = registry.promote("churn", 1, reason="first")
    assert mv.stages == ["production"]
    assert registry.production_version("churn") == 1
    last = registry.history("churn")[-1]
    assert (last.event, last.stage, last.from_version, last.to_version, last.reason) == (
        "promoted",
        "production",
        None,
        1,
        "first",
    )
    assert last.by


def test_promote_to_staging_leaves_production_alone(registry, model):
    register(registry, model)
    register(registry, model)
    registry.promote("churn", 1)
    mv = registry.promote("churn", 2, stage="staging")
    assert mv.stages == ["staging"]
    assert registry.production_version("churn") == 1
    assert registry.get("churn", 1).stages == ["production"]
    registry.promote("churn", 2)
    assert registry.get("churn", 2).stages == ["staging", "production"]


def test_promote_refuses_unknown_versions_models_and_stages(registry, model):
    register(registry, model)
    with pytest.raises(ModelNotFound) as err:
        registry.promote("churn", 2)
    assert (err.value.name, err.value.version) == ("churn", 2)
    with pytest.raises(ModelNotFound):
        registry.promote("other", 1)
    with pytest.raises(InvalidStage):
        registry.promote("churn", 1, stage="archived")
    assert registry.production_version("churn") is None


def test_promoting_the_current_version_again_is_recorded_but_not_stacked(registry, model):
    for _ in range(2):
        register(registry, model)
    registry.promote("churn", 1)
    registry.promote("churn", 2)
    registry.promote("churn", 2, reason="again")
    assert registry.history("churn")[-1].reason == "again"
    assert registry.rollback("churn").version == 1


def test_rollback_walks_back_through_earlier_production_versions(registry, model):
    for v in (1, 2, 3):
        register(registry, model)
        registry.promote("churn", v)
    assert registry.rollback("churn", reason="bad v3").version == 2
    last = registry.history("churn")[-1]
    assert (last.event, last.from_version, last.to_version, last.reason) == (
        "rolled_back",
        3,
        2,
        "bad v3",
    )
    assert registry.rollback("churn").version == 1
    with pytest.raises(NoPreviousProduction):
        registry.rollback("churn")
    assert registry.production_version("churn") == 1


def test_rollback_without_production_raises_no_production_model(registry, model):
    register(registry, model)
    with pytest.raises(NoProductionModel):
        registry.rollback("churn")
    with pytest.raises(ModelNotFound):
        registry.rollback("other")


def test_a_rejected_version_keeps_its_files_moves_no_stage_and_shows_in_history_once(
    registry, model
):
    register(registry, model)
    registry.promote("churn", 1, "production", "first")
    register(registry, model)
    registry.reject("churn", 2, "failed the gate")
    registry.reject("churn", 2, "failed the gate")
    assert registry.production_version("churn") == 1
    assert registry.get("churn", 2).stages == []
    rejected = [t for t in registry.history("churn") if t.event == "rejected"]
    assert [(t.to_version, t.stage, t.reason) for t in rejected] == [(2, None, "failed the gate")]
    assert registry.verify("churn", 2)[0].ok


def test_history_lists_every_transition_in_order(registry, model):
    register(registry, model)
    register(registry, model)
    registry.promote("churn", 1)
    registry.promote("churn", 2, stage="staging")
    registry.promote("churn", 2)
    registry.rollback("churn")
    assert [(t.event, t.stage, t.to_version) for t in registry.history("churn")] == [
        ("registered", None, 1),
        ("registered", None, 2),
        ("promoted", "production", 1),
        ("promoted", "staging", 2),
        ("promoted", "production", 2),
        ("rolled_back", "production", 1),
    ]


# ---- reads ----------------------------------------------------------------------------------


def test_production_returns_the_model_and_its_version(registry, model):
    register(registry, model)
    registry.promote("churn", 1)
    loaded, mv = registry.production("churn")
    assert mv.version == 1
    assert mv.stages == ["production"]
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_production_raises_no_production_model_when_nothing_is_promoted(registry, model):
    with pytest.raises(NoProductionModel):
        registry.production("churn")
    register(registry, model)
    with pytest.raises(NoProductionModel):
        registry.production("churn")


def test_production_version_reads_the_index_only(registry, model):
    assert registry.production_version("churn") is None
    register(registry, model)
    registry.promote("churn", 1)
    artifact_path(registry, "churn", 1).unlink()
    assert registry.production_version("churn") == 1


def test_list_returns_every_version_of_every_model_by_name(registry, model):
    register(registry, model, name="b")
    register(registry, model, name="a")
    register(registry, model, name="a")
    (registry.root / "not-a-model").mkdir()
    assert [(v.name, v.version) for v in registry.list()] == [("a", 1), ("a", 2), ("b", 1)]
    assert registry.models() == ["a", "b"]


def test_an_empty_or_missing_registry_lists_nothing_and_creates_nothing(tmp_path):
    registry = ModelRegistry(tmp_path / "nowhere")
    assert registry.list() == []
    assert registry.verify() == []
    assert not (tmp_path / "nowhere").exists()


def test_get_and_load_raise_model_not_found_for_unknown_versions(registry, model):
    register(registry, model)
    with pytest.raises(ModelNotFound):
        registry.get("churn", 2)
    with pytest.raises(ModelNotFound):
        registry.load("churn", 2)
    with pytest.raises(ModelNotFound):
        registry.reference_profile("churn", 2)


def test_readers_do_not_wait_for_a_writer_holding_the_lock(registry, model):
    register(registry, model)
    registry.promote("churn", 1)
    held = filelock.FileLock(str(registry.root / "churn" / ".lock"))
    with held:
        assert registry.production_version("churn") == 1
        assert registry.production("churn")[1].version == 1
        assert registry.verify()[0].ok


def test_a_writer_gives_up_with_registry_busy_when_the_lock_stays_taken(tmp_path, model):
    root = tmp_path / "registry"
    registry = ModelRegistry(root, storage=LocalStorage(root, lock_timeout_s=0.05))
    register(registry, model)
    with filelock.FileLock(str(root / "churn" / ".lock")), pytest.raises(RegistryBusy):
        registry.promote("churn", 1)


# ---- trust --------------------------------------------------------------------------------


@pytest.fixture
def no_unpickling(monkeypatch):
    """Fails the test if anything reaches the unpickler."""

    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("an unverified artifact was unpickled")

    monkeypatch.setattr(registry_module, "load_model", refuse)


def test_a_tampered_artifact_is_never_loaded(registry, model, no_unpickling):
    register(registry, model)
    registry.promote("churn", 1)
    path = artifact_path(registry, "churn", 1)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    for load in (lambda: registry.load("churn", 1), lambda: registry.production("churn")):
        with pytest.raises(ArtifactIntegrityError) as err:
            load()
        assert err.value.path == path
        assert str(path) in err.value.one_line()
        assert err.value.hint
    [result] = registry.verify()
    assert not result.ok
    assert "SHA-256" in result.problems[0]


def test_a_missing_artifact_raises_artifact_missing_naming_the_file(registry, model):
    register(registry, model)
    path = artifact_path(registry, "churn", 1)
    path.unlink()
    with pytest.raises(ArtifactMissing) as err:
        registry.load("churn", 1)
    assert err.value.path == path
    assert "missing" in str(err.value)
    assert not registry.verify("churn", 1)[0].ok


def test_an_artifact_of_another_size_is_refused(registry, model, no_unpickling):
    register(registry, model)
    path = artifact_path(registry, "churn", 1)
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(ArtifactIntegrityError, match="size"):
        registry.load("churn", 1)


def test_promote_refuses_a_version_whose_artifact_is_damaged(registry, model):
    register(registry, model)
    register(registry, model)
    registry.promote("churn", 1)
    artifact_path(registry, "churn", 2).write_bytes(b"not a model")
    with pytest.raises(ArtifactIntegrityError):
        registry.promote("churn", 2)
    assert registry.production_version("churn") == 1


def test_tampered_metadata_or_profile_is_detected(registry, model):
    register(registry, model)
    folder = artifact_path(registry, "churn", 1).parent
    meta = json.loads((folder / "metadata.json").read_text())
    meta["metrics"]["roc_auc"] = 0.99
    (folder / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactIntegrityError, match=r"metadata\.json"):
        registry.get("churn", 1)
    (folder / "profile.json").write_text("{}")
    with pytest.raises(ArtifactIntegrityError, match=r"profile\.json"):
        registry.reference_profile("churn", 1)
    assert len(registry.verify()[0].problems) == 2


def test_verify_passes_for_intact_versions_and_can_target_one(registry, model):
    register(registry, model)
    register(registry, model, name="other")
    assert [(r.name, r.version, r.ok) for r in registry.verify()] == [
        ("churn", 1, True),
        ("other", 1, True),
    ]
    assert [r.version for r in registry.verify("churn", 1)] == [1]
    with pytest.raises(ModelNotFound):
        registry.verify("churn", 5)


def test_other_sklearn_minor_version_warns_by_default(registry, model, monkeypatch):
    register(registry, model)
    running = {**registry.get("churn", 1).library_versions, "scikit-learn": "0.1.0"}
    monkeypatch.setattr(registry_module, "library_versions", lambda: running)
    with capture_logs() as logs:
        assert registry.load("churn", 1) is not None
    [event] = [e for e in logs if e["event"] == "model.library_version_mismatch"]
    assert event["log_level"] == "warning"
    assert "scikit-learn" in event["problems"][0]


def test_other_sklearn_minor_version_is_refused_when_configured(tmp_path, model, monkeypatch):
    registry = ModelRegistry(tmp_path, on_version_mismatch="refuse")
    register(registry, model)
    running = {**registry.get("churn", 1).library_versions, "scikit-learn": "0.1.0"}
    monkeypatch.setattr(registry_module, "library_versions", lambda: running)
    with pytest.raises(LibraryVersionMismatch, match="scikit-learn"):
        registry.load("churn", 1)


def test_a_patch_level_difference_loads_silently(tmp_path, model, monkeypatch):
    registry = ModelRegistry(tmp_path, on_version_mismatch="refuse")
    recorded = register(registry, model).library_versions["scikit-learn"]
    major, minor = recorded.split(".")[:2]
    running = {**registry.get("churn", 1).library_versions, "scikit-learn": f"{major}.{minor}.99"}
    monkeypatch.setattr(registry_module, "library_versions", lambda: running)
    with capture_logs() as logs:
        registry.load("churn", 1)
    assert not [e for e in logs if e["event"] == "model.library_version_mismatch"]


def test_an_unreadable_index_raises_registry_corrupted(registry, model):
    register(registry, model)
    (registry.root / "churn" / "index.json").write_text('{"format": 1, "name": "churn", "ver')
    with pytest.raises(RegistryCorrupted) as err:
        registry.production_version("churn")
    assert "index.json" in err.value.one_line()


def test_an_index_pointing_at_unknown_versions_is_corrupted(registry, model):
    register(registry, model)
    path = registry.root / "churn" / "index.json"
    index = json.loads(path.read_text())
    index["production"] = [9]
    path.write_text(json.dumps(index))
    with pytest.raises(RegistryCorrupted, match="unknown version 9"):
        registry.production("churn")


# ---- names ----------------------------------------------------------------------------------

BAD_NAMES = ["", "../x", "..", ".", "/etc", "a/b", "a\\b", ".hidden", "x" * 65, "a b", "é", None]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_unsafe_model_names_are_refused_everywhere(registry, model, name):
    for call in (
        lambda: register(registry, model, name=name),
        lambda: registry.promote(name, 1),
        lambda: registry.rollback(name),
        lambda: registry.production_version(name),
        lambda: registry.production(name),
        lambda: registry.history(name),
    ):
        with pytest.raises(InvalidName):
            call()
    assert not registry.root.exists()


@pytest.mark.parametrize("version", [0, -1, "abc", "1/../2", True, 1.5, "", 10**10])
def test_malformed_versions_are_refused(registry, model, version):
    register(registry, model)
    with pytest.raises(InvalidName):
        registry.promote("churn", version)
    with pytest.raises(InvalidName):
        registry.load("churn", version)


def test_a_64_character_name_and_digit_strings_are_accepted(registry, model):
    name = "m" * 64
    register(registry, model, name=name)
    assert registry.promote(name, "1").version == 1


def test_every_registry_error_is_a_streamscore_error_with_a_hint(registry):
    errors = [
        InvalidName("..", "x"),
        InvalidRegistration("x"),
        InvalidStage("x"),
        ModelNotFound("m", 1),
        NoProductionModel("m"),
        NoPreviousProduction("m"),
        ArtifactIntegrityError("/p"),
        ArtifactMissing("/p"),
        LibraryVersionMismatch("m", 1, ["x"]),
        RegistryCorrupted("/p", "x"),
        RegistryBusy("x"),
    ]
    for error in errors:
        assert isinstance(error, StreamscoreError)
        assert error.hint, type(error).__name__


# ---- storage --------------------------------------------------------------------------------


def test_local_storage_satisfies_the_storage_protocol(tmp_path):
    assert isinstance(LocalStorage(tmp_path), Storage)


def test_local_storage_refuses_keys_that_leave_its_root(tmp_path):
    storage = LocalStorage(tmp_path)
    for key in ("../x", "/abs", "a/../../b", "a//b", "a\\b"):
        with pytest.raises(InvalidName):
            storage.write_bytes(key, b"x")


def test_a_failed_write_keeps_the_old_bytes_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    storage = LocalStorage(tmp_path)
    storage.write_bytes("m/index.json", b"old")

    def crash(*_: Any) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk gone"):
        storage.write_bytes("m/index.json", b"new")
    assert storage.read_bytes("m/index.json") == b"old"
    assert os.listdir(tmp_path / "m") == ["index.json"]


def test_local_storage_lists_entries_without_hidden_and_temporary_files(tmp_path):
    storage = LocalStorage(tmp_path)
    storage.write_bytes("m/b", b"")
    storage.write_bytes("m/a", b"")
    (tmp_path / "m" / ".tmp-123").write_bytes(b"")
    assert storage.list("m") == ["a", "b"]
    assert storage.list("missing") == []
    assert storage.exists("m/a")
    assert not storage.exists("m/c")
