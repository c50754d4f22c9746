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
        self, config: dict[str, Any], *, stopping: Callable[[], bool] | None = None
    ) -> None:
        self._producer = Producer(config)
        self._stopping = stopping
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
        **overrides: Any,
    ) -> CheckedProducer:
        config = producer_config(settings, transactional_id=transactional_id, **overrides)
        return cls(config, stopping=stopping)

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

    def produce_all(self, records: list[OutRecord]) -> None:
        for record in records:
            self.produce(record)
        self._producer.poll(0)

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

    def _callback(self, user: OnDelivery | None) -> OnDelivery:
        def on_delivery(err: KafkaError | None, msg: Message) -> None:
            if err is not None:
                self.failed += 1
                if self._first_error is None:
                    self._first_error = err
            if user is not None:
                user(err, msg)

        return on_delivery
