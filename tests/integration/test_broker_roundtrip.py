"""The foundation: a real broker, the contract's topics, a produce/consume round trip."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from core.kafka.admin import check_reachable, contract_topics, ensure_topics
from core.kafka.config import consumer_config, producer_config
from core.kafka.exceptions import BrokerUnreachable
from core.settings import Settings

pytestmark = pytest.mark.integration


def test_contract_topics_exist_with_their_partition_counts(settings: Settings) -> None:
    admin: AdminClient = check_reachable(settings)
    metadata = admin.list_topics(timeout=10)
    for spec in contract_topics(settings):
        assert len(metadata.topics[spec.name].partitions) == spec.partitions


def test_creating_topics_twice_reports_them_as_existing(settings: Settings) -> None:
    assert {r.outcome for r in ensure_topics(settings)} == {"exists"}


def test_a_produced_record_is_consumed_with_key_value_and_headers(
    settings: Settings, unique: str
) -> None:
    producer = Producer(producer_config(settings))
    producer.produce(
        settings.topics.events, key=b"c-1", value=b'{"customer_id": "c-1"}', headers={"h": b"v"}
    )
    assert producer.flush(10) == 0
    consumer = Consumer(consumer_config(settings, f"roundtrip-{unique}"))
    consumer.subscribe([settings.topics.events])
    try:
        msg = None
        for _ in range(60):
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                break
        assert msg is not None
        assert msg.error() is None
        assert msg.key() == b"c-1"
        assert msg.value() == b'{"customer_id": "c-1"}'
        assert dict(msg.headers() or []) == {"h": b"v"}
    finally:
        consumer.close()


def test_an_unreachable_broker_is_a_named_error_naming_the_address() -> None:
    settings = Settings(kafka={"bootstrap_servers": "127.0.0.1:1", "timeout_s": 2})
    with pytest.raises(BrokerUnreachable, match=r"127\.0\.0\.1:1"):
        check_reachable(settings)
