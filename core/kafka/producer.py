"""One producer wrapper that never loses a delivery error.

confluent-kafka reports a record's fate later, in a callback served by `poll` or
`flush`; a loop that only calls `produce` never learns that a record was lost. This
wrapper keeps the first delivery error and raises it (as `DeliveryError`) on the next
`produce` or `flush`, so the caller finds out before it commits anything that assumes
the record landed. It also waits, serving callbacks, while the local queue is full, the
one thing every produce loop must do and each used to write again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from core.kafka.config import producer_config
from core.kafka.exceptions import DeliveryError, StopRequested
from core.records import OutRecord
from core.settings import Settings

OnDelivery = Callable[[KafkaError | None, Message], None]


class CheckedProducer:
    """A confluent-kafka `Producer` whose delivery failures surface as exceptions."""

    def __init__(
        self,
        config: dict[str, Any],
        *,
        stopping: Callable[[], bool] | None = None,
        raise_failures: bool = True,
    ) -> None:
        """`raise_failures=False` is for callers that count every delivery themselves
        (`on_delivery`) and report at the end, like `streamscore produce`."""
        self._producer = Producer(config)
        self._stopping = stopping
        self._raise = raise_failures
        self._first_error: KafkaError | None = None
        self.failed = 0
        """Records whose delivery failed, over the producer's life."""

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        transactional_id: str | None = None,
        stopping: Callable[[], bool] | None = None,
        raise_failures: bool = True,
        **overrides: Any,
    ) -> CheckedProducer:
        config = producer_config(settings, transactional_id=transactional_id, **overrides)
        return cls(config, stopping=stopping, raise_failures=raise_failures)

    @property
    def raw(self) -> Producer:
        """The wrapped producer, for the transactional calls."""
        return self._producer

    def produce(
        self, record: OutRecord, *, on_delivery: OnDelivery | None = None, block: bool = True
    ) -> None:
        """Queue one record. Raises the first delivery error seen since the last check;
        with `block=False` a full local queue raises `DeliveryError` instead of waiting."""
        self.check()
        callback = self._callback(on_delivery)
        while True:
            try:
                if record.partition is None:
                    self._producer.produce(
                        record.topic,
                        value=record.value,
                        key=record.key,
                        headers=record.headers,
                        on_delivery=callback,
                    )
                else:
                    self._producer.produce(
                        record.topic,
                        value=record.value,
                        key=record.key,
                        headers=record.headers,
                        partition=record.partition,
                        on_delivery=callback,
                    )
                return
            except BufferError:
                if not block:
                    raise DeliveryError("the producer's local queue is full") from None
                if self._stopping is not None and self._stopping():
                    raise StopRequested("stop requested while the local queue was full") from None
                self._producer.poll(0.05)

    def produce_all(self, records: list[OutRecord], *, in_transaction: bool = False) -> None:
        """Queue a batch's records. Inside a transaction, per-record delivery callbacks
        are left out: `commit_transaction` fails if any record failed, and a Python
        callback per record is a measurable share of a batch's cost."""
        self.check()
        produce, poll, stopping = self._producer.produce, self._producer.poll, self._stopping
        callback = None if in_transaction else self._on_delivery
        for r in records:
            while True:
                try:
                    if r.partition is None and r.timestamp_ms is None:
                        produce(r.topic, r.value, r.key, headers=r.headers, on_delivery=callback)
                    else:
                        produce(
                            r.topic,
                            r.value,
                            r.key,
                            # librdkafka's "any partition" and "now" where unset
                            partition=-1 if r.partition is None else r.partition,
                            timestamp=r.timestamp_ms or 0,
                            headers=r.headers,
                            on_delivery=callback,
                        )
                    break
                except BufferError:
                    if stopping is not None and stopping():
                        raise StopRequested(
                            "stop requested while the local queue was full"
                        ) from None
                    poll(0.05)
        poll(0)

    def poll(self, timeout_s: float = 0.0) -> int:
        """Serve delivery callbacks for up to `timeout_s`."""
        return int(self._producer.poll(timeout_s))

    def flush(self, timeout_s: float) -> None:
        """Wait for every queued record; raise if any failed or is still unconfirmed."""
        remaining = int(self._producer.flush(timeout_s))
        self.check()
        if remaining:
            raise DeliveryError(f"{remaining} records unconfirmed after {timeout_s:g} s")

    def check(self) -> None:
        """Raise the first delivery error seen since the last check, once."""
        error, self._first_error = self._first_error, None
        if error is not None:
            raise DeliveryError(f"a record was not delivered: {error.str()}")

    def forget_errors(self) -> None:
        """Drop a kept error whose records are being redone anyway (an aborted
        transaction), so it is not raised against the retry."""
        self._first_error = None

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self.failed += 1
            if self._raise and self._first_error is None:
                self._first_error = err

    def _callback(self, user: OnDelivery | None) -> OnDelivery:
        if user is None:
            return self._on_delivery

        def on_delivery(err: KafkaError | None, msg: Message) -> None:
            self._on_delivery(err, msg)
            user(err, msg)

        return on_delivery
