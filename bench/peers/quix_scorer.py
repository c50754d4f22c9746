"""The scoring job as a Quix Streams application: the peer streamscore is measured against.

Runs in its own virtualenv (`bench/peers/.venv`, made by `peers_bench.py`: quixstreams
pins its own confluent-kafka) with streamscore installed beside it, so both sides call
the same validation (`core.validation.parse_event`), the same model and the same record
building (`core.scoring.BatchScorer`) and encode with the same msgspec encoder. What the
benchmark compares is then only the streaming layer: how records come in, are grouped,
go out and are committed.

Two forms:

per-message  the form the Quix docs show for ML inference: a StreamingDataFrame whose
             `apply` scores one message at a time (a one-row model call), branches to
             the dead-letter, prediction and log topics with `to_topic`.
batching     Quix's batching form, a `BatchingSink`: Quix hands the sink each
             partition's records at every checkpoint, and the sink scores them with one
             model call. Quix sinks write to external systems outside the Kafka
             transaction; here the sink produces through the application's own
             producer (a private attribute, `app._producer`), so under exactly-once its
             outputs join the checkpoint's transaction (Quix flushes sinks before it
             commits). Without that the batching form could only be at-least-once.

    bench/peers/.venv/bin/python bench/peers/quix_scorer.py SETTINGS.json \
        --group G --form batching --guarantee exactly-once
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from quixstreams import Application, message_context
from quixstreams.models.serializers import Serializer
from quixstreams.sinks import BatchingSink, SinkBatch

from core.kafka.dead_letter import dead_letter
from core.registry import ModelRegistry
from core.schemas import CONTRACT_HEADER, CONTRACT_VERSION
from core.scoring import BatchScorer, LoadedModel
from core.settings import Settings
from core.validation import InvalidEvent, parse_event

_ENCODE = msgspec.json.Encoder().encode
_HEADERS = [(CONTRACT_HEADER, CONTRACT_VERSION.encode())]


class _Prebuilt(Serializer):
    """The value is already the record's bytes (built and encoded by the scoring code)."""

    def __call__(self, value: Any, ctx: Any) -> bytes:
        return value[2]


class _Source:
    """What `dead_letter` needs of a consumed record, from Quix's message context."""

    def __init__(self, value: bytes, key: bytes | None, topic: str, partition: int, offset: int):
        self._value, self._key = value, key
        self._topic, self._partition, self._offset = topic, partition, offset

    def value(self) -> bytes:
        return self._value

    def key(self) -> bytes | None:
        return self._key

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset


class Job:
    """The scoring job on a list of raw records: the outputs as (topic, key, bytes, headers)."""

    def __init__(self, settings: Settings) -> None:
        registry = ModelRegistry(settings.registry.path)
        name = settings.registry.model_name
        version = registry.production_version(name)
        if version is None:
            raise SystemExit(f"no production version of {name}")
        self.loaded = LoadedModel.load(registry, name, version)
        self.scorer = BatchScorer("quix-scorer", settings.logging.pii_fields)
        self.topics = settings.topics
        self.max_bytes = settings.validation.max_event_bytes

    def outputs(self, records: list[_Source]) -> list[tuple[str, bytes | None, bytes, Any]]:
        started = time.perf_counter()
        now = datetime.now(UTC)
        out: list[tuple[str, bytes | None, bytes, Any]] = []
        ids, events, keys = [], [], []
        for r in records:
            try:
                event = parse_event(r.value(), self.max_bytes)
            except InvalidEvent as exc:
                dl = dead_letter(r, self.topics.dlq, exc.error_type, str(exc))  # type: ignore[arg-type]
                out.append((dl.topic, dl.key, dl.value, dl.headers))
                continue
            ids.append(event.get("event_id") or f"{r.topic()}:{r.partition()}:{r.offset()}")
            events.append(event)
            keys.append(event["customer_id"].encode())
        scored = self.scorer.score(self.loaded, ids, events, now=now, started=started)
        for one, key in zip(scored, keys, strict=True):
            out.append((self.topics.predictions, key, _ENCODE(one.prediction), _HEADERS))
            out.append((self.topics.logs, key, _ENCODE(one.log), _HEADERS))
        return out


def per_message(app: Application, job: Job) -> None:
    source = app.topic(job.topics.events, value_deserializer="bytes", key_deserializer="bytes")
    targets = {
        t: app.topic(t, value_serializer=_Prebuilt(), key_serializer="bytes")
        for t in (job.topics.predictions, job.topics.logs, job.topics.dlq)
    }

    def score_one(value: bytes, key: bytes | None, _ts: int, _headers: Any) -> Iterator[Any]:
        ctx = message_context()
        return iter(job.outputs([_Source(value, key, ctx.topic, ctx.partition, ctx.offset)]))

    sdf = app.dataframe(source)
    sdf = sdf.apply(score_one, metadata=True, expand=True)
    sdf = sdf.set_headers(lambda value, _key, _ts, _headers: value[3])
    sdf.to_topic(lambda value, *_: targets[value[0]], key=lambda value: value[1])


class ScoringSink(BatchingSink):
    """Scores each partition's batch with one model call and produces the outputs through
    the application's producer (inside its transaction under exactly-once)."""

    def __init__(self, app: Application, job: Job) -> None:
        super().__init__()
        self._app, self._job = app, job

    def write(self, batch: SinkBatch) -> None:
        records = [
            _Source(item.value, item.key, batch.topic, batch.partition, item.offset)
            for item in batch
        ]
        produce = self._app._producer.produce  # no public handle on the app's producer
        for topic, key, value, headers in self._job.outputs(records):
            produce(topic, value=value, key=key, headers=headers)


def batching(app: Application, job: Job) -> None:
    source = app.topic(job.topics.events, value_deserializer="bytes", key_deserializer="bytes")
    app.dataframe(source).sink(ScoringSink(app, job))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("settings", type=Path)
    p.add_argument("--group", required=True)
    p.add_argument("--form", choices=["per-message", "batching"], required=True)
    p.add_argument("--guarantee", choices=["exactly-once", "at-least-once"], required=True)
    p.add_argument(
        "--commit-interval",
        type=float,
        default=None,
        help="seconds between checkpoints (Quix's default is 5.0; see peers_bench.py)",
    )
    p.add_argument("--commit-every", type=int, default=0, help="checkpoint after N messages")
    args = p.parse_args()
    settings = Settings(**json.loads(args.settings.read_text()))
    job = Job(settings)
    app = Application(
        broker_address=settings.kafka.bootstrap_servers,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        processing_guarantee=args.guarantee,
        commit_interval=args.commit_interval if args.commit_interval is not None else 5.0,
        commit_every=args.commit_every,
        auto_create_topics=False,
        use_changelog_topics=False,
        state_dir=str(settings.state_dir / f"quix-{args.group}"),
        loglevel="WARNING",
        producer_extra_config={"linger.ms": 5, "compression.type": "lz4"},
    )
    {"per-message": per_message, "batching": batching}[args.form](app, job)
    signal.signal(signal.SIGTERM, lambda *_: app.stop())
    app.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
