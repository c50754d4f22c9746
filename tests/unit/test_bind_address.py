"""Where the HTTP endpoints listen: loopback unless told otherwise, and docker-compose's
settings for every interface are valid ones."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from core.health import HealthServer
from core.kafka.service import ConsumerSpec
from core.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_health_and_metrics_listen_on_loopback_by_default() -> None:
    server = HealthServer(lambda: {"status": "healthy"}, CollectorRegistry(), 0).start()
    try:
        assert server._server.server_address[0] == "127.0.0.1"
    finally:
        server.stop()
    settings = Settings()
    sections = (settings.scorer, settings.drift, settings.monitor, settings.retrain)
    assert {section.http_host for section in sections} == {"127.0.0.1"}
    assert settings.api.host == "127.0.0.1"


def test_the_configured_interface_reaches_the_health_server() -> None:
    settings = Settings(scorer={"http_host": "0.0.0.0", "http_port": 0})
    spec = ConsumerSpec.from_config("scorer", settings.scorer, ["t"], lambda exc, batch: [])
    assert spec.http_host == "0.0.0.0"
    server = HealthServer(lambda: {"status": "healthy"}, CollectorRegistry(), 0, spec.http_host)
    server.start()
    try:
        assert server._server.server_address[0] == "0.0.0.0"
    finally:
        server.stop()


def test_docker_composes_bind_settings_are_known_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    compose = (ROOT / "docker-compose.yml").read_text()
    found = dict(re.findall(r"(STREAMSCORE_\w+__HTTP_HOST): (\S+)", compose))
    assert len(found) == 4
    for name, value in found.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    sections = (settings.scorer, settings.drift, settings.monitor, settings.retrain)
    assert {section.http_host for section in sections} == {"0.0.0.0"}
