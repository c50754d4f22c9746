"""librdkafka calls that may block for good, made on a helper thread with a deadline.

A transactional call cannot be interrupted from Python, and one of them may never
return: `send_offsets_to_transaction` waits without a deadline for the group
coordinator (librdkafka #5456), and after a broker restart that coordinator can be a
broker object the client decommissioned on re-bootstrap, which never wakes the wait up
(#5511). Seen here: a drift watcher blocked in that call for good after a broker
SIGKILL and restart, deaf to SIGTERM, whatever timeout it had been given.

So the call runs on a daemon thread and the caller waits in short slices: a stop request
can end the wait (`StopRequested`), and a call still blocked long after its own timeout
is declared `Wedged`, after which the caller moves on with a new producer and a new
thread and never touches the old ones again.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from core.kafka.exceptions import KafkaLayerError, StopRequested

STOP_GRACE_S = 5.0
"""After a stop request, how long a call in hand may still take before it is abandoned
(the broker then aborts the open transaction, or the next instance fences it)."""


class Wedged(KafkaLayerError):
    """A call overran its own timeout by far: librdkafka may never return from it."""


class _Call:
    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.fn, self.args = fn, args
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.result: Any = None

    def run(self) -> None:
        try:
            self.result = self.fn(*self.args)
        except BaseException as exc:  # handed to the waiting thread
            self.error = exc
        finally:
            self.done.set()


class PendingCall:
    """A call submitted to a `CallThread` whose result is not yet asked for."""

    def __init__(self, call: _Call, submitted: float) -> None:
        self.call = call
        self.submitted = submitted

    @property
    def done(self) -> bool:
        return self.call.done.is_set()


class CallThread:
    """A daemon thread that makes blocking calls for a waiting caller."""

    def __init__(self, name: str, stopping: Callable[[], bool]) -> None:
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._stopping = stopping
        self._give_up_at: float | None = None
        threading.Thread(target=self._serve, name=name, daemon=True).start()

    def call(self, fn: Callable[..., Any], *args: Any, budget: float) -> Any:
        """`fn(*args)` on the thread; its exception is raised here. `budget` is how long
        the call may block by its own timeout: still blocked at `budget + max(budget,
        5 s)` it is `Wedged`."""
        return self.wait(self.submit(fn, *args), budget=budget)

    def submit(self, fn: Callable[..., Any], *args: Any) -> PendingCall:
        """Start `fn(*args)` on the thread and return at once; `wait` for its result."""
        call = _Call(fn, args)
        self._calls.put(call)
        return PendingCall(call, time.monotonic())

    def wait(self, pending: PendingCall, *, budget: float) -> Any:
        """The result of a submitted call (its exception raised here); `Wedged` as for
        `call`, counted from when it was submitted."""
        call = pending.call
        name = getattr(call.fn, "__name__", "call")
        patience = budget + max(budget, 5.0)
        wedged_at = pending.submitted + patience
        while not call.done.wait(0.05):
            self.check_stop(f"{name} had not returned")
            if time.monotonic() >= wedged_at:
                raise Wedged(f"{name} still blocked after {patience:g} s (timeout {budget:g} s)")
        if call.error is not None:
            raise call.error
        return call.result

    def check_stop(self, why: str) -> None:
        """Raise `StopRequested` once a stop request is `STOP_GRACE_S` old."""
        if not self._stopping():
            return
        now = time.monotonic()
        if self._give_up_at is None:
            self._give_up_at = now + STOP_GRACE_S
        if now >= self._give_up_at:
            raise StopRequested(why)

    def close(self) -> None:
        self._calls.put(None)

    def _serve(self) -> None:
        while (call := self._calls.get()) is not None:
            call.run()
