"""The settings defaults and choices that `--help` texts quote, as plain values.

The settings sections take these defaults from here, so a help text and the setting
cannot disagree, and a parser can quote them without importing pydantic and building the
settings models: a tenth of a second that `streamscore --help` should not spend. Every
other default stays with its field.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

SCORER_BATCH_SIZE: Final = 5000
"""`scorer.batch_size` (`score --batch-size`)."""
Delivery = Literal["exactly-once", "at-least-once"]
"""What a consumer's commit guarantees: Kafka transactions, or a commit after delivery."""
DELIVERIES: Final[tuple[Delivery, ...]] = get_args(Delivery)
"""The `Delivery` values as a tuple (`score --delivery` choices), in the Literal's order."""
SCORER_DELIVERY: Final[Delivery] = "exactly-once"
"""`scorer.delivery` (`score --delivery`)."""

API_HOST: Final = "127.0.0.1"
"""`api.host` (`serve --host`)."""
API_PORT: Final = 8000
"""`api.port` (`serve --port`)."""
API_WORKERS: Final = 1
"""`api.workers` (`serve --workers`)."""

MONITOR_METRIC: Final = "roc_auc"
"""`monitor.metric` (`monitor --metric`); core/performance/config.py says why."""
MONITOR_FLOOR: Final = 0.70
"""`monitor.floor` (`monitor --floor`)."""
MONITOR_MARGIN: Final = 0.05
"""`monitor.margin` (`monitor --margin`)."""
MONITOR_WINDOW_SECONDS: Final = 300.0
"""`monitor.window_seconds` (`monitor --window-seconds`)."""
MONITOR_LABEL_DELAY_S: Final = 300.0
"""`monitor.label_delay_s` (`monitor --label-delay`)."""
