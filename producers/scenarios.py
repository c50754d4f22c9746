"""Drift scenarios: declarative changes to the churn process, each from a start point on.

A scenario is data, not code: the generator (`producers.generator`) reads it and applies
it to the rows whose event index is at or past its start. Keeping them declarative lets
the CLI build them from a preset name (`concept@5000`, `charges-up@30s`) or from a small
TOML/JSON file, and lets tests check that each one changes what it names and nothing else.

Four kinds, combinable in any number:

- `FeatureShift`: a numeric feature becomes `x * scale + shift` (covariate shift: the
  churn relation P(churn | features) is unchanged, so labels follow the new features).
- `ContractMix`: contract types are drawn with new weights; each contract's customers
  look as before (tenure given contract is unchanged).
- `NewCategory`: a fraction of customers get a contract type the model has never seen.
  Under contract v1 such events are dead-lettered by the scorer; the scenario exists so
  the unseen-category path is exercised end to end.
- `ConceptDrift`: the churn relation moves towards a different one while every feature
  stays exactly as it was.

A start is an event index (`start_event`) or a number of seconds on the generator's event
clock (`start_s`, converted with its `events_per_second`); the later of the two applies.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from core.errors import StreamscoreError
from core.features import CONTRACT_TYPES, NUMERIC_FEATURES


class ScenarioError(StreamscoreError):
    """A scenario name, parameter or file is not understood."""

    hint = (
        "use a preset name such as 'concept@5000' or 'charges-up@30s', or a TOML/JSON "
        "file with [[scenario]] tables (see docs/producers.md)"
    )


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """Common start point of every scenario; subclasses say what changes."""

    start_event: int = 0
    """First event index the scenario applies to."""

    start_s: float | None = None
    """Seconds on the event clock after which it applies (the later start wins)."""

    def __post_init__(self) -> None:
        if self.start_event < 0:
            raise ScenarioError(f"start_event must be >= 0, got {self.start_event}")
        if self.start_s is not None and not (self.start_s >= 0 and math.isfinite(self.start_s)):
            raise ScenarioError(f"start_s must be a finite number >= 0, got {self.start_s}")

    def first_index(self, events_per_second: float) -> int:
        """The first event index this scenario applies to on a clock of that rate."""
        if self.start_s is None:
            return self.start_event
        return max(self.start_event, math.ceil(self.start_s * events_per_second))


@dataclass(frozen=True, kw_only=True)
class FeatureShift(Scenario):
    """Covariate shift of one numeric feature: `x * scale + shift`, clipped to the contract.

    Integer features are rounded; results are clipped to the `CustomerEvent` bounds so the
    events stay valid (a shift is drift, not corruption).
    """

    feature: str
    shift: float = 0.0
    scale: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.feature not in NUMERIC_FEATURES:
            raise ScenarioError(
                f"cannot shift {self.feature!r}: numeric features are {', '.join(NUMERIC_FEATURES)}"
            )
        if not (math.isfinite(self.shift) and math.isfinite(self.scale) and self.scale > 0):
            raise ScenarioError("shift must be finite and scale finite and > 0")


@dataclass(frozen=True, kw_only=True)
class ContractMix(Scenario):
    """New contract-type proportions (normalised); missing types get weight 0."""

    weights: Mapping[str, float]

    def __post_init__(self) -> None:
        super().__post_init__()
        unknown = set(self.weights) - set(CONTRACT_TYPES)
        if unknown:
            raise ScenarioError(
                f"unknown contract types {sorted(unknown)} in a contract mix; "
                "use 'new-category' for unseen ones"
            )
        values = list(self.weights.values())
        if any(not math.isfinite(w) or w < 0 for w in values) or sum(values) <= 0:
            raise ScenarioError("contract mix weights must be >= 0 and not all 0")

    def probabilities(self) -> tuple[float, ...]:
        """Weights in `CONTRACT_TYPES` order, summing to 1."""
        total = sum(self.weights.values())
        return tuple(self.weights.get(c, 0.0) / total for c in CONTRACT_TYPES)


@dataclass(frozen=True, kw_only=True)
class NewCategory(Scenario):
    """A `fraction` of customers get the unseen contract type `value`.

    They look like `like` customers (tenure given contract) and churn with `churn_effect`
    on the logit scale relative to month-to-month (one_year is -1.6, two_year -2.9).
    """

    value: str = "quarterly"
    fraction: float = 0.2
    like: str = "one_year"
    churn_effect: float = -0.8

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.value in CONTRACT_TYPES or not self.value:
            raise ScenarioError(f"new category {self.value!r} must differ from {CONTRACT_TYPES}")
        if self.like not in CONTRACT_TYPES:
            raise ScenarioError(f"'like' must be one of {CONTRACT_TYPES}, got {self.like!r}")
        if not 0 < self.fraction <= 1:
            raise ScenarioError(f"fraction must be in (0, 1], got {self.fraction}")


@dataclass(frozen=True, kw_only=True)
class ConceptDrift(Scenario):
    """The churn relation becomes `(1 - strength) * reference + strength * alternative`.

    The alternative is a competitor's loyalty offer: long contracts, long tenure and low
    charges now churn more. Features are untouched, so only labels change.
    """

    strength: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.strength <= 1:
            raise ScenarioError(f"strength must be in [0, 1], got {self.strength}")


_KINDS: dict[str, type[Scenario]] = {
    "shift": FeatureShift,
    "contract-mix": ContractMix,
    "new-category": NewCategory,
    "concept": ConceptDrift,
}

PRESETS: dict[str, Scenario] = {
    "charges-up": FeatureShift(feature="monthly_charges", scale=1.3, shift=5.0),
    "older": FeatureShift(feature="age", shift=12.0),
    "tenure-down": FeatureShift(feature="tenure_months", scale=0.5),
    "contract-mix": ContractMix(
        weights={"month-to-month": 0.8, "one_year": 0.12, "two_year": 0.08}
    ),
    "new-category": NewCategory(),
    "concept": ConceptDrift(),
}
"""What `--scenario NAME[@START]` means; START is an event index or seconds (`30s`)."""

_PRESET_SPEC = re.compile(r"^(?P<name>[a-z-]+)(?:@(?P<start>\d+(?:\.\d+)?)(?P<unit>s?))?$")


def parse_scenario(spec: str) -> list[Scenario]:
    """One `--scenario` value: a preset `NAME[@START]`, or a path to a TOML/JSON file."""
    match = _PRESET_SPEC.match(spec.strip())
    if match and match["name"] in PRESETS:
        preset = PRESETS[match["name"]]
        start = match["start"]
        if start is None:
            return [preset]
        if match["unit"] == "s":
            return [replace(preset, start_s=float(start))]
        if "." in start:
            raise ScenarioError(f"an event-index start must be a whole number: {spec!r}")
        return [replace(preset, start_event=int(start))]
    path = Path(spec)
    if path.suffix.lower() in (".toml", ".json") or path.is_file():
        return load_scenario_file(path)
    raise ScenarioError(f"unknown scenario {spec!r}; presets are {', '.join(sorted(PRESETS))}")


def parse_scenarios(specs: Iterable[str]) -> list[Scenario]:
    """Every `--scenario` value in order; commas separate several in one value."""
    out: list[Scenario] = []
    for spec in specs:
        for part in spec.split(","):
            if part.strip():
                out.extend(parse_scenario(part))
    return out


def load_scenario_file(path: Path) -> list[Scenario]:
    """Scenarios from `[[scenario]]` tables (TOML) or a `{"scenario": [...]}`/list (JSON)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario file {path}: {exc.strerror}") from None
    try:
        data: Any = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ScenarioError(f"scenario file {path} does not parse: {exc}") from None
    entries = data.get("scenario", []) if isinstance(data, dict) else data
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ScenarioError(f"scenario file {path} must hold a list of scenario tables")
    return [scenario_from_dict(entry) for entry in entries]


def scenario_from_dict(entry: Mapping[str, Any]) -> Scenario:
    """One table: `kind` names the scenario, the other keys are its parameters."""
    params = dict(entry)
    kind = params.pop("kind", None)
    if kind not in _KINDS:
        raise ScenarioError(f"scenario kind must be one of {', '.join(_KINDS)}, got {kind!r}")
    cls = _KINDS[kind]
    known = {f.name for f in fields(cls)}
    unknown = set(params) - known
    if unknown:
        raise ScenarioError(
            f"unknown parameters {sorted(unknown)} for {kind!r}; known: {sorted(known)}"
        )
    try:
        return cls(**params)
    except TypeError as exc:
        raise ScenarioError(f"scenario {kind!r}: {exc}") from None


def describe(scenarios: Sequence[Scenario]) -> list[dict[str, Any]]:
    """JSON-ready description, for reports and logs."""
    out = []
    for s in scenarios:
        kind = next(k for k, cls in _KINDS.items() if type(s) is cls)
        values = {f.name: getattr(s, f.name) for f in fields(s)}
        if isinstance(s, ContractMix):
            values["weights"] = dict(s.weights)
        out.append({"kind": kind, **values})
    return out


__all__ = [
    "PRESETS",
    "ConceptDrift",
    "ContractMix",
    "FeatureShift",
    "NewCategory",
    "Scenario",
    "ScenarioError",
    "describe",
    "load_scenario_file",
    "parse_scenario",
    "parse_scenarios",
    "scenario_from_dict",
]
