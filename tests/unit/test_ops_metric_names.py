"""The alert rules and the dashboard use only metric and label names that streamscore's
processes really export (tests/metric_catalog.py), so a renamed metric fails here and
not silently on a dashboard at 3 a.m."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.metric_catalog import SCRAPE_LABELS, catalog
from tests.promql_names import problems, uses

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "ops" / "prometheus" / "rules" / "streamscore.yml"
DASHBOARD = ROOT / "ops" / "grafana" / "dashboards" / "streamscore.json"


def exported() -> dict[str, frozenset[str]]:
    """Every series name of every process, with the union of its label names."""
    out: dict[str, frozenset[str]] = {}
    for series in catalog().values():
        for name, labels in series.items():
            out[name] = out.get(name, frozenset()) | labels
    return out


def rule_exprs() -> list[tuple[str, str]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [(r.get("alert") or r["record"], r["expr"]) for g in groups for r in g["rules"]]


def panel_exprs() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [(p["title"], t["expr"]) for p in dashboard["panels"] for t in p["targets"]]


@pytest.mark.parametrize(("where", "expr"), rule_exprs() + panel_exprs())
def test_every_rule_and_panel_query_names_only_exported_metrics_and_labels(
    where: str, expr: str
) -> None:
    assert uses(expr).selectors, f"{where}: no metric found in {expr!r}"
    assert problems(expr, exported()) == [], where


def test_a_misspelt_metric_or_label_is_caught() -> None:
    names = exported()
    assert problems("rate(streamscore_events_scored[1m])", names)
    assert problems("sum by (reason) (rate(streamscore_events_dead_lettered_total[5m]))", names)
    assert problems('streamscore_consumer_lag{partiton="1"}', names)


def test_the_catalog_matches_what_a_running_api_exports(client: TestClient) -> None:
    client.get("/health")
    scraped = client.get("/metrics").text
    api = catalog()["api"]
    for family in text_string_to_metric_families(scraped):
        for sample in family.samples:
            if sample.name.startswith("streamscore_"):
                assert sample.name in api, sample.name
                assert set(sample.labels) <= api[sample.name] - SCRAPE_LABELS, sample.name
