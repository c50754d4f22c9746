"""What a batch commits: per partition, the offset after the last record read."""

from __future__ import annotations

import pytest
from confluent_kafka import Message

from core.kafka.commit import next_offsets


def test_each_partition_commits_the_offset_after_its_largest() -> None:
    batch = [
        Message(topic="a", partition=0, offset=5),
        Message(topic="b", partition=0, offset=9),
        Message(topic="a", partition=1, offset=2),
        Message(topic="a", partition=0, offset=7),
        Message(topic="a", partition=0, offset=6),
    ]
    committed = {(tp.topic, tp.partition): tp.offset for tp in next_offsets(batch)}
    assert committed == {("a", 0): 8, ("b", 0): 10, ("a", 1): 3}


@pytest.mark.parametrize(
    "record",
    [Message(topic="a", partition=0), Message(partition=0, offset=1), Message(topic="a", offset=1)],
)
def test_a_record_that_was_not_consumed_is_refused(record: Message) -> None:
    with pytest.raises(ValueError, match="not a consumed record"):
        next_offsets([Message(topic="a", partition=0, offset=1), record])
