"""State as checkpoint bytes: compact JSON, zlib-compressed.

One codec for every checkpoint (drift windows, performance windows, metric states, the
join buffer). JSON keeps a checkpoint readable with standard tools and stable across
library versions; zlib brings histograms' zeros down to a few kilobytes.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from core.errors import StreamscoreError


def pack(value: dict[str, Any], level: int = 6) -> bytes:
    """`level` 1 for state written every batch where speed matters more than size."""
    return zlib.compress(json.dumps(value, separators=(",", ":")).encode(), level)


def unpack(data: bytes, error: type[StreamscoreError], what: str) -> dict[str, Any]:
    """The packed dict, or `error` saying which `what` could not be read."""
    try:
        value = json.loads(zlib.decompress(data))
    except (zlib.error, ValueError) as exc:
        raise error(f"{what} is unreadable: {exc}") from None
    if not isinstance(value, dict):
        raise error(f"{what} is unreadable: not a JSON object")
    return value
