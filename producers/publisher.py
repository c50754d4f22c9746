"""Rate-controlled publishing with an account of every message's delivery.

A load test is only as good as its bookkeeping: if the producer cannot say how many
records the broker acknowledged, nothing downstream can say how many it should have
seen. So every record is produced with a delivery callback, the run ends with a flush,
and anything not confirmed by then counts as failed.

Rate control is a fixed schedule, not a sleep per message: record i is due at
`start + i / rate`, and whatever is due is sent at once. A late wake-up is therefore
made up by the next records instead of slowing the whole run down, which keeps the
achieved rate within a fraction of a percent of the asked one over any run longer than
a second. While waiting, the producer is polled so delivery callbacks keep flowing.
"""

from __future__ import annotations

import math
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO

import structlog
from confluent_kafka import KafkaException
from tqdm import tqdm

from core.kafka.producer import CheckedProducer
from core.records import OutRecord
from core.schemas import CONTRACT_HEADER, CONTRACT_VERSION
from producers.messages import EventMessage
from producers.outcomes import OutcomeQueue

_HEADERS: list[tuple[str, str | bytes | None]] = [(CONTRACT_HEADER, CONTRACT_VERSION.encode())]
_POLL_EVERY = 1000
"""Messages between `poll(0)` calls at full speed: callbacks served, queue kept short."""

_log = structlog.get_logger("producers.publisher")


@dataclass
class DeliveryCounts:
    """Per topic: records handed to the producer, acknowledged, and failed."""

    sent: int = 0
    acknowledged: int = 0
    failed: int = 0

    @property
    def unconfirmed(self) -> int:
        return self.sent - self.acknowledged - self.failed


@dataclass
class PublishReport:
    """What a run did; `ok` only when every record sent was acknowledged."""

    events: DeliveryCounts = field(default_factory=DeliveryCounts)
    outcomes: DeliveryCounts = field(default_factory=DeliveryCounts)
    invalid: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    target_rate: float | None = None
    events_per_s: float = 0.0
    """Send rate of events, from the first send to the last."""
    elapsed_s: float = 0.0
    """Whole run, including waiting for outcomes and the final flush."""
    interrupted: bool = False
    """Stopped by Ctrl-C: what was sent is still flushed and counted."""
    outcomes_dropped: int = 0
    """Outcomes still waiting out their delay when the run was interrupted."""

    @property
    def ok(self) -> bool:
        return all(c.failed == 0 and c.unconfirmed == 0 for c in (self.events, self.outcomes))

    def as_dict(self) -> dict[str, Any]:
        sent = self.events.sent + self.outcomes.sent
        acked = self.events.acknowledged + self.outcomes.acknowledged
        failed = self.events.failed + self.outcomes.failed
        return {
            "sent": sent,
            "acknowledged": acked,
            "failed": failed,
            "events": vars(self.events).copy(),
            "outcomes": vars(self.outcomes).copy(),
            "invalid": dict(sorted(self.invalid.items())),
            "errors": dict(sorted(self.errors.items())),
            "target_rate": self.target_rate,
            "events_per_s": round(self.events_per_s, 1),
            "elapsed_s": round(self.elapsed_s, 3),
            "interrupted": self.interrupted,
            "outcomes_dropped": self.outcomes_dropped,
            "ok": self.ok,
        }


class Publisher:
    """Produces records and counts their deliveries; `finish` settles every one."""

    def __init__(self, producer: CheckedProducer, report: PublishReport) -> None:
        self._producer = producer
        self.report = report
        self._callbacks = {
            id(report.events): self._callback(report.events),
            id(report.outcomes): self._callback(report.outcomes),
        }

    def _callback(self, counts: DeliveryCounts) -> Callable[[Any, Any], None]:
        def on_delivery(err: Any, msg: Any) -> None:
            if err is None:
                counts.acknowledged += 1
                return
            counts.failed += 1
            name = err.name() if hasattr(err, "name") else str(err)
            self.report.errors[name] += 1
            if self.report.errors[name] == 1:
                _log.warning("produce.delivery_failed", topic=msg.topic(), error=str(err))

        return on_delivery

    def send(self, topic: str, key: bytes | None, value: bytes, counts: DeliveryCounts) -> None:
        """Hand one record to the producer, waiting while its local queue is full."""
        callback = self._callbacks[id(counts)]
        try:
            self._producer.produce(OutRecord(topic, value, key, _HEADERS), on_delivery=callback)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else exc
            name = error.name() if hasattr(error, "name") else type(exc).__name__
            counts.failed += 1
            self.report.errors[name] += 1
        counts.sent += 1

    def serve(self, timeout: float) -> None:
        """Serve delivery callbacks, blocking at most `timeout` seconds."""
        self._producer.poll(timeout)

    def finish(self, timeout_s: float) -> None:
        """Flush; what is still unconfirmed after `timeout_s` counts as failed."""
        deadline = time.monotonic() + timeout_s
        remaining = self._producer.raw.flush(timeout_s)
        while remaining and time.monotonic() < deadline:
            remaining = self._producer.raw.flush(max(0.0, deadline - time.monotonic()))
        for counts in (self.report.events, self.report.outcomes):
            lost = counts.unconfirmed
            if lost:
                counts.failed += lost
                self.report.errors["unconfirmed_at_flush"] += lost


class Pacer:
    """Record i is due at `start + i / rate`; no rate means everything is due now."""

    def __init__(self, rate: float | None, start: float) -> None:
        if rate is not None and not (rate > 0 and math.isfinite(rate)):
            raise ValueError(f"rate must be a positive number, got {rate}")
        self.rate = rate
        self.start = start

    def due(self, i: int) -> float:
        return self.start if self.rate is None else self.start + i / self.rate


class PublishProgress:
    """A tqdm bar on a terminal; otherwise a plain line every `every_s` seconds."""

    def __init__(
        self,
        total: int | None,
        report: PublishReport,
        *,
        stream: TextIO | None = None,
        every_s: float = 5.0,
        enabled: bool = True,
    ) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._report = report
        self._every_s = every_s
        self._enabled = enabled
        self._bar: Any = None
        if enabled and self._stream.isatty():
            self._bar = tqdm(total=total, unit="ev", file=self._stream, smoothing=0.1)
        self._start = time.monotonic()
        self._next_line = self._start + (1.0 if self._bar is not None else every_s)
        self._shown = 0

    def update(self, now: float) -> None:
        sent = self._report.events.sent
        if self._bar is not None:
            self._bar.update(sent - self._shown)
            self._shown = sent
            if now >= self._next_line:
                self._next_line = now + 1.0
                e = self._report.events
                self._bar.set_postfix(acked=e.acknowledged, failed=e.failed, refresh=False)
        elif self._enabled and now >= self._next_line:
            self._next_line = now + self._every_s
            self._line(now)

    def _line(self, now: float) -> None:
        e = self._report.events
        rate = e.sent / max(now - self._start, 1e-9)
        print(
            f"produce: {e.sent} events sent, {e.acknowledged} acknowledged, "
            f"{e.failed} failed, {self._report.outcomes.sent} outcomes sent ({rate:.0f}/s)",
            file=self._stream,
            flush=True,
        )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.update(self._report.events.sent - self._shown)
            self._bar.close()


def publish(
    producer: CheckedProducer,
    messages: Iterable[EventMessage],
    *,
    events_topic: str,
    outcomes_topic: str | None,
    outcome_delay_s: float = 0.0,
    rate: float | None = None,
    duration_s: float | None = None,
    total: int | None = None,
    flush_timeout_s: float = 30.0,
    progress: bool = True,
) -> PublishReport:
    """Send `messages` (at `rate` per second, or as fast as possible), then outcomes.

    Steps, in order:
    1. each event is sent when due (see `Pacer`); `duration_s` stops the run early;
    2. each valid event's label enters the outcome queue, released `outcome_delay_s`
       later to `outcomes_topic` (None: no outcomes);
    3. after the last event, the outcomes still waiting are released when due;
    4. a flush settles every delivery; unconfirmed records count as failed.

    Ctrl-C during 1 or 3 skips to 4, so the report still accounts for every record sent.
    """
    report = PublishReport(target_rate=rate)
    run = _Run(Publisher(producer, report), events_topic, outcomes_topic, outcome_delay_s)
    bar = PublishProgress(total, report, enabled=progress)
    start = time.monotonic()
    try:
        run.send_events(messages, Pacer(rate, start), duration_s, bar)
        run.drain_outcomes(bar)
    except KeyboardInterrupt:
        report.interrupted = True
        report.outcomes_dropped = len(run.queue) if run.queue is not None else 0
    except Exception:
        run.publisher.finish(flush_timeout_s)  # what was sent still lands before we fail
        raise
    finally:
        bar.close()
    run.publisher.finish(flush_timeout_s)
    report.elapsed_s = time.monotonic() - start
    return report


class _Run:
    """State of one `publish` call: the publisher and the outcomes waiting their turn."""

    def __init__(
        self,
        publisher: Publisher,
        events_topic: str,
        outcomes_topic: str | None,
        outcome_delay_s: float,
    ) -> None:
        self.publisher = publisher
        self.report = publisher.report
        self.events_topic = events_topic
        self.outcomes_topic = outcomes_topic
        self.queue = OutcomeQueue(outcome_delay_s) if outcomes_topic is not None else None

    def send_events(
        self,
        messages: Iterable[EventMessage],
        pacer: Pacer,
        duration_s: float | None,
        bar: PublishProgress,
    ) -> None:
        clock, report, events = time.monotonic, self.report, self.report.events
        deadline = None if duration_s is None else pacer.start + duration_s
        first_send = last_send = pacer.start
        try:
            for i, msg in enumerate(messages):
                now = clock()
                if i == 0:
                    # The schedule starts with the first record, not before the first
                    # block was generated: otherwise the run opens with a catch-up burst.
                    pacer.start = first_send = now
                    deadline = None if duration_s is None else now + duration_s
                due = pacer.due(i)
                while now < due:
                    self.release_outcomes(now)
                    bar.update(now)
                    wait = due - now
                    if wait >= 0.002:
                        self.publisher.serve(min(wait, 0.05))
                    else:
                        time.sleep(wait)
                    now = clock()
                if deadline is not None and now >= deadline:
                    break
                self.publisher.send(self.events_topic, msg.key, msg.value, events)
                last_send = now
                if msg.invalid is not None:
                    report.invalid[msg.invalid.value] += 1
                elif self.queue is not None and (label := msg.label()) is not None:
                    self.queue.add(now, *label, msg.event_time)
                if i % _POLL_EVERY == 0:
                    self.publisher.serve(0)
                    self.release_outcomes(now)
                    bar.update(now)
        finally:
            if events.sent > 1:
                report.events_per_s = (events.sent - 1) / max(last_send - first_send, 1e-9)

    def drain_outcomes(self, bar: PublishProgress) -> None:
        while self.queue is not None and len(self.queue):
            now = time.monotonic()
            self.release_outcomes(now)
            next_due = self.queue.next_due()
            if next_due is not None:
                self.publisher.serve(min(max(next_due - now, 0.0), 0.1))
            bar.update(now)

    def release_outcomes(self, now: float) -> None:
        if self.queue is None or self.outcomes_topic is None:
            return
        next_due = self.queue.next_due()
        if next_due is None or next_due > now:
            return
        for key, value in self.queue.release(now):
            self.publisher.send(self.outcomes_topic, key, value, self.report.outcomes)
