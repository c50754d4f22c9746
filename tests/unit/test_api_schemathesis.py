"""Schemathesis against the live OpenAPI document: whatever a client sends, no 5xx, and
every answer is one the document describes (status, content type, headers, schema)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from core.settings import Settings
from tests.api_server import serving
from tests.models import train_and_register

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The live API's own `/openapi.json`, loaded by schemathesis."""
    root = tmp_path_factory.mktemp("schemathesis")
    train_and_register(root / "registry", seed=3)
    live = Settings(registry={"path": root / "registry"}, state_dir=root / "state")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
        with serving(live) as url:
            yield schemathesis.openapi.from_url(f"{url}/openapi.json")


POSITIVE, NEGATIVE = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
CASES = [
    ("POST /predict", POSITIVE),
    ("POST /predict", NEGATIVE),
    ("POST /predict/batch", POSITIVE),
    ("POST /predict/batch", NEGATIVE),
    ("GET /health", POSITIVE),
    ("GET /", POSITIVE),
    ("GET /metrics", POSITIVE),
]


# schemathesis' own pytest plugin (`from_fixture`) does not run on pytest 9 yet, so each
# operation's strategy is driven by hypothesis directly: the same cases and checks.
@pytest.mark.parametrize(("operation", "mode"), CASES)
def test_no_input_gets_a_server_error_and_every_answer_matches_the_document(
    api_schema: Any, operation: str, mode: GenerationMode
) -> None:
    method, path = operation.split(" ")
    found = api_schema[path][method]

    @given(case=found.as_strategy(generation_mode=mode))
    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
    )
    def check(case: Any) -> None:
        case.call_and_validate(checks=CHECKS)

    check()
