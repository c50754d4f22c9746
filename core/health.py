"""`/health` and `/metrics` for every long-running process, on one small HTTP server.

`/health` answers 200 with `{"status": "healthy", ...}` or 503 with `degraded`, so an
orchestrator's readiness probe can act on the status code alone; `/metrics` is the
Prometheus text format of the process's own registry.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

StatusFn = Callable[[], dict[str, Any]]


def degraded_gauge(registry: CollectorRegistry, service: str, ready: Callable[[], bool]) -> Gauge:
    """`streamscore_degraded{service}`: 1 while `/health` would say degraded (no
    production model, so nothing is scored or judged), else 0. Read at scrape time, so
    an alert rule sees what the probe sees without a second source of truth."""
    gauge = Gauge(
        "streamscore_degraded",
        "1 while the process is degraded (no production model loaded), else 0",
        ["service"],
        registry=registry,
    )
    gauge.labels(service).set_function(lambda: 0.0 if ready() else 1.0)
    return gauge


class HealthServer:
    def __init__(
        self,
        status: StatusFn,
        registry: CollectorRegistry,
        port: int,
        host: str = "127.0.0.1",
    ) -> None:
        self._status = status
        self._registry = registry
        handler = self._handler_class()
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> HealthServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.startswith("/health"):
                    body = outer._status()
                    code = 200 if body.get("status") == "healthy" else 503
                    self._send(code, "application/json", json.dumps(body, default=str).encode())
                elif self.path.startswith("/metrics"):
                    self._send(200, CONTENT_TYPE_LATEST, generate_latest(outer._registry))
                else:
                    self._send(404, "text/plain", b"not found: try /health or /metrics\n")

            def _send(self, code: int, content_type: str, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler
