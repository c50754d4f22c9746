"""Random sequences of register/promote/rollback agree with a ten-line model of the registry."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sklearn.linear_model import LogisticRegression

from core.registry import (
    ModelNotFound,
    ModelRegistry,
    NoPreviousProduction,
    NoProductionModel,
)

MODEL = LogisticRegression().fit(np.array([[0.0], [1.0]]), np.array([0, 1]))
NAMES = st.sampled_from(["churn", "other"])


class RegistryMachine(RuleBasedStateMachine):
    """The model: per name, a version count, a production stack and a staging version."""

    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="registry-sm-"))
        self.registry = ModelRegistry(self.root)
        self.versions: dict[str, int] = {}
        self.production: dict[str, list[int]] = {}
        self.staging: dict[str, int | None] = {}
        self.transitions: dict[str, int] = {}

    def teardown(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    @rule(name=NAMES, auc=st.floats(0, 1))
    def register(self, name: str, auc: float) -> None:
        mv = self.registry.register(name, MODEL, {"auc": auc}, {}, reference_profile={"n": 1})
        self.versions[name] = self.versions.get(name, 0) + 1
        self.production.setdefault(name, [])
        self.staging.setdefault(name, None)
        self.transitions[name] = self.transitions.get(name, 0) + 1
        assert mv.version == self.versions[name]
        assert mv.metrics == {"auc": auc}

    @rule(name=NAMES, pick=st.integers(1, 6), stage=st.sampled_from(["production", "staging"]))
    def promote(self, name: str, pick: int, stage: str) -> None:
        if pick > self.versions.get(name, 0):
            try:
                self.registry.promote(name, pick, stage)
            except ModelNotFound:
                return
            raise AssertionError("promoting an unknown version succeeded")
        mv = self.registry.promote(name, pick, stage)
        if stage == "production":
            stack = self.production[name]
            if not stack or stack[-1] != pick:
                stack.append(pick)
        else:
            self.staging[name] = pick
        self.transitions[name] += 1
        assert stage in mv.stages

    @precondition(lambda self: any(self.production.values()))
    @rule(data=st.data())
    def promote_production_again(self, data: st.DataObject) -> None:
        """Re-promoting what already serves is audited but must not stack a duplicate."""
        name = data.draw(st.sampled_from(sorted(n for n, s in self.production.items() if s)))
        current = self.production[name][-1]
        assert self.registry.promote(name, current, reason="again").version == current
        self.transitions[name] += 1

    @rule(name=NAMES)
    def rollback(self, name: str) -> None:
        stack = self.production.get(name)
        if stack is None:
            expected: type[Exception] | None = ModelNotFound
        elif not stack:
            expected = NoProductionModel
        elif len(stack) < 2:
            expected = NoPreviousProduction
        else:
            expected = None
        if expected is not None:
            try:
                self.registry.rollback(name)
            except expected:
                return
            raise AssertionError(f"rollback should have raised {expected.__name__}")
        stack.pop()
        assert self.registry.rollback(name).version == stack[-1]
        self.transitions[name] += 1

    @precondition(lambda self: bool(self.versions))
    @rule(name=NAMES)
    def load_production(self, name: str) -> None:
        stack = self.production.get(name)
        if not stack:
            try:
                self.registry.production(name)
            except NoProductionModel:
                return
            raise AssertionError("production() without a production version succeeded")
        _, mv = self.registry.production(name)
        assert mv.version == stack[-1]

    @invariant()
    def registry_agrees_with_the_model(self) -> None:
        for name in ("churn", "other"):
            stack = self.production.get(name) or []
            assert self.registry.production_version(name) == (stack[-1] if stack else None)
            if name not in self.versions:
                continue
            listed = self.registry.versions(name)
            assert [v.version for v in listed] == list(range(1, self.versions[name] + 1))
            staged = [v.version for v in listed if "staging" in v.stages]
            assert staged == ([] if self.staging[name] is None else [self.staging[name]])
            assert len(self.registry.history(name)) == self.transitions[name]

    @invariant()
    def everything_verifies(self) -> None:
        assert all(result.ok for result in self.registry.verify())


RegistryMachine.TestCase.settings = settings(max_examples=25, stateful_step_count=25, deadline=None)
test_registry_matches_a_simple_model = pytest.mark.slow(RegistryMachine.TestCase)
