"""Drift settings: reachable through the environment, validated at start-up."""

from __future__ import annotations

import pytest

from core.errors import ConfigError
from core.settings import load_settings


def test_drift_thresholds_come_from_streamscore_drift_environment_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STREAMSCORE_DRIFT__ALPHA", "0.05")
    monkeypatch.setenv("STREAMSCORE_DRIFT__CORRECTION", "bonferroni")
    monkeypatch.setenv("STREAMSCORE_DRIFT__KS_THRESHOLD", "0.15")
    drift = load_settings().drift
    assert (drift.alpha, drift.correction, drift.ks_threshold) == (0.05, "bonferroni", 0.15)


@pytest.mark.parametrize(
    ("name", "value"),
    [("ALPHA", "1.5"), ("CORRECTION", "holm"), ("ALERT_MIN_DRIFTING", "9"), ("TYPO", "1")],
)
def test_invalid_drift_settings_fail_at_start_up(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(f"STREAMSCORE_DRIFT__{name}", value)
    with pytest.raises(ConfigError):
        load_settings()
