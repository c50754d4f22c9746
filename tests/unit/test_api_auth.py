"""The optional API token: the scoring routes need it, probes and docs do not, the
OpenAPI document says so, and the token never shows in a log line or an answer."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from structlog.testing import capture_logs

from api.app import create_app
from api.schemas import ErrorBody
from core.errors import ConfigError
from core.settings import Settings, load_settings
from tests.api_server import serving
from tests.unit.conftest import ApiSettings
from tests.unit.test_api_schemathesis import CHECKS

TOKEN = "CANARY-api-token-5f1e0c9a"
WRONG = "CANARY-wrong-token-77d2"
EVENT: dict[str, Any] = {
    "customer_id": "c1",
    "age": 42,
    "tenure_months": 12,
    "monthly_charges": 70.5,
    "total_charges": 846.0,
    "contract_type": "month-to-month",
}
BATCH = {"events": [EVENT]}


@pytest.fixture
def guarded(api_settings: ApiSettings) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings(auth_token=TOKEN))) as client:
        yield client


@pytest.mark.parametrize(("path", "body"), [("/predict", EVENT), ("/predict/batch", BATCH)])
def test_without_the_token_a_scoring_route_is_a_401_with_a_challenge(
    guarded: TestClient, path: str, body: dict[str, Any]
) -> None:
    response = guarded.post(path, json=body)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="streamscore"'
    error = ErrorBody.model_validate(response.json())
    assert error.error == "unauthorized"
    assert error.request_id == response.headers["x-request-id"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": f"Bearer {WRONG}"},
        {"X-API-Key": WRONG},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
        {"X-API-Key": TOKEN[:-1]},
    ],
)
def test_a_wrong_or_misplaced_token_is_a_401(guarded: TestClient, headers: dict[str, str]) -> None:
    response = guarded.post("/predict", json=EVENT, headers=headers)
    assert response.status_code == 401


@pytest.mark.parametrize(
    "headers", [{"Authorization": f"Bearer {TOKEN}"}, {"X-API-Key": TOKEN}], ids=["bearer", "key"]
)
def test_the_token_as_a_bearer_token_or_an_api_key_is_let_through(
    guarded: TestClient, headers: dict[str, str]
) -> None:
    assert guarded.post("/predict", json=EVENT, headers=headers).status_code == 200
    assert guarded.post("/predict/batch", json=BATCH, headers=headers).status_code == 200


def test_the_token_is_checked_before_the_body_is_read(guarded: TestClient) -> None:
    junk = {"content-type": "application/json"}
    assert guarded.post("/predict", content=b"{not json", headers=junk).status_code == 401
    big = b'{"x": "' + b"x" * 5_000_000 + b'"}'
    assert guarded.post("/predict/batch", content=big, headers=junk).status_code == 401
    assert guarded.post("/predict", content=b"{}", headers={}).status_code == 401


def test_health_metrics_and_docs_stay_open(guarded: TestClient) -> None:
    for path in ("/health", "/metrics", "/", "/openapi.json", "/docs"):
        assert guarded.get(path).status_code == 200, path


def test_every_comparison_is_constant_time_over_digests(
    guarded: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    guarded.post("/predict", json=EVENT, headers={"X-API-Key": "x", "Authorization": "Bearer y"})
    assert len(compared) == 2, "both offered credentials are compared"
    assert all(len(a) == len(b) == 32 for a, b in compared)


def test_the_openapi_document_declares_the_schemes_only_where_they_apply(
    guarded: TestClient, client: TestClient
) -> None:
    document = guarded.get("/openapi.json").json()
    assert set(document["components"]["securitySchemes"]) == {"HTTPBearer", "APIKeyHeader"}
    for path in ("/predict", "/predict/batch"):
        operation = document["paths"][path]["post"]
        assert operation["security"] == [{"HTTPBearer": []}, {"APIKeyHeader": []}]
        assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]
    assert "security" not in document["paths"]["/health"]["get"]
    open_document = client.get("/openapi.json").json()
    assert "securitySchemes" not in open_document["components"]
    assert "401" not in open_document["paths"]["/predict"]["post"]["responses"]


def test_the_token_never_shows_in_logs_answers_or_settings(guarded: TestClient) -> None:
    seen: list[str] = []
    with capture_logs() as logs:
        for headers in ({}, {"X-API-Key": WRONG}, {"Authorization": f"Bearer {TOKEN}"}):
            for path, body in (("/predict", EVENT), ("/predict/batch", BATCH)):
                response = guarded.post(path, json=body, headers=headers)
                seen += [response.text, repr(response.headers)]
        for path in ("/health", "/metrics", "/openapi.json", "/"):
            seen.append(guarded.get(path).text)
    seen.append(repr(logs))
    seen.append(repr(Settings(api={"auth_token": TOKEN})))
    for canary in (TOKEN, WRONG):
        assert not [text for text in seen if canary in text]


def test_a_short_token_is_a_config_error_that_does_not_echo_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STREAMSCORE_API__AUTH_TOKEN", "CANARY-short")
    with pytest.raises(ConfigError) as bad:
        load_settings()
    assert "CANARY" not in str(bad.value)
    assert "api.auth_token" in str(bad.value)


@pytest.fixture(scope="module")
def guarded_schema(model_registry: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    live = Settings(
        registry={"path": model_registry},
        api={"auth_token": TOKEN},
        state_dir=tmp_path_factory.mktemp("guarded-state"),
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
        with serving(live) as url:
            yield schemathesis.openapi.from_url(f"{url}/openapi.json")


@pytest.mark.parametrize("authenticated", [True, False], ids=["with-token", "without"])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_with_a_token_every_answer_still_matches_the_document(
    guarded_schema: Any, mode: GenerationMode, authenticated: bool
) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"} if authenticated else {}

    @given(case=guarded_schema["/predict"]["POST"].as_strategy(generation_mode=mode))
    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
    )
    def check(case: Any) -> None:
        case.call_and_validate(checks=CHECKS, headers=headers)

    check()
