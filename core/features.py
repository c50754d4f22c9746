"""The churn model's input features, in the order the model sees them."""

from __future__ import annotations

from typing import Final

from core.schemas import ContractType

NUMERIC_FEATURES: Final = ("age", "tenure_months", "monthly_charges", "total_charges")
CATEGORICAL_FEATURES: Final = ("contract_type",)
FEATURES: Final = NUMERIC_FEATURES + CATEGORICAL_FEATURES
CONTRACT_TYPES: Final = tuple(c.value for c in ContractType)
TARGET: Final = "churned"
