"""The FastAPI application: routes, error answers and the start-up and shutdown.

`create_app(settings)` wires the core pieces: a `ProductionFollower` of the configured
model (listening on `model-events` when a broker is configured, polling the registry in
any case), `BatchScorer` behind `api.scoring.ScoringService`, the adaptive batcher, and
the prediction-log publisher when a broker is configured. Without a broker the API needs
no Kafka at all.

No input a client can send ends in a 500: a body is read under a size limit (413), must
be JSON (415), is validated by the contract's rules (422, one reason per field, never a
submitted value), and without a production version the answer is 503.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import openapi
from api.auth import TokenCheck
from api.batching import AdaptiveBatcher
from api.body import read_json_body
from api.errors import ApiError, NoModelServing
from api.events import ApiEvent, event_from_body, events_from_batch
from api.log_publisher import LogPublisher
from api.metrics import ApiMetrics
from api.refresh import Refresher
from api.request_context import RequestContext
from api.schemas import (
    EXAMPLE_EVENT,
    BatchRequest,
    BatchResponse,
    HealthResponse,
    PredictRequest,
    PredictResponse,
    RootResponse,
)
from api.scoring import SERVICE, Answer, Pending, ScoringService, load_warmed
from core.follower import ProductionFollower
from core.health import degraded_gauge
from core.kafka.discovery import resolve_bootstrap
from core.kafka.exceptions import BrokerNotFound
from core.kafka.model_events import follow_production
from core.logging import configure_logging
from core.registry import ModelRegistry
from core.scoring import BatchScorer, LoadedModel
from core.settings import Settings, load_settings
from core.validation import InvalidEvent
from streamscore import __version__

_ENCODE = msgspec.json.Encoder().encode
_JSON = "application/json"
_CLIENT_ERRORS = ((413, "Body too large"), (415, "Not JSON"), (422, "Invalid event"))
_UNAVAILABLE = (503, "No production model version loaded yet")
_UNAUTHORIZED = (401, "Missing or wrong API token (api.auth_token is set)")


def create_app(settings: Settings) -> FastAPI:
    """The API for these settings; the model is loaded at start-up (lifespan)."""
    log = structlog.get_logger(SERVICE)
    registry = CollectorRegistry()
    metrics = ApiMetrics(registry)
    publisher = LogPublisher.from_settings(settings)
    if publisher is not None:
        metrics.count_unsent_logs(lambda: publisher.unsent)
    follower = _follower(settings)
    degraded_gauge(registry, SERVICE, lambda: follower.current is not None)
    service = ScoringService(
        follower, BatchScorer(SERVICE, settings.logging.pii_fields), metrics, publisher
    )
    refresher = Refresher(follower, metrics, publisher, settings.api.refresh_interval_s)
    api = settings.api
    batcher = (
        AdaptiveBatcher(
            service.score, max_size=api.max_batch_size, max_wait_s=api.max_wait_ms / 1e3
        )
        if api.batching
        else None
    )
    max_event_bytes = settings.validation.max_event_bytes
    guarded: list[Any] = [Depends(TokenCheck(api.auth_token))] if api.auth_token else []
    client_errors = (*_CLIENT_ERRORS, _UNAUTHORIZED) if api.auth_token else _CLIENT_ERRORS

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(refresher.refresh_now)
        refresher.start()
        log.info(
            "api_started",
            model_name=follower.name,
            model_version=follower.version,
            batching=api.batching,
            auth_required=api.auth_token is not None,
            kafka_logs=publisher is not None,
            pid=os.getpid(),
        )
        try:
            yield
        finally:
            await asyncio.to_thread(_close, refresher, follower, publisher, api.graceful_timeout_s)
            log.info("api_stopped", pid=os.getpid())

    app = FastAPI(
        title="streamscore",
        version=__version__,
        description=(
            "Churn scoring over HTTP with the registry's production model: the same "
            "validation and scoring code, and so the same answers, as the Kafka scorer."
        ),
        lifespan=lifespan,
    )
    app.add_middleware(RequestContext, metrics=metrics)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        headers = dict(exc.response_headers) or None
        return _error(request, exc.status, exc.code, str(exc), exc.hint, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "bad_request")
        return _error(request, exc.status_code, code, str(exc.detail), "see /docs")

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        # FastAPI's own answer would quote the input; ours names the fields only.
        fields = [
            {"field": ".".join(str(p) for p in e["loc"]), "reason": e["msg"]} for e in exc.errors()
        ]
        return _error(request, 422, "invalid_request", "invalid request", "see /docs", fields)

    @app.post(
        "/predict",
        summary="Score one customer event",
        responses=openapi.responses(PredictResponse, *client_errors, _UNAVAILABLE),
        openapi_extra=openapi.request_body(PredictRequest, EXAMPLE_EVENT),
        dependencies=guarded,
    )
    async def predict(request: Request) -> Response:
        state = request.scope["state"]
        raw = await read_json_body(request, max_event_bytes)
        try:
            event = event_from_body(raw, state["request_id"], max_event_bytes)
        except InvalidEvent as exc:
            service.invalid(state["request_id"], exc)
            return _invalid(request, exc)
        pending = Pending(event, state["started"])
        answer = await batcher.submit(pending) if batcher else service.score([pending])[0]
        body = _scoring(answer)
        body["model_name"], body["model_version"] = answer.model.name, answer.model.version
        body["request_id"] = state["request_id"]
        state["log"] = _log_fields(answer)
        return Response(_ENCODE(body), media_type=_JSON)

    @app.post(
        "/predict/batch",
        summary="Score up to api.max_batch events with one model call",
        description=(
            "200 whenever the envelope is sound: every event gets its own entry in "
            "`results`, in the order sent, with `status` `scored` (and its prediction) or "
            "`invalid` (and its reasons). An invalid event never fails the others. A 422 "
            "means the envelope itself is wrong (not an object with 1 to api.max_batch "
            "`events`)."
        ),
        responses=openapi.responses(BatchResponse, *client_errors, _UNAVAILABLE),
        openapi_extra=openapi.request_body(BatchRequest, {"events": [EXAMPLE_EVENT]}),
        dependencies=guarded,
    )
    async def predict_batch(request: Request) -> Response:
        state = request.scope["state"]
        request_id, started = state["request_id"], state["started"]
        raw = await read_json_body(request, api.max_body_bytes)
        try:
            items = events_from_batch(raw, request_id, api.max_batch, max_event_bytes)
        except InvalidEvent as exc:
            return _invalid(request, exc)
        loaded = follower.current
        if loaded is None:
            raise NoModelServing(follower.name)
        valid = [Pending(item, started) for item in items if isinstance(item, ApiEvent)]
        answers = iter(service.score(valid) if valid else [])
        results: list[dict[str, Any]] = []
        model = loaded
        for index, item in enumerate(items):
            if isinstance(item, InvalidEvent):
                service.invalid(f"{request_id}:{index}", item)
                results.append({"index": index, "status": "invalid", **_reasons(item)})
                continue
            answer = next(answers)
            model = answer.model
            results.append({"index": index, "status": "scored", **_scoring(answer)})
        metrics.batch_request_events.observe(len(items))
        body = {
            "request_id": request_id,
            "model_name": model.name,
            "model_version": model.version,
            "scored": len(valid),
            "invalid": len(items) - len(valid),
            "results": results,
        }
        state["log"] = {
            "model_name": model.name,
            "model_version": model.version,
            "events": len(items),
            "invalid": len(items) - len(valid),
        }
        return Response(_ENCODE(body), media_type=_JSON)

    @app.get(
        "/health",
        summary="healthy (200) while a production version is loaded, else degraded (503)",
        responses={200: {"model": HealthResponse}, 503: {"model": HealthResponse}},
    )
    async def health() -> Response:
        current = follower.current
        body = {
            "status": "healthy" if current is not None else "degraded",
            "service": SERVICE,
            "version": __version__,
            "model_loaded": current is not None,
            "model_name": follower.name,
            "model_version": current.version if current is not None else None,
        }
        return Response(_ENCODE(body), 200 if current is not None else 503, media_type=_JSON)

    @app.get("/", summary="What this service is", responses={200: {"model": RootResponse}})
    async def root() -> Response:
        body = {
            "service": "streamscore",
            "version": __version__,
            "docs": "/docs",
            "openapi": "/openapi.json",
            "health": "/health",
        }
        return Response(_ENCODE(body), media_type=_JSON)

    @app.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
    async def prometheus() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    openapi.install(app, [PredictRequest, BatchRequest], api.max_batch)
    return app


def app_from_environment() -> FastAPI:
    """The app for a uvicorn worker process (`--workers N`): settings from the
    environment the `streamscore serve` command left for its workers."""
    settings = load_settings()
    configure_logging(SERVICE, settings.logging.level, settings.logging.format)
    return create_app(settings)


def _follower(settings: Settings) -> ProductionFollower[LoadedModel]:
    try:
        resolve_bootstrap(settings)
    except BrokerNotFound:
        return ProductionFollower(
            ModelRegistry.from_config(settings.registry),
            settings.registry.model_name,
            load_warmed,
            poll_s=settings.registry.poll_s,
        )
    return follow_production(settings, load_warmed)


def _close(
    refresher: Refresher,
    follower: ProductionFollower[LoadedModel],
    publisher: LogPublisher | None,
    timeout_s: float,
) -> None:
    refresher.stop()
    follower.close()
    if publisher is not None:
        publisher.close(min(timeout_s, 5.0))


def _scoring(answer: Answer) -> dict[str, Any]:
    prediction = answer.scored.prediction
    return {
        "event_id": prediction["event_id"],
        "customer_id": answer.event.customer_id,
        "prediction": prediction["prediction"],
        "probability": prediction["probability"],
        "risk_level": prediction["risk_level"],
    }


def _log_fields(answer: Answer) -> dict[str, Any]:
    log = answer.scored.log
    return {
        "event_id": log["event_id"],
        "model_name": log["model_name"],
        "model_version": log["model_version"],
        "input": msgspec.to_builtins(log["input"]),
        "output": log["output"],
    }


def _reasons(exc: InvalidEvent) -> dict[str, Any]:
    return {
        "error_type": exc.error_type,
        "message": str(exc),
        "fields": [{"field": f.field, "reason": f.reason} for f in exc.fields],
    }


def _invalid(request: Request, exc: InvalidEvent) -> Response:
    reasons = _reasons(exc)
    return _error(
        request,
        422,
        "invalid_event",
        reasons["message"],
        exc.hint,
        reasons["fields"],
        error_type=exc.error_type,
    )


def _error(
    request: Request,
    status: int,
    code: str,
    message: str,
    hint: str,
    fields: list[dict[str, str]] | None = None,
    *,
    error_type: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    state = request.scope.setdefault("state", {})
    request_id = state.get("request_id", "")
    body = {
        "error": code,
        "error_type": error_type,
        "message": message,
        "hint": hint,
        "fields": fields or [],
        "request_id": request_id,
    }
    state["log"] = {"error": code, "error_type": error_type, "error_message": message}
    return Response(_ENCODE(body), status, headers=headers, media_type=_JSON)
