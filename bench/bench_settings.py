"""Settings of one benchmark run, handed to its pipeline subprocesses as a JSON file.

Every pipeline of a run reads the same input topic under its own consumer group and
writes its own output topics, so runs never see each other's records.
"""

from __future__ import annotations

import json
from pathlib import Path

from core.settings import Settings, TopicsConfig


def run_settings(
    bootstrap: str,
    *,
    run: str,
    events_topic: str,
    partitions: int,
    registry: Path,
    model_name: str,
    state_dir: Path,
) -> Settings:
    """Settings whose output topics, group and transactional id are unique to `run`."""
    defaults = TopicsConfig().model_dump()
    topics = TopicsConfig(
        **{name: f"bench-{value}-{run}" for name, value in defaults.items()},
    )
    topics = topics.model_copy(update={"events": events_topic})
    return Settings(
        kafka={"bootstrap_servers": bootstrap, "partitions": partitions},
        topics=topics,
        scorer={
            "group_id": f"bench-scorer-{run}",
            "transactional_id_prefix": f"bench-scorer-{run}",
            "instance_id": "0",
            "http_port": 0,
        },
        registry={"path": registry, "model_name": model_name},
        state_dir=state_dir,
    )


def write_settings(settings: Settings, path: Path) -> Path:
    path.write_text(settings.model_dump_json())
    return path


def read_settings(path: Path | str) -> Settings:
    return Settings(**json.loads(Path(path).read_text()))


Override = tuple[str, str]


def parse_overrides(text: str) -> list[Override]:
    """`scorer.batch_timeout_ms=10,scorer.batch_size=2000` -> pairs (an argparse type).

    A benchmark variant is the scorer as it is with other settings: every option a
    benchmark compares is a real setting, never a patch of the code.
    """
    pairs: list[Override] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        key, sep, value = part.partition("=")
        section, dot, name = key.partition(".")
        if not (sep and dot and name) or section not in Settings.model_fields:
            raise ValueError(f"expected SECTION.KEY=VALUE, got {part!r}")
        pairs.append((key, value))
    if not pairs:
        raise ValueError("no SECTION.KEY=VALUE given")
    return pairs


def apply_overrides(settings: Settings, overrides: list[Override]) -> Settings:
    """The settings with each `section.key` replaced; values are JSON, else strings."""
    data = settings.model_dump()
    for key, raw in overrides:
        section, name = key.split(".", 1)
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        data[section][name] = value
    return Settings(**data)
