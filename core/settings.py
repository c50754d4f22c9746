"""One settings object for every streamscore process.

Sources, highest precedence first: keyword arguments, `STREAMSCORE_*` environment
variables (nested sections with `__`, e.g. `STREAMSCORE_SCORER__BATCH_SIZE=1000`), then an
optional TOML file named by `--config` or `STREAMSCORE_CONFIG`. Unknown keys are errors:
a typo must fail at start-up, not silently fall back to a default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from core.consumer_config import ConsumerConfig
from core.dead_letters.config import DeadLetterConfig
from core.drift.config import DriftConfig
from core.errors import ConfigError
from core.performance.config import PerformanceConfig
from core.registry.config import RegistryConfig
from core.retraining.config import RetrainConfig
from core.settings_defaults import (
    API_HOST,
    API_PORT,
    API_WORKERS,
    SCORER_BATCH_SIZE,
    SCORER_DELIVERY,
    Delivery,
)

_NOT_SETTINGS = frozenset({"STREAMSCORE_CONFIG", "STREAMSCORE_KAFKA_LIBS"})
"""Environment variables with the prefix that are read elsewhere, not settings."""
_SECRET_MARKERS = ("password", "secret", "token", "key", "credential", "jaas")
MOVED: dict[str, str] = {
    "scorer.model_poll_s": "registry.poll_s",
    "scorer.max_event_bytes": "validation.max_event_bytes",
    "scorer.pii_fields": "logging.pii_fields",
}
"""Settings renamed in 0.2: a config that still uses the old name is told the new one."""
_config_file: ContextVar[Path | None] = ContextVar("streamscore_config_file", default=None)


class KafkaConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bootstrap_servers: str | None = None
    """Broker list. Unset: `KAFKA_BOOTSTRAP_SERVERS`, else the running local broker."""

    client: dict[str, str | SecretStr] = Field(default_factory=dict)
    """librdkafka options passed to every client as they are, e.g. `security.protocol`,
    `sasl.mechanism`, `sasl.username`, `sasl.password`, `ssl.ca.location`. Values of
    secret-looking keys (`*password*`, `*secret*`, ...) are held as `SecretStr`: masked in
    every repr and dump, revealed only to librdkafka (`client_options`)."""

    partitions: int = Field(default=6, ge=1)
    """Partitions of the input topic (and of topics keyed like it)."""

    replication_factor: int = Field(default=1, ge=1)

    timeout_s: float = Field(default=10.0, gt=0)
    """How long admin and metadata calls wait for the broker before giving up."""

    @field_validator("client")
    @classmethod
    def _no_bootstrap_in_client(cls, value: dict[str, str]) -> dict[str, str]:
        if "bootstrap.servers" in value:
            raise ValueError("set kafka.bootstrap_servers instead of client['bootstrap.servers']")
        return value

    @field_validator("client", mode="after")
    @classmethod
    def _hold_secrets(cls, value: dict[str, str | SecretStr]) -> dict[str, str | SecretStr]:
        return {
            k: SecretStr(v) if isinstance(v, str) and is_secret_option(k) else v
            for k, v in value.items()
        }

    def client_options(self) -> dict[str, str]:
        """The options as librdkafka needs them, secrets revealed: for client configs only."""
        return {
            k: v.get_secret_value() if isinstance(v, SecretStr) else v
            for k, v in self.client.items()
        }

    def secret_values(self) -> list[str]:
        """The secret option values, so a message that might echo one can be scrubbed."""
        return [v for k, v in self.client_options().items() if is_secret_option(k) and v]

    def redacted_client(self) -> dict[str, str]:
        """Client options safe to log or print: secret-looking values masked."""
        return {k: ("***" if is_secret_option(k) else v) for k, v in self.client_options().items()}


def is_secret_option(key: str) -> bool:
    """Whether a client option's value must never be shown (`sasl.password`, ...)."""
    return any(m in key.lower() for m in _SECRET_MARKERS)


class TopicsConfig(BaseModel):
    """Topic names: the product's API (see README, "Topic contract")."""

    model_config = ConfigDict(extra="forbid")

    events: str = "customer-events"
    predictions: str = "churn-predictions"
    logs: str = "prediction-logs"
    dlq: str = "customer-events-dlq"
    alerts: str = "drift-alerts"
    performance_alerts: str = "performance-alerts"
    """The performance monitor's alerts (observed accuracy or AUC below its threshold)."""
    retrain_decisions: str = "retrain-decisions"
    """One record per retrainer decision: skipped, rejected, trained or promoted."""
    model_events: str = "model-events"
    outcomes: str = "customer-outcomes"
    drift_windows: str = "drift-windows"
    """One record per closed and judged drift window: verdict, events, offsets covered."""
    drift_state: str = "streamscore-drift-state"
    """Internal: the drift watchers' window checkpoints (compacted, one key per input
    partition) and their judge's (one key per group)."""
    performance: str = "model-performance"
    """One record per closed performance window and model version (`streamscore monitor`)."""
    monitor_state: str = "streamscore-monitor-state"
    """Internal: the performance monitor's checkpoints (compacted, one key per partition)."""
    drift_partials: str = "streamscore-drift-partials"
    """Internal: drift watchers' window shares per input partition, for the one judge
    per group that merges them (docs/scaling.md)."""
    monitor_partials: str = "streamscore-monitor-partials"
    """Internal: performance monitors' window shares per input partition, for the judge."""

    def retrain_inputs(self, configured: list[str] | None) -> list[str]:
        """The retrainer's alert topics: `retrain.alert_topics`, else drift and performance
        alerts (resolved here, so renamed topics are followed)."""
        return list(configured) if configured else [self.alerts, self.performance_alerts]

    def all(self) -> list[str]:
        return [
            self.events,
            self.predictions,
            self.logs,
            self.dlq,
            self.alerts,
            self.performance_alerts,
            self.retrain_decisions,
            self.model_events,
            self.outcomes,
            self.drift_state,
            self.drift_windows,
            self.performance,
            self.monitor_state,
            self.drift_windows,
            self.drift_partials,
            self.monitor_partials,
        ]


class ScorerConfig(ConsumerConfig):
    model_config = ConfigDict(extra="forbid")

    group_id: str = "streamscore-scorer"
    batch_size: int = Field(default=SCORER_BATCH_SIZE, ge=1)
    """Largest micro-batch scored with one `predict_proba` call."""

    batch_timeout_ms: int = Field(default=50, ge=1)
    """Longest wait to fill a batch; bounds latency under light load."""

    delivery: Delivery = SCORER_DELIVERY
    """exactly-once uses Kafka transactions; at-least-once commits after delivery."""

    transactional_id_prefix: str = "streamscore-scorer"
    instance_id: str | None = None
    """Stable name of this replica (e.g. a StatefulSet pod name). The transactional id is
    `<prefix>-<instance_id>`, so a restarted replica fences its dead predecessor at once.
    Unset: host and pid, unique per process; a crashed process's open transaction then
    blocks read_committed readers until `transaction_timeout_ms` aborts it."""

    transaction_timeout_ms: int = Field(default=10000, ge=1000)
    overlap_commit: bool = False
    """Exactly-once: score the next batch while the last one's transaction commits (its
    outputs wait for that commit, so order and exactly-once hold). Off by default: on a
    2-CPU machine shared with the broker it bought neither throughput nor latency
    (docs/benchmarks.md); it may where the broker has CPUs of its own."""

    http_port: int = 8001
    """Port of `/health` and `/metrics`; 0 picks a free one."""


class ApiConfig(BaseModel):
    """`streamscore serve`: the HTTP scoring API (`api/`)."""

    model_config = ConfigDict(extra="forbid")

    host: str = API_HOST
    """Interface to listen on; `0.0.0.0` in a container, where probes come from outside."""

    port: int = Field(default=API_PORT, ge=0, le=65535)
    """Port of the API, its `/health`, `/metrics` and `/docs`; 0 picks a free one."""

    workers: int = Field(default=API_WORKERS, ge=1)
    """uvicorn worker processes. Each loads the model and batches its own requests, and
    `/metrics` reports the worker that answered."""

    max_batch: int = Field(default=1000, ge=1)
    """Most events one `POST /predict/batch` may carry; more is a 422."""

    batching: bool = True
    """Gather concurrent `POST /predict` calls into one model call. Off: each request is
    scored alone, as soon as it is validated."""

    max_wait_ms: float = Field(default=2.0, ge=0)
    """Longest a request waits for others to join its model call. A batch is scored
    sooner when it is full or when an event-loop turn brings no new request."""

    max_batch_size: int = Field(default=64, ge=1)
    """Most `POST /predict` requests gathered into one model call."""

    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    """Largest request body (of `/predict/batch`); larger is a 413 without reading it.
    One `/predict` body may be at most `validation.max_event_bytes`."""

    refresh_interval_s: float = Field(default=0.5, gt=0)
    """How often a background thread asks the production follower whether the version
    changed (it hears `model-events` at once and reads the registry every
    `registry.poll_s`); never on a request's path."""

    publish_logs: bool = True
    """Also send each prediction log to `topics.logs` when a broker is configured."""

    log_queue_max: int = Field(default=100_000, ge=1)
    """Prediction logs held for the broker at most; beyond it (a broker down for long)
    new ones are dropped and counted, and the API keeps answering."""

    graceful_timeout_s: float = Field(default=10.0, gt=0)
    """On SIGTERM, how long requests in flight may take to finish."""

    auth_token: SecretStr | None = Field(default=None, min_length=16)
    """Set: `POST /predict` and `/predict/batch` require it as `Authorization: Bearer
    <token>` or `X-API-Key: <token>` (401 otherwise); `/health`, `/metrics` and the docs
    stay open. At least 16 characters; pass it by environment
    (`STREAMSCORE_API__AUTH_TOKEN`) or a settings file only the server can read."""


class ValidationConfig(BaseModel):
    """Rules every reader of the input topic applies alike (scorer, drift watcher, HTTP
    API), so they agree on which events are valid."""

    model_config = ConfigDict(extra="forbid")

    max_event_bytes: int = Field(default=64 * 1024, ge=256)
    """Larger messages are invalid (`oversized_message`) and dead-lettered unparsed."""


class LoggingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pii_fields: list[str] = Field(
        default_factory=lambda: [
            "email",
            "phone",
            "ssn",
            "address",
            "name",
            "first_name",
            "last_name",
            "credit_card",
        ]
    )
    """Field names removed (case-insensitively, at any depth) from logged inputs."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"
    """auto: console renderer on a terminal, JSON lines otherwise."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="STREAMSCORE_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    kafka: KafkaConfig = Field(default_factory=KafkaConfig)
    topics: TopicsConfig = Field(default_factory=TopicsConfig)
    scorer: ScorerConfig = Field(default_factory=ScorerConfig)
    drift: DriftConfig = Field(default_factory=DriftConfig)
    monitor: PerformanceConfig = Field(default_factory=PerformanceConfig)
    retrain: RetrainConfig = Field(default_factory=RetrainConfig)
    registry: RegistryConfig = Field(default_factory=RegistryConfig)
    validation: ValidationConfig = Field(default_factory=ValidationConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    dlq: DeadLetterConfig = Field(default_factory=DeadLetterConfig)
    state_dir: Path = Path(".streamscore")
    """Where the local broker, reports and other local state live."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _config_file.get()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


def load_settings(config_file: Path | str | None = None, **overrides: object) -> Settings:
    """Build the settings, turning validation problems into one readable `ConfigError`."""
    raw = config_file or os.environ.get("STREAMSCORE_CONFIG")
    path = Path(raw) if raw else None
    if path is not None and not path.is_file():
        raise ConfigError(f"settings file {path} does not exist")
    _reject_unknown_env(os.environ)
    token = _config_file.set(path)
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(_problem(err["loc"], err["msg"]) for err in exc.errors())
        raise ConfigError(f"invalid settings: {problems}") from None
    finally:
        _config_file.reset(token)


def _problem(loc: tuple[int | str, ...], message: str) -> str:
    where = ".".join(str(p) for p in loc) or "<root>"
    moved = MOVED.get(where)
    return f"{where}: renamed to {moved}" if moved else f"{where}: {message}"


def _reject_unknown_env(environ: Mapping[str, str]) -> None:
    """pydantic-settings ignores env vars that match no field; a typo must not be ignored."""
    unknown = []
    for name in environ:
        if not name.startswith("STREAMSCORE_") or name in _NOT_SETTINGS:
            continue
        section, _, key = name[len("STREAMSCORE_") :].lower().partition("__")
        moved = MOVED.get(f"{section}.{key}")
        if moved is not None:
            new = "STREAMSCORE_" + moved.upper().replace(".", "__")
            unknown.append(f"{name} (renamed to {new})")
            continue
        field = Settings.model_fields.get(section)
        if field is None:
            unknown.append(name)
            continue
        section_type = field.annotation
        if (
            key
            and isinstance(section_type, type)
            and issubclass(section_type, BaseModel)
            and key.split("__")[0] not in section_type.model_fields
        ):
            unknown.append(name)
    if unknown:
        raise ConfigError(f"unknown settings in the environment: {', '.join(sorted(unknown))}")
