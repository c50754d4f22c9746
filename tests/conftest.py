"""Fixtures that hand every integration test a real Apache Kafka broker.

One broker per test session, found in this order:
1. `KAFKA_BOOTSTRAP_SERVERS` when set, used as it is;
2. a testcontainers Kafka (KRaft) container when a Docker engine answers;
3. otherwise the project's own local KRaft broker (`core.kafka.local_broker`), started
   in a temporary folder and stopped when the session ends (what CI uses).
Each test gets its own topic names and group ids, so tests never see each other's data.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import structlog

from core.kafka.admin import ensure_topics
from core.kafka.local_broker import LocalBroker
from core.settings import Settings, TopicsConfig

KAFKA_IMAGE = "apache/kafka:4.1.1"


def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return (
            subprocess.run(
                ["docker", "info"], capture_output=True, timeout=10, check=False
            ).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    """Each test starts and ends with structlog's defaults (a CLI test configures it)."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from_env = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if from_env:
        yield from_env
        return
    if _docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer(KAFKA_IMAGE).with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    broker = LocalBroker(tmp_path_factory.mktemp("kafka-broker"))
    state = broker.start()
    try:
        yield state.bootstrap
    finally:
        broker.stop()


@pytest.fixture
def unique() -> str:
    """A short random suffix for names that must not collide across tests."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def settings(kafka_bootstrap: str, tmp_path: Path, unique: str) -> Settings:
    """Settings for one test: the session's broker, fresh topics, groups and folders."""
    defaults = TopicsConfig()
    topics = TopicsConfig(
        **{name: f"{value}-{unique}" for name, value in defaults.model_dump().items()}
    )
    s = Settings(
        kafka={"bootstrap_servers": kafka_bootstrap, "partitions": 3},
        topics=topics,
        scorer={
            "group_id": f"scorer-{unique}",
            "transactional_id_prefix": f"scorer-{unique}",
            "http_port": 0,
        },
        drift={"group_id": f"drift-{unique}", "http_port": 0},
        monitor={"group_id": f"monitor-{unique}", "http_port": 0},
        retrain={"group_id": f"retrain-{unique}", "http_port": 0},
        dlq={"group_id": f"dlq-{unique}"},
        registry={"path": tmp_path / "registry"},
        state_dir=tmp_path / "state",
    )
    ensure_topics(s)
    return s


@pytest.fixture
def register_model(settings: Settings) -> Callable[..., int]:
    """Train a small churn model on generated data, register it, optionally promote it."""
    from tests.models import train_and_register

    def _register(
        kind: str = "logistic", seed: int = 7, rows: int = 4000, promote: bool = True
    ) -> int:
        return train_and_register(
            settings.registry.path, seed=seed, rows=rows, kind=kind, promote=promote
        )

    return _register
