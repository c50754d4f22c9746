"""The HTML report: verdict first, every feature drawn, nothing fetched from anywhere."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from core.drift.config import DriftConfig
from core.drift.evaluate import evaluate
from core.drift.html import fmt, render_html
from core.drift.profile import ReferenceProfile
from core.drift.report import DriftReport
from core.drift.window_state import WindowState


def report(window: int, min_events: int = 100) -> DriftReport:
    rng = np.random.default_rng(1)
    ref = pd.DataFrame({"x": rng.normal(0, 1, 5_000), "c": rng.choice(["a", "b"], 5_000)})
    profile = ReferenceProfile.from_frame(ref, ["x"], ["c"])
    cur = {"x": rng.normal(1, 1, window), "c": np.array(["a", "<z>"] * (window // 2))}
    state = WindowState.empty(profile).update(cur)
    return evaluate(profile, state, DriftConfig(min_window_events=min_events))


def test_binned_report_shows_drift_first_and_error_bounds_of_binned_statistics() -> None:
    page = render_html(report(2_000))
    assert page.index("Drift detected") < page.index("<svg")
    assert "±" in page
    assert page.count("<svg") == 2


def test_unseen_category_names_are_escaped_and_flagged() -> None:
    page = render_html(report(2_000))
    assert "&lt;z&gt;" in page
    assert "<z>" not in page
    assert "never saw" in page


def test_a_window_too_small_is_shown_as_not_judged() -> None:
    page = render_html(report(50, min_events=500))
    assert "Not judged" in page
    assert "not analysed" in page


def test_page_has_no_scripts_and_no_remote_resources() -> None:
    page = render_html(report(2_000))
    assert "<script" not in page
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", page)


def test_numbers_are_formatted_for_people() -> None:
    assert [fmt(v) for v in (None, 0.0, 1.5e-7, 0.12345, 65_432.1, 3)] == [
        "–",
        "0",
        "1.50e-07",
        "0.1235",
        "65,432",
        "3",
    ]
