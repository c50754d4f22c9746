"""Errors of the Kafka layer: third-party errors are wrapped here, never leaked."""

from __future__ import annotations

from core.errors import StreamscoreError


class KafkaLayerError(StreamscoreError):
    """Base of every Kafka-side failure."""


class BrokerNotFound(KafkaLayerError):
    hint = "set KAFKA_BOOTSTRAP_SERVERS, or start a local broker with `streamscore broker start`"


class BrokerUnreachable(KafkaLayerError):
    problem = "is unreachable"

    def __init__(self, address: str, detail: str = "") -> None:
        message = f"Kafka broker at {address} {self.problem}"
        super().__init__(f"{message}: {detail}" if detail else message)
        self.address = address

    hint = "check that the broker runs and the address and security settings are right"


class BrokerAuthenticationFailed(BrokerUnreachable):
    """The broker answered and refused the SASL credentials (librdkafka `_AUTHENTICATION`)."""

    problem = "refused the login"

    hint = (
        "check kafka.client sasl.username, sasl.password and sasl.mechanism "
        "(`streamscore broker start --secure` prints the local broker's)"
    )


class BrokerTlsFailed(BrokerUnreachable):
    """The TLS handshake failed, most often an untrusted broker certificate (`_SSL`)."""

    problem = "failed the TLS handshake"

    hint = (
        "check kafka.client ssl.ca.location names the CA that signed the broker's certificate "
        "and security.protocol matches the listener (SSL or SASL_SSL)"
    )


class ClientSettingsInvalid(KafkaLayerError):
    """librdkafka refused the client options before connecting (e.g. a missing CA file)."""

    hint = "check the kafka.client settings (librdkafka option names and values)"


class MissingTool(KafkaLayerError):
    """java or mvn is not on PATH: the local broker cannot be fetched or run."""


class BrokerStartError(KafkaLayerError):
    hint = "see the broker log named above; `streamscore broker stop` then start again"


class TopicError(KafkaLayerError):
    hint = "check the broker's ACLs and that the topic settings suit the cluster"


class DeliveryError(KafkaLayerError):
    """A produce was not acknowledged; nothing downstream may assume it landed."""

    hint = "the record was not written; retry, or check the broker and topic"


class StopRequested(KafkaLayerError):
    """A stop was asked for while a call waited on the broker; the wait was given up.

    Nothing is lost: what was not committed is redone by whoever owns the partitions next.
    """


class ProcessorFatal(KafkaLayerError):
    hint = "the process must restart; committed work is safe and uncommitted work is redone"


class TransactionalIdInUse(ProcessorFatal):
    """Two live processes share one transactional id: each fences the other."""

    hint = (
        "give every instance its own id (`instance_id` in the consumer's settings section, "
        "or leave it unset for host and pid); see docs/scaling.md"
    )
