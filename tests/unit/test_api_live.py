"""The API over real sockets (uvicorn): concurrent requests are batched, and a promotion
under concurrent load drops no request and names the version of every answer."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2 as httpx

from api.scoring import load_warmed
from core.registry import ModelRegistry
from core.scoring import churn_probabilities
from core.validation import parse_event
from producers.generator import ChurnGenerator
from tests.api_server import serving, wait_for_version
from tests.models import train_and_register
from tests.unit.conftest import ApiSettings


def _metric(url: str, name: str) -> float:
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"no metric {name}")


def test_concurrent_requests_share_model_calls(api_settings: ApiSettings) -> None:
    sent = [e for e, _ in ChurnGenerator(seed=5).events(400)]
    with serving(api_settings(max_wait_ms=20)) as url:
        with ThreadPoolExecutor(16) as pool, httpx.Client(base_url=url) as client:
            answers = list(pool.map(lambda e: client.post("/predict", json=e), sent))
        calls = _metric(url, "streamscore_api_model_batch_size_count")
        events = _metric(url, "streamscore_api_model_batch_size_sum")
    assert all(a.status_code == 200 for a in answers)
    assert events == 400
    assert calls < 400


def test_a_promotion_under_concurrent_requests_drops_none_and_names_each_version(
    api_settings: ApiSettings, tmp_path: Path
) -> None:
    registry = ModelRegistry(tmp_path / "registry")
    v1 = train_and_register(registry, seed=1)
    v2 = train_and_register(registry, seed=2, promote=False)
    sent = [e for e, _ in ChurnGenerator(seed=6).events(50)]
    stop = threading.Event()
    answers: list[list[tuple[int, dict[str, Any], int, float]]] = [[] for _ in range(4)]

    def load(worker: int, url: str) -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            for i in range(5000):  # bounded, whatever happens
                if stop.is_set():
                    break
                event = sent[(worker * 13 + i) % len(sent)]
                response = client.post("/predict", json=event)
                answers[worker].append((response.status_code, event, *_answer(response)))

    with serving(api_settings(registry=registry.root)) as url:
        threads = [threading.Thread(target=load, args=(w, url)) for w in range(4)]
        for t in threads:
            t.start()
        while sum(len(a) for a in answers) < 200:
            threading.Event().wait(0.01)
        registry.promote("churn", v2, "production", "test")
        wait_for_version(url, v2)
        seen = sum(len(a) for a in answers)
        while sum(len(a) for a in answers) < seen + 200:
            threading.Event().wait(0.01)
        stop.set()
        for t in threads:
            t.join(60)

    flat = [a for worker in answers for a in worker]
    assert all(status == 200 for status, _, _, _ in flat)
    assert {version for _, _, version, _ in flat} == {v1, v2}
    for worker in answers:  # once a client saw the new version it never sees the old one
        versions = [v for _, _, v, _ in worker]
        first_v2 = versions.index(v2) if v2 in versions else len(versions)
        assert set(versions[first_v2:]) <= {v2}
    models = {v: load_warmed(registry, "churn", v) for v in (v1, v2)}
    for _, event, version, probability in flat[:: max(1, len(flat) // 100)]:
        parsed = parse_event(json.dumps(event).encode(), 65536)
        expected = float(churn_probabilities(models[version], [parsed])[0])
        assert abs(expected - probability) < 1e-12


def _answer(response: httpx.Response) -> tuple[int, float]:
    if response.status_code != 200:
        return -1, -1.0
    body = response.json()
    return int(body["model_version"]), float(body["probability"])
