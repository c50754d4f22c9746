"""The image, checked without a Docker engine: multi-stage, the final stage runs as an
unprivileged user with a `/health` probe and carries no build tools or tests, and the
build context leaves local state and test material out."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def stages() -> list[Stage]:
    """The Dockerfile's stages, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    out: list[Stage] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            base, _, name = args.partition(" AS ")
            out.append(Stage(base.strip(), name.strip() or None))
        else:
            out[-1].instructions.append((keyword, args.strip()))
    return out


def test_the_image_is_built_in_stages_and_the_final_one_copies_from_the_build() -> None:
    built = stages()
    assert len(built) >= 2
    final = built[-1]
    assert any(f"--from={built[0].name}" in c for c in final.all("COPY"))
    assert final.base.endswith("-slim")


def test_the_final_stage_runs_as_an_unprivileged_user() -> None:
    users = stages()[-1].all("USER")
    assert users
    assert users[-1] not in {"root", "0", "0:0"}


def test_the_final_stage_probes_health_and_runs_streamscore() -> None:
    final = stages()[-1]
    (healthcheck,) = final.all("HEALTHCHECK")
    assert "/health" in healthcheck
    assert final.all("ENTRYPOINT") == ['["streamscore"]']


def test_the_final_stage_has_no_build_tools_tests_or_sources_beyond_the_install() -> None:
    final = stages()[-1]
    for run in final.all("RUN"):
        assert not re.search(r"apt-get install|pip install|gcc|build-essential", run), run
    for copy in final.all("COPY"):
        assert "--from=" in copy, copy
        assert not re.search(r"\btests\b|\bbench\b", copy), copy
    build = stages()[0]
    assert not any(re.search(r"\btests\b|\bbench\b", c) for c in build.all("COPY"))


@pytest.mark.parametrize("excluded", [".venv", ".cache", ".streamscore", "tests", ".git"])
def test_the_build_context_leaves_out_local_state_and_tests(excluded: str) -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    assert excluded in {line.strip() for line in lines}
