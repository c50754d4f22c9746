"""The HTTP API beside the Kafka scorer on the real broker: the same events get the same
answers both ways, and the API's prediction logs land on the logs topic."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from consumers.scorer import run_scorer
from core.schemas import CONTRACT_HEADER, CONTRACT_VERSION, Prediction, PredictionLog
from core.settings import Settings
from producers.generator import ChurnGenerator
from tests.integration.kafka_io import produce_json, read_committed, running

pytestmark = pytest.mark.integration

ULP = 1e-15
"""The one scoring function itself gives an event's probability to within a unit in the
last place depending on its position in a batch (numpy's vectorised kernels treat a
batch's tail rows differently): 0 to 2.2e-16 apart for the same event scored alone or
among 300. Kafka and HTTP batch events differently, so that is the bound here; labels,
risk levels and versions are identical."""


def events(n: int) -> list[dict[str, Any]]:
    return [e for e, _ in ChurnGenerator(seed=21).events(n)]


def test_the_same_events_get_identical_answers_over_http_and_from_the_kafka_scorer(
    settings: Settings, register_model: Callable[..., int]
) -> None:
    version = register_model()
    sent = events(300)
    produce_json(settings, settings.topics.events, sent)
    with running(run_scorer, settings):
        records = read_committed(settings, settings.topics.predictions, expected=300)
    kafka = {p.event_id: p for p in (Prediction.model_validate_json(r.value()) for r in records)}
    assert len(kafka) == 300
    with TestClient(create_app(settings)) as client:
        batch = client.post("/predict/batch", json={"events": sent}).json()["results"]
        singles = [client.post("/predict", json=e).json() for e in sent[:60]]
    for answer in [*batch, *singles]:
        expected = kafka[answer["event_id"]]
        assert abs(answer["probability"] - expected.probability) <= ULP
        assert answer["prediction"] == expected.prediction
        assert answer["risk_level"] == expected.risk_level.value
        assert answer["customer_id"] == expected.customer_id
    assert {a["model_version"] for a in singles} == {version}
    assert {p.model_version for p in kafka.values()} == {version}


def test_the_apis_prediction_logs_reach_the_logs_topic_in_the_contracts_shape(
    settings: Settings, register_model: Callable[..., int]
) -> None:
    version = register_model()
    sent = events(20)
    with TestClient(create_app(settings)) as client:
        for event in sent:
            assert client.post("/predict", json=event).status_code == 200
        assert client.post("/predict", json={**sent[0], "age": 10}).status_code == 422
    records = read_committed(settings, settings.topics.logs, expected=21)
    logs = [PredictionLog.model_validate_json(r.value()) for r in records]
    assert len(logs) == 21
    assert {log.service for log in logs} == {"api"}
    predictions = [log for log in logs if log.event == "prediction"]
    assert sorted(log.event_id or "" for log in predictions) == sorted(e["event_id"] for e in sent)
    assert {log.model_version for log in predictions} == {version}
    [error] = [log for log in logs if log.event == "error"]
    assert error.error_type == "out_of_range"
    assert all(dict(r.headers())[CONTRACT_HEADER] == CONTRACT_VERSION.encode() for r in records)
    keys = {r.key() for r in records if r.key() is not None}
    assert keys <= {e["customer_id"].encode() for e in sent}
