"""How churn depends on a customer's features: a logit linear in them.

Two relations: the reference one, which the stable process and the training data follow,
and the alternative one `ConceptDrift` moves towards. Kept apart from the generator so the
relation is one readable table (docs/producers.md copies it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class ChurnRelation:
    """A logit linear in the features; centred so the intercept reads as a base rate."""

    intercept: float
    contract: Mapping[str, float]
    """Logit effect per contract type."""
    tenure: float
    """Per month of tenure."""
    monthly: float
    """Per currency unit of monthly charges above 70."""
    age: float
    """Per year of age above 44."""

    def logit(
        self,
        contract_effect: FloatArray,
        tenure: IntArray,
        monthly: FloatArray,
        age: IntArray,
    ) -> FloatArray:
        return (
            self.intercept
            + contract_effect
            + self.tenure * tenure
            + self.monthly * (monthly - 70.0)
            + self.age * (age - 44.0)
        )


REFERENCE_RELATION: Final = ChurnRelation(
    intercept=0.3,
    contract={"month-to-month": 0.0, "one_year": -1.6, "two_year": -2.9},
    tenure=-0.035,
    monthly=0.018,
    age=-0.01,
)
"""How churn depends on the features before any concept drift."""

ALTERNATIVE_RELATION: Final = ChurnRelation(
    intercept=-2.6,
    contract={"month-to-month": 0.0, "one_year": 0.8, "two_year": 1.4},
    tenure=0.03,
    monthly=-0.02,
    age=0.01,
)
"""What `ConceptDrift` moves towards: a competitor's offer poaching loyal customers."""
