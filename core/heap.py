"""How a batch consumer keeps CPython's cyclic garbage collector off its hot path.

A batch of tens of thousands of records keeps as many objects alive until it is
committed (the client's messages, the decoded rows). They outlive two young
collections, so each batch promotes them into the oldest generation, and CPython runs
a full collection whenever the objects promoted since the last one exceed a quarter of
those already there: about twice per batch, each walking every long-lived object of
the libraries loaded (pydantic, scikit-learn, FastAPI) as well as the batch. In the
performance monitor that was 2.2-2.4 of its 7.7-8.5 CPU µs per record end to end
(`bench/monitor_threads.py --phases`).

Two remedies, both process-wide: freeze what is alive once start-up is done (it is
never garbage), and let a full collection wait for `FULL_COLLECTION_EVERY` collections
of the middle generation instead of CPython's 10. Reference counting still frees the
batch as soon as it is dropped; only garbage in reference cycles waits longer.
"""

from __future__ import annotations

import gc

FULL_COLLECTION_EVERY = 100
"""Middle-generation collections between two full ones (CPython's default: 10)."""


def freeze_heap() -> None:
    """Keep everything alive now out of every later collection."""
    gc.collect()
    gc.freeze()


def fewer_full_collections(every: int = FULL_COLLECTION_EVERY) -> None:
    """Full collections at most once per `every` middle-generation ones (never more
    often than the process has already asked for)."""
    young, middle, full = gc.get_threshold()
    gc.set_threshold(young, middle, max(full, every))


YOUNG_COLLECTION_AFTER = 50_000
"""Net new tracked objects between two young collections (CPython's default: 700)."""


def rarer_young_collections(after: int = YOUNG_COLLECTION_AFTER) -> None:
    """Young collections only once `after` more objects are alive than at the last one.

    A scorer batch's per-event dicts die by reference counting within the batch, so the
    count of live objects rises by a batch's outputs only; at CPython's 700 every batch
    set off thousands of young and hundreds of middle collections, each walking the
    outputs still waiting for their commit: 2.0 of the handler's 10 µs per event
    (GC time by `gc.callbacks`, 5,000-event batches), 0.02 after.
    """
    young, middle, full = gc.get_threshold()
    gc.set_threshold(max(young, after), middle, full)
