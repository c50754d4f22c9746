"""POST /predict/batch: one model call, and an invalid event never fails the others."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from api.schemas import BatchResponse
from producers.generator import ChurnGenerator
from tests.unit.conftest import ApiSettings
from tests.unit.test_api_predict import SEED


def events(n: int) -> list[dict[str, Any]]:
    return [e for e, _ in ChurnGenerator(seed=11).events(n)]


def test_a_batch_is_answered_item_by_item_in_order_with_the_same_scores_as_predict(
    client: TestClient,
) -> None:
    sent = events(20)
    response = client.post("/predict/batch", json={"events": sent})
    assert response.status_code == 200
    body = BatchResponse.model_validate(response.json())
    assert (body.scored, body.invalid, body.model_version) == (20, 0, 1)
    assert [r.index for r in body.results] == list(range(20))
    singles = [client.post("/predict", json=e).json() for e in sent[:5]]
    for single, item in zip(singles, body.results, strict=False):
        assert item.status == "scored"
        assert (item.probability, item.prediction, item.risk_level) == (
            single["probability"],
            single["prediction"],
            single["risk_level"],
        )
        assert item.event_id == single["event_id"]


def test_invalid_items_get_their_reasons_and_the_valid_ones_are_still_scored(
    client: TestClient,
) -> None:
    anonymous = {k: v for k, v in SEED.items() if k != "customer_id"}
    sent = [SEED, {**SEED, "age": 10}, "not an object", anonymous, {**SEED, "contract_type": "x"}]
    response = client.post("/predict/batch", json={"events": sent}, headers={"X-Request-ID": "b1"})
    assert response.status_code == 200
    body = BatchResponse.model_validate(response.json())
    assert [r.status for r in body.results] == ["scored", "invalid", "invalid", "scored", "invalid"]
    assert (body.scored, body.invalid) == (2, 3)
    errors = [r for r in body.results if r.status == "invalid"]
    assert [e.error_type for e in errors] == ["out_of_range", "not_an_object", "unknown_category"]
    assert errors[0].fields[0].field == "age"
    scored = [r for r in body.results if r.status == "scored"]
    assert [r.event_id for r in scored] == ["b1:0", "b1:3"]
    assert [r.customer_id for r in scored] == ["c1", None]


def test_an_envelope_that_is_not_a_batch_is_a_422(client: TestClient) -> None:
    for body in ([SEED], {"events": []}, {"events": SEED}, {"items": [SEED]}, 3):
        response = client.post("/predict/batch", json=body)
        assert response.status_code == 422, body
        assert response.json()["error"] == "invalid_event"


def test_more_events_than_max_batch_is_a_422_and_a_body_over_the_limit_a_413(
    api_settings: ApiSettings,
) -> None:
    from api.app import create_app

    with TestClient(create_app(api_settings(max_batch=5, max_body_bytes=4096))) as client:
        too_many = client.post("/predict/batch", json={"events": [SEED] * 6})
        assert too_many.status_code == 422
        assert "1 to 5" in too_many.json()["message"]
        big = client.post("/predict/batch", json={"events": [{**SEED, "pad": "x" * 5000}]})
        assert big.status_code == 413
        assert client.post("/predict/batch", json={"events": [SEED] * 5}).status_code == 200


def test_a_batch_is_one_model_call(client: TestClient) -> None:
    before = _model_calls(client)
    client.post("/predict/batch", json={"events": events(50)})
    assert _model_calls(client) == before + 1


def _model_calls(client: TestClient) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("streamscore_api_model_batch_size_count"):
            return float(line.split()[-1])
    raise AssertionError("no model batch size histogram")
