"""The chaos suite's independent verifier: what streamscore published, read back and
checked from the outside.

It shares no code with the processes it checks: its own confluent-kafka consumers
(read_committed, assigned to every partition from the beginning, read to the end), its
own JSON parsing of the records. The only thing it imports from streamscore is the topic
names (`core.settings.TopicsConfig`), which are the contract itself.

What it checks, each as a count that must be zero:
* every event has exactly one output: a prediction (valid) or a dead letter (invalid);
* every valid event is counted in exactly one drift window (the windows' per-partition
  offset ranges are disjoint and each range's count is the valid events in it), and no
  window was judged twice (window ids are unique);
* each alert has at most one retraining decision;
* the monitor's labelled count equals the verifier's own join of predictions and outcomes.
"""

from __future__ import annotations

import bisect
import json
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from core.settings import TopicsConfig


@dataclass(frozen=True)
class Rec:
    """One record as the verifier keeps it."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]

    def json(self) -> Any:
        return json.loads(self.value)


class TopicReader:
    """Every committed record of one topic, from the beginning; `poll()` reads what is new.

    Assigned, not subscribed: no consumer group, so nothing it does can rebalance or
    commit on behalf of the processes under test.
    """

    opened: list[TopicReader | TopicSize] = []  # noqa: RUF012 - closed by the test's finally

    def __init__(self, bootstrap: str, topic: str) -> None:
        TopicReader.opened.append(self)
        self.topic = topic
        self.records: list[Rec] = []
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"chaos-verifier-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                "enable.partition.eof": True,
                "log_level": 0,  # the broker is killed on purpose: no log spam
            }
        )
        metadata = self._consumer.list_topics(topic, timeout=30)
        partitions = sorted(metadata.topics[topic].partitions)
        if not partitions:
            raise AssertionError(f"topic {topic} has no partitions")
        self._eof: set[int] = set()
        self._partitions = partitions
        self._consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])

    def poll(self, seconds: float = 1.0) -> int:
        """Read for up to `seconds` or until every partition is at its end; new records."""
        before = len(self.records)
        deadline = time.monotonic() + seconds
        self._eof.clear()
        while time.monotonic() < deadline and len(self._eof) < len(self._partitions):
            for m in self._consumer.consume(5000, 0.2):
                err = m.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        self._eof.add(m.partition())
                    continue
                self._eof.discard(m.partition())
                self.records.append(
                    Rec(
                        m.partition(),
                        m.offset(),
                        m.key(),
                        m.value() or b"",
                        {k: v or b"" for k, v in (m.headers() or [])},
                    )
                )
        return len(self.records) - before

    def read_all(self, timeout_s: float = 120.0) -> list[Rec]:
        """Poll until every partition reports its end (all processes stopped: nothing open)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.poll(5.0)
            if len(self._eof) == len(self._partitions):
                return self.records
        raise AssertionError(f"{self.topic}: not read to its end within {timeout_s} s")

    def close(self) -> None:
        if self in TopicReader.opened:
            TopicReader.opened.remove(self)
            self._consumer.close()


class TopicSize:
    """How many records a non-transactional topic holds: the sum of its high watermarks
    (the producer's progress, read without consuming anything)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.last = 0
        self._consumer = Consumer(
            {"bootstrap.servers": bootstrap, "group.id": "chaos-size", "log_level": 0}
        )
        TopicReader.opened.append(self)

    def records(self) -> int:
        """The size now, or the last size seen while the broker does not answer."""
        try:
            metadata = self._consumer.list_topics(self.topic, timeout=2)
            parts = metadata.topics[self.topic].partitions
            self.last = sum(
                self._consumer.get_watermark_offsets(
                    TopicPartition(self.topic, p), timeout=2, cached=False
                )[1]
                for p in parts
            )
        except KafkaException:  # the broker is down on purpose at times
            return self.last
        return self.last

    def close(self) -> None:
        if self in TopicReader.opened:
            TopicReader.opened.remove(self)
            self._consumer.close()


def read_topic(bootstrap: str, topic: str, timeout_s: float = 120.0) -> list[Rec]:
    reader = TopicReader(bootstrap, topic)
    try:
        return reader.read_all(timeout_s)
    finally:
        reader.close()


def event_id_of(value: bytes) -> str | None:
    try:
        doc = json.loads(value)
    except (ValueError, UnicodeDecodeError):
        return None
    eid = doc.get("event_id") if isinstance(doc, dict) else None
    return eid if isinstance(eid, str) else None


@dataclass
class Findings:
    """The counts of one verification; every `problems` entry must be zero."""

    counts: dict[str, int] = field(default_factory=dict)
    problems: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[Any]] = field(default_factory=dict)

    def problem(self, name: str, items: list[Any]) -> None:
        self.problems[name] = len(items)
        if items:
            self.examples[name] = items[:5]

    def failed(self) -> dict[str, int]:
        return {k: v for k, v in self.problems.items() if v}


class Verifier:
    def __init__(self, bootstrap: str, topics: TopicsConfig) -> None:
        self.bootstrap = bootstrap
        self.topics = topics

    # ------------------------------------------------------------------ scoring
    def check_outputs(
        self, f: Findings, events: list[Rec], predictions: list[Rec], dead: list[Rec]
    ) -> set[str]:
        """Each event exactly one output; returns the event ids that were scored."""
        by_id: dict[str, list[Rec]] = defaultdict(list)
        for e in events:
            eid = event_id_of(e.value)
            if eid is not None:
                by_id[eid].append(e)
        predicted = Counter(json.loads(p.value)["event_id"] for p in predictions)
        dlq = Counter(
            (int(d.headers["source.partition"]), int(d.headers["source.offset"])) for d in dead
        )
        outputs: list[tuple[int, int, int]] = []
        for e in events:
            eid = event_id_of(e.value)
            n = dlq[(e.partition, e.offset)]
            # An event id belongs to one event record; a prediction counts for it.
            if eid is not None and len(by_id[eid]) == 1:
                n += predicted[eid]
            outputs.append((e.partition, e.offset, n))
        f.counts["events"] = len(events)
        f.counts["predictions"] = len(predictions)
        f.counts["dead letters"] = len(dead)
        f.problem("events without an output (lost)", [o for o in outputs if o[2] == 0])
        f.problem("events with two or more outputs (duplicated)", [o for o in outputs if o[2] > 1])
        # Invalid events may share a bogus id (a 1,000-character one, say): only an id
        # that was scored must name one event.
        f.problem(
            "scored event ids on two event records",
            [k for k, v in by_id.items() if len(v) > 1 and predicted[k]],
        )
        f.problem("predictions of no event", [eid for eid in predicted if eid not in by_id])
        coords = {(e.partition, e.offset) for e in events}
        f.problem("dead letters of no event", [c for c in dlq if c not in coords])
        f.problem("duplicate predictions", [k for k, v in predicted.items() if v > 1])
        f.problem("duplicate dead letters", [k for k, v in dlq.items() if v > 1])
        return {eid for eid in predicted if eid in by_id}

    # ------------------------------------------------------------------ drift
    def check_drift_windows(
        self,
        f: Findings,
        events: list[Rec],
        scored: set[str],
        windows: list[Rec],
        covered_up_to: dict[int, int],
    ) -> None:
        """Every scored event at or below `covered_up_to[partition]` is counted in exactly
        one window; a window's per-partition range holds exactly its count of scored
        events; no window id repeats."""
        docs = [w.json() for w in windows]
        ids = Counter(d["window_id"] for d in docs)
        f.counts["drift windows judged"] = len(docs)
        f.problem("drift windows judged twice", [k for k, v in ids.items() if v > 1])
        valid_offsets: dict[int, list[int]] = defaultdict(list)
        for e in events:
            if event_id_of(e.value) in scored:
                valid_offsets[e.partition].append(e.offset)
        ranges: dict[int, list[tuple[int, int, int, str]]] = defaultdict(list)
        bad_counts = []
        for d in docs:
            total = 0
            for o in d["offsets"]:
                if o["topic"] != self.topics.events:
                    continue
                if o.get("events") is None:
                    bad_counts.append((d["window_id"], "no per-partition count"))
                    continue
                ranges[o["partition"]].append(
                    (o["first_offset"], o["last_offset"], o["events"], d["window_id"])
                )
                total += o["events"]
            if total != d["events"]:
                bad_counts.append((d["window_id"], total, d["events"]))
        f.problem("drift windows whose partition counts do not add up", bad_counts)
        overlaps, miscounted, uncovered = [], [], []
        counted = 0
        for partition, offsets in valid_offsets.items():
            offsets.sort()
            spans = sorted(ranges.get(partition, []))
            for a, b in pairwise(spans):
                if b[0] <= a[1]:
                    overlaps.append((partition, a, b))
            for lo, hi, n, wid in spans:
                inside = bisect.bisect_right(offsets, hi) - bisect.bisect_left(offsets, lo)
                if inside != n:
                    miscounted.append((partition, lo, hi, n, inside, wid))
                counted += n
            limit = covered_up_to.get(partition, -1)
            for off in offsets:
                if off > limit:
                    break
                i = bisect.bisect_right(spans, (off, float("inf"))) - 1
                if i < 0 or not (spans[i][0] <= off <= spans[i][1]):
                    uncovered.append((partition, off))
        f.counts["events counted in drift windows"] = counted
        f.problem("drift windows overlapping on a partition (double counted)", overlaps)
        f.problem("drift window ranges whose count is not their events", miscounted)
        f.problem("events in no closed drift window (lost)", uncovered)

    # ------------------------------------------------------------------ retraining
    def check_decisions(self, f: Findings, alerts: list[Rec], decisions: list[Rec]) -> list[dict]:
        alert_ids = [a.json()["alert_id"] for a in alerts]
        docs = [d.json() for d in decisions]
        per_alert = Counter(a for d in docs for a in d.get("alert_ids", []))
        f.counts["alerts"] = len(alert_ids)
        f.counts["retrain decisions"] = len(docs)
        f.problem("alerts with two or more decisions", [a for a, n in per_alert.items() if n > 1])
        f.problem("decisions for no alert", [a for a in per_alert if a not in set(alert_ids)])
        f.problem("alerts published twice", [a for a, n in Counter(alert_ids).items() if n > 1])
        return docs

    # ------------------------------------------------------------------ monitor
    @staticmethod
    def labelled(predictions: list[Rec], outcomes: list[Rec]) -> tuple[int, int]:
        """The verifier's own join: predictions whose event has an outcome; and how many
        outcome records repeat an event id."""
        labels = Counter(json.loads(o.value)["event_id"] for o in outcomes)
        ids = {json.loads(p.value)["event_id"] for p in predictions}
        return sum(1 for eid in ids if labels[eid]), sum(n - 1 for n in labels.values() if n > 1)
