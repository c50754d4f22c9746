"""The alert rules against a real Prometheus scraping a real scorer process: with no
production model the "degraded" alert fires, and a promotion clears it.

Prometheus (Debian package `prometheus`) runs in the test's own folder on a free port,
scraping and evaluating every second. It loads ops/prometheus/rules/streamscore.yml with
every rule's `for:` cut to one second (the expressions are the real ones), so the test
waits seconds, not the minutes an on-call engineer is given.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from core.kafka.local_broker import free_port
from core.settings import Settings
from tests.integration.kafka_io import settings_env
from tests.metric_catalog import SCRAPE_LABELS, catalog
from tests.prometheus_tools import OPS_PROMETHEUS, binary

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RULES = Path(OPS_PROMETHEUS) / "rules" / "streamscore.yml"


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_for(what: str, check: Callable[[], Any], timeout_s: float = 40) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            found = check()
        except OSError:
            found = None
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout_s} s")


def stopped(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def scorer_port(settings: Settings, tmp_path: Path) -> Iterator[int]:
    port = free_port()
    env = settings_env(settings)
    env["STREAMSCORE_SCORER__HTTP_PORT"] = str(port)
    env["STREAMSCORE_SCORER__INSTANCE_ID"] = "prometheus-test"
    env["STREAMSCORE_REGISTRY__POLL_S"] = "0.5"
    log = tmp_path / "scorer.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamscore", "score"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(f"scorer /health (log: {log})", lambda: get(f"http://127.0.0.1:{port}/health"))
        yield port
    finally:
        stopped(proc)


@pytest.fixture
def prometheus(scorer_port: int, tmp_path: Path) -> Iterator[str]:
    rules = yaml.safe_load(RULES.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = "1s"
    folder = tmp_path / "prometheus"
    folder.mkdir()
    (folder / "rules.yml").write_text(yaml.safe_dump(rules))
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": ["rules.yml"],
        "scrape_configs": [
            {"job_name": "scorer", "static_configs": [{"targets": [f"127.0.0.1:{scorer_port}"]}]}
        ],
    }
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = folder / "prometheus.log"
    proc = subprocess.Popen(
        [
            binary("prometheus"),
            f"--config.file={folder / 'prometheus.yml'}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"prometheus ready (log: {log})", lambda: get(f"{url}/-/ready")[0] == 200)
        yield url
    finally:
        stopped(proc)


def alerts(url: str, name: str) -> list[dict[str, Any]]:
    _, body = get(f"{url}/api/v1/alerts")
    return [a for a in json.loads(body)["data"]["alerts"] if a["labels"]["alertname"] == name]


def test_the_degraded_alert_fires_without_a_production_model_and_clears_on_promotion(
    prometheus: str, scorer_port: int, register_model: Callable[..., int]
) -> None:
    firing = wait_for(
        "StreamscoreDegraded firing",
        lambda: [a for a in alerts(prometheus, "StreamscoreDegraded") if a["state"] == "firing"],
    )
    assert firing[0]["labels"]["service"] == "scorer"
    assert firing[0]["labels"]["job"] == "scorer"
    assert firing[0]["labels"]["priority"] == "page"
    assert firing[0]["annotations"]["runbook_url"] == "docs/operations.md#streamscoredegraded"
    assert alerts(prometheus, "StreamscoreTargetDown") == []

    register_model(promote=True)
    wait_for(
        "the scorer healthy after the promotion",
        lambda: get(f"http://127.0.0.1:{scorer_port}/health")[0] == 200,
    )
    wait_for("StreamscoreDegraded cleared", lambda: alerts(prometheus, "StreamscoreDegraded") == [])


def test_a_running_scorer_exports_exactly_the_catalogued_series(
    scorer_port: int, register_model: Callable[..., int]
) -> None:
    register_model(promote=True)
    wait_for("healthy", lambda: get(f"http://127.0.0.1:{scorer_port}/health")[0] == 200)
    _, body = get(f"http://127.0.0.1:{scorer_port}/metrics")
    known = catalog()["scorer"]
    families = list(text_string_to_metric_families(body.decode()))
    for family in families:
        for sample in family.samples:
            assert sample.name in known, sample.name
            assert set(sample.labels) <= known[sample.name] - SCRAPE_LABELS, sample.name
    scraped = {f.name for f in families}
    assert {n.removesuffix("_total") for n in known if n.endswith("_total")} <= scraped
