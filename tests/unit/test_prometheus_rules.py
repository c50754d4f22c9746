"""ops/prometheus is checked by Prometheus's own tool, not only written: the config and
rules load, the rules' unit tests pass, and every alert has a tested case and a runbook."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.prometheus_tools import OPS_PROMETHEUS, ROOT, binary

OPS = Path(OPS_PROMETHEUS)
RULES = OPS / "rules" / "streamscore.yml"
OPERATIONS = Path(ROOT) / "docs" / "operations.md"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary("promtool"), *args], cwd=OPS, capture_output=True, text=True, timeout=60
    )


def alerting_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_the_scrape_config_and_the_rules_it_names_pass_promtool_check_config() -> None:
    result = promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_alert_rules_pass_promtool_check_rules() -> None:
    result = promtool("check", "rules", str(RULES.relative_to(OPS)))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_alert_rules_unit_tests_pass_promtool_test_rules() -> None:
    tests = sorted(str(p.relative_to(OPS)) for p in (OPS / "tests").glob("*.yml"))
    assert tests
    result = promtool("test", "rules", *tests)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_unit_test_case_that_expects_it_to_fire() -> None:
    cases = [yaml.safe_load(p.read_text()) for p in (OPS / "tests").glob("*.yml")]
    firing = {
        check["alertname"]
        for case in cases
        for test in case["tests"]
        for check in test.get("alert_rule_test", [])
        if check.get("exp_alerts")
    }
    assert {rule["alert"] for rule in alerting_rules()} <= firing


def anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+\s+(.+?)\s*$", markdown, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}


def test_every_alert_links_to_its_runbook_heading_in_the_operations_guide() -> None:
    known = anchors(OPERATIONS.read_text())
    for rule in alerting_rules():
        url = rule["annotations"]["runbook_url"]
        page, _, anchor = url.partition("#")
        assert page == "docs/operations.md", rule["alert"]
        assert anchor == rule["alert"].lower(), rule["alert"]
        assert anchor in known, f"{rule['alert']}: no heading for #{anchor}"
