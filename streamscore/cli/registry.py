"""`streamscore registry list|show|promote|rollback|history|verify|sign`.

Human tables by default, `--json` for scripts (one JSON document on stdout). Logs go to
stderr so they never mix with either. `verify` exits 1 when any version fails, so it can
gate a deployment.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from streamscore.cli.runtime import registry_for, settings_for, told

if TYPE_CHECKING:
    from core.registry import ModelRegistry, ModelVersion

EXIT_VERIFY_FAILED = 1


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "registry",
        help="list, inspect, promote, roll back and verify registered models",
        description=(
            "The file-based model registry (settings.registry.path, or --registry). Every "
            "artifact is checked against its recorded SHA-256 before it is loaded; stages "
            "are 'staging' and 'production'; every transition is kept in the history."
        ),
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--registry", metavar="PATH", help="registry folder (overrides settings)")
    common.add_argument("--json", action="store_true", help="print JSON instead of a table")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    listing = actions.add_parser("list", parents=[common], help="every version with its stages")
    listing.set_defaults(func=_list)

    show = actions.add_parser("show", parents=[common], help="one version in full")
    show.add_argument("name")
    show.add_argument("version", nargs="?", help="default: production, else the latest")
    show.set_defaults(func=_show)

    promote = actions.add_parser("promote", parents=[common], help="point a stage at a version")
    promote.add_argument("name")
    promote.add_argument("version")
    promote.add_argument("--stage", choices=("production", "staging"), default="production")
    promote.add_argument("--reason", default="", help="recorded in the history")
    promote.set_defaults(func=_promote)

    rollback = actions.add_parser(
        "rollback", parents=[common], help="return production to its previous version"
    )
    rollback.add_argument("name")
    rollback.add_argument("--reason", default="", help="recorded in the history")
    rollback.set_defaults(func=_rollback)

    history = actions.add_parser("history", parents=[common], help="every transition of a model")
    history.add_argument("name")
    history.set_defaults(func=_history)

    verify = actions.add_parser(
        "verify", parents=[common], help="recompute checksums (all, one model or one version)"
    )
    verify.add_argument("name", nargs="?")
    verify.add_argument("version", nargs="?")
    verify.set_defaults(func=_verify)

    sign = actions.add_parser(
        "sign",
        parents=[common],
        help="sign unsigned indexes with registry.signing_key (after verifying their files)",
        description=(
            "Turn signing on for an existing registry: each named model's files are "
            "verified against its index, then the index is signed with the key in "
            "STREAMSCORE_REGISTRY__SIGNING_KEY (registry.signing_key). Signing vouches for "
            "what is there now, so run it only on a registry you trust. An index signed "
            "with another key is refused."
        ),
    )
    sign.add_argument("name", nargs="?", help="default: every model")
    sign.set_defaults(func=_sign)


def open_registry(args: argparse.Namespace, service: str) -> ModelRegistry:
    return registry_for(args, settings_for(args, service))


def _list(args: argparse.Namespace) -> int:
    registry = open_registry(args, "registry")
    versions = registry.list()
    if args.json:
        _print_json([_version_json(v) for v in versions])
    elif not versions:
        print(f"no models registered in {registry.root}")
    else:
        print(
            render_table(
                [
                    "NAME",
                    "VERSION",
                    "STAGES",
                    "CREATED (UTC)",
                    "ROC AUC",
                    "ACCURACY",
                    "F1",
                    "TRIGGER",
                    "PARENT",
                ],
                [
                    [
                        v.name,
                        str(v.version),
                        ",".join(v.stages) or "-",
                        v.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                        _metric(v, "roc_auc"),
                        _metric(v, "accuracy"),
                        _metric(v, "f1"),
                        v.trigger,
                        str(v.parent_version) if v.parent_version else "-",
                    ]
                    for v in versions
                ],
            )
        )
    return 0


def _show(args: argparse.Namespace) -> int:
    registry = open_registry(args, "registry")
    if args.version is not None:
        version = registry.get(args.name, args.version)
    else:
        current = registry.production_version(args.name)
        versions = registry.versions(args.name)
        version = next((v for v in versions if v.version == current), versions[-1])
    if args.json:
        _print_json(_version_json(version))
        return 0
    rows = [
        ["name", version.name],
        ["version", str(version.version)],
        ["stages", ", ".join(version.stages) or "-"],
        ["created", version.created_at.isoformat()],
        ["trigger", version.trigger],
        ["parent version", str(version.parent_version or "-")],
        ["artifact", f"{version.artifact} ({version.size:,} bytes)"],
        ["sha256", version.sha256],
        ["profile digest", version.profile_digest],
    ]
    rows += [[f"metric {k}", f"{v:.4f}"] for k, v in sorted(version.metrics.items())]
    rows += [[f"library {k}", v] for k, v in sorted(version.library_versions.items())]
    for feature in version.feature_schema.get("features", []):
        categories = feature.get("categories")
        detail = feature.get("type", "?") + (f" {categories}" if categories else "")
        rows.append([f"feature {feature.get('name')}", detail])
    rows += [[f"metadata {k}", json.dumps(v)] for k, v in sorted(version.metadata.items())]
    rows += [[f"training {k}", json.dumps(v)] for k, v in sorted(version.training_summary.items())]
    print(render_table(["FIELD", "VALUE"], rows))
    return 0


def _promote(args: argparse.Namespace) -> int:
    from core import promotion
    from core.kafka.model_events import announcer

    settings = settings_for(args, "registry")
    registry = registry_for(args, settings)
    done = promotion.promote(
        registry,
        args.name,
        args.version,
        stage=args.stage,
        reason=args.reason,
        announce=announcer(settings),
    )
    told(done)
    if args.json:
        _print_json(_version_json(done.version))
    else:
        was = f"was {done.previous}" if done.previous is not None else "was empty"
        print(f"{done.version.name} version {done.version.version} is now {args.stage} ({was})")
    return 0


def _rollback(args: argparse.Namespace) -> int:
    from core import promotion
    from core.kafka.model_events import announcer

    settings = settings_for(args, "registry")
    registry = registry_for(args, settings)
    done = promotion.rollback(registry, args.name, reason=args.reason, announce=announcer(settings))
    told(done)
    if args.json:
        _print_json(_version_json(done.version))
    else:
        print(
            f"{done.version.name} production rolled back from version {done.previous} "
            f"to {done.version.version}"
        )
    return 0


def _history(args: argparse.Namespace) -> int:
    registry = open_registry(args, "registry")
    transitions = registry.history(args.name)
    if args.json:
        _print_json([t.model_dump(mode="json") for t in transitions])
        return 0
    print(
        render_table(
            ["AT (UTC)", "EVENT", "STAGE", "FROM", "TO", "REASON", "BY"],
            [
                [
                    t.at.strftime("%Y-%m-%d %H:%M:%S"),
                    t.event,
                    t.stage or "-",
                    "-" if t.from_version is None else str(t.from_version),
                    str(t.to_version),
                    t.reason or "-",
                    t.by,
                ]
                for t in transitions
            ],
        )
    )
    return 0


def _verify(args: argparse.Namespace) -> int:
    registry = open_registry(args, "registry")
    results = registry.verify(args.name, args.version)
    failed = [r for r in results if not r.ok]
    if args.json:
        _print_json([r.model_dump(mode="json") for r in results])
    elif not results:
        print(f"nothing to verify in {registry.root}")
    else:
        print(
            render_table(
                ["NAME", "VERSION", "RESULT", "DETAIL"],
                [
                    [
                        r.name,
                        str(r.version),
                        "ok" if r.ok else "FAILED",
                        "; ".join(r.problems) or r.path,
                    ]
                    for r in results
                ],
            )
        )
    if failed:
        print(
            f"streamscore registry verify: {len(failed)} of {len(results)} versions failed "
            "verification; they will not be loaded",
            file=sys.stderr,
        )
        return EXIT_VERIFY_FAILED
    return 0


def _sign(args: argparse.Namespace) -> int:
    settings = settings_for(args, "registry")
    if settings.registry.signing_key is None:
        print(
            "streamscore registry sign: error: no signing key (set "
            "STREAMSCORE_REGISTRY__SIGNING_KEY, e.g. to the output of "
            '`python -c "import secrets; print(secrets.token_hex(32))"`)',
            file=sys.stderr,
        )
        return 2
    registry = registry_for(args, settings)
    names = [args.name] if args.name else registry.models()
    done = {name: registry.sign(name) for name in names}
    if args.json:
        _print_json({name: "signed" if new else "already signed" for name, new in done.items()})
    elif not done:
        print(f"no models registered in {registry.root}")
    for name, new in done.items():
        if not args.json:
            print(f"{name}: {'signed' if new else 'already signed with this key'}")
    return 0


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces, for people reading a terminal.

    >>> print(render_table(["A", "BB"], [["x", "y"]]))
    A  BB
    x  y
    """
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=False)]
    lines = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip()
        for row in (headers, *rows)
    ]
    return "\n".join(lines)


def _metric(version: ModelVersion, key: str) -> str:
    value = version.metrics.get(key)
    return "-" if value is None else f"{value:.3f}"


def _version_json(version: ModelVersion) -> dict[str, Any]:
    return version.model_dump(mode="json")


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2))
