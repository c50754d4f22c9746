"""HTTP scoring benchmark: `streamscore serve` against the seed's naive app and a ceiling.

One run, one machine, the same model, the same server stack (uvicorn with uvloop and
httptools, one worker, no access log) and the same load generator (`wrk`, one thread,
installed with apt-get when missing), rotating over generated events as `POST /predict`
bodies:

(a) naive     `naive_api.py`: the seed's FastAPI app, a pydantic body model, then one
              `predict` and one `predict_proba` on a one-row frame per request;
(b) serve     `streamscore serve`: the contract's validation, adaptive batching, one JSON
              log line per request on stdout (to a file here), metrics; no broker;
(c) constant  `constant_api.py`: FastAPI returning fixed bytes without reading the body.

Requests/s and p50/p99 latency (wrk's own, from the client's side) at each concurrency.

    python bench/rest_bench.py                     # 10 s per run, concurrency 1, 8, 64
    python bench/rest_bench.py --duration 5 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO_ROOT / "bench"
BIN = Path(sys.executable).parent

LUA = """
local bodies = {%s}
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = i %% #bodies + 1
  return wrk.format(nil, "/predict", nil, bodies[i])
end
"""


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk not found: installing it with apt-get (Debian package `wrk`)", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    return shutil.which("wrk") or "wrk"


def train(registry: Path) -> None:
    from core.registry import ModelRegistry
    from core.training import train_and_evaluate
    from producers.generator import ChurnGenerator

    store = ModelRegistry(registry)
    trained = train_and_evaluate(ChurnGenerator(seed=42).reference(20_000), "logistic", 42)
    version = trained.register(store, "churn", {}, trigger="bench").version
    store.promote("churn", version, "production", "bench")


def lua_script(path: Path, n: int = 200) -> None:
    from producers.generator import ChurnGenerator

    events = [e for e, _ in ChurnGenerator(seed=9).events(n)]
    bodies = ",".join(json.dumps(json.dumps(e)) for e in events)
    path.write_text(LUA % bodies)


def free_port() -> int:
    from core.kafka.local_broker import free_port as pick

    return pick()


@contextmanager
def server(cmd: list[str], port: int, env: dict[str, str], log: Path) -> Iterator[None]:
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=REPO_ROOT, env=env)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/docs", timeout=2).read()
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"{cmd} did not start; see {log}") from None
                    time.sleep(0.2)
            yield
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip()).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def run_wrk(wrk: str, port: int, script: Path, connections: int, seconds: int) -> dict[str, Any]:
    out = subprocess.run(
        [
            wrk,
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}/predict",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return {
        "connections": connections,
        "requests": total,
        "rps": rps,
        "p50_ms": p50,
        "p99_ms": p99,
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(0) if errors else "",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--concurrency", default="1,8,64")
    parser.add_argument("--only", default="naive,serve,constant")
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args()
    wrk = ensure_wrk()
    levels = [int(c) for c in args.concurrency.split(",")]
    work = Path(tempfile.mkdtemp(prefix="rest-bench-"))
    registry = work / "registry"
    train(registry)
    script = work / "events.lua"
    lua_script(script)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMSCORE_")}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    env |= {
        "STREAMSCORE_REGISTRY__PATH": str(registry),
        "STREAMSCORE_STATE_DIR": str(work / "state"),
        "STREAMSCORE_LOGGING__FORMAT": "json",
    }
    results: dict[str, list[dict[str, Any]]] = {}
    for kind in args.only.split(","):
        port = free_port()
        cmd = {
            "naive": [sys.executable, str(BENCH_DIR / "naive_api.py"), str(registry), str(port)],
            "serve": [str(BIN / "streamscore"), "serve", "--port", str(port)],
            "constant": [sys.executable, str(BENCH_DIR / "constant_api.py"), str(port)],
        }[kind]
        with server(cmd, port, env, work / f"{kind}.log"):
            run_wrk(wrk, port, script, 8, 2)  # warm-up
            results[kind] = []
            for c in levels:
                row = run_wrk(wrk, port, script, c, args.duration)
                results[kind].append(row)
                print(
                    f"{kind:9s} c={c:<3d} {row['rps']:>9,.0f} req/s  p50 {row['p50_ms']:7.2f} ms"
                    f"  p99 {row['p99_ms']:7.2f} ms  non-2xx {row['non_2xx']}"
                    f" {row['socket_errors']}",
                    flush=True,
                )
        if kind == "serve":
            lines = sum(1 for _ in (work / "serve.log").open())
            print(f"          ({lines:,} log lines written by streamscore serve)", flush=True)
    print()
    print(table(results, levels))
    if args.json:
        machine = {"python": platform.python_version(), "cpus": os.cpu_count()}
        args.json.write_text(json.dumps({"machine": machine, "results": results}, indent=2))
    return 0


def table(results: dict[str, list[dict[str, Any]]], levels: list[int]) -> str:
    names = {
        "naive": "(a) naive FastAPI app",
        "serve": "**(b) streamscore serve**",
        "constant": "(c) FastAPI constant",
    }
    head = "| server | " + " | ".join(f"c={c} req/s | p50 ms | p99 ms" for c in levels) + " |"
    rule = "|---|" + "---:|---:|---:|" * len(levels)
    rows = [head, rule]
    for kind, runs in results.items():
        cells = " | ".join(f"{r['rps']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f}" for r in runs)
        rows.append(f"| {names[kind]} | {cells} |")
    if {"naive", "serve", "constant"} <= results.keys():
        for i, c in enumerate(levels):
            b = results["serve"][i]["rps"]
            rows.append(
                f"\nc={c}: (b)/(a) = {b / results['naive'][i]['rps']:.1f}x, "
                f"(b)/(c) = {b / results['constant'][i]['rps']:.2f}"
            )
    return "\n".join(rows)


if __name__ == "__main__":
    raise SystemExit(main())
