"""`streamscore broker start|status|stop`: the local single-node KRaft broker."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from core.errors import ConfigError
from streamscore.cli.runtime import settings_for

if TYPE_CHECKING:
    from core.kafka.local_broker import BrokerState, LocalBroker


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
    start.add_argument(
        "--secure",
        action="store_true",
        help=(
            "clients must use SASL_SSL with SCRAM-SHA-512: a CA, a broker certificate and "
            "users are made under <state_dir>/broker/secure, and the client settings printed "
            "(see docs/security.md)"
        ),
    )
    start.add_argument(
        "--show-password",
        action="store_true",
        help="with --secure: print the client password too (else it is only in client.toml)",
    )
    start.set_defaults(func=_start)
    status = actions.add_parser("status", help="print the bootstrap address, or say none runs")
    status.add_argument("--json", action="store_true", help="print the broker state as JSON")
    status.set_defaults(func=_status)
    stop = actions.add_parser("stop", help="stop the broker started here")
    stop.set_defaults(func=_stop)


def _broker(args: argparse.Namespace) -> LocalBroker:
    from core.kafka.local_broker import LocalBroker

    settings = settings_for(args, "broker")
    return LocalBroker(settings.state_dir / "broker")


def _print(state: BrokerState, as_json: bool, prefix: str) -> None:
    if as_json:
        print(json.dumps({"running": True, "bootstrap": state.bootstrap, **state.__dict__}))
    else:
        secured = ", SASL_SSL only" if state.secure else ""
        print(f"{prefix} {state.bootstrap} (pid {state.pid}{secured}, log {state.log_file})")


def _start(args: argparse.Namespace) -> int:
    if args.show_password and not args.secure:
        raise ConfigError("--show-password needs --secure", hint="see `broker start --help`")

    from core.kafka.broker_security import settings_env, settings_toml

    broker = _broker(args)
    already = broker.status()
    state = broker.start(port=args.port, timeout_s=args.timeout, secure=args.secure)
    if not state.secure:
        _print(state, args.json, "broker already running at" if already else "broker started at")
        return 0
    client_file = broker.security.write_client_file(state.bootstrap)
    client = broker.security.client_settings(reveal=args.show_password)
    if args.json:
        info = {"running": True, "bootstrap": state.bootstrap, **state.__dict__}
        print(json.dumps({**info, "client": client, "client_settings_file": str(client_file)}))
        return 0
    verb = "already running" if already else "started"
    _print(state, False, f"secured broker (SCRAM-SHA-512) {verb} at")
    print(
        f"\nClient settings, also written to {client_file} (mode 0600), so that\n"
        f"  streamscore --config {client_file} COMMAND\n"
        "works as it is. Or put this in your settings file:\n"
    )
    print(settings_toml(state.bootstrap, client))
    print("or in the environment:\n")
    print(settings_env(state.bootstrap, client))
    if not args.show_password:
        print("(the password is hidden: it is in the file above; --show-password prints it)")
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
