"""The API served for real (uvicorn on a loopback port) in a thread, for tests that need
concurrency over sockets or a live OpenAPI document."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx2 as httpx
import uvicorn

from api.app import create_app
from core.kafka.local_broker import free_port
from core.settings import Settings


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """The API's base URL while the block runs; stopped (gracefully) on exit."""
    port = free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the API did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def wait_for_version(url: str, version: int, timeout_s: float = 60.0) -> None:
    """Block until `/health` reports `version` (a wait for a condition, not a timing)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body = httpx.get(f"{url}/health", timeout=10).json()
        if body["model_version"] == version:
            return
        time.sleep(0.05)
    raise AssertionError(f"/health never reported version {version}")
