"""The demo's live view without Kafka or a terminal: snapshot in, text out."""

from __future__ import annotations

import io
import json
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge
from rich.console import Console

from core.health import HealthServer
from streamscore.live_display import (
    LiveDisplay,
    PlainDisplay,
    SilentDisplay,
    display_for,
    frame_text,
)
from streamscore.live_feed import MetricsPorts, Scrape, Scraper, SnapshotBuilder, parse_metrics
from streamscore.live_view import (
    AlertLine,
    DecisionLine,
    DemoSnapshot,
    FeatureDrift,
    plain_line,
    render,
)

SNAPSHOT = DemoSnapshot(
    elapsed_s=27.4,
    step="[6] Monthly charges drift up from here",
    events_in_per_s=4975.0,
    events_out_per_s=4862.0,
    consumed=21_345,
    scored=20_911,
    serving_version=2,
    lag={"scorer": 120, "drift": 8, "monitor": 963, "retrainer": 0},
    dead_letters={"malformed_json": 71, "out_of_range": 62},
    drift=(
        FeatureDrift("monthly_charges", 0.984, drifting=True),
        FeatureDrift("tenure_months", 0.004, drifting=False),
    ),
    drift_windows={"drift": 7, "stable": 5},
    alerts=(
        AlertLine("drift", "high", 1, "monthly_charges"),
        AlertLine("performance", "medium", 1, "roc_auc 0.690 < 0.700"),
    ),
    decisions=(DecisionLine("promoted", "challenger v2 passed the gate", 2),),
    live_auc={1: 0.846, 2: 0.854},
)


def text_of(snapshot: DemoSnapshot, width: int = 110) -> str:
    console = Console(record=True, width=width, file=io.StringIO())
    console.print(render(snapshot))
    return console.export_text()


def test_the_live_view_shows_every_figure_of_the_snapshot() -> None:
    text = text_of(SNAPSHOT)
    for expected in (
        "27.4 s",
        "[6] Monthly charges drift up from here",
        "4,975/s",
        "4,862/s",
        "21,345 consumed",
        "v2",
        "1,091",  # total lag
        "monitor 963",
        "malformed_json 71",
        "out_of_range 62",
        "monthly_charges  0.984  drifting",
        "tenure_months    0.004",
        "drift 7, stable 5",
        "drift alert",
        "high on v1: monthly_charges",
        "performance alert",
        "roc_auc 0.690 < 0.700",
        "retrain promoted",
        "challenger v2 passed the gate",
        "0.846",
        "v2 (serving)  0.854",
    ):
        assert expected in text, expected


def test_an_empty_snapshot_says_what_it_is_waiting_for() -> None:
    text = text_of(DemoSnapshot(elapsed_s=1.0, step="[4] running"))
    assert "no window judged yet" in text
    assert "waiting for outcomes" in text
    assert "no alert yet" in text
    assert "none" in text  # no serving version


def test_only_the_newest_alerts_are_shown_when_there_are_many() -> None:
    alerts = tuple(AlertLine("drift", "high", 1, f"feature_{i}") for i in range(10))
    text = text_of(DemoSnapshot(elapsed_s=1.0, step="s", alerts=alerts))
    assert "feature_9" in text
    assert "feature_5" not in text


def test_the_plain_line_is_one_line_with_the_moving_figures() -> None:
    line = plain_line(SNAPSHOT)
    assert "\n" not in line
    assert line.startswith("[  27.4 s] in 4,975/s out 4,862/s")
    for expected in (
        "serving v2",
        "lag 1,091",
        "dlq 133",
        "drifting monthly_charges",
        "alerts drift 1, performance 1",
        "retrain promoted (challenger v2)",
        "AUC v1 0.846 v2 0.854",
    ):
        assert expected in line, expected


def test_off_a_terminal_progress_lines_come_at_most_every_interval() -> None:
    out = io.StringIO()
    display = PlainDisplay(out, every_s=60.0)
    for _ in range(20):
        display.show(SNAPSHOT)
    display.say("[7] next step")
    lines = out.getvalue().splitlines()
    assert lines == [plain_line(SNAPSHOT), "[7] next step"]


def test_the_display_is_live_on_a_terminal_plain_elsewhere_and_silent_without_output() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert isinstance(display_for(Terminal()), LiveDisplay)
    assert isinstance(display_for(io.StringIO()), PlainDisplay)
    assert isinstance(display_for(None), SilentDisplay)


def test_the_live_display_draws_frames_and_prints_narration_above_them() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()
    display = LiveDisplay(out)
    display.show(SNAPSHOT)
    display.say("    drift alert (high): monthly_charges")
    display.close()
    written = out.getvalue()
    assert "drift alert (high): monthly_charges" in written
    assert "4,975/s" in written


def test_a_frame_is_plain_text_of_the_view() -> None:
    frame = frame_text(SNAPSHOT, width=100)
    assert "\x1b[" not in frame
    assert "monthly_charges  0.984  drifting" in frame
    assert max(len(line) for line in frame.splitlines()) <= 100


def scrape_of(at: float, consumed: float, scored: float, **more: str) -> Scrape:
    text = (
        f'streamscore_records_consumed_total{{consumer="scorer"}} {consumed}\n'
        f"streamscore_events_scored_total {scored}\n"
        'streamscore_model_version{model_name="churn"} 2.0\n'
        'streamscore_events_dead_lettered_total{error_type="malformed_json"} 4.0\n'
        'streamscore_events_dead_lettered_total{error_type="out_of_range"} 0.0\n'
        'streamscore_consumer_lag{consumer="scorer",topic="e",partition="0"} 5.0\n'
        'streamscore_consumer_lag{consumer="scorer",topic="e",partition="1"} 7.0\n'
    )
    services = {"scorer": parse_metrics(text)}
    services.update({name: parse_metrics(body) for name, body in more.items()})
    return Scrape(at, services)


def test_the_builder_turns_counters_into_rates_over_its_window() -> None:
    builder = SnapshotBuilder(started=100.0, rate_window_s=3.0)
    builder.snapshot(scrape_of(101.0, 1000, 900), "s")
    snap = builder.snapshot(scrape_of(103.0, 11_000, 10_900), "s")
    assert snap.events_in_per_s == 5000.0
    assert snap.events_out_per_s == 5000.0
    assert snap.elapsed_s == 3.0
    assert snap.serving_version == 2
    assert snap.lag == {"scorer": 12}
    assert snap.dead_letters == {"malformed_json": 4}


def test_the_builder_reads_drift_per_feature_and_live_auc_per_version() -> None:
    drift = (
        'streamscore_drift_statistic{feature="age",test="psi"} 0.01\n'
        'streamscore_drift_statistic{feature="age",test="ks"} 0.2\n'
        'streamscore_drift_statistic{feature="monthly_charges",test="psi"} 0.9\n'
        'streamscore_drift_feature_drifting{feature="age"} 0.0\n'
        'streamscore_drift_feature_drifting{feature="monthly_charges"} 1.0\n'
        'streamscore_drift_windows_closed_total{verdict="drift"} 3.0\n'
    )
    monitor = (
        'streamscore_monitor_cumulative_metric{model_name="churn",model_version="1",'
        'metric="roc_auc"} 0.84\n'
        'streamscore_monitor_cumulative_metric{model_name="churn",model_version="1",'
        'metric="accuracy"} 0.79\n'
    )
    builder = SnapshotBuilder(started=0.0)
    builder.add_drift_alert({"severity": "high", "model_version": 1, "drifting_features": ["a"]})
    builder.add_performance_alert(
        {"severity": "medium", "model_version": 1, "metric": "roc_auc", "value": 0.6,
         "threshold": 0.7}
    )  # fmt: skip
    builder.add_decision({"outcome": "promoted", "reason": "passed", "challenger_version": 2})
    snap = builder.snapshot(scrape_of(1.0, 0, 0, drift=drift, monitor=monitor), "s")
    assert snap.drift == (
        FeatureDrift("age", 0.01, drifting=False),
        FeatureDrift("monthly_charges", 0.9, drifting=True),
    )
    assert snap.drift_windows == {"drift": 3}
    assert snap.live_auc == {1: 0.84}
    assert snap.alerts == (
        AlertLine("drift", "high", 1, "a"),
        AlertLine("performance", "medium", 1, "roc_auc 0.600 < 0.700"),
    )
    assert snap.decisions == (DecisionLine("promoted", "passed", 2),)


def test_ports_come_from_this_runs_started_lines_only(tmp_path: Path) -> None:
    log = tmp_path / "demo.log"
    lines = [
        {"event": "scorer_started", "group_id": "scorer-old", "http_port": 1111},
        {"event": "scorer_started", "group_id": "scorer-new", "http_port": 2222},
        {"event": "window_closed", "group_id": "drift-new", "http_port": 3333},
    ]
    log.write_text("".join(json.dumps(line) + "\n" for line in lines) + '{"half')
    ports = MetricsPorts(log, {"scorer-new": "scorer", "drift-new": "drift"})
    assert ports.refresh() == {"scorer": 2222}
    with log.open("a") as f:
        f.write('": 1}\n' + json.dumps({"event": "drift_started", "group_id": "drift-new",
                                         "http_port": 4444}) + "\n")  # fmt: skip
    assert ports.refresh() == {"scorer": 2222, "drift": 4444}


def test_a_process_that_stops_answering_keeps_its_last_figures(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    scored = Counter("streamscore_events_scored", "scored", registry=registry)
    Gauge("streamscore_model_version", "v", ["model_name"], registry=registry).labels("c").set(3)
    scored.inc(42)
    server = HealthServer(lambda: {"status": "healthy"}, registry, 0, host="127.0.0.1").start()
    log = tmp_path / "demo.log"
    log.write_text(
        json.dumps({"event": "scorer_started", "group_id": "g", "http_port": server.port}) + "\n"
    )
    scraper = Scraper(MetricsPorts(log, {"g": "scorer"}))
    first = scraper()
    server.stop()
    second = scraper()
    assert first.total("scorer", "streamscore_events_scored_total") == 42
    assert second.total("scorer", "streamscore_events_scored_total") == 42
    assert second.at >= first.at
