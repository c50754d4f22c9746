"""The checkpoint store on the real broker: a restore reads each owner's last committed
checkpoint, and never an undecided one."""

from __future__ import annotations

import pytest
from confluent_kafka import Producer

from core.kafka.admin import ensure_topics
from core.kafka.changelog import CheckpointStore
from core.kafka.config import producer_config
from core.settings import Settings

pytestmark = pytest.mark.integration


def _commit(settings: Settings, store: CheckpointStore, value: bytes, txn_id: str) -> Producer:
    producer = Producer({**producer_config(settings), "transactional.id": txn_id})
    producer.init_transactions(30)
    producer.begin_transaction()
    record = store.record(value, partition=1)
    producer.produce(record.topic, record.value, record.key, partition=1)
    producer.commit_transaction(30)
    return producer


def test_a_restore_gives_each_owner_its_last_committed_checkpoint(settings: Settings) -> None:
    ensure_topics(settings)
    store = CheckpointStore(settings, settings.topics.drift_state, "g")
    _commit(settings, store, b"first", "ckpt-a")
    _commit(settings, store, b"second", "ckpt-a")
    assert store.restore([0, 1]) == {1: b"second"}


def test_a_restore_reads_to_the_last_decided_transaction_and_no_further(
    settings: Settings,
) -> None:
    """An open transaction (an owner SIGKILLed mid-batch) holds read_committed readers at
    it: the restore gives the state before it, never its undecided checkpoint, and once
    it is aborted, the one committed behind it."""
    ensure_topics(settings)
    store = CheckpointStore(settings, settings.topics.drift_state, "g")
    _commit(settings, store, b"committed", "ckpt-b")
    held = Producer(
        {
            **producer_config(settings),
            "transactional.id": "ckpt-open",
            "transaction.timeout.ms": 120000,
        }
    )
    held.init_transactions(30)
    held.begin_transaction()
    record = store.record(b"undecided", partition=1)
    held.produce(record.topic, record.value, record.key, partition=1)
    assert held.flush(30) == 0
    _commit(settings, store, b"after", "ckpt-b")
    assert store.restore([1]) == {1: b"committed"}
    held.abort_transaction(30)
    assert store.restore([1]) == {1: b"after"}
