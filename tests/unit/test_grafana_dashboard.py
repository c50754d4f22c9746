"""ops/grafana loads as provisioned: valid JSON, one datasource every panel refers to,
and the provisioning paths line up with the mounts in docker-compose.yml. (That every
panel's query names exported metrics is tests/unit/test_ops_metric_names.py.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "ops" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "streamscore.json"
WANTED = (
    "Throughput in",
    "Throughput out",
    "p99 latency",
    "lag per partition",
    "Dead letters by reason",
    "Drift statistic per feature",
    "Model version",
    "Live AUC",
)


def load_yaml(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def grafana_service() -> dict[str, Any]:
    service: dict[str, Any] = load_yaml(ROOT / "docker-compose.yml")["services"]["grafana"]
    return service


def mounts() -> dict[str, str]:
    """Host folder (relative to the repository) -> path in the Grafana container."""
    return dict(tuple(v.split(":")[:2]) for v in grafana_service()["volumes"])


def datasource() -> dict[str, Any]:
    provisioned = load_yaml(GRAFANA / "provisioning" / "datasources" / "prometheus.yml")
    (only,) = provisioned["datasources"]
    return dict(only)


def test_the_dashboard_is_valid_json_with_unique_panel_ids_and_the_wanted_panels() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"]
    assert dashboard["title"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    titles = " | ".join(p["title"] for p in dashboard["panels"])
    for wanted in WANTED:
        assert wanted.lower() in titles.lower(), wanted
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"]), panel["title"]


def test_every_panel_and_query_uses_the_provisioned_datasource() -> None:
    uid = datasource()["uid"]
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == uid, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == uid, panel["title"]


def test_the_datasource_points_at_the_compose_prometheus_service() -> None:
    url = urlparse(datasource()["url"])
    services = load_yaml(ROOT / "docker-compose.yml")["services"]
    assert url.hostname in services
    assert f"{url.port}:{url.port}" in services[url.hostname]["ports"]


def test_the_provisioning_folder_and_the_dashboards_are_mounted_where_grafana_looks() -> None:
    mounted = mounts()
    assert mounted["./ops/grafana/provisioning"] == "/etc/grafana/provisioning"
    provider = load_yaml(GRAFANA / "provisioning" / "dashboards" / "streamscore.yml")
    (only,) = provider["providers"]
    assert mounted["./ops/grafana/dashboards"] == only["options"]["path"]
    assert only["type"] == "file"
    home = grafana_service()["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    relative = Path(home).relative_to(only["options"]["path"])
    assert (GRAFANA / "dashboards" / relative) == DASHBOARD
    for host in mounted:
        assert (ROOT / host).is_dir(), host
