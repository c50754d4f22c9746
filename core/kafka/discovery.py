"""Where is the broker? One answer for the CLI, the consumers and the tests.

Order: the settings' `kafka.bootstrap_servers`, then `KAFKA_BOOTSTRAP_SERVERS`, then the
local broker recorded under the state dir by `streamscore broker start`.
"""

from __future__ import annotations

import os

from core.kafka.exceptions import BrokerNotFound
from core.kafka.local_broker import LocalBroker
from core.settings import Settings


def resolve_bootstrap(settings: Settings) -> str:
    if settings.kafka.bootstrap_servers:
        return settings.kafka.bootstrap_servers
    from_env = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if from_env:
        return from_env
    running = LocalBroker(settings.state_dir / "broker").status()
    if running is not None:
        return running.bootstrap
    raise BrokerNotFound("no Kafka broker configured and no local broker is running")
