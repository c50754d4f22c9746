"""Per request: its id, its timing, its metrics and its one log line.

A plain ASGI middleware (Starlette's `BaseHTTPMiddleware` costs tens of microseconds a
request). The request id is the client's `X-Request-ID` when it is a sane token, else a
new one; it is echoed on every response. Handlers put what the log line should say in
`scope["state"]["log"]`; this middleware writes the line once the response is sent, with
the status and latency, so every request gets exactly one. Health probes, metrics
scrapes and docs are not logged unless they fail.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import ApiMetrics

REQUEST_ID_HEADER = "X-Request-ID"
_CLIENT_ID = re.compile(rb"[A-Za-z0-9._:\-]{1,100}")
"""Ids taken from clients: short and plain, because they end up in logs and event ids."""
_LOGGED_PATHS = frozenset({"/predict", "/predict/batch"})


def request_id_of(headers: list[tuple[bytes, bytes]]) -> str:
    """The client's `X-Request-ID` when it is a plain token, else a new random id.

    >>> request_id_of([(b"x-request-id", b"abc-1")])
    'abc-1'
    >>> len(request_id_of([(b"x-request-id", b"<script>")]))
    32
    """
    for name, value in headers:
        if name == b"x-request-id" and _CLIENT_ID.fullmatch(value):
            return value.decode()
    return uuid.uuid4().hex


class RequestContext:
    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self._app = app
        self._metrics = metrics
        self._log = structlog.get_logger("api")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(scope["headers"])
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"], state["started"] = request_id, started
        header = (b"x-request-id", request_id.encode())
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self._app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            path = scope["path"]
            self._metrics.observe(path, status, seconds)
            if path in _LOGGED_PATHS or status >= 400:
                self._line(request_id, scope, status, seconds, state.get("log"))

    def _line(
        self,
        request_id: str,
        scope: Scope,
        status: int,
        seconds: float,
        fields: dict[str, Any] | None,
    ) -> None:
        # 503 is the documented "no production version yet": a state, not a fault.
        level = (
            "info" if status < 400 else "error" if status >= 500 and status != 503 else "warning"
        )
        getattr(self._log, level)(
            "request",
            request_id=request_id,
            method=scope["method"],
            path=scope["path"],
            status=status,
            latency_ms=round(seconds * 1000, 3),
            **(fields or {}),
        )
