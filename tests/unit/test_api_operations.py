"""What operators see: /health, /, /metrics, OpenAPI, and one PII-free log line per request."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from api.schemas import HealthResponse, RootResponse
from tests.unit.test_api_predict import SEED


def test_health_is_200_healthy_with_the_model_name_and_version(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = HealthResponse.model_validate(response.json())
    assert (body.status, body.model_loaded, body.model_name, body.model_version) == (
        "healthy",
        True,
        "churn",
        1,
    )


def test_root_names_the_service_its_version_and_the_docs(client: TestClient) -> None:
    body = RootResponse.model_validate(client.get("/").json())
    assert body.docs == "/docs"
    assert client.get(body.docs).status_code == 200
    assert client.get(body.openapi).status_code == 200


def test_the_openapi_document_shows_the_request_bodies_with_the_seed_example(
    client: TestClient,
) -> None:
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    assert body["example"] == SEED
    schema = spec["components"]["schemas"]["PredictRequest"]
    assert schema["properties"]["age"]["minimum"] == 18
    assert "customer_id" not in schema.get("required", [])
    assert set(spec["paths"]["/predict"]["post"]["responses"]) == {
        "200",
        "413",
        "415",
        "422",
        "503",
    }


def test_metrics_count_requests_by_status_and_show_latency_batches_and_version(
    client: TestClient,
) -> None:
    client.post("/predict", json=SEED)
    client.post("/predict", json={**SEED, "age": 10})
    client.get("/no/such/path")
    text = client.get("/metrics").text
    assert 'streamscore_api_requests_total{path="/predict",status="200"} 1.0' in text
    assert 'streamscore_api_requests_total{path="/predict",status="422"} 1.0' in text
    assert 'streamscore_api_requests_total{path="other",status="404"} 1.0' in text
    assert 'streamscore_api_request_latency_seconds_count{path="/predict"} 2.0' in text
    assert "streamscore_api_model_batch_size_count 1.0" in text
    assert 'streamscore_model_version{model_name="churn"} 1.0' in text


def _requests(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in logs if e["event"] == "request"]


def test_each_request_logs_one_line_with_its_id_latency_version_and_input(
    client: TestClient,
) -> None:
    with capture_logs() as logs:
        response = client.post("/predict", json=SEED, headers={"X-Request-ID": "r-1"})
    [line] = _requests(logs)
    assert line["request_id"] == "r-1" == response.headers["x-request-id"]
    assert line["status"] == 200
    assert line["latency_ms"] > 0
    assert line["model_version"] == 1
    assert line["input"]["age"] == 42
    assert line["output"]["probability"] == response.json()["probability"]


def test_pii_in_a_body_reaches_neither_the_answer_nor_the_log_line(client: TestClient) -> None:
    canary = "CANARY-19c2"
    body = {
        **SEED,
        "email": f"{canary}@example.com",
        "Name": canary,
        "profile": {"address": canary, "nested": [{"SSN": canary}]},
    }
    with capture_logs() as logs:
        response = client.post("/predict", json=body)
        invalid = client.post("/predict", json={**body, "age": 10})
    assert response.status_code == 200
    assert invalid.status_code == 422
    assert canary not in response.text + invalid.text
    assert canary not in repr(logs)
    assert len(_requests(logs)) == 2


def test_a_health_probe_is_not_logged_but_a_failed_request_is(client: TestClient) -> None:
    with capture_logs() as logs:
        client.get("/health")
        client.get("/metrics")
        client.post("/predict", content=b"x", headers={"content-type": "text/plain"})
    assert [(e["path"], e["status"]) for e in _requests(logs)] == [("/predict", 415)]
