"""The HTTP API's request and response shapes, as the OpenAPI document shows them.

Requests are validated by `core.validation.parse_event` (see `api.events`), not by these
models: `PredictRequest` is `core.schemas.CustomerEvent` with `customer_id` optional, so
the documented rules are the contract's rules by construction. Responses are built as
plain dicts on the hot path; a unit test and the schemathesis run hold them to these
models.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.schemas import CustomerEvent, Identifier, RiskLevel

EXAMPLE_EVENT: Final[dict[str, Any]] = {
    "customer_id": "c1",
    "age": 42,
    "tenure_months": 12,
    "monthly_charges": 70.5,
    "total_charges": 846.0,
    "contract_type": "month-to-month",
}
"""The seed service's example body: the OpenAPI example, the README's curl example and
the warm-up event scored when a version is loaded."""


class PredictRequest(CustomerEvent):
    """One customer event in the `customer-events` shape; fields not listed are ignored."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_EVENT]})

    customer_id: Identifier | None = None  # type: ignore[assignment]
    """Optional over HTTP (required on Kafka, where it is the record key)."""
    event_id: Identifier | None = None
    """Optional: when absent, the request id names the event (`REQUEST_ID:i` in a batch)."""


class BatchRequest(BaseModel):
    """Up to `api.max_batch` events, scored with one model call."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"events": [EXAMPLE_EVENT]}]})

    events: list[Any] = Field(
        min_length=1,
        description=(
            "Each item a `PredictRequest`. An item that is not one is not a reason to "
            "reject the request: it is answered in `results` with `status: invalid` and "
            "its reasons, and the other items are scored."
        ),
    )


class FieldError(BaseModel):
    field: str
    """Dotted path of the field that failed, `<message>` for the body as a whole."""
    reason: str
    """Why, without the submitted value."""


class ErrorBody(BaseModel):
    """Every 4xx and 5xx the API sends itself has this shape."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    error: str
    """Stable code: `invalid_event`, `body_too_large`, `unsupported_media_type`,
    `no_production_model`, `not_found`, `method_not_allowed`."""
    error_type: str | None = None
    """For `invalid_event`: the dead-letter classification (`out_of_range`, ...)."""
    message: str
    hint: str = ""
    fields: list[FieldError] = Field(default_factory=list)
    """For `invalid_event`: one reason per failing field."""
    request_id: str


class Scoring(BaseModel):
    """What one event is answered with."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    event_id: str
    """The body's `event_id`, else the request id (`REQUEST_ID:i` in a batch)."""
    customer_id: str | None
    """The body's `customer_id`, or null when it had none."""
    prediction: Literal[0, 1]
    """1 when `probability` reaches the model version's threshold."""
    probability: float = Field(ge=0, le=1)
    """Probability of churn."""
    risk_level: RiskLevel
    """low below 0.3, medium below 0.7, high from 0.7."""


class PredictResponse(Scoring):
    model_name: str
    model_version: int
    """The registry version that made this prediction."""
    request_id: str


class BatchItemScored(Scoring):
    index: int
    """Position of the event in the request's `events`."""
    status: Literal["scored"]


class BatchItemInvalid(BaseModel):
    """An event that failed validation; the other events are scored all the same."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    index: int
    status: Literal["invalid"]
    error_type: str
    message: str
    fields: list[FieldError]


BatchItem = Annotated[BatchItemScored | BatchItemInvalid, Field(discriminator="status")]


class BatchResponse(BaseModel):
    """200 whenever the request itself is sound: each event's own outcome is in
    `results` (`status` `scored` or `invalid`), in the order sent."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    request_id: str
    model_name: str
    model_version: int
    scored: int
    invalid: int
    results: list[BatchItem]


class HealthResponse(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    status: Literal["healthy", "degraded"]
    """healthy (200) while a production version is loaded, degraded (503) otherwise."""
    service: str
    version: str
    """The streamscore release serving."""
    model_loaded: bool
    model_name: str
    model_version: int | None


class RootResponse(BaseModel):
    service: str
    version: str
    docs: str
    openapi: str
    health: str
