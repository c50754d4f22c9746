"""The layering the design relies on: no import cycle, and pure core never needs Kafka."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "consumers", "producers", "streamscore")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """Every project module and the project modules it imports (anywhere in the file)."""
    graph: dict[str, set[str]] = {}
    files = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    known = {module_name(p) for p in files}
    for path in files:
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            found |= {n for n in names if n in known}
        graph[module_name(path)] = found - {module_name(path)}
    return graph


def test_no_project_module_imports_itself_through_a_cycle() -> None:
    graph = imports()
    done: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        for nxt in sorted(graph.get(node, set())):
            if nxt in trail:
                cycles.append([*trail[trail.index(nxt) :], nxt])
            elif nxt not in done:
                visit(nxt, [*trail, nxt])
        done.add(node)

    for node in sorted(graph):
        if node not in done:
            visit(node, [node])
    # A package's __init__ re-exporting its own modules is not a cycle worth reporting.
    real = [c for c in cycles if not all(m.startswith(c[0].rsplit(".", 1)[0]) for m in c)]
    assert real == []


def test_pure_core_modules_never_import_the_kafka_layer() -> None:
    for module, deps in imports().items():
        if module.startswith("core") and not module.startswith("core.kafka"):
            assert not {d for d in deps if d.startswith("core.kafka")}, module
            source = (ROOT / Path(*module.split("."))).with_suffix(".py")
            if source.exists():
                assert "confluent_kafka" not in source.read_text(encoding="utf-8"), module
