"""Crashes and concurrent writers leave the registry valid, verifiable and complete.

Three angles: a storage that "crashes" after every possible number of writes (exhaustive
over the write sequence, fast), real processes SIGKILLed at random instants, and two
processes promoting concurrently while a reader polls.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import time
from contextlib import AbstractContextManager, suppress
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from core.registry import LocalStorage, ModelRegistry, NoPreviousProduction
from core.registry.records import ModelIndex

PROFILE = {"format": 1, "numeric": {}, "categorical": {}}
FORK = multiprocessing.get_context("fork")


def small_model(seed: int = 0) -> LogisticRegression:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(20, 2))
    return LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))


def read_index(root: Path, name: str = "churn") -> ModelIndex:
    return ModelIndex.model_validate_json((root / name / "index.json").read_bytes())


def assert_valid(root: Path, name: str = "churn") -> ModelIndex:
    """The index parses, every version verifies, and the stages agree with the history."""
    registry = ModelRegistry(root)
    if not (root / name / "index.json").exists():
        return ModelIndex(name=name)
    index = read_index(root, name)
    assert index.problems() == []
    results = registry.verify(name)
    assert [r.problems for r in results if not r.ok] == []
    assert [e.version for e in index.versions] == list(range(1, len(index.versions) + 1))
    production: list[int] = []
    staging: int | None = None
    registered: list[int] = []
    for t in index.history:
        if t.event == "registered":
            registered.append(t.to_version)
        elif t.event == "rolled_back":
            assert production[-2:] == [t.to_version, t.from_version]
            production.pop()
        elif t.stage == "production":
            assert t.from_version == (production[-1] if production else None)
            if t.from_version != t.to_version:
                production.append(t.to_version)
        else:
            assert t.from_version == staging
            staging = t.to_version
    assert registered == [e.version for e in index.versions]
    assert (production, staging) == (index.production, index.staging)
    return index


# ---- exhaustive crash points -------------------------------------------------------------


class SimulatedCrash(BaseException):
    """Not an Exception: nothing in the registry may catch it, like a real kill."""


class CrashingStorage:
    """LocalStorage that dies after `budget` writes, leaving a half-written temp file."""

    def __init__(self, root: Path, budget: int) -> None:
        self._inner = LocalStorage(root)
        self._budget = budget

    def write_bytes(self, key: str, data: bytes) -> None:
        if self._budget == 0:
            target = self._inner.path(key)
            target.parent.mkdir(parents=True, exist_ok=True)
            (target.parent / ".tmp-crashed").write_bytes(data[: len(data) // 2])
            raise SimulatedCrash(key)
        self._budget -= 1
        self._inner.write_bytes(key, data)

    def read_bytes(self, key: str) -> bytes:
        return self._inner.read_bytes(key)

    def exists(self, key: str) -> bool:
        return self._inner.exists(key)

    def list(self, prefix: str) -> list[str]:
        return self._inner.list(prefix)

    def lock(self, key: str) -> AbstractContextManager[None]:
        return self._inner.lock(key)

    def locate(self, key: str) -> str:
        return self._inner.locate(key)


def scenario(registry: ModelRegistry, model: Any) -> None:
    registry.register("churn", model, {"auc": 0.7}, {}, reference_profile=PROFILE)
    registry.promote("churn", 1, reason="first")
    registry.register("churn", model, {"auc": 0.8}, {}, reference_profile=PROFILE)
    registry.promote("churn", 2, stage="staging")
    registry.promote("churn", 2)
    registry.rollback("churn", reason="regression")


SCENARIO_WRITES = 4 + 1 + 4 + 1 + 1 + 1


def state(root: Path) -> tuple[int, list[int], int | None, int]:
    if not (root / "churn" / "index.json").exists():
        return (0, [], None, 0)
    index = read_index(root)
    return (len(index.versions), index.production, index.staging, len(index.history))


def test_a_crash_after_any_number_of_writes_leaves_the_old_or_the_new_state(tmp_path):
    model = small_model()
    complete = tmp_path / "complete"
    scenario(ModelRegistry(complete), model)
    assert state(complete)[3] == 6
    assert_valid(complete)
    for budget in range(SCENARIO_WRITES):
        root = tmp_path / f"crash-{budget}"
        registry = ModelRegistry(root, storage=CrashingStorage(root, budget))
        with pytest.raises(SimulatedCrash):
            scenario(registry, model)
        assert_valid(root)
        # The steps that completed are all there, the crashed one is absent: replaying
        # the scenario on a fresh registry reaches the same state as the uncrashed run.
        transitions = state(root)[3]
        assert transitions <= 6
        resumed = ModelRegistry(root)
        assert (
            resumed.register("churn", model, {}, {}, reference_profile=PROFILE).version
            == (state(root)[0])
        )
        assert_valid(root)


def test_the_complete_scenario_is_counted_in_writes():
    """Guards SCENARIO_WRITES: a budget that large must let the scenario finish."""
    root = Path(os.environ.get("TMPDIR", "/tmp")) / f"registry-budget-{os.getpid()}"
    try:
        scenario(ModelRegistry(root, storage=CrashingStorage(root, SCENARIO_WRITES)), small_model())
    finally:
        import shutil

        shutil.rmtree(root, ignore_errors=True)


# ---- real processes ------------------------------------------------------------------------


def _quiet_child() -> None:
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))


def _writer_forever(root: str, seed: int, completed: Any) -> None:
    """Registers, promotes and rolls back in a loop until killed, counting operations."""
    _quiet_child()
    rng = random.Random(seed)
    registry = ModelRegistry(Path(root))
    model = small_model(seed)
    while True:
        choice = rng.random()
        current = registry.production_version("churn")
        if choice < 0.4 or current is None:
            mv = registry.register("churn", model, {"auc": 0.5}, {}, reference_profile=PROFILE)
            registry.promote("churn", mv.version, reason=f"seed {seed}")
        elif choice < 0.7:
            with suppress(NoPreviousProduction):
                registry.rollback("churn")
        else:
            count = sum(t.event == "registered" for t in registry.history("churn"))
            stage = "staging" if choice < 0.85 else "production"
            registry.promote("churn", rng.randint(1, count), stage=stage)
        completed.value += 1


@pytest.mark.slow
def test_sigkilled_writers_never_leave_a_torn_or_unverifiable_registry(tmp_path):
    """30 writers killed at random instants; each is first seen to complete an operation, so
    every kill lands inside the write loop however busy the machine is."""
    rng = random.Random(1234)
    kills = 30
    ModelRegistry(tmp_path).verify()  # warm caches before forking, so children start writing
    for attempt in range(kills):
        completed = FORK.Value("i", 0, lock=False)
        child = FORK.Process(target=_writer_forever, args=(str(tmp_path), attempt, completed))
        child.start()
        deadline = time.monotonic() + 60
        while completed.value == 0 and child.is_alive() and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(rng.uniform(0.0, 0.03))
        os.kill(child.pid, signal.SIGKILL)  # type: ignore[arg-type]
        child.join()
        assert child.exitcode == -signal.SIGKILL, "the writer died before it was killed"
        assert_valid(tmp_path)
    index = assert_valid(tmp_path)
    assert len(index.history) >= kills
    registry = ModelRegistry(tmp_path)
    if registry.production_version("churn") is not None:
        registry.production("churn")


def _promoter(root: str, worker: int, promotions: int) -> None:
    _quiet_child()
    rng = random.Random(worker)
    registry = ModelRegistry(Path(root))
    for k in range(promotions):
        stage = "staging" if k % 5 == 4 else "production"
        registry.promote("churn", rng.randint(1, 3), stage=stage, reason=f"w{worker}-{k}")


@pytest.mark.slow
def test_concurrent_promoters_are_serialized_and_every_transition_is_recorded(tmp_path):
    registry = ModelRegistry(tmp_path)
    for _ in range(3):
        registry.register("churn", small_model(), {}, {}, reference_profile=PROFILE)
    workers, promotions = 2, 100
    children = [
        FORK.Process(target=_promoter, args=(str(tmp_path), w, promotions)) for w in range(workers)
    ]
    for child in children:
        child.start()
    reads = 0
    while any(c.is_alive() for c in children):
        # A reader never blocks and never sees a torn state while the writers run.
        version = registry.production_version("churn")
        if version is not None:
            assert registry.production("churn")[1].version in (1, 2, 3)
        reads += 1
    for child in children:
        child.join()
        assert child.exitcode == 0
    index = assert_valid(tmp_path)
    reasons = [t.reason for t in index.history if t.event == "promoted"]
    assert len(reasons) == workers * promotions
    for w in range(workers):
        mine = [r for r in reasons if r.startswith(f"w{w}-")]
        assert mine == [f"w{w}-{k}" for k in range(promotions)]
    assert reads > 0
    assert json.loads((tmp_path / "churn" / "index.json").read_text())["format"] == 1


def test_threads_of_one_process_are_serialized_like_processes(tmp_path):
    """Each call takes its own lock handle, so threads exclude each other too."""
    from concurrent.futures import ThreadPoolExecutor

    registry = ModelRegistry(tmp_path)
    for _ in range(2):
        registry.register("churn", small_model(), {}, {}, reference_profile=PROFILE)

    def promote_many(worker: int) -> None:
        for k in range(25):
            registry.promote("churn", 1 + (worker + k) % 2, reason=f"t{worker}-{k}")

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(promote_many, range(4)))
    index = assert_valid(tmp_path)
    assert sorted(t.reason for t in index.history if t.event == "promoted") == sorted(
        f"t{w}-{k}" for w in range(4) for k in range(25)
    )
