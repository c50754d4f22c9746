"""Security material of the local broker's `--secure` mode: a CA, a broker certificate,
SCRAM-SHA-512 users and the client settings that go with them.

Kept apart from the launcher so that everything secret is made, stored and shown in one
place. All of it lives under `<broker home>/secure` (mode 0700, secret files 0600):

- `ca.pem`: a CA made for this broker alone; clients trust it with `ssl.ca.location`.
  Its private key is deleted once the broker certificate is signed, so nothing else can
  ever be signed by it.
- `broker.p12`: the broker's key and certificate (SAN 127.0.0.1 and localhost, so
  librdkafka's default hostname verification passes), in a PKCS#12 keystore.
- `credentials.json`: the passwords (client user, inter-broker user, keystore).
- `client.toml`: a streamscore settings file with everything a client needs.

Passwords never appear on a command line: openssl reads the keystore password from its
environment, and the storage tool gets SCRAM credentials as salt and salted password
(what the broker stores anyway), not the password itself.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from core.kafka.exceptions import BrokerStartError, MissingTool

MECHANISM = "SCRAM-SHA-512"
CLIENT_USER = "streamscore"
BROKER_USER = "broker"
SCRAM_ITERATIONS = 8192
CERT_DAYS = 825
HIDDEN = "<hidden: see {path} or --show-password>"


@dataclass(frozen=True)
class ScramCredential:
    """What the broker stores for one SCRAM user: never the password itself."""

    user: str
    salt: bytes
    salted_password: bytes
    iterations: int

    def storage_argument(self) -> str:
        """The value of one `kafka-storage format --add-scram` option."""
        salt = base64.b64encode(self.salt).decode()
        salted = base64.b64encode(self.salted_password).decode()
        return (
            f'{MECHANISM}=[name={self.user},salt="{salt}",'
            f'saltedpassword="{salted}",iterations={self.iterations}]'
        )


def scram_credential(
    user: str, password: SecretStr, *, iterations: int = SCRAM_ITERATIONS, salt: bytes | None = None
) -> ScramCredential:
    """SCRAM-SHA-512's SaltedPassword (RFC 5802: Hi = PBKDF2 with HMAC-SHA-512).

    >>> c = scram_credential("u", SecretStr("pw"), iterations=4096, salt=b"salt")
    >>> len(c.salted_password), c.storage_argument().startswith("SCRAM-SHA-512=[name=u,")
    (64, True)
    """
    salt = salt if salt is not None else secrets.token_bytes(24)
    salted = hashlib.pbkdf2_hmac(
        "sha512", password.get_secret_value().encode(), salt, iterations, dklen=64
    )
    return ScramCredential(user, salt, salted, iterations)


@dataclass(frozen=True)
class Credentials:
    client_user: str
    client_password: SecretStr
    broker_password: SecretStr
    keystore_password: SecretStr

    @classmethod
    def generate(cls, client_password: SecretStr | None = None) -> Credentials:
        return cls(
            client_user=CLIENT_USER,
            client_password=client_password or SecretStr(secrets.token_urlsafe(24)),
            broker_password=SecretStr(secrets.token_urlsafe(24)),
            keystore_password=SecretStr(secrets.token_urlsafe(24)),
        )

    def scram_users(self) -> list[ScramCredential]:
        return [
            scram_credential(self.client_user, self.client_password),
            scram_credential(BROKER_USER, self.broker_password),
        ]


class BrokerSecurity:
    """The `--secure` material under `<home>/secure`, made once and reused on restart."""

    def __init__(self, home: Path) -> None:
        self.dir = Path(home) / "secure"
        self.ca = self.dir / "ca.pem"
        self.keystore = self.dir / "broker.p12"
        self.credentials_file = self.dir / "credentials.json"
        self.client_file = self.dir / "client.toml"

    def exists(self) -> bool:
        return all(p.exists() for p in (self.ca, self.keystore, self.credentials_file))

    def ensure(self, client_password: SecretStr | None = None) -> Credentials:
        """The stored credentials, or new ones with a new CA and broker certificate.

        `client_password` sets the client user's password when the material is first
        made (a test's canary); it cannot change an existing broker's password.
        """
        if self.exists():
            credentials = self.credentials()
            if (
                client_password is not None
                and client_password.get_secret_value()
                != credentials.client_password.get_secret_value()
            ):
                raise BrokerStartError(
                    "this secured broker already has a different client password",
                    hint=f"stop it and remove {self.dir.parent} to start afresh",
                )
            return credentials
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o700)
        credentials = Credentials.generate(client_password)
        make_ca(self.dir, self.ca)
        make_broker_keystore(self.dir, self.ca, self.keystore, credentials.keystore_password)
        write_private(
            self.credentials_file,
            json.dumps(
                {
                    "client_user": credentials.client_user,
                    "client_password": credentials.client_password.get_secret_value(),
                    "broker_password": credentials.broker_password.get_secret_value(),
                    "keystore_password": credentials.keystore_password.get_secret_value(),
                }
            ),
        )
        return credentials

    def credentials(self) -> Credentials:
        try:
            raw = json.loads(self.credentials_file.read_text())
            return Credentials(
                client_user=str(raw["client_user"]),
                client_password=SecretStr(str(raw["client_password"])),
                broker_password=SecretStr(str(raw["broker_password"])),
                keystore_password=SecretStr(str(raw["keystore_password"])),
            )
        except (OSError, ValueError, KeyError) as exc:
            raise BrokerStartError(
                f"the secured broker's credentials in {self.credentials_file} are unreadable "
                f"({type(exc).__name__})",
                hint=f"stop the broker and remove {self.dir.parent} to start afresh",
            ) from None

    def server_properties(self, port: int, controller_port: int) -> str:
        """Listener settings: clients and the broker itself on SASL_SSL, only the KRaft
        controller on plain loopback (it serves no client requests)."""
        c = self.credentials()
        jaas = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{BROKER_USER}" password="{c.broker_password.get_secret_value()}";'
        )
        return f"""\
listeners=SASL_SSL://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=SASL_SSL://127.0.0.1:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=SASL_SSL
listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL
sasl.enabled.mechanisms={MECHANISM}
sasl.mechanism.inter.broker.protocol={MECHANISM}
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config={jaas}
ssl.keystore.type=PKCS12
ssl.keystore.location={self.keystore}
ssl.keystore.password={c.keystore_password.get_secret_value()}
ssl.truststore.type=PEM
ssl.truststore.location={self.ca}
ssl.client.auth=none
"""

    def client_settings(self, *, reveal: bool = False) -> dict[str, str]:
        """The `kafka.client` options a client needs; the password only if `reveal`."""
        c = self.credentials()
        password = (
            c.client_password.get_secret_value() if reveal else HIDDEN.format(path=self.client_file)
        )
        return {
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": MECHANISM,
            "sasl.username": c.client_user,
            "sasl.password": password,
            "ssl.ca.location": str(self.ca.resolve()),
        }

    def write_client_file(self, bootstrap: str) -> Path:
        """A settings file (`streamscore --config FILE ...`) for this broker, mode 0600."""
        write_private(self.client_file, settings_toml(bootstrap, self.client_settings(reveal=True)))
        return self.client_file


def settings_toml(bootstrap: str, client: Mapping[str, str]) -> str:
    """The `[kafka]` part of a streamscore settings file for these client options."""
    lines = ["[kafka]", f"bootstrap_servers = {json.dumps(bootstrap)}", "", "[kafka.client]"]
    lines += [f"{json.dumps(k)} = {json.dumps(v)}" for k, v in client.items()]
    return "\n".join(lines) + "\n"


def settings_env(bootstrap: str, client: Mapping[str, str]) -> str:
    """The same settings as shell `export` lines."""
    payload = json.dumps(dict(client)).replace("'", "'\\''")
    return (
        f"export STREAMSCORE_KAFKA__BOOTSTRAP_SERVERS={bootstrap}\n"
        f"export STREAMSCORE_KAFKA__CLIENT='{payload}'\n"
    )


def make_ca(workdir: Path, ca: Path, name: str = "streamscore local broker CA") -> None:
    """A self-signed CA certificate at `ca`, its key beside it (`<ca>.key`)."""
    _openssl(
        workdir,
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
        "-days", str(CERT_DAYS),
        "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-keyout", str(ca.with_suffix(".key")), "-out", str(ca),
    )  # fmt: skip


def make_broker_keystore(workdir: Path, ca: Path, keystore: Path, password: SecretStr) -> None:
    """Sign a broker certificate with the CA at `ca`, store it with its key in a PKCS#12
    keystore, then delete the CA's key and the intermediate files."""
    ca_key = ca.with_suffix(".key")
    key, csr, cert = (workdir / n for n in ("broker.key", "broker.csr", "broker.pem"))
    ext = workdir / "broker.ext"
    ext.write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "extendedKeyUsage=serverAuth,clientAuth\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
    )
    try:
        _openssl(
            workdir,
            "req", "-newkey", "rsa:2048", "-nodes", "-sha256", "-subj", "/CN=localhost",
            "-keyout", str(key), "-out", str(csr),
        )  # fmt: skip
        _openssl(
            workdir,
            "x509", "-req", "-sha256", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
            "-CAcreateserial", "-days", str(CERT_DAYS), "-extfile", str(ext), "-out", str(cert),
        )  # fmt: skip
        _openssl(
            workdir,
            "pkcs12", "-export", "-name", "broker", "-in", str(cert), "-inkey", str(key),
            "-certfile", str(ca), "-out", str(keystore), "-passout", "env:KEYSTORE_PASSWORD",
            env={"KEYSTORE_PASSWORD": password.get_secret_value()},
        )  # fmt: skip
        keystore.chmod(0o600)
    finally:
        for path in (ca_key, key, csr, cert, ext, ca.with_suffix(".srl")):
            path.unlink(missing_ok=True)


def _openssl(workdir: Path, *args: str, env: Mapping[str, str] | None = None) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise MissingTool(
            "openssl is not installed: `broker start --secure` makes its certificates with it",
            hint="install it, e.g. `apt-get install -y openssl`",
        )
    result = subprocess.run(
        [openssl, *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )
    if result.returncode != 0:
        tail = " | ".join(result.stderr.strip().splitlines()[-3:])
        raise BrokerStartError(f"openssl {args[0]} failed: {tail}")


def write_private(path: Path, text: str) -> None:
    """Write `text` to a file only its owner can read, created so from the start."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(tmp, path)
