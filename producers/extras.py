"""Optional extra fields on events: PII-like ones included, so sanitising is exercised.

The contract ignores extra fields, but the scorer logs its validated input and must strip
PII at any depth first. So half the events carry a name, an email and a channel, and one
in ten of those a nested `profile` with a phone number and an address. Drawn from their
own random stream: adding or changing extras never moves a feature or a label.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt

EXTRA_FIELDS_SHARE: Final = 0.5
"""Share of events carrying optional extra fields, PII-like ones included."""

NESTED_PII_SHARE: Final = 0.1
"""Share of events with PII nested one level down, to exercise deep sanitising."""

_EXTRAS_STREAM: Final = 3
_FIRST_NAMES: Final = ("Ana", "Ben", "Chloe", "Dev", "Elif", "Femi", "Goran", "Hana", "Ivan")
_LAST_NAMES: Final = ("Silva", "Okafor", "Novak", "Tanaka", "Berg", "Moreau", "Khan", "Lopez")
_CHANNELS: Final = ("web", "store", "phone", "partner")


def extra_fields(
    seed: int, index: npt.NDArray[np.int64], block_size: int
) -> list[dict[str, Any] | None]:
    """Extra fields per event of `index` (all in one block of `block_size`), or None."""
    out: list[dict[str, Any] | None] = [None] * len(index)
    if len(index) == 0:
        return out
    block = int(index[0]) // block_size
    rng = np.random.default_rng([seed, _EXTRAS_STREAM, block])
    picks = rng.random((block_size, 5))[index - block * block_size]
    has = picks[:, 0] < EXTRA_FIELDS_SHARE
    nested = picks[:, 1] < NESTED_PII_SHARE
    first = (picks[:, 2] * len(_FIRST_NAMES)).astype(int)
    last = (picks[:, 3] * len(_LAST_NAMES)).astype(int)
    channel = (picks[:, 4] * len(_CHANNELS)).astype(int)
    for row in np.flatnonzero(has).tolist():
        i = int(index[row])
        given, family = _FIRST_NAMES[first[row]], _LAST_NAMES[last[row]]
        extra: dict[str, Any] = {
            "name": f"{given} {family}",
            "email": f"{given.lower()}.{family.lower()}{i % 1000}@example.com",
            "channel": _CHANNELS[channel[row]],
        }
        if nested[row]:
            extra["profile"] = {"phone": f"+1-555-{i % 10_000:04d}", "address": "1 Main St"}
        out[row] = extra
    return out
