"""How long `streamscore --help`, a subcommand's help and a bad argument take, beside a
bare interpreter start and, with `--against DIR`, beside another checkout of the code.

    .venv/bin/python bench/cli_startup.py
    git archive main | tar -x -C /tmp/main-src   # any older commit to compare with
    .venv/bin/python bench/cli_startup.py --against /tmp/main-src

Every command runs as a fresh process with `PYTHONPATH` set to the checkout it times and
the working directory elsewhere, so both checkouts use this virtualenv's libraries. The
rounds interleave the checkouts, so a busy spell on a shared machine hits both; each
figure is the best of `--runs` (the run least disturbed), with the median and the spread.
`import:` rows are the sum of `-X importtime`'s self times: the time spent importing
(the interpreter's own start-up imports included, as `python -c pass` shows).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).parent / "streamscore"
COMMANDS: dict[str, list[str]] = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "streamscore --help": [str(SCRIPT), "--help"],
    "streamscore score --help": [str(SCRIPT), "score", "--help"],
    "streamscore score --batch-size x": [str(SCRIPT), "score", "--batch-size", "x"],
}


def wall(command: list[str], source: Path, cwd: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(source)}
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, capture_output=True, check=False)
    return time.perf_counter() - started


IMPORTS: dict[str, list[str]] = {
    "import: python -c pass": ["-c", "pass"],
    "import: streamscore --help": ["-m", "streamscore", "--help"],
}


def import_seconds(arguments: list[str], source: Path, cwd: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(source)}
    command = [sys.executable, "-X", "importtime", *arguments]
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    self_us = [
        int(line.split("|")[0].split(":")[1])
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and line.split("|")[0].split(":")[1].strip().isdigit()
    ]
    return sum(self_us) / 1e6


def describe(samples: list[float]) -> str:
    return (
        f"best {min(samples):6.3f} s  median {statistics.median(samples):6.3f} s  "
        f"spread {max(samples) - min(samples):5.3f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--against", type=Path, metavar="DIR", help="another checkout")
    args = parser.parse_args()
    sources = {"this": ROOT} | ({"against": args.against.resolve()} if args.against else {})
    times: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as cwd:
        for _ in range(args.runs):
            for label, source in sources.items():
                for name, command in COMMANDS.items():
                    times.setdefault((label, name), []).append(wall(command, source, cwd))
                for name, arguments in IMPORTS.items():
                    seconds = import_seconds(arguments, source, cwd)
                    times.setdefault((label, name), []).append(seconds)
    for label, source in sources.items():
        print(f"{label} ({source}), {args.runs} runs:")
        for name in [*COMMANDS, *IMPORTS]:
            print(f"  {name:<34} {describe(times[label, name])}")
    if args.against:
        print("this / against (best):")
        for name in [*COMMANDS, *IMPORTS]:
            ratio = min(times["this", name]) / min(times["against", name])
            print(f"  {name:<34} {ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
