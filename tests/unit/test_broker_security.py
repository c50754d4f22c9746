"""The secured local broker's material, made without a broker: certificates, SCRAM
credentials, the client settings it prints, and where its secrets may and may not go."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shutil
import stat
import subprocess
import tomllib
from pathlib import Path

import pytest
from confluent_kafka import KafkaError
from pydantic import SecretStr

from core.kafka.broker_security import BrokerSecurity, scram_credential
from core.kafka.connection_problems import ConnectionProblems, RefusalLog
from core.kafka.exceptions import BrokerAuthenticationFailed, BrokerStartError, BrokerTlsFailed
from core.settings import KafkaConfig, load_settings
from streamscore.cli import main

CANARY = "canary-3f9d0c"
needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def test_the_scram_credential_is_rfc_5802s_salted_password_and_the_storage_tool_never_sees_the_password() -> (  # noqa: E501
    None
):
    salt = b"0123456789abcdef"
    c = scram_credential("alice", SecretStr(CANARY), iterations=4096, salt=salt)
    # Hi(password, salt, i) by its definition: U1 = HMAC(p, salt || INT(1)), Ui = HMAC(p, Ui-1).
    u = hmac.new(CANARY.encode(), salt + b"\0\0\0\1", hashlib.sha512).digest()
    expected = bytearray(u)
    for _ in range(4095):
        u = hmac.new(CANARY.encode(), u, hashlib.sha512).digest()
        expected = bytearray(a ^ b for a, b in zip(expected, u, strict=True))
    assert c.salted_password == bytes(expected)
    argument = c.storage_argument()
    assert argument.startswith("SCRAM-SHA-512=[name=alice,")
    assert f'salt="{base64.b64encode(salt).decode()}"' in argument
    assert "iterations=4096" in argument
    assert CANARY not in argument


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> BrokerSecurity:
    if shutil.which("openssl") is None:
        pytest.skip("needs openssl")
    security = BrokerSecurity(tmp_path_factory.mktemp("home"))
    security.ensure(SecretStr(CANARY))
    return security


@needs_openssl
def test_the_broker_certificate_is_signed_by_the_ca_for_the_loopback_address(
    material: BrokerSecurity,
) -> None:
    password = material.credentials().keystore_password.get_secret_value()
    cert = subprocess.run(
        ["openssl", "pkcs12", "-in", str(material.keystore), "-clcerts", "-nokeys",
         "-passin", "env:P"],
        env={"P": password, "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    leaf = material.dir / "leaf.pem"
    leaf.write_text(cert)
    verified = subprocess.run(
        ["openssl", "verify", "-CAfile", str(material.ca), "-verify_ip", "127.0.0.1", str(leaf)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verified.returncode == 0, verified.stderr


@needs_openssl
def test_secrets_are_private_files_and_the_ca_key_is_gone(material: BrokerSecurity) -> None:
    assert stat.S_IMODE(material.dir.stat().st_mode) == 0o700
    for path in (material.keystore, material.credentials_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in material.dir.iterdir() if p.suffix in (".key", ".srl")) == []


@needs_openssl
def test_a_second_ensure_reuses_the_material_and_refuses_another_password(
    material: BrokerSecurity,
) -> None:
    ca = material.ca.read_bytes()
    assert material.ensure().client_password.get_secret_value() == CANARY
    assert material.ca.read_bytes() == ca
    with pytest.raises(BrokerStartError, match="different client password"):
        material.ensure(SecretStr("another"))


@needs_openssl
def test_the_client_settings_hide_the_password_unless_revealed(material: BrokerSecurity) -> None:
    hidden = material.client_settings()
    assert CANARY not in json.dumps(hidden)
    assert hidden["security.protocol"] == "SASL_SSL"
    assert hidden["sasl.mechanism"] == "SCRAM-SHA-512"
    assert Path(hidden["ssl.ca.location"]).is_absolute()
    assert material.client_settings(reveal=True)["sasl.password"] == CANARY


@needs_openssl
def test_the_written_client_file_is_a_private_settings_file_that_loads(
    material: BrokerSecurity,
) -> None:
    path = material.write_client_file("127.0.0.1:9")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert tomllib.loads(path.read_text())["kafka"]["bootstrap_servers"] == "127.0.0.1:9"
    settings = load_settings(path)
    assert settings.kafka.client_options()["sasl.password"] == CANARY
    assert CANARY not in repr(settings) + settings.model_dump_json()


@needs_openssl
def test_the_server_properties_keep_only_the_controller_on_plain_loopback(
    material: BrokerSecurity,
) -> None:
    props = dict(line.split("=", 1) for line in material.server_properties(9092, 9093).splitlines())
    assert props["listeners"] == "SASL_SSL://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert props["inter.broker.listener.name"] == "SASL_SSL"
    assert props["listener.security.protocol.map"] == "CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL"
    assert CANARY not in "\n".join(props.values())


def test_secret_client_options_are_held_as_secrets_and_revealed_only_to_the_client() -> None:
    kafka = KafkaConfig(client={"sasl.password": CANARY, "sasl.username": "u"})
    assert isinstance(kafka.client["sasl.password"], SecretStr)
    assert kafka.client["sasl.username"] == "u"
    assert CANARY not in repr(kafka) + str(kafka.model_dump()) + kafka.model_dump_json()
    assert kafka.client_options() == {"sasl.password": CANARY, "sasl.username": "u"}
    assert KafkaConfig.model_validate(kafka.model_dump()).client_options() == (
        kafka.client_options()
    )


def _error(code: int, text: str) -> KafkaError:
    return KafkaError(code, text)


def test_a_refused_login_heard_on_the_error_callback_becomes_its_named_error() -> None:
    problems = ConnectionProblems()
    problems(_error(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down"))
    assert problems.error("b:1") is None
    problems(
        _error(
            KafkaError._AUTHENTICATION,
            "sasl_ssl://b:1/bootstrap: SASL authentication error: Authentication failed "
            "(after 300ms in state AUTH_REQ)",
        )
    )
    problems(_error(KafkaError._SSL, "later, and not the first"))
    error = problems.error("b:1")
    assert isinstance(error, BrokerAuthenticationFailed)
    assert error.one_line() == (
        "Kafka broker at b:1 refused the login: SASL authentication error: Authentication "
        f"failed ({BrokerAuthenticationFailed.hint})"
    )


def test_a_failed_handshake_becomes_a_tls_error_with_secrets_scrubbed() -> None:
    problems = ConnectionProblems()
    problems(_error(KafkaError._SSL, f"ssl://b:1/bootstrap: SSL handshake failed: {CANARY}"))
    error = problems.error("b:1", [CANARY])
    assert isinstance(error, BrokerTlsFailed)
    assert CANARY not in error.one_line()


def test_refusals_are_logged_once_a_minute_and_other_client_errors_not(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from structlog.testing import capture_logs

    log = RefusalLog()
    with capture_logs() as logs:
        for _ in range(3):
            log(_error(KafkaError._AUTHENTICATION, "SASL authentication error: failed"))
        log(_error(KafkaError._TRANSPORT, "connection refused"))
    assert [(e["event"], e["log_level"], e["error"]) for e in logs] == [
        ("kafka_refused", "error", "_AUTHENTICATION")
    ]


def test_show_password_without_secure_is_a_one_line_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STREAMSCORE_STATE_DIR", str(tmp_path))
    assert main(["broker", "start", "--show-password"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "streamscore broker: error: --show-password needs --secure (see `broker start --help`)"
    ]
