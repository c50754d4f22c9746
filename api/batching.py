"""Adaptive batching: concurrent requests share one model call.

A model call costs about the same for one event as for dozens (`core/predictor.py`), so
under load the API gathers the `/predict` calls that arrive together, as model servers
(MLServer, Triton) do. It never waits on an idle server: a batch is scored

1. at once when it holds `max_size` items;
2. at the end of the first event-loop turn that brought no new item (requests that
   arrived together have all been read by then; a lone request waits one turn);
3. at the latest `max_wait_s` after its first item, however busy the loop is.

Everything runs on the event loop's thread: the model call is a few hundred
microseconds and holds the GIL for most of it, so a worker thread would only add a
hand-over per batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")

ScoreFn = Callable[[Sequence[In]], Sequence[Out]]
"""Scores a batch: one result per item, in order; raising fails every item of it."""


class AdaptiveBatcher(Generic[In, Out]):
    """Gathers `submit` calls into batches for `score`.

    >>> async def demo() -> list[int]:
    ...     sizes: list[int] = []
    ...     def double(items: Sequence[int]) -> list[int]:
    ...         sizes.append(len(items))
    ...         return [2 * i for i in items]
    ...     batcher = AdaptiveBatcher(double, max_size=3, max_wait_s=1.0)
    ...     results = await asyncio.gather(*(batcher.submit(i) for i in range(5)))
    ...     return results + sizes
    >>> asyncio.run(demo())
    [0, 2, 4, 6, 8, 3, 2]
    """

    def __init__(self, score: ScoreFn[In, Out], *, max_size: int, max_wait_s: float) -> None:
        self._score = score
        self._max_size = max_size
        self._max_wait_s = max_wait_s
        self._pending: list[tuple[In, asyncio.Future[Out]]] = []
        self._joined = 0
        self._seen = 0
        self._first_at = 0.0
        self._check: asyncio.Handle | None = None

    async def submit(self, item: In) -> Out:
        """Score `item` with whichever batch it joins; raises what scoring raised."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Out] = loop.create_future()
        self._pending.append((item, future))
        self._joined += 1
        if len(self._pending) >= self._max_size:
            self._flush()
        elif self._check is None:
            self._first_at = loop.time()
            self._seen = self._joined
            self._check = loop.call_soon(self._turn_ended)
        return await future

    def _turn_ended(self) -> None:
        self._check = None
        if not self._pending:
            return
        loop = asyncio.get_running_loop()
        still_arriving = self._joined != self._seen
        if still_arriving and loop.time() - self._first_at < self._max_wait_s:
            self._seen = self._joined
            self._check = loop.call_soon(self._turn_ended)
            return
        self._flush()

    def _flush(self) -> None:
        if self._check is not None:
            self._check.cancel()
            self._check = None
        batch, self._pending = self._pending, []
        live = [(item, future) for item, future in batch if not future.done()]
        if not live:
            return
        try:
            results = self._score([item for item, _ in live])
        except Exception as exc:  # every caller of this batch gets the failure
            for _, future in live:
                future.set_exception(exc)
            return
        for (_, future), result in zip(live, results, strict=True):
            future.set_result(result)
