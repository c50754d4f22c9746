"""A single-node Apache Kafka broker in KRaft mode, run from Maven Central jars.

Machines without a Docker engine still get a real broker: Maven copies the Apache Kafka
jars into a cache once, then the broker runs as a detached JVM listening on 127.0.0.1.
Its pid, port and data dir are recorded in `state.json` under the broker's home, so any
later command (or test session) finds it, and a second `start` reuses the running one.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from core.kafka.broker_security import BrokerSecurity, write_private
from core.kafka.client_logging import LibrdkafkaLogger
from core.kafka.exceptions import BrokerStartError, MissingTool

_REPO_ROOT = Path(__file__).resolve().parents[2]
POM = _REPO_ROOT / "tools" / "kafka" / "pom.xml"
DEFAULT_LIBS = _REPO_ROOT / ".cache" / "kafka" / "libs"
_MAIN_CLASS = "kafka.Kafka"

_LOG4J2 = """\
status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
"""


@dataclass(frozen=True)
class BrokerState:
    pid: int
    port: int
    controller_port: int
    data_dir: str
    log_file: str
    started_at: float
    secure: bool = False
    """Clients must use SASL_SSL (`BrokerSecurity.client_settings`)."""

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _is_our_broker(pid: int) -> bool:
    """True if `pid` is alive and is a Kafka JVM (guards against pid reuse)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True
    return _MAIN_CLASS.encode() in cmdline


class LocalBroker:
    """Start, find and stop the local broker whose files live under `home`."""

    def __init__(self, home: Path, libs: Path | None = None) -> None:
        self.home = Path(home)
        env_libs = os.environ.get("STREAMSCORE_KAFKA_LIBS")
        self.libs = Path(libs or env_libs or DEFAULT_LIBS)
        self.state_file = self.home / "state.json"
        self.log_file = self.home / "broker.log"
        self.security = BrokerSecurity(self.home)

    def status(self) -> BrokerState | None:
        """The running broker recorded here, or None (a stale record is removed)."""
        try:
            state = BrokerState(**json.loads(self.state_file.read_text()))
        except (OSError, ValueError, TypeError):
            return None
        if _is_our_broker(state.pid):
            return state
        self.state_file.unlink(missing_ok=True)
        return None

    def ensure_jars(self) -> Path:
        """Copy the Kafka jars from Maven Central into the cache, once."""
        if any(self.libs.glob("kafka_2.13-*.jar")):
            return self.libs
        java_check()
        if shutil.which("mvn") is None:
            raise MissingTool(
                "Maven (mvn) is not installed: it fetches the Apache Kafka jars",
                hint="install it, e.g. `apt-get install -y maven`, or set KAFKA_BOOTSTRAP_SERVERS",
            )
        self.libs.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="libs-", dir=self.libs.parent))
        result = subprocess.run(
            [
                "mvn",
                "-q",
                "-B",
                "-f",
                str(POM),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={staging}",
                "-DincludeScope=runtime",
            ],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if result.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            tail = (result.stdout + result.stderr).strip().splitlines()[-5:]
            raise BrokerStartError(
                "Maven could not fetch the Kafka jars: " + " | ".join(tail),
                hint="check that Maven Central is reachable, then try again",
            )
        if self.libs.exists():
            shutil.rmtree(self.libs)
        staging.rename(self.libs)
        return self.libs

    def start(
        self,
        port: int | None = None,
        timeout_s: float = 90.0,
        *,
        secure: bool = False,
        client_password: SecretStr | None = None,
    ) -> BrokerState:
        """Start the broker unless one runs here already; return the running one.

        `secure`: clients connect over SASL_SSL with SCRAM-SHA-512 (see
        `core.kafka.broker_security`); a broker whose data was made secured restarts
        secured without it. `client_password` fixes the client user's password when the
        material is first made, else it is random.
        """
        running = self.status()
        if running is not None:
            if secure and not running.secure:
                raise BrokerStartError(
                    f"a broker without --secure already runs at {running.bootstrap}",
                    hint="`streamscore broker stop` it first, or use another state_dir",
                )
            return running
        java = java_check()
        self.ensure_jars()
        self.home.mkdir(parents=True, exist_ok=True)
        data_dir = self.home / "data"
        formatted = (data_dir / "meta.properties").exists()
        # Once secured, always: a restart without the flag must not downgrade the listener.
        secure = secure or (formatted and self.security.exists())
        if secure and formatted and not self.security.exists():
            raise BrokerStartError(
                f"the broker data in {data_dir} was made without --secure, so it has no "
                "SCRAM users",
                hint=f"stop the broker and remove {self.home}, or use another state_dir",
            )
        scram: list[str] = []
        if secure:
            credentials = self.security.ensure(client_password)
            scram = [
                a for c in credentials.scram_users() for a in ("--add-scram", c.storage_argument())
            ]
        port = port or free_port()
        controller_port = free_port()
        props = self.home / "server.properties"
        listeners = (
            self.security.server_properties(port, controller_port)
            if secure
            else _plaintext_listeners(port, controller_port)
        )
        write_private(props, listeners + _server_properties(controller_port, data_dir))
        log4j = self.home / "log4j2.properties"
        log4j.write_text(_LOG4J2.format(log=self.log_file))
        classpath = f"{self.libs}/*"

        if not formatted:
            cluster_id = _cluster_id()
            fmt = subprocess.run(
                [
                    java,
                    f"-Dlog4j2.configurationFile={log4j}",
                    "-cp",
                    classpath,
                    "kafka.tools.StorageTool",
                    "format",
                    "--cluster-id",
                    cluster_id,
                    "--config",
                    str(props),
                    "--ignore-formatted",
                    *scram,
                ],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            if fmt.returncode != 0:
                raise BrokerStartError(f"formatting broker storage failed: {fmt.stderr.strip()}")

        out = (self.home / "broker.out").open("ab")
        proc = subprocess.Popen(
            [
                java,
                "-Xms256m",
                "-Xmx1g",
                "-XX:+UseG1GC",
                "-XX:MaxGCPauseMillis=10",
                "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={log4j}",
                "-cp",
                classpath,
                _MAIN_CLASS,
                str(props),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        out.close()
        state = BrokerState(
            pid=proc.pid,
            port=port,
            controller_port=controller_port,
            data_dir=str(data_dir),
            log_file=str(self.log_file),
            started_at=time.time(),
            secure=secure,
        )
        self._wait_ready(proc, state, timeout_s)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(state), indent=2))
        os.replace(tmp, self.state_file)
        return state

    def stop(self, timeout_s: float = 30.0) -> BrokerState | None:
        """Stop the recorded broker (SIGTERM, then SIGKILL); None if none ran."""
        state = self.status()
        if state is None:
            return None
        _terminate(state.pid, timeout_s)
        self.state_file.unlink(missing_ok=True)
        return state

    def kill(self, timeout_s: float = 10.0) -> BrokerState | None:
        """SIGKILL the recorded broker, as a crash would; None if none ran.

        No clean shutdown: its data dir is left as the crash left it, so
        `start(port=state.port)` brings the same broker back on the same port and data
        (what failure tests need). Returns once the process is gone.
        """
        state = self.status()
        if state is None:
            return None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(state.pid, signal.SIGKILL)
        deadline = time.monotonic() + timeout_s
        while _is_our_broker(state.pid) and time.monotonic() < deadline:
            _reap(state.pid)
            time.sleep(0.05)
        _reap(state.pid)
        self.state_file.unlink(missing_ok=True)
        return state

    def _wait_ready(
        self, proc: subprocess.Popen[bytes], state: BrokerState, timeout_s: float
    ) -> None:
        from confluent_kafka.admin import AdminClient

        deadline = time.monotonic() + timeout_s
        config: dict[str, Any] = {
            "bootstrap.servers": state.bootstrap,
            "logger": LibrdkafkaLogger(),
        }
        if state.secure:
            config.update(self.security.client_settings(reveal=True))
        admin = AdminClient(config)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise BrokerStartError(
                    f"the broker exited with code {proc.returncode} during start-up; "
                    f"log {self.log_file}: {self._log_tail()}"
                )
            if _port_open(state.port):
                try:
                    metadata = admin.list_topics(timeout=2)
                    if metadata.brokers:
                        return
                except Exception:  # noqa: S110 - not ready yet; the deadline bounds the wait
                    pass
            time.sleep(0.25)
        _terminate(proc.pid, 10)
        raise BrokerStartError(
            f"the broker did not answer a metadata request within {timeout_s:.0f}s; "
            f"log {self.log_file}: {self._log_tail()}"
        )

    def _log_tail(self, lines: int = 5) -> str:
        text = ""
        for path in (self.log_file, self.home / "broker.out"):
            if path.exists():
                text += path.read_text(errors="replace")
        tail = [line for line in text.strip().splitlines() if line.strip()][-lines:]
        return " | ".join(tail) or "(empty)"


def _cluster_id() -> str:
    """A random Kafka cluster id (base64url of a UUID) that the storage tool's argument
    parser cannot mistake for an option, i.e. one not starting with '-'."""
    while True:
        candidate = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not candidate.startswith("-"):
            return candidate


def java_check() -> str:
    java = shutil.which("java")
    if java is None:
        raise MissingTool(
            "Java is not installed: the local Kafka broker needs Java 17 or newer",
            hint="install it, e.g. `apt-get install -y openjdk-17-jre-headless`, "
            "or set KAFKA_BOOTSTRAP_SERVERS",
        )
    return java


def _terminate(pid: int, timeout_s: float) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        _reap(pid)
        time.sleep(0.2)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    _reap(pid)


def _reap(pid: int) -> None:
    """Collect our own child's exit status so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _plaintext_listeners(port: int, controller_port: int) -> str:
    return f"""\
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
"""


def _server_properties(controller_port: int, data_dir: Path) -> str:
    return f"""\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller_port}
log.dirs={data_dir}
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
background.threads=2
log.retention.hours=24
log.segment.bytes=104857600
"""
