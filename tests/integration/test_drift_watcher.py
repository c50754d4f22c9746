"""The drift watcher against the real broker: a drifted stream alerts, a stable one does
not, and a restart mid-window neither loses nor repeats anything. Count windows are
counted per partition (docs/scaling.md), so a 1000-event window is one partition's."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from consumers.drift import run_drift
from core.drift.alert import DriftAlert
from core.settings import Settings
from producers.generator import ChurnGenerator
from producers.scenarios import FeatureShift
from tests.integration.drift_state import committed, judged_events
from tests.integration.kafka_io import produce_json, read_committed, running

pytestmark = pytest.mark.integration


def running_watcher(settings: Settings) -> AbstractContextManager[None]:
    return running(run_drift, settings)


def configure(settings: Settings, window: int = 1000) -> None:
    settings.drift.window_kind = "count"
    settings.drift.window_events = window
    settings.drift.min_window_events = 500
    settings.drift.batch_size = 700
    settings.registry.poll_s = 0.5


def stream(n: int, seed: int, start: int = 0, shifted: bool = False) -> list[dict[str, Any]]:
    scenarios = [FeatureShift(feature="monthly_charges", shift=35.0)] if shifted else []
    gen = ChurnGenerator(seed=seed, scenarios=scenarios)
    return [e for e, _ in gen.events(n, start)]


def test_a_drifted_stream_raises_one_alert_with_a_report(
    settings: Settings, register_model: Callable[..., int]
) -> None:
    version = register_model()
    configure(settings)
    produce_json(settings, settings.topics.events, stream(6000, seed=21, shifted=True))
    with running_watcher(settings):
        alerts = read_committed(settings, settings.topics.alerts, expected=1, timeout_s=90)
    assert len(alerts) == 1
    alert = DriftAlert.model_validate_json(alerts[0].value())
    assert alert.model_version == version
    assert "monthly_charges" in alert.drifting_features
    assert alert.current_events == 1000
    assert alert.offsets
    assert alert.report_path is not None
    assert Path(alert.report_path).read_text().startswith("<!doctype html>")


def test_a_stable_stream_raises_no_alert(
    settings: Settings, register_model: Callable[..., int]
) -> None:
    register_model()
    configure(settings)
    produce_json(settings, settings.topics.events, stream(8000, seed=22))
    with running_watcher(settings):
        read_committed(settings, settings.topics.drift_state, expected=1, timeout_s=60, idle_s=6)
    assert read_committed(settings, settings.topics.alerts, expected=0, idle_s=1) == []
    assert committed(settings).seen == 8000


def test_a_restart_mid_window_loses_and_repeats_nothing(
    settings: Settings, register_model: Callable[..., int]
) -> None:
    register_model()
    configure(settings)
    produce_json(settings, settings.topics.events, stream(2500, seed=23, shifted=True))
    with running_watcher(settings):
        read_committed(settings, settings.topics.drift_state, expected=1, timeout_s=60, idle_s=4)
    half = committed(settings)
    assert half.seen == 2500
    assert half.open_events + sum(judged_events(settings)) == 2500
    produce_json(settings, settings.topics.events, stream(3500, seed=23, start=2500, shifted=True))
    with running_watcher(settings):
        alerts = read_committed(settings, settings.topics.alerts, expected=1, timeout_s=90)
    done = committed(settings)
    assert done.seen == 6000
    assert done.open_events + sum(judged_events(settings)) == 6000, "lost or counted twice"
    ids = [DriftAlert.model_validate_json(a.value()).alert_id for a in alerts]
    assert len(ids) == len(set(ids)) == 1


def test_drift_run_serves_health_and_exits_0_on_sigterm(
    settings: Settings, register_model: Callable[..., int], tmp_path: Path
) -> None:
    import signal
    import subprocess
    import sys
    import time
    import urllib.request

    from core.kafka.local_broker import free_port
    from tests.integration.kafka_io import settings_env

    version = register_model()
    port = free_port()
    env = settings_env(settings)
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamscore", "drift", "run", "--port", str(port)],
        env=env,
        stdout=(tmp_path / "drift.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        body = None
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    body = json.loads(r.read())
                    break
            except OSError:
                time.sleep(0.5)
        assert body is not None, (tmp_path / "drift.log").read_text()
        assert body["status"] == "healthy"
        assert body["profile_version"] == version
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0


def test_event_time_windows_over_a_backlog_count_every_event_and_alert_on_drift(
    settings: Settings, register_model: Callable[..., int]
) -> None:
    """A backlog is fetched partition by partition; with per-partition watermarks no
    event is late, and only the windows after the drift starts drift."""
    register_model()
    settings.drift.window_kind = "event-time"
    settings.drift.window_seconds = 1.0
    settings.drift.allowed_lateness_s = 0.2
    settings.drift.min_window_events = 500
    settings.drift.batch_size = 700
    settings.registry.poll_s = 0.5
    gen = ChurnGenerator(
        seed=24, scenarios=[FeatureShift(feature="monthly_charges", shift=35.0, start_event=5000)]
    )
    produce_json(settings, settings.topics.events, [e for e, _ in gen.events(9000)])
    with running_watcher(settings):
        alerts = read_committed(settings, settings.topics.alerts, expected=1, timeout_s=90)
    assert committed(settings).late_events == 0
    assert len(alerts) == 1
    alert = DriftAlert.model_validate_json(alerts[0].value())
    assert alert.window_start.timestamp() >= gen.event_time(5000).timestamp()
