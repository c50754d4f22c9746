"""`streamscore serve`: the HTTP scoring API under uvicorn, until SIGTERM."""

from __future__ import annotations

import argparse
import ipaddress
import os
import signal
from typing import TYPE_CHECKING

from core.settings_defaults import API_HOST, API_PORT, API_WORKERS
from streamscore.cli.runtime import overridden, settings_for

if TYPE_CHECKING:
    from core.settings import Settings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "serve",
        help="serve the HTTP scoring API: POST /predict (runs until SIGTERM)",
        description=(
            "Serve POST /predict, POST /predict/batch, GET /health, GET /metrics and the "
            "OpenAPI docs (/docs) with the registry's production model: the same validation "
            "and scoring code as `streamscore score`, so the same answers. Follows "
            "promotions without a restart; answers 503 until a version is in production. "
            "With a broker configured, prediction logs also go to the logs topic; without "
            "one the API needs no Kafka. SIGTERM lets requests in flight finish, then "
            "exits 0."
        ),
    )
    parser.add_argument("--host", help=f"interface to listen on (default api.host, {API_HOST})")
    parser.add_argument("--port", type=int, help=f"port (default api.port, {API_PORT})")
    parser.add_argument(
        "--workers", type=int, help=f"worker processes (default api.workers, {API_WORKERS})"
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import structlog
    import uvicorn

    settings = settings_for(args, "api", logs_to_stdout=True)
    settings.api = overridden(settings.api, host=args.host, port=args.port, workers=args.workers)
    api = settings.api
    log = structlog.get_logger("api")
    log.info(
        "api_listening",
        url=f"http://{api.host}:{api.port}",
        workers=api.workers,
        docs="/docs",
        auth_required=api.auth_token is not None,
    )
    if api.auth_token is None and not _loopback(api.host):
        log.warning(
            "api_open_to_the_network",
            host=api.host,
            hint="anyone who reaches this address can score; set STREAMSCORE_API__AUTH_TOKEN",
        )
    common = {
        "host": api.host,
        "port": api.port,
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": api.graceful_timeout_s,
        "lifespan": "on",
    }
    _exit_zero_after_sigterm()
    if api.workers == 1:
        from api.app import create_app

        uvicorn.run(create_app(settings), **common)  # type: ignore[arg-type]
    else:
        _hand_settings_to_workers(args, settings)
        uvicorn.run("api.app:app_from_environment", factory=True, workers=api.workers, **common)  # type: ignore[arg-type]
    return 0


def _loopback(host: str) -> bool:
    """Whether `host` only takes connections from this machine.

    >>> _loopback("127.0.0.1"), _loopback("localhost"), _loopback("::1"), _loopback("0.0.0.0")
    (True, True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _exit_zero_after_sigterm() -> None:
    """After a graceful stop uvicorn raises the signal it caught again, to the handler
    that was in place before it; with the default one the process then dies of SIGTERM.
    A no-op handler here makes a SIGTERM stop exit 0, as `streamscore score` does."""
    signal.signal(signal.SIGTERM, lambda signum, frame: None)


def _hand_settings_to_workers(args: argparse.Namespace, settings: Settings) -> None:
    """Worker processes build their settings from the environment: point them at the
    same settings file and the broker this process found."""
    if getattr(args, "config", None):
        os.environ["STREAMSCORE_CONFIG"] = str(args.config)
    if settings.kafka.bootstrap_servers:
        os.environ.setdefault("KAFKA_BOOTSTRAP_SERVERS", settings.kafka.bootstrap_servers)
