"""A fence once is an outage to ride out; twice in a row is a shared transactional id."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError

from core.kafka.commit import TransactionalCommit
from core.kafka.exceptions import TransactionalIdInUse


def commit() -> TransactionalCommit:
    return TransactionalCommit(
        lambda: None,  # type: ignore[arg-type, return-value]
        name="t",
        timeout_s=1.0,
        stopping=lambda: False,
        transactional_id="drift-watcher-a",
    )


def fenced() -> KafkaError:
    return KafkaError(KafkaError._FENCED, "This instance has been fenced", fatal=True)


def test_a_first_fence_is_recovered_from() -> None:
    commit()._check_fencing(fenced())


def test_a_second_fence_soon_after_names_the_shared_id() -> None:
    c = commit()
    c._check_fencing(fenced())
    with pytest.raises(TransactionalIdInUse, match="drift-watcher-a"):
        c._check_fencing(fenced())


def test_other_fatal_errors_are_not_fences() -> None:
    c = commit()
    other = KafkaError(KafkaError._FATAL, "something else", fatal=True)
    c._check_fencing(other)
    c._check_fencing(other)
