"""The local broker's checks that need no broker: missing tools and stale state."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.kafka.exceptions import MissingTool
from core.kafka.local_broker import LocalBroker


def test_missing_java_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingTool, match="Java") as err:
        LocalBroker(tmp_path / "home", libs=tmp_path / "libs").start()
    assert "openjdk-17" in err.value.hint


def test_missing_maven_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    java = bin_dir / "java"
    java.write_text("#!/bin/sh\nexit 0\n")
    java.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(MissingTool, match="Maven") as err:
        LocalBroker(tmp_path / "home", libs=tmp_path / "libs").ensure_jars()
    assert "maven" in err.value.hint


def test_a_state_file_of_a_dead_process_is_not_a_running_broker(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "state.json").write_text(
        json.dumps(
            {
                "pid": 2**22 + 12345,
                "port": 1,
                "controller_port": 2,
                "data_dir": "d",
                "log_file": "l",
                "started_at": 0.0,
            }
        )
    )
    broker = LocalBroker(home)
    assert broker.status() is None
    assert not (home / "state.json").exists()
    assert broker.stop() is None
