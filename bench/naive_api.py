"""(a) in `rest_bench.py`: the seed service's naive FastAPI app, on the same model.

What the original synchronous churn API did per request: a pydantic model of the body,
then one `predict` and one `predict_proba` on a one-row frame of that event (the model is
a Pipeline over named columns, so the row is a one-row DataFrame), in a sync endpoint
(FastAPI runs it in its thread pool).

    python bench/naive_api.py REGISTRY_DIR PORT
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

from core.features import FEATURES
from core.registry import ModelRegistry
from core.schemas import Age, ContractType, MonthlyCharges, TenureMonths, TotalCharges

model, info = ModelRegistry(Path(sys.argv[1])).production("churn")
app = FastAPI()


class CustomerEvent(BaseModel):
    """The seed's request model: the feature rules, pydantic's default (lax) mode."""

    customer_id: str | None = None
    age: Age
    tenure_months: TenureMonths
    monthly_charges: MonthlyCharges
    total_charges: TotalCharges
    contract_type: ContractType


@app.post("/predict")
def predict(event: CustomerEvent) -> dict[str, object]:
    row = pd.DataFrame([event.model_dump(mode="json")])[list(FEATURES)]
    label = int(model.predict(row)[0])
    probability = float(model.predict_proba(row)[0, 1])
    risk = "low" if probability < 0.3 else "medium" if probability < 0.7 else "high"
    return {
        "prediction": label,
        "probability": probability,
        "risk_level": risk,
        "model_name": info.name,
        "model_version": info.version,
    }


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_config=None, access_log=False)
