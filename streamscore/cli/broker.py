"""`streamscore broker start|status|stop`: the local single-node KRaft broker."""

from __future__ import annotations

import argparse
import json

from core.kafka.local_broker import BrokerState, LocalBroker
from streamscore.cli.runtime import settings_for


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "broker",
        help="run a local single-node Apache Kafka broker (KRaft, no Docker needed)",
        description=(
            "Manage the local Apache Kafka broker. `start` fetches the broker jars from "
            "Maven Central on first use (needs Java 17+ and Maven), starts a KRaft broker "
            "on 127.0.0.1 and waits until it answers; a second `start` reports the running "
            "one. Its files live under <state_dir>/broker (logs in broker.log)."
        ),
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    start = actions.add_parser("start", help="start the broker (or report the running one)")
    start.add_argument("--port", type=int, help="listener port (default: a free one)")
    start.add_argument(
        "--timeout", type=float, default=90.0, help="seconds to wait for start-up (default 90)"
    )
    start.add_argument("--json", action="store_true", help="print the broker state as JSON")
    start.set_defaults(func=_start)
    status = actions.add_parser("status", help="print the bootstrap address, or say none runs")
    status.add_argument("--json", action="store_true", help="print the broker state as JSON")
    status.set_defaults(func=_status)
    stop = actions.add_parser("stop", help="stop the broker started here")
    stop.set_defaults(func=_stop)


def _broker(args: argparse.Namespace) -> LocalBroker:
    settings = settings_for(args, "broker")
    return LocalBroker(settings.state_dir / "broker")


def _print(state: BrokerState, as_json: bool, prefix: str) -> None:
    if as_json:
        print(json.dumps({"running": True, "bootstrap": state.bootstrap, **state.__dict__}))
    else:
        print(f"{prefix} {state.bootstrap} (pid {state.pid}, log {state.log_file})")


def _start(args: argparse.Namespace) -> int:
    broker = _broker(args)
    already = broker.status()
    state = broker.start(port=args.port, timeout_s=args.timeout)
    _print(state, args.json, "broker already running at" if already else "broker started at")
    return 0


def _status(args: argparse.Namespace) -> int:
    state = _broker(args).status()
    if state is None:
        print(json.dumps({"running": False}) if args.json else "no local broker is running")
        return 3
    _print(state, args.json, "broker running at")
    return 0


def _stop(args: argparse.Namespace) -> int:
    state = _broker(args).stop()
    print("no local broker is running" if state is None else f"broker stopped (pid {state.pid})")
    return 0
