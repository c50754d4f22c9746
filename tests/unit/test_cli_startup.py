"""`streamscore --help` and a bad argument answer at once: building the parser loads
none of the libraries the commands run on (scikit-learn, scipy, Kafka, pandas, the API).
Each runs in a fresh interpreter, since this one has imported everything already."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("sklearn", "scipy", "confluent_kafka", "numpy", "pandas", "fastapi", "uvicorn")
LOADED = f"sorted(m for m in sys.modules if m.split('.')[0] in {set(HEAVY)!r})"


def python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )


def test_building_the_parser_loads_no_heavy_library() -> None:
    run = python(
        f"import sys; from streamscore.cli import build_parser; build_parser(); print({LOADED})"
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


def test_a_bad_argument_is_a_usage_error_exit_2_without_loading_a_heavy_library() -> None:
    run = python(
        "import atexit, sys\n"
        f"atexit.register(lambda: print({LOADED}))\n"
        "from streamscore.cli import main\n"
        "sys.exit(main(['score', '--batch-size', 'many']))\n"
    )
    assert run.returncode == 2
    assert run.stderr.startswith("usage: streamscore score ")
    assert "error: argument --batch-size: invalid int value: 'many'" in run.stderr
    assert "Traceback" not in run.stderr
    assert run.stdout.strip() == "[]"
