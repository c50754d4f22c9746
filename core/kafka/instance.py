"""Who this process is within its group: the instance id in its transactional ids.

With `send_offsets_to_transaction` and the consumer group metadata (KIP-447), a zombie
is fenced by the group generation, not by sharing a transactional id with its
successor, so each instance may have its own id. Two live processes sharing one id
would fence each other in turn; two with their own ids never do.
"""

from __future__ import annotations

import os
import socket


def instance_name(configured: str | None) -> str:
    """`configured` (a stable name, e.g. a StatefulSet pod's), else host and pid."""
    return configured or f"{socket.gethostname()}-{os.getpid()}"


def transactional_id(prefix: str, configured: str | None) -> str:
    """`<prefix>-<instance>`: a restarted instance with a stable name fences its dead
    predecessor at once; without one, the broker aborts the dead one's open transaction
    after `transaction.timeout.ms`."""
    return f"{prefix}-{instance_name(configured)}"
