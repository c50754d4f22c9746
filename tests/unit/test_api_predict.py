"""POST /predict: the seed service's cases, and the contract's rules over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.app import create_app
from api.schemas import ErrorBody, PredictResponse
from api.scoring import load_warmed
from core.registry import ModelRegistry
from core.scoring import churn_probabilities
from core.validation import InvalidEvent, parse_event
from tests.unit.conftest import ApiSettings

SEED: dict[str, Any] = {
    "customer_id": "c1",
    "age": 42,
    "tenure_months": 12,
    "monthly_charges": 70.5,
    "total_charges": 846.0,
    "contract_type": "month-to-month",
}


def test_a_valid_event_is_answered_with_the_production_versions_prediction(
    client: TestClient, model_registry: Path
) -> None:
    response = client.post("/predict", json=SEED)
    assert response.status_code == 200
    body = PredictResponse.model_validate(response.json())
    loaded = load_warmed(ModelRegistry(model_registry), "churn", 1)
    expected = churn_probabilities(loaded, [parse_event(json.dumps(SEED).encode(), 65536)])
    assert body.probability == float(expected[0])
    assert body.prediction == int(body.probability >= loaded.threshold)
    assert (body.model_name, body.model_version, body.customer_id) == ("churn", 1, "c1")
    assert body.request_id == response.headers["x-request-id"] == body.event_id


def test_the_clients_request_id_is_echoed_and_names_the_event(client: TestClient) -> None:
    response = client.post("/predict", json=SEED, headers={"X-Request-ID": "req-42"})
    assert response.headers["x-request-id"] == "req-42"
    assert response.json()["request_id"] == response.json()["event_id"] == "req-42"


def test_an_event_id_in_the_body_names_the_event(client: TestClient) -> None:
    response = client.post("/predict", json={**SEED, "event_id": "e-7"})
    assert response.json()["event_id"] == "e-7"


def test_customer_id_is_optional_over_http_and_the_stand_in_never_shows(
    client: TestClient,
) -> None:
    anonymous = {k: v for k, v in SEED.items() if k != "customer_id"}
    with_id = client.post("/predict", json=SEED).json()
    without = client.post("/predict", json=anonymous)
    null_id = client.post("/predict", json={**anonymous, "customer_id": None})
    assert without.status_code == null_id.status_code == 200
    assert without.json()["customer_id"] is None
    assert without.json()["probability"] == with_id["probability"]
    assert "anonymous" not in without.text


@pytest.mark.parametrize(
    ("override", "field", "error_type"),
    [
        ({"age": 10}, "age", "out_of_range"),
        ({"contract_type": "invalid"}, "contract_type", "unknown_category"),
        ({"age": "forty"}, "age", "wrong_type"),
        ({"monthly_charges": None}, "monthly_charges", "wrong_type"),
    ],
)
def test_an_invalid_field_is_a_422_naming_the_field(
    client: TestClient, override: dict[str, Any], field: str, error_type: str
) -> None:
    response = client.post("/predict", json={**SEED, **override})
    assert response.status_code == 422
    body = ErrorBody.model_validate(response.json())
    assert (body.error, body.error_type) == ("invalid_event", error_type)
    assert [f.field for f in body.fields] == [field]


def test_a_422_never_echoes_a_submitted_value(client: TestClient) -> None:
    canary = "CANARY-7f3a"
    for field in ("contract_type", "age", "customer_id", "event_time", "total_charges"):
        response = client.post("/predict", json={**SEED, field: canary + "x" * 130})
        assert response.status_code == 422, field
        assert canary not in response.text


def test_every_failing_field_is_listed(client: TestClient) -> None:
    response = client.post("/predict", json={"age": 10, "contract_type": "weekly"})
    fields = {f["field"] for f in response.json()["fields"]}
    assert {"age", "contract_type", "tenure_months", "monthly_charges"} <= fields


@pytest.mark.parametrize(
    ("body", "error_type"),
    [
        (b"{not json", "malformed_json"),
        (b"[1, 2]", "not_an_object"),
        (b"\xff\xfe", "not_utf8"),
        (b"", "malformed_json"),
        (b"[" * 10000, "malformed_json"),
    ],
)
def test_a_body_that_is_no_event_is_a_422(client: TestClient, body: bytes, error_type: str) -> None:
    response = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error_type"] == error_type


def test_a_body_that_is_not_json_by_content_type_is_a_415(client: TestClient) -> None:
    for headers in ({"content-type": "text/plain"}, {"content-type": "application/xml"}, {}):
        response = client.post("/predict", content=json.dumps(SEED), headers=headers)
        assert response.status_code == 415, headers
        assert response.json()["error"] == "unsupported_media_type"


def test_a_body_larger_than_one_event_may_be_is_a_413(client: TestClient) -> None:
    big = {**SEED, "padding": "x" * 70_000}
    response = client.post("/predict", json=big)
    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large"


def test_without_a_production_version_predict_is_a_503_and_health_is_degraded(
    api_settings: ApiSettings, tmp_path: Path
) -> None:
    with TestClient(create_app(api_settings(registry=tmp_path / "empty"))) as client:
        response = client.post("/predict", json=SEED)
        assert response.status_code == 503
        assert response.json()["error"] == "no_production_model"
        assert "retry-after" in response.headers
        assert client.post("/predict/batch", json={"events": [SEED]}).status_code == 503
        health = client.get("/health")
        assert health.status_code == 503
        assert health.json()["status"] == "degraded"
        assert health.json()["model_loaded"] is False
        assert client.post("/predict", json={**SEED, "age": 10}).status_code == 422


VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=2000),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-10, max_value=2e9),
    st.sampled_from(
        ["", "x" * 129, "month-to-month", "one_year", "weekly", "2026-01-01T00:00:00Z"]
    ),
    st.lists(st.integers(), max_size=2),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.dictionaries(st.sampled_from([*SEED, "event_id", "event_time", "extra"]), VALUES))
def test_http_and_kafka_give_every_body_with_a_customer_id_the_same_verdict(
    client: TestClient, overrides: dict[str, Any]
) -> None:
    body = {**SEED, **overrides}
    if body.get("customer_id") is None:
        body["customer_id"] = "c1"
    raw = json.dumps(body).encode()
    response = client.post("/predict", content=raw, headers={"content-type": "application/json"})
    verdict = _kafka_verdict(raw)
    if verdict is None:
        assert response.status_code == 200, response.text
    else:
        assert response.status_code == 422
        assert (response.json()["error_type"], response.json()["message"]) == verdict


def _kafka_verdict(raw: bytes) -> tuple[str, str] | None:
    """What the Kafka scorer's validation says of `raw`: None, or (error type, message)."""
    try:
        parse_event(raw, 65536)
    except InvalidEvent as exc:
        return exc.error_type, str(exc)
    return None
