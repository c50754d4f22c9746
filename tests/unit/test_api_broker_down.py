"""A configured broker that does not answer: the API keeps serving and counts the
prediction logs it could not send (a real client against a closed port, no fake)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.kafka.local_broker import free_port
from core.settings import Settings
from tests.unit.test_api_predict import SEED


def test_with_the_broker_down_every_request_is_answered_and_unsent_logs_are_counted(
    model_registry: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    settings = Settings(
        kafka={"bootstrap_servers": f"127.0.0.1:{free_port()}"},
        registry={"path": model_registry},
        api={"log_queue_max": 1, "graceful_timeout_s": 1},
        state_dir=tmp_path / "state",
    )
    with TestClient(create_app(settings)) as client:
        answers = [client.post("/predict", json={**SEED, "event_id": f"e{i}"}) for i in range(5)]
        batch = client.post("/predict/batch", json={"events": [SEED] * 10})
        metrics = client.get("/metrics").text
    assert [a.status_code for a in answers] == [200] * 5
    assert batch.status_code == 200
    unsent = next(
        float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith("streamscore_api_logs_unsent_total ")
    )
    assert unsent >= 14, "one log fits the local queue; every later one is dropped and counted"
