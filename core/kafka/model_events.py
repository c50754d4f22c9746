"""`model-events`: registry transitions announced on Kafka, heard by every scorer.

Each scorer listens without a consumer group (every instance must hear every event) from
the end of the topic; the registry stays the source of truth, the event only says "look
now" so a promotion reaches all scorers in about a second instead of a poll interval.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TypeVar

import structlog
from confluent_kafka import OFFSET_END, Consumer, KafkaException, TopicPartition
from pydantic import ValidationError

from core.errors import StreamscoreError
from core.follower import Loader, ProductionFollower
from core.kafka.config import consumer_config
from core.kafka.exceptions import DeliveryError
from core.kafka.producer import CheckedProducer
from core.records import OutRecord
from core.registry import ModelRegistry
from core.schemas import CONTRACT_HEADER, CONTRACT_VERSION, ModelEvent
from core.settings import Settings

T = TypeVar("T")


def publish_model_event(settings: Settings, event: ModelEvent, timeout_s: float = 10.0) -> None:
    producer = CheckedProducer.from_settings(settings)
    producer.produce(
        OutRecord(
            settings.topics.model_events,
            event.model_dump_json().encode(),
            event.model_name.encode(),
            [(CONTRACT_HEADER, CONTRACT_VERSION.encode())],
        )
    )
    try:
        producer.flush(timeout_s)
    except DeliveryError as exc:
        raise DeliveryError(
            f"model event not delivered to {settings.topics.model_events}: {exc}"
        ) from None


class ModelEventListener:
    def __init__(self, settings: Settings, model_name: str) -> None:
        self._model_name = model_name
        self._log = structlog.get_logger("model_events")
        self._consumer = Consumer(
            consumer_config(
                settings,
                group_id=f"streamscore-listener-{uuid.uuid4().hex}",
                **{"enable.auto.commit": False, "auto.offset.reset": "latest"},
            )
        )
        self._consumer.assign([TopicPartition(settings.topics.model_events, 0, OFFSET_END)])

    def poll(self) -> list[ModelEvent]:
        """Events for this model that arrived since the last call; never blocks."""
        events: list[ModelEvent] = []
        try:
            messages = self._consumer.consume(100, 0)
        except KafkaException as exc:
            self._log.warning("model_events_unavailable", error=str(exc))
            return events
        for msg in messages:
            if msg.error() is not None or msg.value() is None:
                continue
            try:
                event = ModelEvent.model_validate_json(msg.value() or b"")
            except ValidationError:
                self._log.warning("model_event_invalid", offset=msg.offset())
                continue
            if event.model_name == self._model_name:
                events.append(event)
        return events

    def close(self) -> None:
        self._consumer.close()


def announce(settings: Settings, event: ModelEvent, timeout_s: float = 5.0) -> str | None:
    """Publish `event` if a broker answers; otherwise say why, without failing.

    The registry is the source of truth and scorers also poll it, so a transition made
    while Kafka is away still reaches them, only a poll interval later.
    """
    try:
        publish_model_event(settings, event, timeout_s)
    except StreamscoreError as exc:
        return exc.one_line()
    return None


def announcer(settings: Settings, timeout_s: float = 5.0) -> Callable[[ModelEvent], str | None]:
    """`announce` bound to these settings: what `core.promotion` takes as `announce`."""
    return lambda event: announce(settings, event, timeout_s)


def follow_production(settings: Settings, load: Loader[T]) -> ProductionFollower[T]:
    """A follower of the configured model that listens on `model-events` and polls the
    registry every `registry.poll_s`."""
    return ProductionFollower(
        ModelRegistry.from_config(settings.registry),
        settings.registry.model_name,
        load,
        poll_s=settings.registry.poll_s,
        announcements=ModelEventListener(settings, settings.registry.model_name),
    )
