"""Where is the broker? One answer for every client streamscore makes.

Order: the settings' `kafka.bootstrap_servers`, then `KAFKA_BOOTSTRAP_SERVERS`. The
command line fills `kafka.bootstrap_servers` from the development broker that
`streamscore broker start` runs (`streamscore.cli.runtime`), so building a client
configuration never looks for, or constructs, the development broker.
"""

from __future__ import annotations

import os

from core.kafka.exceptions import BrokerNotFound
from core.settings import Settings


def resolve_bootstrap(settings: Settings) -> str:
    if settings.kafka.bootstrap_servers:
        return settings.kafka.bootstrap_servers
    from_env = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if from_env:
        return from_env
    raise BrokerNotFound("no Kafka broker configured and no local broker is running")
