"""Message schemas: the topic contract, and the single source of truth for it.

Every record streamscore reads or writes on Kafka is one of these models. The README's
contract table is checked against them by `tests/unit/test_contract_docs.py`, so a change
here without a README change fails the build. Version bumps follow `CONTRACT_VERSION`:
adding an optional field is compatible, anything else is a new major version.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, NotRequired

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict

from core.features import ContractType

CONTRACT_VERSION = "1"
"""Sent on every produced record in the `streamscore.contract` header."""

CONTRACT_HEADER = "streamscore.contract"

REPLAYED_FROM_HEADER = "streamscore.replayed-from"
"""On an input event that `streamscore dlq replay` put back: `topic:partition:offset` of
the dead letter it came from (a compatible addition: readers may ignore it)."""

Identifier = Annotated[str, Field(min_length=1, max_length=128)]
Age = Annotated[int, Field(ge=18, le=120)]
TenureMonths = Annotated[int, Field(ge=0, le=1200)]
MonthlyCharges = Annotated[float, Field(gt=0, le=1e6)]
TotalCharges = Annotated[float, Field(ge=0, le=1e9)]

_EVENT_RULES = ConfigDict(strict=True, extra="ignore", allow_inf_nan=False)
"""Validation rules shared by `CustomerEvent` and `CustomerEventFields`."""


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @classmethod
    def of(cls, probability: float) -> RiskLevel:
        """low < 0.3 <= medium < 0.7 <= high."""
        if probability < MEDIUM_RISK_FROM:
            return cls.LOW
        if probability < HIGH_RISK_FROM:
            return cls.MEDIUM
        return cls.HIGH


MEDIUM_RISK_FROM: float = 0.3
HIGH_RISK_FROM: float = 0.7


class CustomerEvent(BaseModel):
    """`customer-events` value (key: customer_id). Extra fields are accepted and ignored."""

    model_config = ConfigDict(**_EVENT_RULES, frozen=True, use_attribute_docstrings=True)

    customer_id: Identifier
    """Required; also the record key."""
    event_id: Identifier | None = None
    """Optional: when absent, derived from topic, partition and offset (`topic:p:offset`)."""
    event_time: datetime | None = None
    """RFC 3339; when absent, the Kafka record timestamp."""
    age: Age
    """Years."""
    tenure_months: TenureMonths
    """Months as a customer."""
    monthly_charges: MonthlyCharges
    total_charges: TotalCharges
    contract_type: ContractType


class CustomerEventFields(TypedDict):
    """The same event and rules as `CustomerEvent`, validated into a plain dict.

    The scoring and drift hot paths validate with this: building a frozen model with an
    enum costs about three times as much per event as filling a dict, and at tens of
    thousands of events per second that is most of the budget. A property test holds
    the two to the same verdict on every input.
    """

    __pydantic_config__ = _EVENT_RULES  # type: ignore[misc]

    customer_id: Identifier
    event_id: NotRequired[Identifier | None]
    event_time: NotRequired[datetime | None]
    age: Age
    tenure_months: TenureMonths
    monthly_charges: MonthlyCharges
    total_charges: TotalCharges
    contract_type: ContractType


class Prediction(BaseModel):
    """`churn-predictions` value (key: customer_id)."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    event_id: Identifier
    """The input's `event_id`, or `topic:partition:offset` when it had none."""
    customer_id: Identifier
    prediction: Literal[0, 1]
    """1 when `probability` reaches the model's threshold (stored with the version)."""
    probability: float = Field(ge=0, le=1)
    """Probability of churn."""
    risk_level: RiskLevel
    """low below 0.3, medium below 0.7, high from 0.7."""
    model_name: str
    model_version: int
    """The registry version that made this prediction."""
    scored_at: datetime


class PredictionFields(TypedDict):
    """`Prediction` as a plain dict: what the scoring path builds for every event.

    For the reason `CustomerEventFields` exists: a validated model per output costs
    several times a dict at tens of thousands of events a second. A unit test holds the
    two to the same fields, and every scored dict validates as a `Prediction`.
    """

    event_id: str
    customer_id: str
    prediction: Literal[0, 1]
    probability: float
    risk_level: RiskLevel
    model_name: str
    model_version: int
    scored_at: datetime


class PredictionOutput(TypedDict):
    """The `output` of a prediction log: the answer without the identifiers."""

    prediction: Literal[0, 1]
    probability: float
    risk_level: RiskLevel


class PredictionLogFields(TypedDict, total=False):
    """`PredictionLog` as a plain dict (see `PredictionFields`)."""

    event: Literal["prediction", "error"]
    level: Literal["info", "warning", "error"]
    timestamp: datetime
    service: str
    event_id: str
    input: dict[str, Any]
    output: PredictionOutput
    latency_ms: float
    model_name: str
    model_version: int
    error_type: str
    error_message: str
    source_topic: str
    source_partition: int
    source_offset: int


class PredictionLog(BaseModel):
    """`prediction-logs` value: one per prediction (`event=prediction`) and per error."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    event: Literal["prediction", "error"]
    level: Literal["info", "warning", "error"]
    timestamp: datetime
    service: str
    event_id: str | None = None
    input: dict[str, Any] | None = None
    """The validated input with PII fields removed."""
    output: dict[str, Any] | None = None
    latency_ms: float | None = None
    """From the event's arrival in the scorer to its prediction being produced."""
    model_name: str | None = None
    model_version: int | None = None
    error_type: str | None = None
    error_message: str | None = None
    source_topic: str | None = None
    source_partition: int | None = None
    source_offset: int | None = None


class DeadLetterHeaders(StrEnum):
    """`customer-events-dlq` headers; the value is the original message bytes unchanged."""

    ERROR_TYPE = "error.type"
    ERROR_MESSAGE = "error.message"
    SOURCE_TOPIC = "source.topic"
    SOURCE_PARTITION = "source.partition"
    SOURCE_OFFSET = "source.offset"


class Outcome(BaseModel):
    """`customer-outcomes` value (key: customer_id): the observed label of an event."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    event_id: Identifier
    """The event this label belongs to."""
    customer_id: Identifier
    churned: Literal[0, 1]
    observed_at: datetime
    """When the outcome became known (after the event)."""


class ModelEvent(BaseModel):
    """`model-events` value (key: model name): a registry transition every scorer hears."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    event: Literal["registered", "promoted", "rolled_back", "rejected"]
    """rejected: a retrained challenger failed the gate; production is unchanged."""
    model_name: str
    version: int
    stage: Literal["staging", "production"] | None = None
    previous_version: int | None = None
    reason: str = ""
    at: datetime
