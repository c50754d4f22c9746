"""A drift report as one self-contained HTML page: inline CSS and SVG, no scripts, no network.

The page is read by people deciding whether to retrain, so it leads with the overall
verdict, then gives every feature a card: both distributions drawn over each other, the
summaries side by side, and each test with its statistic, p-value, threshold and verdict.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from html import escape
from typing import Any

from core.drift.report import DriftReport, FeatureResult, TestResult

REF_COLOUR = "#3b6fb6"
CUR_COLOUR = "#e07a1f"
W, H = 600, 230
ML, MR, MT, MB = 44, 22, 14, 40

_CSS = """
:root{--ok:#1f7a4d;--bad:#b3261e;--muted:#6b7280;--line:#e5e7eb;--bg:#f6f7f9}
*{box-sizing:border-box}body{margin:0;background:var(--bg);color:#111827;
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
main{max-width:1000px;margin:0 auto;padding:28px 20px 60px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:0}
.sub{color:var(--muted);font-size:13px}
.verdict{border-radius:12px;padding:18px 22px;margin:18px 0 22px;color:#fff;
display:flex;justify-content:space-between;align-items:center;gap:16px;flex-wrap:wrap}
.verdict.ok{background:var(--ok)}.verdict.bad{background:var(--bad)}
.verdict.na{background:#4b5563}
.verdict .big{font-size:22px;font-weight:700}.verdict .facts{display:flex;gap:22px}
.verdict .facts div{text-align:right}.verdict .facts b{display:block;font-size:20px}
.card{background:#fff;border:1px solid var(--line);border-radius:12px;padding:18px 20px;
margin:0 0 18px;box-shadow:0 1px 2px rgba(0,0,0,.04)}
.head{display:flex;justify-content:space-between;align-items:baseline;gap:12px}
.pill{display:inline-block;border-radius:999px;padding:2px 10px;font-size:12px;
font-weight:600}.pill.ok{background:#dcf3e6;color:var(--ok)}
.pill.bad{background:#fde2e0;color:var(--bad)}.pill.na{background:#eceef1;color:#4b5563}
.grid{display:grid;grid-template-columns:minmax(0,4fr) minmax(0,3fr);gap:18px;
margin-top:12px}
table{border-collapse:collapse;width:100%;font-size:13px}
.tests{font-size:12px;margin-top:12px}.tests td{white-space:nowrap}
th,td{text-align:right;padding:5px 6px;border-bottom:1px solid var(--line)}
th:first-child,td:first-child{text-align:left}th{color:var(--muted);font-weight:600}
.legend{font-size:12px;color:var(--muted);margin:4px 0 0}
.sw{display:inline-block;width:10px;height:10px;border-radius:2px;margin:0 4px 0 10px;
vertical-align:-1px}.yes{color:var(--bad);font-weight:700}.no{color:var(--ok)}
.overview td,.overview th{padding:6px 8px}.note{color:var(--muted);font-size:12px}
svg text{font:11px system-ui,sans-serif;fill:#4b5563}
"""


def fmt(value: Any) -> str:
    """Compact, readable numbers: 3-4 significant digits, thousands separated."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    v = float(value)
    if not math.isfinite(v):
        return "–"
    if v == 0:
        return "0"
    if abs(v) < 1e-3:
        return f"{v:.2e}"
    if abs(v) >= 1e4:
        return f"{v:,.0f}"
    return f"{v:.4g}"


def render_html(
    report: DriftReport,
    *,
    title: str = "Drift report",
    reference_label: str = "reference",
    current_label: str = "current",
) -> str:
    """The whole page as a string."""
    cards = "".join(_card(f, reference_label, current_label) for f in report.features)
    created = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body><main>"
        f"<h1>{escape(title)}</h1><div class='sub'>{escape(reference_label)} "
        f"({report.reference_rows:,} rows) vs {escape(current_label)} "
        f"({report.current_rows:,} rows) · generated {created}</div>"
        f"{_verdict(report)}{_overview(report)}{cards}"
        f"<p class='note'>{_method_note(report)}</p></main></body></html>"
    )


def _verdict(report: DriftReport) -> str:
    if not report.judged:
        cls, text = "na", "Not judged"
        detail = escape(report.note)
    elif report.drift_detected:
        cls, text = "bad", "Drift detected"
        detail = "in " + escape(", ".join(report.drifting_features))
    else:
        cls, text = "ok", "No drift"
        detail = "every analysed feature is stable"
    facts = (
        f"<div><b>{report.features_analysed}</b>analysed</div>"
        f"<div><b>{len(report.drifting_features)}</b>drifting</div>"
        f"<div><b>{report.current_rows:,}</b>current rows</div>"
    )
    return (
        f"<section class='verdict {cls}'><div><div class='big'>{text}</div>"
        f"<div>{detail}</div></div><div class='facts'>{facts}</div></section>"
    )


def _pill(feature: FeatureResult) -> str:
    if not feature.analysed:
        return "<span class='pill na'>not analysed</span>"
    if feature.drift:
        return "<span class='pill bad'>drift</span>"
    return "<span class='pill ok'>stable</span>"


def _overview(report: DriftReport) -> str:
    rows = []
    for f in report.features:
        effects = ", ".join(
            f"<span class='yes'>{t.name} {fmt(t.statistic)}</span>"
            if t.verdict
            else f"{t.name} {fmt(t.statistic)}"
            for t in f.tests
            if t.name != "chi2"
        )
        p = f.tests[0].p_value if f.tests else None
        rows.append(
            f"<tr><td><b>{escape(f.name)}</b> <span class='note'>{f.kind}</span></td>"
            f"<td>{_pill(f)}</td><td>{fmt(p)}</td><td>{effects or '–'}</td></tr>"
        )
    return (
        "<section class='card overview'><table><tr><th>feature</th><th>verdict</th>"
        "<th>adjusted p</th><th>effect sizes</th></tr>" + "".join(rows) + "</table></section>"
    )


def _card(feature: FeatureResult, ref_label: str, cur_label: str) -> str:
    chart = _numeric_svg(feature) if feature.kind == "numeric" else _categorical_svg(feature)
    legend = (
        f"<div class='legend'><span class='sw' style='background:{REF_COLOUR}'></span>"
        f"{escape(ref_label)}<span class='sw' style='background:{CUR_COLOUR}'></span>"
        f"{escape(cur_label)}</div>"
    )
    note = f"<p class='note'>{escape(feature.note)}</p>" if feature.note else ""
    if feature.unseen:
        unseen = ", ".join(f"{escape(k)} ({v:,})" for k, v in feature.unseen.items())
        note += f"<p class='note'>Categories the reference never saw: {unseen}</p>"
    return (
        f"<section class='card'><div class='head'><h2>{escape(feature.name)} "
        f"<span class='note'>{feature.kind}</span></h2>{_pill(feature)}</div>"
        f"<div class='grid'><div>{chart}{legend}</div><div>{_summary(feature)}"
        f"{_tests(feature.tests)}</div></div>{note}</section>"
    )


def _summary(feature: FeatureResult) -> str:
    head = "<tr><th></th><th>reference</th><th>current</th></tr>"
    keys = ["mean", "std", "min", "max"] if feature.kind == "numeric" else list(feature.reference)
    rows = "".join(
        f"<tr><td>{escape(k)}</td><td>{_share_or_num(feature, feature.reference.get(k))}</td>"
        f"<td>{_share_or_num(feature, feature.current.get(k))}</td></tr>"
        for k in keys
    )
    counts = (
        f"<tr><td>values</td><td>{feature.reference_count:,}</td>"
        f"<td>{feature.current_count:,}</td></tr>"
    )
    return f"<table>{head}{rows}{counts}</table>"


def _share_or_num(feature: FeatureResult, value: Any) -> str:
    if feature.kind == "categorical" and isinstance(value, float):
        return f"{value:.1%}"
    return fmt(value)


def _tests(tests: tuple[TestResult, ...]) -> str:
    if not tests:
        return ""
    rows = "".join(
        f"<tr><td>{escape(t.name)}{' (' + escape(t.band) + ')' if t.band else ''}</td>"
        f"<td>{fmt(t.statistic)}{' ± ' + fmt(t.error_bound) if t.error_bound else ''}</td>"
        f"<td>{fmt(t.p_value) if i == 0 else '↑'}</td>"
        f"<td>{'p < ' if t.name == 'chi2' else '≥ '}{fmt(t.threshold)}</td>"
        f"<td class='{'yes' if t.verdict else 'no'}'>{'drift' if t.verdict else 'ok'}</td></tr>"
        for i, t in enumerate(tests)
    )
    return (
        "<table class='tests'><tr><th>test</th><th>statistic</th><th>p (adj.)</th>"
        f"<th>threshold</th><th>verdict</th></tr>{rows}</table>"
    )


def _axes(ymax: float) -> str:
    """Horizontal grid lines and percentage labels for shares up to ``ymax``."""
    parts = []
    step = _nice_step(ymax / 4)
    tick = 0.0
    while tick <= ymax + 1e-12:
        y = MT + (H - MT - MB) * (1 - tick / ymax)
        parts.append(
            f"<line x1='{ML}' x2='{W - MR}' y1='{y:.1f}' y2='{y:.1f}' stroke='#eef0f3'/>"
            f"<text x='{ML - 6}' y='{y + 4:.1f}' text-anchor='end'>{tick * 100:.3g}%</text>"
        )
        tick += step
    return "".join(parts)


def _nice_step(raw: float) -> float:
    exp = 10 ** math.floor(math.log10(raw)) if raw > 0 else 0.01
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * exp:
            return m * exp
    return 10 * exp


def _ticks(lo: float, hi: float) -> list[float]:
    """Round-numbered ticks inside [lo, hi], about five of them."""
    step = _nice_step((hi - lo) / 5)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def _numeric_svg(feature: FeatureResult) -> str:
    hist = feature.histogram
    if not hist.get("edges"):
        return _empty_svg()
    edges = [float(e) for e in hist["edges"]]
    ref = [float(v) for v in hist["reference"]]
    cur = [float(v) for v in hist["current"]]
    ymax = max(max(ref), max(cur), 1e-9) * 1.1
    lo, hi = edges[0], edges[-1]

    def x(v: float) -> float:
        return ML + (W - ML - MR) * (v - lo) / (hi - lo)

    def y(s: float) -> float:
        return MT + (H - MT - MB) * (1 - s / ymax)

    bars = "".join(
        f"<rect x='{x(a) + 0.5:.1f}' y='{y(s):.1f}' width='{max(x(b) - x(a) - 1, 0.5):.1f}' "
        f"height='{y(0) - y(s):.1f}' fill='{REF_COLOUR}' fill-opacity='.4'/>"
        for a, b, s in zip(edges, edges[1:], ref, strict=False)
    )
    path = [f"M{x(lo):.1f},{y(0):.1f}"]
    for a, b, s in zip(edges, edges[1:], cur, strict=False):
        path.append(f"L{x(a):.1f},{y(s):.1f}L{x(b):.1f},{y(s):.1f}")
    path.append(f"L{x(hi):.1f},{y(0):.1f}Z")
    step = "".join(path)
    current = (
        f"<path d='{step}' fill='{CUR_COLOUR}' fill-opacity='.1' stroke='{CUR_COLOUR}' "
        "stroke-width='2' stroke-linejoin='round'/>"
    )
    ticks = "".join(
        f"<line x1='{x(v):.1f}' x2='{x(v):.1f}' y1='{H - MB}' y2='{H - MB + 4}' stroke='#9ca3af'/>"
        f"<text x='{x(v):.1f}' y='{H - MB + 17}' text-anchor='middle'>{fmt(v)}</text>"
        for v in _ticks(lo, hi)
    )
    return _svg(_axes(ymax) + bars + current + _baseline() + ticks, feature.name)


def _categorical_svg(feature: FeatureResult) -> str:
    cats = list(feature.histogram.get("categories") or feature.reference)
    if not cats:
        return _empty_svg()
    ref = [float(feature.reference.get(c) or 0.0) for c in cats]
    cur = [float(feature.current.get(c) or 0.0) for c in cats]
    ymax = max(max(ref), max(cur), 1e-9) * 1.15
    slot = (W - ML - MR) / len(cats)
    bar = min(slot * 0.36, 60)

    def y(s: float) -> float:
        return MT + (H - MT - MB) * (1 - s / ymax)

    parts = [_axes(ymax)]
    for i, (c, r, k) in enumerate(zip(cats, ref, cur, strict=True)):
        mid = ML + slot * (i + 0.5)
        for offset, share, colour in ((-bar - 1, r, REF_COLOUR), (1, k, CUR_COLOUR)):
            parts.append(
                f"<rect x='{mid + offset:.1f}' y='{y(share):.1f}' width='{bar:.1f}' "
                f"height='{y(0) - y(share):.1f}' rx='2' fill='{colour}' fill-opacity='.85'/>"
            )
        label = escape(c if len(c) <= 18 else c[:17] + "…")
        unseen = " *" if c in feature.unseen else ""
        parts.append(
            f"<text x='{mid:.1f}' y='{H - MB + 16}' text-anchor='middle'>{label}{unseen}</text>"
        )
    return _svg("".join(parts) + _baseline(), feature.name)


def _baseline() -> str:
    return f"<line x1='{ML}' x2='{W - MR}' y1='{H - MB}' y2='{H - MB}' stroke='#9ca3af'/>"


def _svg(body: str, name: str) -> str:
    return (
        f"<svg viewBox='0 0 {W} {H}' width='100%' role='img' "
        f"aria-label='distributions of {escape(name)}' xmlns='http://www.w3.org/2000/svg'>"
        f"{body}</svg>"
    )


def _empty_svg() -> str:
    return _svg(
        f"<text x='{W / 2}' y='{H / 2}' text-anchor='middle'>no values to draw</text>", "none"
    )


def _method_note(report: DriftReport) -> str:
    how = (
        "KS and Wasserstein on the raw samples (exact)"
        if report.exact
        else "KS and Wasserstein on the reference's fine quantile bins (± error bound shown)"
    )
    return (
        f"A feature drifts when its test (KS for numeric, chi-squared for categorical) is "
        f"significant at alpha {report.alpha} after {report.correction} correction across "
        f"features AND at least one effect size reaches its threshold. {how}. "
        "Wasserstein is in reference standard deviations; PSI uses the reference deciles."
    )
