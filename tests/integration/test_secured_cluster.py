"""Every role against a secured broker (SASL_SSL, SCRAM-SHA-512, a private CA), configured
only through the settings' librdkafka passthrough (`kafka.client`), as a user would point
streamscore at a real secured cluster. The client password is a canary: it must not show
up in any log line, topic record, `--help` text, `/health` or `/metrics` body, or error.
A wrong password and an untrusted CA end in one line and a non-zero exit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, redirect_stderr, redirect_stdout
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from core.kafka.admin import check_reachable
from core.kafka.broker_security import make_ca
from core.kafka.exceptions import BrokerAuthenticationFailed, BrokerTlsFailed, BrokerUnreachable
from core.kafka.local_broker import LocalBroker, free_port
from core.retraining.decision import RetrainDecision
from core.settings import Settings, TopicsConfig, load_settings
from producers.generator import ChurnGenerator
from streamscore.cli import _COMMANDS, main
from tests.integration.kafka_io import read_committed
from tests.models import train_and_register

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CANARY = f"canary-{uuid.uuid4().hex}"
ROLES = {
    "score": ["score"],
    "drift": ["drift", "run"],
    "monitor": ["monitor"],
    "retrain": ["retrain"],
    "serve": ["serve"],
}
HANG_S = 300
"""Only a hang guard, never a speed claim: on a loaded 2-CPU machine a `streamscore`
process can take most of a minute just to import its command table."""
PORT_SECTION = {"score": "scorer", "drift": "drift", "monitor": "monitor", "retrain": "retrain"}


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    broker = LocalBroker(tmp_path_factory.mktemp("secured-broker"))
    broker.start(secure=True, client_password=SecretStr(CANARY))
    try:
        yield broker
    finally:
        broker.stop()


def settings_file(
    broker: LocalBroker, tmp_path: Path, unique: str, ports: dict[str, int], **client: str
) -> Path:
    """A streamscore settings file for one run: the secured broker through `kafka.client`
    only, fresh topic and group names, small windows so each role has work quickly."""
    state = broker.status()
    assert state is not None
    assert state.secure
    sections: dict[str, dict[str, Any]] = {
        "kafka": {"bootstrap_servers": state.bootstrap, "partitions": 3},
        "kafka.client": {**broker.security.client_settings(reveal=True), **client},
        "topics": {k: f"{v}-{unique}" for k, v in TopicsConfig().model_dump().items()},
        "scorer": {"group_id": f"scorer-{unique}", "transactional_id_prefix": f"s-{unique}"},
        "drift": {
            "group_id": f"drift-{unique}",
            "window_kind": "count",
            "window_events": 1000,
            "min_window_events": 500,
            "batch_size": 700,
            "alert_windows": 1,
            "alert_min_drifting": 1,
        },
        "monitor": {
            "group_id": f"monitor-{unique}",
            "window_seconds": 1.0,
            "label_delay_s": 2.0,
            "min_labels": 50,
            "batch_timeout_ms": 200,
        },
        "retrain": {
            "group_id": f"retrain-{unique}",
            "min_labelled_rows": 1000,
            "bootstrap_resamples": 200,
            "batch_timeout_ms": 200,
            "cooldown_s": 0,
        },
        "registry": {"path": str(tmp_path / "registry"), "poll_s": 0.5},
        "api": {"port": ports.get("serve", 0)},
        "logging": {"format": "json"},
    }
    for role, section in PORT_SECTION.items():
        sections[section]["http_port"] = ports.get(role, 0)
    lines = [f"state_dir = {json.dumps(str(tmp_path / 'state'))}"]
    for name, values in sections.items():
        lines.append(f"\n[{name}]")
        lines += [f"{json.dumps(k)} = {json.dumps(v)}" for k, v in values.items()]
    path = tmp_path / f"settings-{uuid.uuid4().hex[:6]}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def cli(config: Path, *args: str, timeout_s: float = HANG_S) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streamscore", "--config", str(config), *args],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("STREAMSCORE_")}


@contextmanager
def services(config: Path, ports: dict[str, int], logs: Path) -> Iterator[None]:
    """Every long-running role as its own `streamscore` process; on exit each must stop
    with status 0 within 30 s of SIGTERM."""
    procs: dict[str, subprocess.Popen[bytes]] = {}
    with ExitStack() as stack:
        for role, command in ROLES.items():
            out = stack.enter_context((logs / f"{role}.log").open("wb"))
            procs[role] = subprocess.Popen(
                [sys.executable, "-m", "streamscore", "--config", str(config), *command],
                env=_env(),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            for role in ROLES:
                _wait_for_http(ports[role], procs[role], logs / f"{role}.log")
            yield
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            codes = {}
            for role, proc in procs.items():
                try:
                    codes[role] = proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    codes[role] = proc.wait()
    assert codes == dict.fromkeys(ROLES, 0), codes


def _wait_for_http(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + HANG_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{log.name} exited {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            get(port, "/health")
            return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"no /health from {log.name}: {log.read_text()[-2000:]}")


def get(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as response:
        return str(response.read().decode())


def post(port: int, path: str, body: dict[str, Any]) -> tuple[int, str]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.read().decode()


def all_records(settings: Settings) -> list[bytes]:
    """Keys, values and headers of every record on every contract topic."""
    out: list[bytes] = []
    for topic in settings.topics.all():
        for m in read_committed(settings, topic, expected=0, timeout_s=20, idle_s=1):
            out += [m.key() or b"", m.value() or b""]
            out += [v or b"" for _, v in m.headers() or []]
    return out


def test_every_role_runs_on_a_secured_broker_through_the_passthrough_and_the_password_leaks_nowhere(
    secured: LocalBroker, tmp_path: Path, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ports = {role: free_port() for role in ROLES}
    config = settings_file(secured, tmp_path, unique, ports)
    settings = load_settings(config)
    assert CANARY not in repr(settings) + settings.model_dump_json()

    created = cli(config, "topics", "create")
    assert created.returncode == 0, created.stderr
    train_and_register(settings.registry.path, seed=3, rows=3000)
    logs = tmp_path / "logs"
    logs.mkdir()
    bodies: list[str] = []
    with services(config, ports, logs):
        produced = cli(
            config, "produce", "--n", "5000", "--max-speed", "--seed", "5",
            "--scenario", "charges-up@2000", "--invalid-rate", "0.02",
            "--outcome-delay", "0", "--no-progress", "--json",
        )  # fmt: skip
        assert produced.returncode == 0, produced.stderr
        report = json.loads(produced.stdout)
        valid = report["events"]["acknowledged"] - sum(report["invalid"].values())
        event = next(e for e, _ in ChurnGenerator(seed=9).events(1))
        status, answer = post(ports["serve"], "/predict", event)
        assert status == 200
        bodies.append(answer)

        predictions = read_committed(settings, settings.topics.predictions, valid, 180, idle_s=0)
        # The monitor's clock is the slower of predictions and outcomes: a few more events
        # and outcomes carry it past the windows of the first ones.
        more = cli(config, "produce", "--n", "300", "--start-index", "5000", "--max-speed",
                   "--seed", "5", "--outcome-delay", "0", "--no-progress")  # fmt: skip
        assert more.returncode == 0, more.stderr
        decisions = [
            RetrainDecision.model_validate_json(m.value())
            for m in read_committed(settings, settings.topics.retrain_decisions, 1, 180, idle_s=0)
        ]
        windows = read_committed(settings, settings.topics.performance, 1, 120, idle_s=0)
        api_logs = read_committed(settings, settings.topics.logs, valid + 1, 120, idle_s=0)
        for port in ports.values():
            bodies += [get(port, "/health"), get(port, "/metrics")]

    assert decisions, "the drift alert got no retraining decision"
    assert decisions[0].alert_ids
    assert len(predictions) >= valid
    assert windows, "the monitor closed no performance window"
    assert any(json.loads(m.value()).get("event_id") == event["event_id"] for m in api_logs)

    leaks = [n for n, text in _texts(logs, bodies, created, produced, more) if CANARY in text]
    leaks += ["a topic record"] * any(CANARY.encode() in r for r in all_records(settings))
    leaks += ["the broker's log"] * (CANARY in secured.log_file.read_text(errors="replace"))
    assert leaks == []


def _texts(
    logs: Path, bodies: list[str], *runs: subprocess.CompletedProcess[str]
) -> Iterator[tuple[str, str]]:
    for log in sorted(logs.iterdir()):
        yield log.name, log.read_text(errors="replace")
    for i, body in enumerate(bodies):
        yield f"http body {i}", body
    for run in runs:
        yield " ".join(run.args[3:5]), run.stdout + run.stderr


def test_no_help_text_shows_the_password_even_when_it_is_configured(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STREAMSCORE_KAFKA__CLIENT", json.dumps({"sasl.password": CANARY}))
    nested = {"broker": ["start", "status", "stop"], "drift": ["run", "compare"]}
    commands = (
        [[]] + [[c] for c in _COMMANDS] + [[c, a] for c, subs in nested.items() for a in subs]
    )
    for command in commands:
        with pytest.raises(SystemExit):
            main([*command, "--help"])
        text = capsys.readouterr()
        assert text.out, command
        assert CANARY not in text.out + text.err


def test_a_wrong_password_or_an_untrusted_ca_is_one_line_and_a_non_zero_exit(
    secured: LocalBroker, tmp_path: Path, unique: str
) -> None:
    other_ca = tmp_path / "other-ca.pem"
    make_ca(tmp_path, other_ca, name="some other CA")
    wrong = settings_file(secured, tmp_path, unique, {}, **{"sasl.password": f"{CANARY}-wrong"})
    untrusted = settings_file(secured, tmp_path, unique, {}, **{"ssl.ca.location": str(other_ca)})
    refused_login = ("refused the login", "sasl.password")
    refused_tls = ("failed the TLS handshake", "certificate verify failed", "ssl.ca.location")
    cases = [
        (wrong, ["topics", "create"], refused_login),
        (wrong, ["produce", "--n", "10", "--no-progress"], refused_login),
        (wrong, ["score"], refused_login),
        (untrusted, ["topics", "create"], refused_tls),
    ]
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "streamscore", "--config", str(config), *command],
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for config, command, _ in cases
    ]
    for (_, command, says), proc in zip(cases, runs, strict=True):
        out, err = proc.communicate(timeout=HANG_S)
        lines = [line for line in err.splitlines() if line.strip()]
        assert proc.returncode == 1, (command, err)
        assert len(lines) == 1, (command, err)
        assert lines[0].startswith(f"streamscore {command[0]}: error: Kafka broker at ")
        assert all(s in lines[0] for s in says), (command, lines[0])
        assert CANARY not in out + err


def test_the_named_errors_do_not_carry_the_password(
    secured: LocalBroker, tmp_path: Path, unique: str
) -> None:
    other_ca = tmp_path / "other-ca.pem"
    make_ca(tmp_path, other_ca, name="some other CA")
    for option, error in (
        ({"sasl.password": f"{CANARY}-wrong"}, BrokerAuthenticationFailed),
        ({"ssl.ca.location": str(other_ca)}, BrokerTlsFailed),
    ):
        config = settings_file(secured, tmp_path, unique, {}, **option)
        settings = load_settings(config)
        with (
            pytest.raises(error) as caught,
            redirect_stdout(StringIO()) as out,
            redirect_stderr(StringIO()) as err,
        ):
            check_reachable(settings, timeout_s=30)
        exc = caught.value
        texts = [str(exc), exc.one_line(), repr(exc), *map(str, exc.args), out.getvalue()]
        assert not [t for t in [*texts, err.getvalue()] if CANARY in t]


def test_a_restart_without_the_flag_stays_secured_with_the_same_users(
    secured: LocalBroker, tmp_path: Path, unique: str
) -> None:
    before = secured.status()
    assert before is not None
    secured.stop()
    after = secured.start(port=before.port)
    assert after.secure
    assert after.port == before.port
    settings = load_settings(settings_file(secured, tmp_path, unique, {}))
    check_reachable(settings, timeout_s=60)
    plaintext = settings.model_copy(deep=True)
    plaintext.kafka.client = {}
    with pytest.raises(BrokerUnreachable):
        check_reachable(plaintext, timeout_s=3)
