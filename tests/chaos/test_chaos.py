"""Every role at once, as OS processes through the CLI, under combined faults; an
independent verifier counts what was lost and what was duplicated (both must be zero).

Roles: the local broker, 3 scorers (plus a 4th that joins and leaves), the drift watcher,
the performance monitor, the retrainer, and the producer (3 % invalid events, outcomes,
monthly charges drifting up half-way, so a drift alert fires and the retrainer trains).
Faults, on a schedule by the producer's progress: SIGKILL a scorer 5 times (restarted
each time), the drift watcher twice, the retrainer once while it trains, the broker once
(restarted on the same port and data); a scorer added and removed forces two rebalances.

`STREAMSCORE_CHAOS=full` runs 200,000 events; the default is the CI size. Nothing here
asserts on timing: every wait is a bounded poll that fails saying what it waited for.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.kafka.local_broker import free_port
from core.settings import Settings, TopicsConfig
from tests.chaos.cluster import STOP_BOUND_S, Broker, Faults, Role, wait_for
from tests.chaos.verifier import Findings, Rec, TopicReader, TopicSize, Verifier, read_topic
from tests.integration.kafka_io import settings_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@dataclass(frozen=True)
class Size:
    name: str
    events: int
    rate: float
    window_s: float
    settle_s: float
    """Bound for each wait after the producer is done."""
    timeout_s: float
    """Bound for the whole test (pytest-timeout)."""


CI = Size("ci", events=16_000, rate=400.0, window_s=4.0, settle_s=240.0, timeout_s=900)
FULL = Size("full", events=200_000, rate=1000.0, window_s=5.0, settle_s=900.0, timeout_s=4 * 3600)
SIZE = FULL if os.environ.get("STREAMSCORE_CHAOS", "").strip().lower() == "full" else CI
TAIL = 300
LATENESS_S = 2.0
SCORERS = 3


def chaos_settings(tmp: Path, port: int) -> Settings:
    return Settings(
        kafka={
            "bootstrap_servers": f"127.0.0.1:{port}",
            "partitions": 6,
            "timeout_s": 5,
            # A killed member's partitions move on after 6 s, not librdkafka's 45 s.
            "client": {"session.timeout.ms": "6000", "heartbeat.interval.ms": "1000"},
        },
        topics=TopicsConfig(),
        registry={"path": tmp / "registry", "poll_s": 1.0},
        scorer={"batch_size": 1000},
        drift={
            "window_kind": "event-time",
            "window_seconds": SIZE.window_s,
            "allowed_lateness_s": LATENESS_S,
            "min_window_events": 500,
            "batch_size": 2000,
            "batch_timeout_ms": 200,
        },
        monitor={
            "window_seconds": SIZE.window_s,
            "label_delay_s": 60.0,
            "batch_timeout_ms": 200,
            "max_buffer": 40_000,
        },
        retrain={
            "batch_timeout_ms": 200,
            "lookback_s": None,
            "max_events": 20_000,
            "min_labelled_rows": 1000,
            "cooldown_s": 30.0,
            "bootstrap_resamples": 500,
        },
        state_dir=tmp / "state",
    )


def streamscore(env: dict[str, str], *args: str, timeout_s: float = 300) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "streamscore", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(
            f"streamscore {' '.join(args)} exited {done.returncode}: {done.stderr.strip()[-2000:]}"
        )
    return done.stdout


class Run:
    """The cluster of one chaos run and its fault log."""

    def __init__(self, tmp: Path) -> None:
        self.logs = tmp / "logs"
        self.logs.mkdir()
        self.port = free_port()
        self.settings = chaos_settings(tmp, self.port)
        self.env = settings_env(self.settings)
        self.env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
        self.broker = Broker(self.env, self.port, self.logs)
        self.faults = Faults()
        self.scorers = [self._scorer(i) for i in range(SCORERS)]
        self.extra = self._scorer(SCORERS)
        self.drift = self._role("drift", ["drift", "run"])
        self.monitor = self._role("monitor", ["monitor"])
        self.retrainer = self._role("retrainer", ["retrain"])
        self.retrainer_killed_training: list[str] = []
        self.broker_up = threading.Event()
        self.broker_up.set()

    def _role(self, name: str, args: list[str]) -> Role:
        return Role(name, args, self.env, self.logs)

    def _scorer(self, i: int) -> Role:
        return self._role(f"scorer-{i}", ["score", "--instance-id", f"chaos-{i}"])

    def services(self) -> list[Role]:
        return [*self.scorers, self.drift, self.monitor, self.retrainer]

    def kill_and_restart(self, role: Role, fault: str) -> None:
        """SIGKILL, then restart once the broker is up: a process started while it is
        down exits 1 by design (an unreachable broker is a one-line error)."""
        role.kill()
        self.faults.count(fault)
        if not self.broker_up.wait(SIZE.settle_s):
            raise AssertionError(f"the broker was not back within {SIZE.settle_s:.0f} s")
        role.start()

    def broker_outage(self, down_s: float = 4.0) -> None:
        self.broker_up.clear()
        self.broker.kill()
        self.faults.count("broker SIGKILL, restart on the same port and data")
        time.sleep(down_s)
        before = self.broker.data_dir
        self.broker.start()
        assert self.broker.data_dir == before, "the broker came back on other data"
        self.broker_up.set()

    def add_scorer(self) -> None:
        self.extra.start()
        self.faults.count("rebalance: a 4th scorer joins")

    def remove_scorer(self) -> None:
        code, took = self.extra.terminate()
        assert code == 0, f"the 4th scorer exited {code} ({took:.1f} s after SIGTERM)"
        self.faults.count("rebalance: the 4th scorer leaves (SIGTERM)")

    def watch_retrainer(self, stop: threading.Event) -> None:
        """SIGKILL the retrainer the first time it is training (a thread: a training
        takes a few seconds, the main loop's waits can be longer). Its log says so at
        once; /health may not answer in time while a training holds the CPUs."""
        while not stop.is_set() and not self.retrainer_killed_training:
            try:
                training = self._training_alert_ids()
                if training:
                    self.retrainer_killed_training = training  # once, even if the restart fails
                    self.kill_and_restart(self.retrainer, "retrainer SIGKILL during a training")
            except Exception as exc:  # a dead watcher would look like a missed fault
                print(f"retrainer watch: {exc!r}", flush=True)
            stop.wait(0.1)

    def _training_alert_ids(self) -> list[str]:
        health = self.retrainer.health() or {}
        if health.get("training") and health.get("training_alert_ids"):
            return list(health["training_alert_ids"])
        started: list[str] = []
        log = self.retrainer.log.read_text(errors="replace") if self.retrainer.log.exists() else ""
        for line in log.splitlines():
            if '"retrain_started"' in line:
                started = list(json.loads(line).get("alert_ids") or [])
            elif '"retrain_finished"' in line or '"retrainer_started"' in line:
                started = []
        return started


def schedule(run: Run) -> list[tuple[float, str, Callable[[], None]]]:
    """(share of the production time, what, action), in order."""
    s = run.scorers
    kill = "scorer SIGKILL and restart"
    drift = "drift watcher SIGKILL and restart"
    return [
        (0.08, "kill scorer-0", lambda: run.kill_and_restart(s[0], kill)),
        (0.16, "kill drift", lambda: run.kill_and_restart(run.drift, drift)),
        (0.24, "kill scorer-1", lambda: run.kill_and_restart(s[1], kill)),
        (0.30, "add scorer-3", run.add_scorer),
        (0.38, "kill scorer-2", lambda: run.kill_and_restart(s[2], kill)),
        (0.46, "broker outage", run.broker_outage),
        (0.56, "remove scorer-3", run.remove_scorer),
        (0.64, "kill scorer-0", lambda: run.kill_and_restart(s[0], kill)),
        (0.72, "kill drift", lambda: run.kill_and_restart(run.drift, drift)),
        (0.85, "kill scorer-1", lambda: run.kill_and_restart(s[1], kill)),
    ]


def produce(run: Run, n: int, start: int, name: str) -> Role:
    args = [
        "produce", "--n", str(n), "--start-index", str(start), "--rate", str(SIZE.rate),
        "--seed", "7", "--invalid-rate", "0.03", "--scenario", f"charges-up@{SIZE.events // 2}",
        "--outcome-delay", "5", "--id-prefix", "chaos", "--flush-timeout", "300",
        "--no-progress", "--json",
    ]  # fmt: skip
    return Role(name, args, run.env, run.logs, http=False).start()


def report_of(role: Role) -> dict[str, Any]:
    lines = [ln for ln in role.log.read_text().splitlines() if ln.startswith('{"sent"')]
    assert lines, f"{role.name} printed no report (see {role.log})"
    doc: dict[str, Any] = json.loads(lines[-1])
    return doc


@pytest.mark.timeout(SIZE.timeout_s)
def test_every_role_under_combined_faults_loses_and_duplicates_nothing(
    tmp_path: Path, chaos_report: Callable[[str], None]
) -> None:
    run = Run(tmp_path)
    bootstrap = f"127.0.0.1:{run.port}"
    topics = run.settings.topics
    verifier = Verifier(bootstrap, topics)
    started = time.monotonic()
    watching = threading.Event()
    run.broker.start()
    try:
        streamscore(run.env, "topics", "create")
        streamscore(run.env, "train", "--n-samples", "5000", "--seed", "1", "--reason", "chaos v1")
        for role in run.services():
            role.start()
        wait_for(
            "every scorer to own partitions",
            lambda: all((r.health() or {}).get("partitions") for r in run.scorers),
            SIZE.settle_s,
        )
        watcher = threading.Thread(target=run.watch_retrainer, args=(watching,), daemon=True)
        watcher.start()
        main = produce(run, SIZE.events, 0, "producer")
        progress = TopicSize(bootstrap, topics.events)
        for share, what, action in schedule(run):
            wait_for(
                f"{share:.0%} of the events to be sent (next: {what})",
                lambda share=share: progress.records() >= share * SIZE.events or not main.alive(),
                SIZE.settle_s + 2 * SIZE.events / SIZE.rate,
                0.2,
            )
            action()
        progress.close()
        while main.alive():
            time.sleep(0.2)
        assert main.wait(0) == 0, f"the producer failed (see {main.log})"
        sent = report_of(main)

        # Every main event's drift window must close: events later than its end plus
        # the allowed lateness, in every partition, do that.
        events = TopicReader(bootstrap, topics.events)
        events.read_all()
        main_end = {p: -1 for p in range(run.settings.kafka.partitions)}
        for e in events.records:
            main_end[e.partition] = max(main_end[e.partition], e.offset)
        time.sleep(SIZE.window_s + LATENESS_S + 1)
        tail = produce(run, TAIL, SIZE.events, "producer-tail")
        assert tail.wait(120) == 0, f"the tail producer failed (see {tail.log})"
        tail_sent = report_of(tail)
        events.read_all()

        predictions = TopicReader(bootstrap, topics.predictions)
        dead = TopicReader(bootstrap, topics.dlq)

        def all_scored() -> bool:
            predictions.poll(1)
            dead.poll(1)
            return len(predictions.records) + len(dead.records) >= len(events.records)

        wait_for("a prediction or dead letter for every event", all_scored, SIZE.settle_s, 0)

        windows = TopicReader(bootstrap, topics.drift_windows)
        scored_ids = {json.loads(p.value)["event_id"] for p in predictions.records}
        last_valid = {
            p: max(
                (
                    e.offset
                    for e in events.records
                    if e.partition == p and e.offset <= end and _eid(e) in scored_ids
                ),
                default=-1,
            )
            for p, end in main_end.items()
        }

        def windows_closed() -> bool:
            windows.poll(1)
            reached: dict[int, int] = {}
            for w in windows.records:
                for o in w.json()["offsets"]:
                    reached[o["partition"]] = max(reached.get(o["partition"], -1), o["last_offset"])
            return all(reached.get(p, -1) >= off for p, off in last_valid.items())

        wait_for("drift windows over every main event", windows_closed, SIZE.settle_s, 0)

        alerts = TopicReader(bootstrap, topics.alerts)
        decisions = TopicReader(bootstrap, topics.retrain_decisions)

        def retraining_done() -> bool:
            alerts.poll(1)
            decisions.poll(1)
            answered = {a for d in decisions.records for a in d.json().get("alert_ids", [])}
            asked = {a.json()["alert_id"] for a in alerts.records}
            health = run.retrainer.health() or {}
            return (
                bool(asked)
                and bool(run.retrainer_killed_training)
                and asked <= answered
                and health.get("training") is False
            )

        wait_for(
            "a drift alert, a retrainer killed while training, and a decision for every alert",
            retraining_done,
            SIZE.settle_s,
            0,
        )

        watching.set()
        watcher.join(10)
        outcomes = TopicReader(bootstrap, topics.outcomes)
        outcomes.read_all()
        predictions.poll(5)
        joined, _ = Verifier.labelled(predictions.records, outcomes.records)
        last: list[int | None] = [None]

        def monitor_settled() -> bool:
            labelled = (run.monitor.health() or {}).get("labelled")
            settled = labelled is not None and labelled >= joined
            last[0] = labelled
            return settled

        wait_for(
            f"the monitor to count the verifier's {joined} labelled predictions",
            monitor_settled,
            SIZE.settle_s,
        )
        time.sleep(3)  # a duplicate counted late would show up now
        monitor_labelled = (run.monitor.health() or {}).get("labelled")
        monitor_joined = {
            k: run.monitor.metric("streamscore_monitor_joined", outcome=k)
            for k in ("duplicate", "late", "capped", "orphaned")
        }
        for reader in (events, predictions, dead, windows, alerts, decisions, outcomes):
            reader.close()

        exits = stop_all(run.services())

        # ------------------------------------------------------------- verification
        f = Findings()
        all_events = read_topic(bootstrap, topics.events)
        all_predictions = read_topic(bootstrap, topics.predictions)
        all_dead = read_topic(bootstrap, topics.dlq)
        scored = verifier.check_outputs(f, all_events, all_predictions, all_dead)
        invalid_sent = sum(sent["invalid"].values()) + sum(tail_sent["invalid"].values())
        acked = sent["events"]["acknowledged"] + tail_sent["events"]["acknowledged"]
        f.counts["events acknowledged to the producer"] = acked
        f.counts["invalid events sent"] = invalid_sent
        f.problem(
            "events acknowledged but not in the topic, or the reverse",
            [(acked, len(all_events))] if acked != len(all_events) else [],
        )
        f.problem(
            "dead letters that are not the invalid events sent",
            [(invalid_sent, len(all_dead))] if invalid_sent != len(all_dead) else [],
        )
        verifier.check_drift_windows(
            f, all_events, scored, read_topic(bootstrap, topics.drift_windows), main_end
        )
        all_alerts = read_topic(bootstrap, topics.alerts) + read_topic(
            bootstrap, topics.performance_alerts
        )
        docs = verifier.check_decisions(
            f, all_alerts, read_topic(bootstrap, topics.retrain_decisions)
        )
        all_outcomes = read_topic(bootstrap, topics.outcomes)
        joined, repeated_outcomes = Verifier.labelled(all_predictions, all_outcomes)
        f.counts["labelled predictions (verifier's join)"] = joined
        f.counts["labelled predictions (monitor)"] = int(monitor_labelled or 0)
        f.problem(
            "labelled predictions the monitor counted differently",
            [(monitor_labelled, joined)] if monitor_labelled != joined else [],
        )
        f.problem("outcomes published twice", [repeated_outcomes] if repeated_outcomes else [])
        f.problem(
            "monitor join: duplicate, late or capped halves",
            [(k, v) for k, v in monitor_joined.items() if k != "orphaned" and v],
        )
        f.problem(
            "processes not exiting 0 within 30 s of SIGTERM",
            [(n, c, round(s, 1)) for n, (c, s) in exits.items() if c != 0 or s > STOP_BOUND_S],
        )
        verify = subprocess.run(
            [sys.executable, "-m", "streamscore", "registry", "verify"],
            env=run.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        f.problem("registry verify failures", [verify.stdout + verify.stderr] * verify.returncode)
        outcomes_by_kind = [d["outcome"] for d in docs]
        f.counts["retrain decisions: " + ", ".join(sorted(set(outcomes_by_kind)))] = len(docs)
        f.problem(
            "no retraining after the drift alert",
            [] if any(o != "skipped" for o in outcomes_by_kind) else ["none"],
        )
        f.counts["slowest exit after SIGTERM (s)"] = round(max(s for _, s in exits.values()))
        f.counts["run (s)"] = round(time.monotonic() - started)
        chaos_report(table(run.faults, f, exits))
        assert not f.failed(), f"chaos found problems: {f.failed()}; examples {f.examples}"
    finally:
        watching.set()
        for reader in list(TopicReader.opened):
            reader.close()
        for role in [*run.services(), run.extra]:
            if role.alive():
                role.kill()
        run.broker.stop()


def stop_all(roles: list[Role]) -> dict[str, tuple[int | None, float]]:
    """SIGTERM every role at once; each one's exit code (None: still running after
    STOP_BOUND_S, then killed) and the seconds it took."""
    asked = time.monotonic()
    for role in roles:
        assert role.proc is not None
        role.proc.send_signal(signal.SIGTERM)
    exits: dict[str, tuple[int | None, float]] = {}
    while len(exits) < len(roles) and time.monotonic() - asked < STOP_BOUND_S:
        for role in roles:
            assert role.proc is not None
            if role.name not in exits and role.proc.poll() is not None:
                exits[role.name] = (role.proc.returncode, time.monotonic() - asked)
        time.sleep(0.05)
    for role in roles:
        if role.name not in exits:
            exits[role.name] = role.terminate_wait(asked)
    return exits


def _eid(e: Rec) -> str | None:
    from tests.chaos.verifier import event_id_of

    return event_id_of(e.value)


def table(faults: Faults, f: Findings, exits: dict[str, tuple[int | None, float]]) -> str:
    lost = sum(v for k, v in f.problems.items() if "lost" in k or "without" in k)
    duplicated = sum(v for k, v in f.problems.items() if "twice" in k or "two or more" in k)
    lines = [
        f"chaos suite, {SIZE.name} size: {SIZE.events:,} events + {TAIL} tail at {SIZE.rate:g}/s",
        "",
        f"{'fault':<52} {'injected':>8} {'lost':>6} {'duplicated':>10}",
    ]
    for fault, n in faults.injected.items():
        lines.append(f"{fault:<52} {n:>8} {lost:>6} {duplicated:>10}")
    lines += ["", "(lost and duplicated are over the whole run, every fault combined)", ""]
    lines += [f"{k:<60} {v:>10,}" for k, v in f.counts.items()]
    lines += ["", f"{'check':<60} {'problems':>10}"]
    lines += [f"{k:<60} {v:>10}" for k, v in f.problems.items()]
    lines += ["", "exit after SIGTERM: " + ", ".join(
        f"{n} {c} in {s:.1f} s" for n, (c, s) in exits.items())]  # fmt: skip
    return "\n".join(lines)
