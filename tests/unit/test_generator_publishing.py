"""Publishing generated events: the pacing schedule, delayed outcomes, honest accounting.

No broker here. Delivery accounting is checked with a real librdkafka producer pointed at
a port where nothing listens: every record must end up counted as failed, never lost.
"""

from __future__ import annotations

import io
import json
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.kafka.producer import CheckedProducer
from core.schemas import Outcome
from producers.generator import ChurnGenerator
from producers.messages import event_messages
from producers.outcomes import OutcomeQueue, outcome_value
from producers.publisher import Pacer, PublishProgress, PublishReport, publish
from streamscore.cli import main


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_pacer_schedules_record_i_at_start_plus_i_over_rate() -> None:
    pacer = Pacer(2000.0, start=100.0)
    assert pacer.due(0) == 100.0
    assert pacer.due(2000) == pytest.approx(101.0)
    assert Pacer(None, start=5.0).due(10**9) == 5.0


@pytest.mark.parametrize("rate", [0.0, -1.0, float("inf"), float("nan")])
def test_the_pacer_refuses_rates_that_are_not_positive_numbers(rate: float) -> None:
    with pytest.raises(ValueError, match="rate"):
        Pacer(rate, start=0.0)


def test_outcomes_are_released_only_after_their_delay_in_event_order() -> None:
    queue = OutcomeQueue(delay_s=10.0)
    queue.add(0.0, "e-1", "c-1", 1)
    queue.add(1.0, "e-2", "c-2", 0)
    assert queue.release(9.9) == []
    assert queue.next_due() == 10.0
    ((key, value),) = queue.release(10.5)
    outcome = Outcome.model_validate_json(value)
    assert key == b"c-1"
    assert (outcome.event_id, outcome.customer_id, outcome.churned) == ("e-1", "c-1", 1)
    assert [Outcome.model_validate_json(v).event_id for _, v in queue.release(11.0)] == ["e-2"]
    assert len(queue) == 0


def test_an_outcome_is_observed_its_delay_after_its_event_time() -> None:
    queue = OutcomeQueue(delay_s=90.0)
    queue.add(0.0, "e-1", "c-1", 0, "2026-01-01T00:00:00.500Z")
    ((_, value),) = queue.release(90.0)
    observed = Outcome.model_validate_json(value).observed_at
    assert observed == datetime(2026, 1, 1, 0, 1, 30, 500_000, tzinfo=UTC)


def test_an_outcome_value_is_the_contract_json() -> None:
    at = datetime(2026, 5, 1, tzinfo=UTC)
    assert json.loads(outcome_value("e-1", "c-1", 1, at)) == {
        "event_id": "e-1",
        "customer_id": "c-1",
        "churned": 1,
        "observed_at": "2026-05-01T00:00:00Z",
    }


def test_off_a_terminal_progress_is_plain_lines_with_the_counts() -> None:
    report = PublishReport()
    stream = io.StringIO()
    progress = PublishProgress(100, report, stream=stream, every_s=0.0)
    report.events.sent, report.events.acknowledged, report.outcomes.sent = 40, 38, 12
    progress.update(now=float("inf"))
    progress.close()
    (line,) = stream.getvalue().splitlines()
    assert line.startswith("produce: 40 events sent, 38 acknowledged, 0 failed, 12 outcomes")


def test_progress_can_be_switched_off() -> None:
    stream = io.StringIO()
    progress = PublishProgress(100, PublishReport(), stream=stream, every_s=0.0, enabled=False)
    progress.update(now=float("inf"))
    assert stream.getvalue() == ""


def test_records_the_broker_never_acknowledged_are_counted_as_failed() -> None:
    producer = CheckedProducer(
        {
            "bootstrap.servers": f"127.0.0.1:{_closed_port()}",
            "enable.idempotence": True,
            "acks": "all",
            "message.timeout.ms": 500,
            "log_level": 0,
        },
        raise_failures=False,
    )
    report = publish(
        producer,
        event_messages(ChurnGenerator(seed=1), 50),
        events_topic="customer-events",
        outcomes_topic="customer-outcomes",
        outcome_delay_s=0.0,
        flush_timeout_s=10.0,
        progress=False,
    )
    assert report.events.sent == 50
    assert (
        report.events.failed + report.outcomes.failed == report.events.sent + report.outcomes.sent
    )
    assert report.events.acknowledged == 0
    assert not report.ok
    assert report.as_dict()["failed"] == report.as_dict()["sent"]


def test_produce_with_an_unreachable_broker_exits_non_zero_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "settings.toml"
    config.write_text(
        f'state_dir = "{tmp_path}"\n[kafka]\n'
        f'bootstrap_servers = "127.0.0.1:{_closed_port()}"\ntimeout_s = 1.0\n'
    )
    assert main(["--config", str(config), "produce", "--n", "10", "--no-progress"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "unreachable" in err[0]


def test_a_cli_dry_run_writes_the_seeded_events_and_reports_as_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "events.jsonl"
    argv = ["produce", "--n", "300", "--seed", "5", "--invalid-rate", "0.1", "--dry-run"]
    argv += ["--out", str(out), "--start-time", "2026-02-01T00:00:00Z", "--id-prefix", "t"]
    assert main([*argv, "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["events"] == 300
    assert report["outcomes"] == 300 - sum(report["invalid"].values())
    first = json.loads(out.read_bytes().split(b"\n")[0])
    assert first["event_id"] == "t-e0"
    assert first["event_time"] == "2026-02-01T00:00:00.000Z"
    copy = tmp_path / "again.jsonl"
    assert main([*argv[:-5], str(copy), *argv[-4:]]) == 0
    assert copy.read_bytes() == out.read_bytes()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["produce", "--dry-run"], "--dry-run needs --out"),
        (["produce", "--out", "x.jsonl"], "only for --dry-run"),
        (["produce", "--replay", "x.jsonl", "--scenario", "concept"], "as it is"),
        (["produce", "--scenario", "no-such-drift", "--dry-run", "--out", "x.jsonl"], "unknown"),
    ],
)
def test_options_that_do_not_fit_together_are_one_line_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_a_cli_scenario_changes_the_labels_written_and_not_the_events(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["produce", "--n", "400", "--dry-run", "--start-time", "2026-02-01T00:00:00Z"]
    stable, drifted = tmp_path / "stable.jsonl", tmp_path / "drifted.jsonl"
    assert main([*argv, "--out", str(stable), "--id-prefix", "p"]) == 0
    assert (
        main([*argv, "--out", str(drifted), "--id-prefix", "p", "--scenario", "concept@200"]) == 0
    )
    assert stable.read_bytes() == drifted.read_bytes()

    def labels(path: Path) -> list[int]:
        lines = Path(f"{path}.outcomes.jsonl").read_bytes().splitlines()
        return [Outcome.model_validate_json(line).churned for line in lines]

    assert labels(stable)[:200] == labels(drifted)[:200]
    assert labels(stable)[200:] != labels(drifted)[200:]


def test_a_resumed_run_stamps_its_first_event_with_the_current_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "resumed.jsonl"
    before = datetime.now(UTC) - timedelta(milliseconds=1)  # event times are whole ms
    argv = ["produce", "--n", "1", "--start-index", "50000", "--rate", "100"]
    assert main([*argv, "--dry-run", "--out", str(out)]) == 0
    event = json.loads(out.read_bytes())
    assert event["event_id"].endswith("-e50000")
    assert before <= datetime.fromisoformat(event["event_time"]) <= datetime.now(UTC)
