"""Whether an alert trains a challenger: one pure decision per alert, with its reason.

The checks run in this order, and the first that applies decides:

1. **already decided**: the alert id has a decision (the consumer looks it up in the
   registry's lineage), so a redelivered alert never trains twice: exactly once per
   alert whatever the consumer's offsets say;
2. **no champion**: nothing is in production, so there is nothing to retrain against;
3. **stale**: the alert is about a version older than production; the newer model
   already answered it, and its own drift watcher will speak for it;
4. **below severity**: the alert's severity is under `min_severity`;
5. **fold**: a training for this model is in flight; the alert joins it (its id is
   recorded with that training's lineage) instead of starting a second one on nearly
   the same data;
6. **cooldown**: the model was promoted less than `cooldown_s` ago;
7. otherwise **train**.

Staleness and severity come before folding so that an alert that would never train on
its own is not credited to a training it did not cause.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final, Protocol

from core.retraining.config import RetrainConfig

SEVERITY_RANK: Final = {"low": 0, "medium": 1, "high": 2}


class RetrainAlert(Protocol):
    """What the policy reads from an alert: `DriftAlert` and performance alerts alike."""

    @property
    def alert_id(self) -> str: ...
    @property
    def model_name(self) -> str: ...
    @property
    def model_version(self) -> int: ...
    @property
    def severity(self) -> str: ...


class Outcome(StrEnum):
    TRAIN = "train"
    FOLD = "fold"
    SKIP_DECIDED = "skip_decided"
    SKIP_NO_CHAMPION = "skip_no_champion"
    SKIP_STALE = "skip_stale"
    SKIP_SEVERITY = "skip_severity"
    SKIP_COOLDOWN = "skip_cooldown"

    @property
    def skipped(self) -> bool:
        return self not in (Outcome.TRAIN, Outcome.FOLD)


@dataclass(frozen=True)
class PolicyDecision:
    """What the policy made of one alert, and why (the reason is written for people)."""

    outcome: Outcome
    reason: str
    alert_id: str
    model_name: str
    alert_version: int
    production_version: int | None
    decided_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome.value,
            "reason": self.reason,
            "alert_id": self.alert_id,
            "model_name": self.model_name,
            "alert_version": self.alert_version,
            "production_version": self.production_version,
            "decided_at": self.decided_at.isoformat(),
        }


@dataclass(frozen=True)
class Promotion:
    version: int
    at: datetime


class RetrainPolicy:
    """Decides each alert; remembers the last promotion per model for the cooldown.

    >>> from datetime import datetime, UTC
    >>> from types import SimpleNamespace as Alert
    >>> policy = RetrainPolicy(RetrainConfig(cooldown_s=600))
    >>> now = datetime(2026, 1, 1, tzinfo=UTC)
    >>> a1 = Alert(alert_id="a1", model_name="churn", model_version=3, severity="high")
    >>> policy.decide(a1, production_version=3, now=now, in_flight=False).outcome.value
    'train'
    >>> policy.decide(a1, production_version=3, now=now, in_flight=False, decided={"a1"}).reason
    'alert a1 already has a decision'
    >>> policy.record_promotion("churn", 4, now)
    >>> a2 = Alert(alert_id="a2", model_name="churn", model_version=4, severity="high")
    >>> policy.decide(a2, production_version=4, now=now, in_flight=False).outcome.value
    'skip_cooldown'
    """

    def __init__(self, config: RetrainConfig) -> None:
        self.min_severity = config.min_severity
        self.cooldown = timedelta(seconds=config.cooldown_s)
        self.rejection_cooldown = timedelta(seconds=config.rejection_cooldown_s)
        self._reset()

    def _reset(self) -> None:
        self._promotions: dict[str, Promotion] = {}
        self._rejections: dict[str, datetime] = {}

    def decide(
        self,
        alert: RetrainAlert,
        *,
        production_version: int | None,
        now: datetime,
        in_flight: bool,
        decided: Container[str] = frozenset(),
    ) -> PolicyDecision:
        """The decision for one alert. `in_flight`: a training of this alert's model is
        running; `decided`: alert ids that already have a decision (any container)."""

        def decision(outcome: Outcome, reason: str) -> PolicyDecision:
            return PolicyDecision(
                outcome,
                reason,
                alert.alert_id,
                alert.model_name,
                alert.model_version,
                production_version,
                now,
            )

        if alert.alert_id in decided:
            return decision(Outcome.SKIP_DECIDED, f"alert {alert.alert_id} already has a decision")
        if production_version is None:
            return decision(
                Outcome.SKIP_NO_CHAMPION,
                f"model {alert.model_name!r} has no production version to retrain against",
            )
        if alert.model_version < production_version:
            return decision(
                Outcome.SKIP_STALE,
                f"alert is about version {alert.model_version}; version {production_version} "
                "is in production already",
            )
        rank = SEVERITY_RANK.get(alert.severity)
        if rank is None or rank < SEVERITY_RANK[self.min_severity]:
            return decision(
                Outcome.SKIP_SEVERITY,
                f"severity {alert.severity!r} is below the minimum {self.min_severity!r}",
            )
        if in_flight:
            return decision(Outcome.FOLD, "folded into the training in flight for this model")
        last = self._promotions.get(alert.model_name)
        if last is not None and now - last.at < self.cooldown:
            left = (self.cooldown - (now - last.at)).total_seconds()
            return decision(
                Outcome.SKIP_COOLDOWN,
                f"version {last.version} was promoted {(now - last.at).total_seconds():.0f} s "
                f"ago; cooling down for {left:.0f} s more",
            )
        rejected = self._rejections.get(alert.model_name)
        if rejected is not None and now - rejected < self.rejection_cooldown:
            left = (self.rejection_cooldown - (now - rejected)).total_seconds()
            return decision(
                Outcome.SKIP_COOLDOWN,
                f"a challenger was rejected {(now - rejected).total_seconds():.0f} s ago on "
                f"nearly the same data; cooling down for {left:.0f} s more",
            )
        return decision(
            Outcome.TRAIN, f"{alert.severity} alert on production version {production_version}"
        )

    def record_promotion(self, model_name: str, version: int, at: datetime) -> None:
        """A promotion starts the cooldown (call it for promotions by people too)."""
        last = self._promotions.get(model_name)
        if last is None or at >= last.at:
            self._promotions[model_name] = Promotion(version, at)

    def record_rejection(self, model_name: str, at: datetime) -> None:
        """A rejected challenger (or too few labels) starts the rejection cooldown."""
        last = self._rejections.get(model_name)
        if last is None or at >= last:
            self._rejections[model_name] = at

    def last_promotion(self, model_name: str) -> Promotion | None:
        return self._promotions.get(model_name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "promotions": {
                name: {"version": p.version, "at": p.at.isoformat()}
                for name, p in sorted(self._promotions.items())
            },
            "rejections": {name: at.isoformat() for name, at in sorted(self._rejections.items())},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], config: RetrainConfig) -> RetrainPolicy:
        policy = cls(config)
        for name, p in d.get("promotions", {}).items():
            policy._promotions[name] = Promotion(int(p["version"]), datetime.fromisoformat(p["at"]))
        for name, at in d.get("rejections", {}).items():
            policy._rejections[name] = datetime.fromisoformat(at)
        return policy
