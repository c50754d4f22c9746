"""Topic creation and broker reachability: the contract's topics, made idempotently."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from core.kafka.config import client_config
from core.kafka.exceptions import BrokerUnreachable, TopicError
from core.settings import Settings


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str]


@dataclass(frozen=True)
class TopicResult:
    name: str
    partitions: int
    outcome: Literal["created", "exists"]


def contract_topics(settings: Settings) -> list[TopicSpec]:
    """Every topic of the contract, partitioned like the input where keyed like it."""
    t, n = settings.topics, settings.kafka.partitions
    keyed = [t.events, t.predictions, t.logs, t.dlq, t.outcomes, t.performance]
    specs = [TopicSpec(name, n, {}) for name in keyed]
    # Transitions must be seen in order by every scorer: one partition, kept compacted
    # per model so a new scorer learns the latest state.
    specs.append(TopicSpec(t.model_events, 1, {"cleanup.policy": "compact,delete"}))
    # Alerts and retrain decisions are few and read in order by one retrainer.
    specs += [TopicSpec(name, 1, {}) for name in (t.alerts, t.performance_alerts)]
    specs.append(TopicSpec(t.drift_windows, 1, {}))
    specs.append(TopicSpec(t.retrain_decisions, 1, {}))
    # Checkpoints (core.kafka.changelog): state kept per input partition lives on the
    # changelog partition of the same number, so it is partitioned like the input.
    specs.append(TopicSpec(t.drift_state, n, {"cleanup.policy": "compact"}))
    specs.append(TopicSpec(t.monitor_state, n, {"cleanup.policy": "compact"}))
    return specs


class NotCoPartitioned(TopicError):
    """Two topics joined by key have different partition counts."""

    hint = (
        "create both topics with kafka.partitions partitions (`streamscore topics create`); "
        "a join by key needs the same partition count on both"
    )


def require_copartitioned(settings: Settings, topics: list[str]) -> int:
    """The common partition count of `topics`, or one clear error: a key's records must
    land on the same partition number in each, or a partition-local join misses pairs."""
    admin = check_reachable(settings)
    try:
        metadata = admin.list_topics(timeout=settings.kafka.timeout_s)
    except KafkaException as exc:
        raise TopicError(f"could not list topics: {_reason(exc)}") from None
    counts = {}
    for name in topics:
        topic = metadata.topics.get(name)
        if topic is None or topic.error is not None:
            raise TopicError(f"topic {name} does not exist (`streamscore topics create` makes it)")
        counts[name] = len(topic.partitions)
    if len(set(counts.values())) > 1:
        described = " and ".join(f"{n} has {c}" for n, c in counts.items())
        raise NotCoPartitioned(f"cannot join by key: {described} partitions")
    return next(iter(counts.values()))


def admin_client(settings: Settings) -> AdminClient:
    return AdminClient(client_config(settings))


def check_reachable(settings: Settings, timeout_s: float | None = None) -> AdminClient:
    """An admin client for a broker that answered a metadata request, or a clear error."""
    config = client_config(settings)
    admin = AdminClient(config)
    try:
        metadata = admin.list_topics(timeout=timeout_s or settings.kafka.timeout_s)
    except KafkaException as exc:
        raise BrokerUnreachable(config["bootstrap.servers"], _reason(exc)) from None
    if not metadata.brokers:
        raise BrokerUnreachable(config["bootstrap.servers"], "no brokers in metadata")
    return admin


def ensure_topics(settings: Settings, specs: list[TopicSpec] | None = None) -> list[TopicResult]:
    """Create missing topics; existing ones are left as they are and reported."""
    admin = check_reachable(settings)
    specs = specs if specs is not None else contract_topics(settings)
    futures = admin.create_topics(
        [
            NewTopic(
                s.name,
                num_partitions=s.partitions,
                replication_factor=settings.kafka.replication_factor,
                config=s.config,
            )
            for s in specs
        ],
        operation_timeout=settings.kafka.timeout_s,
        request_timeout=settings.kafka.timeout_s,
    )
    results = []
    for spec in specs:
        try:
            futures[spec.name].result()
            results.append(TopicResult(spec.name, spec.partitions, "created"))
        except KafkaException as exc:
            if exc.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
                results.append(TopicResult(spec.name, spec.partitions, "exists"))
            else:
                raise TopicError(f"could not create topic {spec.name}: {_reason(exc)}") from None
    created = [r.name for r in results if r.outcome == "created"]
    if created:
        _wait_for_leaders(admin, created, settings.kafka.timeout_s)
    return results


def _wait_for_leaders(admin: AdminClient, names: list[str], timeout_s: float) -> None:
    """Until every partition of the new topics has a leader (or `timeout_s` passes).

    A topic is created before its partitions have leaders; a reader that asks for its
    offsets at once gets NOT_LEADER_FOR_PARTITION (a retriable error, but one that
    consumers restoring state at start-up, like the drift watcher's and retrainer's,
    would otherwise have to retry each on their own).
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            topics = admin.list_topics(timeout=timeout_s).topics
        except KafkaException:
            time.sleep(0.1)
            continue
        if all(
            name in topics
            and topics[name].partitions
            and all(p.leader >= 0 and p.error is None for p in topics[name].partitions.values())
            for name in names
        ):
            return
        time.sleep(0.1)


def _reason(exc: KafkaException) -> str:
    err = exc.args[0] if exc.args else None
    return err.str() if isinstance(err, KafkaError) else str(exc)
