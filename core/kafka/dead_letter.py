"""Dead letters: the original bytes, unchanged, with why and where they came from."""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from core.dead_letters.reasons import PROCESSING_ERROR
from core.records import OutRecord, Record
from core.schemas import CONTRACT_HEADER, CONTRACT_VERSION, DeadLetterHeaders

_MAX_MESSAGE = 1000


def dead_letter(record: Record, dlq_topic: str, error_type: str, message: str) -> OutRecord:
    """The DLQ record for `record`: same key, same value bytes, error and source headers."""
    return OutRecord(
        topic=dlq_topic,
        key=record.key(),
        value=record.value() or b"",
        headers=[
            (DeadLetterHeaders.ERROR_TYPE.value, error_type.encode()),
            (DeadLetterHeaders.ERROR_MESSAGE.value, message[:_MAX_MESSAGE].encode()),
            (DeadLetterHeaders.SOURCE_TOPIC.value, (record.topic() or "").encode()),
            (DeadLetterHeaders.SOURCE_PARTITION.value, str(record.partition()).encode()),
            (DeadLetterHeaders.SOURCE_OFFSET.value, str(record.offset()).encode()),
            (CONTRACT_HEADER, CONTRACT_VERSION.encode()),
        ],
    )


class DeadLetterPolicy:
    """Error policy that dead-letters every record of a batch whose processing raised.

    The processor calls it with the exception and the batch; what it returns is produced
    in the batch's place, so a poison batch is parked with its reason instead of crashing
    the consumer or being retried forever.
    """

    def __init__(self, dlq_topic: str) -> None:
        self._topic = dlq_topic
        self._log = structlog.get_logger("dead_letter")

    def __call__(self, exc: Exception, batch: Sequence[Record]) -> list[OutRecord]:
        self._log.error(
            "batch_dead_lettered",
            error_type=type(exc).__name__,
            error_message=str(exc)[:_MAX_MESSAGE],
            records=len(batch),
        )
        return [
            dead_letter(r, self._topic, PROCESSING_ERROR, f"{type(exc).__name__}: {exc}")
            for r in batch
        ]
