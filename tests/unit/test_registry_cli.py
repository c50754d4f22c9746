"""`streamscore train` and `streamscore registry ...` as a person or a script uses them."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from streamscore.cli import main


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("STREAMSCORE_CONFIG", "STREAMSCORE_REGISTRY__PATH"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(autouse=True, scope="module")
def restore_logging() -> Iterator[None]:
    """The commands point structlog at the captured stderr; later tests must not log there."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry holding one trained and promoted churn model (trained once per module)."""
    root = tmp_path_factory.mktemp("trained") / "registry"
    assert main(["train", "--n-samples", "2000", "--registry", str(root)]) == 0
    return root


@pytest.fixture
def registry(trained: Path, tmp_path: Path) -> Path:
    """A private copy of the trained registry, free to change."""
    return Path(shutil.copytree(trained, tmp_path / "registry"))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code, out, _ = run(capsys, *argv, "--json")
    assert code == 0
    return json.loads(out)


def test_train_then_list_shows_a_production_version_that_verifies(registry, capsys):
    code, out, _ = run(capsys, "registry", "list", "--registry", str(registry))
    assert code == 0
    header, row = out.strip().splitlines()
    assert header.split()[:3] == ["NAME", "VERSION", "STAGES"]
    assert row.split()[:3] == ["churn", "1", "production"]
    code, out, _ = run(capsys, "registry", "verify", "--registry", str(registry))
    assert code == 0
    assert "ok" in out.splitlines()[1].split()


def test_train_prints_plain_progress_lines_off_a_terminal_and_json_on_request(tmp_path, capsys):
    root = tmp_path / "registry"
    code, out, err = run(
        capsys, "train", "--n-samples", "1000", "--registry", str(root), "--seed", "3", "--json"
    )
    assert code == 0
    result = json.loads(out)
    assert result["stages"] == ["production"]
    assert set(result["metrics"]) >= {"accuracy", "f1", "roc_auc"}
    assert result["metadata"]["model_kind"] == "logistic"
    assert result["trigger"] == "initial"
    assert result["training_summary"]["rows"] == 1000
    assert [line for line in err.splitlines() if line.startswith("train: [")] == [
        "train: [1/4] generating 1,000 reference rows (seed 3)",
        "train: [2/4] fitting logistic and scoring the 25% holdout",
        f"train: [3/4] registering churn in {root}",
        "train: [4/4] promoting version 1 to production",
    ]


def test_train_again_records_the_serving_version_as_parent(registry, capsys):
    result = run_json(
        capsys, "train", "--n-samples", "1000", "--registry", str(registry), "--no-promote"
    )
    assert (result["version"], result["parent_version"], result["stages"]) == (2, 1, [])
    assert result["trigger"] == "manual"
    listed = run_json(capsys, "registry", "list", "--registry", str(registry))
    assert [(v["version"], v["stages"]) for v in listed] == [(1, ["production"]), (2, [])]


def test_the_registry_path_comes_from_settings_when_not_given(
    trained, capsys, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("STREAMSCORE_REGISTRY__PATH", str(trained))
    listed = run_json(capsys, "registry", "list")
    assert [v["name"] for v in listed] == ["churn"]


def test_promote_rollback_and_history(registry, capsys):
    run(capsys, "train", "--n-samples", "1000", "--registry", str(registry), "--no-promote")
    r = ["--registry", str(registry)]
    code, out, _ = run(capsys, "registry", "promote", "churn", "2", "--reason", "better", *r)
    assert (code, out.strip()) == (0, "churn version 2 is now production (was 1)")
    staged = run_json(capsys, "registry", "promote", "churn", "1", "--stage", "staging", *r)
    assert staged["stages"] == ["staging"]
    code, out, _ = run(capsys, "registry", "rollback", "churn", "--reason", "regression", *r)
    assert (code, out.strip()) == (0, "churn production rolled back from version 2 to 1")
    history = run_json(capsys, "registry", "history", "churn", *r)
    assert [(h["event"], h["stage"], h["from_version"], h["to_version"]) for h in history] == [
        ("registered", None, None, 1),
        ("promoted", "production", None, 1),
        ("registered", None, None, 2),
        ("promoted", "production", 1, 2),
        ("promoted", "staging", None, 1),
        ("rolled_back", "production", 2, 1),
    ]
    code, out, _ = run(capsys, "registry", "history", "churn", *r)
    assert out.splitlines()[0].split()[:3] == ["AT", "(UTC)", "EVENT"]
    assert "regression" in out.splitlines()[-1]


def test_show_defaults_to_the_production_version(registry, capsys):
    run(capsys, "train", "--n-samples", "1000", "--registry", str(registry), "--no-promote")
    shown = run_json(capsys, "registry", "show", "churn", "--registry", str(registry))
    assert shown["version"] == 1
    code, out, _ = run(capsys, "registry", "show", "churn", "2", "--registry", str(registry))
    assert code == 0
    fields = dict(line.split(None, 1) for line in out.splitlines()[1:] if " " in line)
    assert fields["version"].strip() == "2"
    assert "feature contract_type" in out
    assert "metric roc_auc" in out


def test_verify_fails_with_exit_code_1_when_an_artifact_was_changed(registry, capsys):
    artifact = registry / "churn" / "versions" / "1" / "model.joblib"
    data = bytearray(artifact.read_bytes())
    data[100] ^= 0xFF
    artifact.write_bytes(bytes(data))
    code, out, err = run(capsys, "registry", "verify", "churn", "--registry", str(registry))
    assert code == 1
    assert "FAILED" in out
    assert "1 of 1 versions failed" in err
    results = json.loads(
        run(capsys, "registry", "verify", "--registry", str(registry), "--json")[1]
    )
    assert results[0]["ok"] is False


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["registry", "show", "nope"], "model 'nope' is not in the registry"),
        (["registry", "promote", "churn", "9"], "model 'churn' version 9 is not in the registry"),
        (["registry", "rollback", "churn"], "no earlier production version"),
        (["registry", "history", "../etc"], "invalid model name"),
        (["registry", "promote", "churn", "x"], "invalid model name or version 'x'"),
    ],
)
def test_user_errors_are_one_line_on_stderr_with_exit_code_1(registry, capsys, argv, message):
    code, _, err = run(capsys, *argv, "--registry", str(registry))
    assert code == 1
    [line] = [x for x in err.splitlines() if x.startswith("streamscore")]
    assert message in line
    assert "(" in line  # the hint
    assert "Traceback" not in err


def test_an_empty_registry_says_so(tmp_path, capsys):
    code, out, _ = run(capsys, "registry", "list", "--registry", str(tmp_path / "none"))
    assert code == 0
    assert out.startswith("no models registered in")


SIGNING_KEY = "CANARY-cli-signing-key-0123456789"


def test_registry_sign_turns_signing_on_for_an_existing_registry(
    registry: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run(capsys, "registry", "sign", "--registry", str(registry))
    assert code == 2
    assert "no signing key" in err
    monkeypatch.setenv("STREAMSCORE_REGISTRY__SIGNING_KEY", SIGNING_KEY)
    code, _, err = run(capsys, "registry", "verify", "--registry", str(registry))
    assert code != 0
    assert "not signed" in err
    assert "streamscore registry sign" in err
    code, out, err = run(capsys, "registry", "sign", "--registry", str(registry))
    assert (code, out.strip()) == (0, "churn: signed")
    assert run(capsys, "registry", "verify", "--registry", str(registry))[0] == 0
    assert SIGNING_KEY not in out + err


def test_a_forged_signed_index_is_one_line_and_a_non_zero_exit(
    registry: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STREAMSCORE_REGISTRY__SIGNING_KEY", SIGNING_KEY)
    assert run(capsys, "registry", "sign", "--registry", str(registry))[0] == 0
    index = registry / "churn" / "index.json"
    index.write_text(index.read_text().replace('"production": [', '"production": [1, '))
    code, out, err = run(capsys, "registry", "show", "churn", "--registry", str(registry))
    assert code != 0
    assert "signature does not match" in err
    assert "Traceback" not in err
    assert SIGNING_KEY not in out + err
