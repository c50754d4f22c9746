"""The demo with its live view against the demo without it, side by side in one run.

    python bench/demo_view_bench.py [--rounds 3] [--events 20000] [--rate 5000] [--json OUT]

The live view's feed scrapes every process's `/metrics` three times a second and polls
the alert and decision topics, inside the demo's own Python process: it must not slow
the loop it shows. Each round runs `streamscore demo` twice on one broker (the order
alternates between rounds): (a) `--json`, which starts no feed, and (b) on a
pseudo-terminal (`script`), which draws the live view. Reported per variant, median and
spread over the rounds: the demo's wall time ("done in") and the time from the first
drift alert to the first prediction by the retrained version; then (b)/(a). A ratio
near 1 says the view costs the loop nothing measurable. Not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from core.kafka.local_broker import LocalBroker

ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")


def demo_env(state_dir: Path, bootstrap: str) -> dict[str, str]:
    state_dir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMSCORE_")}
    env["STREAMSCORE_STATE_DIR"] = str(state_dir)
    env["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
    env["COLUMNS"], env["LINES"] = "110", "50"
    return env


def without_view(bootstrap: str, state_dir: Path, events: int, rate: float) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "streamscore", "demo", "--json", "--events", str(events),
         "--rate", str(rate)],
        env=demo_env(state_dir, bootstrap), capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    result = json.loads(out.strip().splitlines()[-1])
    return {"seconds": result["seconds"], "alert_to_v2_s": result["alert_to_new_version_s"]}


def with_view(bootstrap: str, state_dir: Path, events: int, rate: float) -> dict[str, float]:
    command = (
        f"{sys.executable} -m streamscore demo --events {events} --rate {rate}"
        f" --frame {state_dir / 'frame.txt'}"
    )
    out = subprocess.run(
        ["script", "-qfec", command, "/dev/null"],
        env=demo_env(state_dir, bootstrap), capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    text = ANSI.sub("", out)
    done = re.search(r"done in ([\d.]+) s", text)
    alert = re.search(r"retrained version: ([\d.]+) s", text)
    if done is None or alert is None:
        raise SystemExit("the live run printed no summary:\n" + text[-2000:])
    return {"seconds": float(done.group(1)), "alert_to_v2_s": float(alert.group(1))}


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 2),
        "min": min(values),
        "max": max(values),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=5000.0)
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="demo-view-bench-") as tmp:
        root = Path(tmp)
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
        broker = None
        if not bootstrap:
            broker = LocalBroker(root / "broker")
            bootstrap = broker.start().bootstrap
        runs: dict[str, list[dict[str, float]]] = {"without view": [], "live view": []}
        try:
            for i in range(args.rounds):
                order = [("without view", without_view), ("live view", with_view)]
                for name, run in order if i % 2 == 0 else order[::-1]:
                    figures = run(bootstrap, root / f"{name[0]}{i}", args.events, args.rate)
                    runs[name].append(figures)
                    print(f"round {i + 1}: {name:12} {figures}", flush=True)
        finally:
            if broker is not None:
                broker.stop()
    report: dict[str, object] = {}
    for name, figures in runs.items():
        report[name] = {key: summary([f[key] for f in figures]) for key in figures[0]}
    ratios = {
        key: round(
            statistics.median(f[key] for f in runs["live view"])
            / statistics.median(f[key] for f in runs["without view"]),
            3,
        )
        for key in runs["live view"][0]
    }
    report["live/without"] = ratios
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps({"runs": runs, **report}, indent=2))


if __name__ == "__main__":
    main()
