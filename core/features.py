"""The churn model's input features, in the order the model sees them."""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class ContractType(StrEnum):
    """The categories of `contract_type`, part of the topic contract (`core.schemas`).

    Defined here, free of pydantic, so that what only needs the features (the scenario
    presets, `streamscore produce --help`) does not load it.
    """

    MONTH_TO_MONTH = "month-to-month"
    ONE_YEAR = "one_year"
    TWO_YEAR = "two_year"


NUMERIC_FEATURES: Final = ("age", "tenure_months", "monthly_charges", "total_charges")
CATEGORICAL_FEATURES: Final = ("contract_type",)
FEATURES: Final = NUMERIC_FEATURES + CATEGORICAL_FEATURES
CONTRACT_TYPES: Final = tuple(c.value for c in ContractType)
TARGET: Final = "churned"
