"""Adaptive batching: requests that arrive together share a model call; none waits on an
idle server; a failed call fails only its own batch."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from api.batching import AdaptiveBatcher


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[list[int]] = []
        self.fail = fail

    def __call__(self, items: Sequence[int]) -> list[int]:
        self.calls.append(list(items))
        if self.fail:
            raise RuntimeError("model failed")
        return [i * 10 for i in items]


def test_requests_that_arrive_together_share_one_call_in_order() -> None:
    score = Recorder()
    batcher = AdaptiveBatcher(score, max_size=100, max_wait_s=3600)

    async def run() -> list[int]:
        return list(await asyncio.gather(*(batcher.submit(i) for i in range(30))))

    assert asyncio.run(run()) == [i * 10 for i in range(30)]
    assert score.calls == [list(range(30))]


def test_a_full_batch_is_scored_at_once_and_the_rest_follows() -> None:
    score = Recorder()
    batcher = AdaptiveBatcher(score, max_size=8, max_wait_s=3600)

    async def run() -> None:
        await asyncio.gather(*(batcher.submit(i) for i in range(20)))

    asyncio.run(run())
    assert [len(c) for c in score.calls] == [8, 8, 4]


def test_a_lone_request_does_not_wait_for_the_maximum_wait() -> None:
    score = Recorder()
    batcher = AdaptiveBatcher(score, max_size=64, max_wait_s=3600)

    async def run() -> int:
        return await asyncio.wait_for(batcher.submit(7), timeout=60)

    assert asyncio.run(run()) == 70


def test_a_failed_model_call_fails_its_batch_and_not_the_next() -> None:
    score = Recorder(fail=True)
    batcher = AdaptiveBatcher(score, max_size=64, max_wait_s=3600)

    async def run() -> None:
        results = await asyncio.gather(
            *(batcher.submit(i) for i in range(3)), return_exceptions=True
        )
        assert all(isinstance(r, RuntimeError) for r in results)
        score.fail = False
        assert await batcher.submit(5) == 50

    asyncio.run(run())


def test_a_cancelled_request_is_left_out_of_its_batch() -> None:
    score = Recorder()
    batcher = AdaptiveBatcher(score, max_size=64, max_wait_s=3600)

    async def run() -> None:
        first = asyncio.ensure_future(batcher.submit(1))
        second = asyncio.ensure_future(batcher.submit(2))
        await asyncio.sleep(0)
        first.cancel()
        assert await second == 20
        with pytest.raises(asyncio.CancelledError):
            await first

    asyncio.run(run())
    assert score.calls == [[2]]
