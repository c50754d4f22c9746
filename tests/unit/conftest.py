"""Fixtures of the HTTP API's unit tests: a registry with a trained model, settings
without a broker (the API must work with no Kafka at all), and a client of the real app."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.settings import Settings
from tests.models import train_and_register

ApiSettings = Callable[..., Settings]


@pytest.fixture(scope="module")
def model_registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("api-registry")
    train_and_register(path, seed=7)
    return path


@pytest.fixture
def api_settings(
    model_registry: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> ApiSettings:
    """Settings for an API with no broker; keyword arguments go to the `api` section."""
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)

    def make(registry: Path | None = None, **api: Any) -> Settings:
        return Settings(
            registry={"path": registry or model_registry, "poll_s": 0.05},
            api={"refresh_interval_s": 0.02, **api},
            state_dir=tmp_path / "state",
        )

    return make


@pytest.fixture
def client(api_settings: ApiSettings) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings())) as c:
        yield c
