"""`--since` / `--until` as people write them: an RFC 3339 time, a date, or a span back
from now (`90m`, `2h`, `7d`), always ending as an aware UTC instant."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from core.errors import StreamscoreError

_SPAN: Final = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$")
_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class InvalidTime(StreamscoreError):
    """A time option that is neither a time, a date nor a span."""

    hint = "give an RFC 3339 time (2026-12-01T12:00:00Z), a date (2026-12-01) or a span (2h, 7d)"


def parse_time(text: str, now: datetime) -> datetime:
    """The instant `text` names; a time without a zone is taken as UTC.

    >>> now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    >>> parse_time("90m", now).isoformat()
    '2026-12-01T10:30:00+00:00'
    >>> parse_time("2026-11-30", now).isoformat()
    '2026-11-30T00:00:00+00:00'
    >>> parse_time("2026-12-01T13:00:00+01:00", now).isoformat()
    '2026-12-01T12:00:00+00:00'
    """
    value = text.strip().lower()
    if value == "now":
        return now
    span = _SPAN.match(value)
    if span:
        return now - timedelta(seconds=float(span.group(1)) * _UNITS[span.group(2)])
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidTime(f"{text!r} is not a time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class TimeRange:
    """`since` inclusive, `until` exclusive; None leaves that side open."""

    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def parse(cls, since: str | None, until: str | None, now: datetime) -> TimeRange:
        """Both options at once, so a range that ends before it starts is one error."""
        start = parse_time(since, now) if since is not None else None
        end = parse_time(until, now) if until is not None else None
        if start is not None and end is not None and end <= start:
            raise InvalidTime(
                f"--until ({end.isoformat()}) is not after --since ({start.isoformat()})"
            )
        return cls(start, end)

    def __contains__(self, at: datetime) -> bool:
        return (self.since is None or at >= self.since) and (self.until is None or at < self.until)
