"""Gate figures for docs/performance.md ("## Gates: SLO and Flagger").

Over HTTP on loopback, one client, requests one after another, against `honeycomb-evaluator serve`
and the emulator with the demo SLOs (tests/support/demo_slos.yaml), memory state backend:

1. SLO gate, first call of an SLO: the evaluator reads the detailed SLO and its burn alerts (side
   by side) and `/1/auth` for the link; the emulator computes the SLO from its events on demand
   (Honeycomb serves precomputed reporting), so this mostly measures the emulator. Each of
   `FRESH_ROUNDS` rounds starts a new evaluator (the cache is per process).
2. SLO gate, cached: the same request again within the reporting period (no Honeycomb call).
3. Flagger route vs `POST /v1/evaluate` on the same cached evaluation (`max_age_seconds: 60`):
   the route's own work (payload, placeholders, the decision) is the difference of the medians.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

import httpx
from honeycomb_emulator.demo import DEMO_HASHES

from tests.support.servers import DEFAULT_EMULATOR_KEY, start_emulator, start_evaluator

DEMO_SLOS = Path(__file__).resolve().parents[1] / "support" / "demo_slos.yaml"
FRESH_ROUNDS = 5
CACHED_CALLS = 300
REQUEST = {
    "dataset": "checkout",
    "query": {
        "calculated_fields": [{"name": "is_error", "expression": "IF($error, 1, 0)"}],
        "calculations": [{"op": "AVG", "column": "is_error"}],
        "filters": [{"column": "rollouts_pod_template_hash", "op": "=", "value": DEMO_HASHES["good"]}],
        "time_range": 600,
    },
    "max_age_seconds": 60,
}
FLAGGER = {
    "name": "checkout",
    "namespace": "shop",
    "phase": "Progressing",
    "checksum": "c0ffee",
    "metadata": {"max": "0.02", "request": json.dumps(REQUEST)},
}


def timed(client: httpx.Client, path: str, body: dict[str, Any]) -> float:
    started = time.perf_counter()
    answer = client.post(path, json=body)
    elapsed = (time.perf_counter() - started) * 1000
    if answer.status_code != 200:
        raise RuntimeError(f"{path}: {answer.status_code} {answer.text}")
    return elapsed


def quantiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    return f"median {statistics.median(ordered):.2f} ms, p95 {p95:.2f} ms (n={len(ordered)})"


def main() -> None:
    slo = {"dataset": "checkout", "slo_id": "StableAvail"}
    with start_emulator("--demo", "--slos", str(DEMO_SLOS), "--result-delay-ms", "0") as emulator:
        env = {
            "HONEYCOMB_API_URL": emulator.url,
            "HONEYCOMB_API_KEY": DEFAULT_EMULATOR_KEY,
            "EVALUATOR_ALLOW_ANONYMOUS": "true",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
        fresh = []
        for _ in range(FRESH_ROUNDS):
            with (
                start_evaluator(env) as evaluator,
                httpx.Client(base_url=evaluator.url, timeout=30) as client,
            ):
                fresh.append(timed(client, "/v1/slo", slo))
        print(f"SLO gate, first call (evaluator new each round): {quantiles(fresh)}")
        with start_evaluator(env) as evaluator, httpx.Client(base_url=evaluator.url, timeout=30) as client:
            timed(client, "/v1/slo", slo)
            cached = [timed(client, "/v1/slo", slo) for _ in range(CACHED_CALLS)]
            print(f"SLO gate, cached: {quantiles(cached)}")
            timed(client, "/v1/evaluate", REQUEST)
            evaluate, flagger = [], []
            for _ in range(CACHED_CALLS):  # interleaved, so load changes hit both alike
                evaluate.append(timed(client, "/v1/evaluate", REQUEST))
                flagger.append(timed(client, "/v1/flagger", FLAGGER))
            print(f"POST /v1/evaluate, cached evaluation: {quantiles(evaluate)}")
            print(f"POST /v1/flagger, same evaluation: {quantiles(flagger)}")
            created = httpx.get(f"{emulator.url}/_emulator/stats", timeout=10).json()["query_results_created"]
            print(f"query results created by all of the above: {created}")


if __name__ == "__main__":
    main()
