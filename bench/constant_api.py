"""(c) in `rest_bench.py`: the same framework and server answering a constant: the ceiling.

FastAPI under uvicorn (the same loop, HTTP parser and options as `streamscore serve`),
one `POST /predict` that neither reads nor parses the body and returns fixed bytes.

    python bench/constant_api.py PORT
"""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI
from fastapi.responses import Response

BODY = b'{"prediction":0,"probability":0.25,"risk_level":"low","model_version":1}'
app = FastAPI()


@app.post("/predict")
async def predict() -> Response:
    return Response(BODY, media_type="application/json")


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_config=None, access_log=False)
