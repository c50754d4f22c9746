"""Client configurations: a user's `kafka.client` tunes every client, but never the
options the delivery guarantees rest on."""

from __future__ import annotations

from core.kafka.config import PRODUCER_TUNING, consumer_config, producer_config
from core.settings import KafkaConfig, Settings


def settings_with(client: dict[str, str]) -> Settings:
    return Settings(kafka=KafkaConfig(bootstrap_servers="127.0.0.1:9092", client=client))


def test_the_producer_tuning_is_the_default_when_nothing_is_configured() -> None:
    config = producer_config(settings_with({}))
    assert {k: config[k] for k in PRODUCER_TUNING} == PRODUCER_TUNING


def test_a_configured_compression_or_linger_replaces_the_default() -> None:
    config = producer_config(settings_with({"compression.type": "zstd", "linger.ms": "20"}))
    assert (config["compression.type"], config["linger.ms"]) == ("zstd", "20")


def test_the_guarantees_options_cannot_be_configured_away() -> None:
    client = {"enable.idempotence": "false", "acks": "1", "isolation.level": "read_uncommitted"}
    producer = producer_config(settings_with(client), transactional_id="t-1")
    consumer = consumer_config(settings_with(client), "g")
    assert (producer["enable.idempotence"], producer["acks"]) == (True, "all")
    assert producer["transactional.id"] == "t-1"
    assert consumer["isolation.level"] == "read_committed"
    assert consumer["enable.auto.commit"] is False
