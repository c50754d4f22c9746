"""`streamscore serve` as a user runs it: answers the README's curl example, exits 0 on
SIGTERM, and a bad argument is one line and a non-zero exit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx

from core.kafka.local_broker import free_port
from streamscore.cli import main
from tests.unit.test_api_predict import SEED

STREAMSCORE = str(Path(sys.executable).parent / "streamscore")


def test_serve_answers_the_curl_example_and_stops_cleanly_on_sigterm(
    model_registry: Path, tmp_path: Path
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMSCORE_")}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    env |= {
        "STREAMSCORE_REGISTRY__PATH": str(model_registry),
        "STREAMSCORE_STATE_DIR": str(tmp_path / "state"),
        "STREAMSCORE_LOGGING__FORMAT": "json",
    }
    proc = subprocess.Popen(
        [STREAMSCORE, "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, "serve exited before answering"
            assert time.monotonic() < deadline, "serve did not start within 60 s"
            time.sleep(0.1)
        answer = httpx.post(f"{url}/predict", json=SEED)
        assert answer.status_code == 200
        assert answer.json()["model_version"] == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    events = [json.loads(line)["event"] for line in out.decode().splitlines()]
    assert events[-1] == "api_stopped"
    assert "request" in events
    assert b"Traceback" not in err


def test_a_bad_port_is_one_line_and_a_non_zero_exit(capsys: object) -> None:
    assert main(["serve", "--port", "70000"]) == 1
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    assert err.count("\n") == 1
    assert "--port" in err
