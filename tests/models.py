"""Small churn models registered for tests: one helper instead of one per test file."""

from __future__ import annotations

from pathlib import Path

from core.registry import ModelRegistry
from core.training import train_and_evaluate
from producers.generator import ChurnGenerator


def train_and_register(
    registry: ModelRegistry | Path,
    *,
    seed: int = 7,
    rows: int = 2000,
    kind: str = "logistic",
    name: str = "churn",
    promote: bool = True,
    threshold: float = 0.5,
) -> int:
    """Train on `ChurnGenerator(seed).reference(rows)`, register, and promote by default."""
    if not isinstance(registry, ModelRegistry):
        registry = ModelRegistry(registry)
    trained = train_and_evaluate(
        ChurnGenerator(seed=seed).reference(rows), kind, seed, threshold=threshold
    )
    version = trained.register(registry, name, {}, trigger="test").version
    if promote:
        registry.promote(name, version, "production", "test")
    return version
