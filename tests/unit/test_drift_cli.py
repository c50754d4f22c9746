"""`streamscore drift compare` on files, and the HTML report it writes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from streamscore.cli import main
from streamscore.cli.drift import EXIT_DRIFT


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(7)
    ref = pd.DataFrame(
        {
            "age": rng.integers(18, 90, 3_000),
            "monthly_charges": rng.gamma(4, 18, 3_000),
            "contract_type": rng.choice(["month-to-month", "one_year", "two_year"], 3_000),
        }
    )
    cur = pd.DataFrame(
        {
            "age": rng.integers(18, 90, 1_200),
            "monthly_charges": rng.gamma(4, 18, 1_200) * 1.3,
            "contract_type": rng.choice(["month-to-month", "one_year", "two_year"], 1_200),
        }
    )
    ref_path, cur_path = tmp_path / "ref.csv", tmp_path / "cur.jsonl"
    ref.to_csv(ref_path, index=False)
    cur.to_json(cur_path, orient="records", lines=True)
    return ref_path, cur_path


def test_compare_json_detects_the_shifted_feature_and_auto_detects_kinds(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    ref, cur = files
    code = main(["drift", "compare", "--reference", str(ref), "--current", str(cur), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["drifting_features"] == ["monthly_charges"]
    kinds = {f["name"]: f["kind"] for f in report["features"]}
    assert kinds == {"age": "numeric", "monthly_charges": "numeric", "contract_type": "categorical"}
    assert report["exact"] is True


def test_compare_with_features_and_fail_on_drift_exits_with_the_drift_code(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    ref, cur = files
    args = ["drift", "compare", "--reference", str(ref), "--current", str(cur)]
    assert main([*args, "--features", "age", "--fail-on-drift"]) == 0
    assert main([*args, "--features", "monthly_charges", "--fail-on-drift"]) == EXIT_DRIFT
    out = capsys.readouterr().out
    assert "no drift in 1 features" in out
    assert "DRIFT in 1 of 1 features: monthly_charges" in out


def test_compare_writes_a_self_contained_html_report_with_the_verdict_first(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref, cur = files
    out = tmp_path / "report" / "drift.html"
    args = ["drift", "compare", "--reference", str(ref), "--current", str(cur)]
    assert main([*args, "--html", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert page.index("Drift detected") < page.index("<h2>age")
    assert page.count("<svg") == 3
    assert "<script" not in page
    assert not re.search(r"(src|href)=['\"]?https?:", page)


def test_missing_file_is_one_line_error_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["drift", "compare", "--reference", str(tmp_path / "nope.csv"),
                 "--current", str(tmp_path / "nope.csv")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert "does not exist" in err
    assert "Traceback" not in err


def test_unknown_feature_is_reported_with_its_name(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    ref, cur = files
    code = main(["drift", "compare", "--reference", str(ref), "--current", str(cur),
                 "--features", "income"])  # fmt: skip
    assert code == 1
    assert "income" in capsys.readouterr().err


def test_drift_run_without_a_broker_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STREAMSCORE_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setenv("STREAMSCORE_KAFKA__TIMEOUT_S", "1")
    assert main(["drift", "run", "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "127.0.0.1:1 is unreachable" in err
