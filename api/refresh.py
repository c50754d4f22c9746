"""The background thread that keeps the served version current, off the request path.

Loading a version (unpickling, checksum, warm-up) takes tens to hundreds of
milliseconds; done on the event loop it would stall every request in flight. This
thread calls `follower.refresh()` every `api.refresh_interval_s` (the follower itself
decides when to read the registry), and serves the log producer's delivery reports.
The swap is one reference assignment inside the follower; the event loop reads
`follower.current` once per batch, so a batch is scored by one version, and a request
in flight during a swap is answered by the old or the new one, never dropped.

After each load the heap is frozen (`gc.freeze`): the tens of thousands of long-lived
objects of scikit-learn, pandas and the model otherwise sit in the oldest generation,
and every full collection walks them while requests wait. On the 2-CPU bench machine
that was the p99 at 64 concurrent requests: about 100 ms unfrozen, about 20 ms frozen
(`bench/rest_bench.py`). Only a swap's cyclic garbage can stay behind, once per version.
"""

from __future__ import annotations

import gc
import threading

import structlog

from api.log_publisher import LogPublisher
from api.metrics import ApiMetrics
from core.follower import ProductionFollower
from core.scoring import LoadedModel


class Refresher:
    def __init__(
        self,
        follower: ProductionFollower[LoadedModel],
        metrics: ApiMetrics,
        publisher: LogPublisher | None,
        interval_s: float,
    ) -> None:
        self._follower = follower
        self._metrics = metrics
        self._publisher = publisher
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="api-refresh", daemon=True)
        self._log = structlog.get_logger("api")

    def refresh_now(self) -> None:
        """One forced refresh (at start-up, before the first request is accepted)."""
        self._follower.refresh(force=True)
        self._publish_version()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(30)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                if self._follower.refresh():
                    self._publish_version()
                if self._publisher is not None:
                    self._publisher.serve(0)
            except Exception:  # a bad moment of the registry must not end the follower
                self._log.exception("refresh_failed")

    def _publish_version(self) -> None:
        gc.collect()
        gc.freeze()
        self._metrics.model_version.labels(self._follower.name).set(self._follower.version or 0)
