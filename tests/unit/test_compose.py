"""docker-compose.yml, checked without a Docker engine: it is a valid Compose file, every
streamscore command in it parses with the real `streamscore` parser, every setting it
passes is a real one, and probes, scrape targets and ports agree with the settings."""

from __future__ import annotations

import json
import os
import re
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft201909Validator

from consumers.scorer import transactional_id
from core.drift.config import DriftConfig
from core.performance.config import PerformanceConfig
from core.retraining.config import RetrainConfig
from core.settings import ApiConfig, ScorerConfig, Settings, load_settings
from streamscore.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
SCHEMA = ROOT / "tests" / "compose" / "compose-spec.json"
PROMETHEUS = ROOT / "ops" / "prometheus" / "prometheus.yml"

LONG_RUNNING = {"scorer", "drift", "monitor", "retrainer", "api"}
ONE_SHOT = {"topics", "train", "produce"}
DEFAULT_PORTS = {
    ("score",): ScorerConfig().http_port,
    ("drift", "run"): DriftConfig().http_port,
    ("monitor",): PerformanceConfig().http_port,
    ("retrain",): RetrainConfig().http_port,
    ("serve",): ApiConfig().port,
}


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def streamscore_services() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in services().items() if s.get("image") == "streamscore:local"}


def test_the_file_is_valid_under_the_compose_specification_schema() -> None:
    schema = json.loads(SCHEMA.read_text())
    errors = sorted(Draft201909Validator(schema).iter_errors(compose()), key=str)
    assert [f"{list(e.path)}: {e.message}" for e in errors] == []


def test_the_schema_check_catches_a_misspelt_key() -> None:
    schema = json.loads(SCHEMA.read_text())
    broken = compose()
    broken["services"]["scorer"]["healthchek"] = broken["services"]["scorer"].pop("healthcheck")
    assert list(Draft201909Validator(schema).iter_errors(broken))


def test_the_stack_has_every_role_prometheus_grafana_and_the_one_shot_jobs() -> None:
    assert set(services()) >= LONG_RUNNING | ONE_SHOT | {"kafka", "prometheus", "grafana"}
    assert services()["produce"]["profiles"] == ["producer"]
    assert set(streamscore_services()) == LONG_RUNNING | ONE_SHOT


@pytest.mark.parametrize("name", sorted(LONG_RUNNING | ONE_SHOT))
def test_every_command_is_a_real_streamscore_subcommand_with_valid_options(name: str) -> None:
    service = streamscore_services()[name]
    assert "entrypoint" not in service, "the image's entrypoint is `streamscore`"
    args = build_parser().parse_args(service["command"])
    assert callable(args.func)


def test_a_wrong_option_in_a_command_would_be_caught() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["score", "--batch-sise", "10"])


@pytest.mark.parametrize("name", sorted(LONG_RUNNING | ONE_SHOT))
def test_the_environment_holds_only_real_settings(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in list(os.environ):
        if key.startswith("STREAMSCORE_") or key == "KAFKA_BOOTSTRAP_SERVERS":
            monkeypatch.delenv(key)
    for key, value in streamscore_services()[name]["environment"].items():
        monkeypatch.setenv(key, str(value))
    settings = load_settings()
    assert str(settings.registry.path) == "/data/registry"


def probe_url(service: dict[str, Any]) -> str:
    test = " ".join(service["healthcheck"]["test"])
    found = re.search(r"http://127\.0\.0\.1:(\d+)(/\S*?)['\"]", test)
    assert found, test
    return f"{found.group(1)}{found.group(2)}"


def listening_port(command: list[str]) -> int:
    if "--port" in command:
        return int(command[command.index("--port") + 1])
    for prefix, port in DEFAULT_PORTS.items():
        if tuple(command[: len(prefix)]) == prefix:
            return port
    raise AssertionError(f"no port known for {command}")


@pytest.mark.parametrize("name", sorted(LONG_RUNNING))
def test_every_long_running_service_is_probed_on_health_at_the_port_it_listens_on(
    name: str,
) -> None:
    service = streamscore_services()[name]
    assert probe_url(service) == f"{listening_port(service['command'])}/health"
    assert not any("HTTP_PORT" in key for key in service["environment"])


def test_every_other_service_has_a_healthcheck_and_one_shot_jobs_disable_the_probe() -> None:
    for name, service in services().items():
        assert "healthcheck" in service, name
        assert service["healthcheck"].get("disable", False) == (name in ONE_SHOT), name


def test_the_scorer_scales_each_replica_with_its_own_instance_id() -> None:
    scorer = services()["scorer"]
    for key in ("container_name", "hostname", "ports"):
        assert key not in scorer, f"{key} would clash between replicas"
    assert not any("INSTANCE_ID" in key for key in scorer["environment"])
    assert "--instance-id" not in scorer["command"]


def test_every_role_shares_the_registry_volume() -> None:
    for name, service in streamscore_services().items():
        assert "registry:/data" in service["volumes"], name
    assert "registry" in compose()["volumes"]


def test_prometheus_scrapes_every_role_on_the_port_it_listens_on() -> None:
    config = yaml.safe_load(PROMETHEUS.read_text())
    targets = {}
    for job in config["scrape_configs"]:
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                host, port = target.split(":")
                targets[host] = int(port)
        for dns in job.get("dns_sd_configs", []):
            for host in dns["names"]:
                targets[host] = int(dns["port"])
    listening = {
        name: listening_port(s["command"])
        for name, s in streamscore_services().items()
        if name in LONG_RUNNING
    }
    assert targets == listening


def test_prometheus_mounts_ops_prometheus_and_reads_its_config() -> None:
    prometheus = services()["prometheus"]
    assert "./ops/prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]


def test_without_an_instance_id_each_replica_gets_its_own_transactional_id_from_its_hostname(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Compose replicas are told nothing: the hostname (the container id) tells them apart,
    and it survives the container's restarts, so a restarted replica fences its crashed
    predecessor."""
    ids = set()
    for host in ("3f2a9c1b7d10", "8e4b0d2c6a55"):
        monkeypatch.setattr(socket, "gethostname", lambda host=host: host)
        ids.add(transactional_id(Settings()))
    assert len(ids) == 2
    assert all(i.startswith("streamscore-scorer-") for i in ids)
    named = Settings(scorer={"instance_id": "scorer-0"})
    assert transactional_id(named) == "streamscore-scorer-scorer-0"
