"""Why a client cannot talk to the broker, in words a person can act on.

librdkafka retries a refused login or a failed TLS handshake for ever. It reports each
failure only to the client's `error_cb` (served by `poll`), as `_AUTHENTICATION` or
`_SSL`, while the call waiting on the broker fails with a bare `_TRANSPORT` or a
timeout. `ConnectionProblems` is that callback: it keeps the first such failure, so the
reachability check can stop at once and name it instead of waiting out its timeout.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable

import structlog
from confluent_kafka import KafkaError

from core.kafka.exceptions import BrokerAuthenticationFailed, BrokerTlsFailed, BrokerUnreachable

_REFUSALS: dict[int, type[BrokerUnreachable]] = {
    KafkaError._AUTHENTICATION: BrokerAuthenticationFailed,
    KafkaError._SSL: BrokerTlsFailed,
}
_BROKER_PREFIX = re.compile(r"^\S+://\S+?: ")
_TIMING_SUFFIX = re.compile(r" \(after \d+ms in state \w+\)$")


class ConnectionProblems:
    """An `error_cb` that keeps the first authentication or TLS failure it hears."""

    def __init__(self) -> None:
        self.refusal: KafkaError | None = None

    def __call__(self, err: KafkaError) -> None:
        if self.refusal is None and err.code() in _REFUSALS:
            self.refusal = err

    def error(self, address: str, secrets: Iterable[str] = ()) -> BrokerUnreachable | None:
        """The named error for the failure heard so far, or None."""
        if self.refusal is None:
            return None
        detail = scrub(plain_reason(self.refusal.str()), secrets)
        return _REFUSALS[self.refusal.code()](address, detail)


def plain_reason(text: str) -> str:
    """librdkafka's failure text without the broker prefix and the timing suffix.

    >>> plain_reason("sasl_ssl://127.0.0.1:9/bootstrap: SASL authentication error: "
    ...              "bad (after 3ms in state AUTH_REQ)")
    'SASL authentication error: bad'
    """
    return _TIMING_SUFFIX.sub("", _BROKER_PREFIX.sub("", text.strip()))


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret value in it masked, for messages that echo client input.

    >>> scrub("bad value hunter2 for sasl.password", ["hunter2"])
    'bad value *** for sasl.password'
    """
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class RefusalLog:
    """The default `error_cb` of every producer: a refused login or TLS handshake is
    logged as an error (once a minute at most, it repeats with every reconnect), so a
    long-running process whose credentials stop working says so instead of only
    stalling (every consumer process also produces). Other errors are left alone."""

    def __init__(self, every_s: float = 60.0) -> None:
        self._log = structlog.get_logger("kafka")
        self._every_s = every_s
        self._last: dict[int, float] = {}

    def __call__(self, err: KafkaError) -> None:
        code = err.code()
        if code not in _REFUSALS:
            return
        now = time.monotonic()
        if now - self._last.get(code, -math.inf) < self._every_s:
            return
        self._last[code] = now
        self._log.error(
            "kafka_refused",
            error=err.name(),
            reason=plain_reason(err.str()),
            hint=_REFUSALS[code].hint,
        )
