"""A group's one judge: window shares merged on a board, each window judged once.

A stateful consumer that scales by partitions (drift watchers, performance monitors)
publishes each partition's final share of a window on a one-partition partials topic.
The judge reads that topic in its own group (`<group>-judge`), so exactly one member of
the group judges at a time and a zombie judge is fenced by the group generation. Per
batch, one transaction carries what the judgements publish, the judge's checkpoint (the
board of windows not yet final, and the alert policy; whole-group key on the state
topic) and the partials offsets: whatever the rebalances, each window is judged once.

What differs per consumer (how a share's state is read and merged, what a judgement
publishes, the policy) is the subclass's; the board and its checkpoint live here, once.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import structlog
from pydantic import ValidationError

from core.errors import StreamscoreError
from core.kafka.changelog import WHOLE_GROUP, CheckpointStore
from core.kafka.instance import transactional_id
from core.kafka.processor import Assignment, BatchHandler
from core.kafka.service import ConsumerSpec
from core.merge_board import FinalWindow, Incoming, MergeBoard
from core.packing import pack, unpack
from core.records import OutRecord, Record
from core.window_shares import WindowShare

T = TypeVar("T")


class JudgeBatchFailed(StreamscoreError):
    """A batch of window shares could not be judged; nothing of it was committed."""

    hint = "the process stops so no window is judged on part of its shares; restart it"


class WindowJudge(BatchHandler, Generic[T]):
    def __init__(
        self,
        store: CheckpointStore,
        partitions: Callable[[], int],
        log: structlog.typing.FilteringBoundLogger,
        state_error: type[StreamscoreError],
    ) -> None:
        self._store = store
        self._count = partitions
        self._partitions = 0
        """Input partitions, asked for when the judge is assigned (the broker answers then)."""
        self._log = log
        self._state_error = state_error
        self.board: MergeBoard[T] | None = None
        self._committed: bytes | None = None
        self._uncommitted: bytes | None = None

    @abstractmethod
    def merge(self, a: T, b: T) -> T:
        """`b` added into `a`, exactly."""

    @abstractmethod
    def read_share(self, share: WindowShare) -> T:
        """The state a `share` record carries."""

    @abstractmethod
    def judge(self, final: FinalWindow[T]) -> list[OutRecord]:
        """What judging a final window publishes."""

    @abstractmethod
    def encode(self, state: T) -> Any:
        """A pending window's state, as the checkpoint keeps it (JSON)."""

    @abstractmethod
    def decode(self, model_version: int, data: Any) -> T:
        """`encode`'s inverse."""

    @abstractmethod
    def policy_state(self) -> dict[str, Any]:
        """The alert policy, for the checkpoint."""

    @abstractmethod
    def restore_policy(self, data: dict[str, Any] | None) -> None:
        """The policy from a checkpoint (None: a fresh one)."""

    def observe(self, board: MergeBoard[T]) -> None:
        """After each batch: the board's figures for the metrics."""

    def ready(self) -> bool:
        return True

    def on_assigned(self, assignment: Assignment) -> None:
        """This process judges now: resume from the last committed judgement."""
        self._partitions = self._count()
        self._committed = self._store.restore().get(WHOLE_GROUP)
        self._restore(self._committed)
        board = self.board
        self._log.info(
            "judge_assigned",
            pending=len(board.pending) if board else 0,
            partitions=self._partitions,
        )

    def on_revoked(self, partitions: list[tuple[str, int]]) -> None:
        self.board = None

    def batch_committed(self) -> None:
        if self._uncommitted is not None:
            self._committed, self._uncommitted = self._uncommitted, None

    def batch_aborted(self) -> None:
        self._uncommitted = None
        self._restore(self._committed)

    def status(self) -> dict[str, Any]:
        board = self.board
        return {
            "judging": board is not None,
            "pending_windows": len(board.pending) if board else 0,
            "idle_partitions": sorted(board.idle) if board else [],
            "repeated_shares": board.repeated_shares if board else 0,
        }

    def process(self, batch: Sequence[Record]) -> list[OutRecord]:
        board = self.board
        if board is None:
            board = self.board = MergeBoard(self._partitions, self.merge)
        out: list[OutRecord] = []
        for record in batch:
            try:
                share = WindowShare.model_validate_json(record.value() or b"")
            except ValidationError as exc:
                self._log.error("share_unreadable", error=str(exc).splitlines()[0])
                continue
            state = self.read_share(share) if share.kind == "share" else None
            for final in board.add(Incoming.of(share), state):
                out += self.judge(final)
        self.observe(board)
        checkpoint = pack({"board": board.to_dict(self.encode), "policy": self.policy_state()}, 1)
        self._uncommitted = checkpoint
        out.append(self._store.record(checkpoint))
        return out

    def _restore(self, state: bytes | None) -> None:
        if state is None:
            self.board = MergeBoard(self._partitions, self.merge)
            self.restore_policy(None)
            return
        d = unpack(state, self._state_error, "judge checkpoint")
        self.board = MergeBoard.from_dict(d["board"], self.merge, self.decode, self._partitions)
        self.restore_policy(d["policy"])


def judge_spec(
    service: str,
    logger: str,
    group_id: str,
    partials: str,
    instance_id: str | None,
    batch_timeout_ms: int,
    what: str,
) -> ConsumerSpec:
    """The judge's consumer: its own group on the partials topic, stopping on any batch
    it cannot take (its restart takes the batch again; nothing of it was judged)."""
    group = f"{group_id}-judge"

    def stop(exc: Exception, batch: Sequence[Record]) -> list[OutRecord]:
        structlog.get_logger(logger).error(
            "judge_batch_failed", error_type=type(exc).__name__, error=str(exc), records=len(batch)
        )
        detail = exc.one_line() if isinstance(exc, StreamscoreError) else repr(exc)
        raise JudgeBatchFailed(f"{what}: batch of {len(batch)} shares failed: {detail}") from exc

    return ConsumerSpec(
        service=service,
        group_id=group,
        topics=[partials],
        batch_size=1000,
        batch_timeout_ms=batch_timeout_ms,
        http_port=0,
        on_error=stop,
        transactional_id=transactional_id(group, instance_id),
    )
