"""`streamscore dlq`: a bad argument or a broker that does not answer is one line on
stderr and a non-zero exit, before anything is read."""

from __future__ import annotations

import pytest

from core.dead_letters.tally import ReplayTally
from core.kafka.dead_letter_replay import ReplayReport
from streamscore.cli import EXIT_ERROR, main
from streamscore.cli.dlq import replay_summary


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["dlq", "replay", "--since", "garbage"], "'garbage' is not a time"),
        (["dlq", "replay", "--reason", "oversized"], "unknown reason 'oversized'"),
        (["dlq", "stats", "--since", "1h", "--until", "2h"], "is not after --since"),
        (["dlq", "stats", "--samples", "1000"], "--samples"),
    ],
)
def test_a_bad_argument_is_one_line_and_a_non_zero_exit(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    assert main(argv) == EXIT_ERROR
    err = capsys.readouterr().err
    assert says in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("verb", [["replay"], ["replay", "--dry-run"], ["stats"]])
def test_an_unreachable_broker_is_one_line_and_a_non_zero_exit(
    verb: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setenv("STREAMSCORE_KAFKA__TIMEOUT_S", "1")
    assert main(["dlq", *verb]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "unreachable" in err
    assert len(err.strip().splitlines()) == 1


def test_the_summary_says_what_was_replayed_and_what_is_still_invalid() -> None:
    tally = ReplayTally()
    tally.replayed.update({"oversized_message": 40})
    tally.still_invalid.update({"malformed_json": 12})
    text = replay_summary(ReplayReport("streamscore-dlq-replay", False, tally, seconds=1.23))
    assert text.splitlines() == [
        "replayed 40 of 52 dead letters examined (group streamscore-dlq-replay, 1.2 s)",
        "  replayed (dead-lettered for): oversized_message 40",
        "  still invalid: malformed_json 12",
    ]
