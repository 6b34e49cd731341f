"""Emulator HTTP ingest: events per second through ``POST /1/batch/{dataset}``, end to end.

Starts the real emulator (uvicorn, one process) on loopback, sends batches of 1 000 events
(~250 bytes each, like the demo's spans) from 1 and from 4 concurrent clients, and prints events/s
(median of 3 rounds). Run: `.venv/bin/python -m tests.bench.bench_emulator_http` (or `make bench`).
"""

from __future__ import annotations

import json
import random
import statistics
import threading
import time

import httpx

from tests.support.servers import DEFAULT_EMULATOR_KEY, start_emulator

BATCH = 1_000
BATCHES_PER_ROUND = 20
ROUNDS = 3
VERSIONS = ("v1.4.2", "v1.5.0", "v1.5.1")


def _batch(seed: int) -> bytes:
    rng = random.Random(seed)
    now = time.time()
    items = []
    for i in range(BATCH):
        failed = rng.random() < 0.01
        items.append(
            {
                "time": now - rng.random() * 600,
                "data": {
                    "name": "POST /checkout",
                    "service.name": "checkout",
                    "service.version": VERSIONS[i % 3],
                    "duration_ms": round(rng.lognormvariate(4.5, 0.45), 3),
                    "http.response.status_code": 500 if failed else 200,
                    "error": failed,
                    "trace.trace_id": f"{rng.getrandbits(128):032x}",
                    "trace.span_id": f"{rng.getrandbits(64):016x}",
                },
            }
        )
    return json.dumps(items).encode()


def _send(url: str, bodies: list[bytes]) -> None:
    headers = {"X-Honeycomb-Team": DEFAULT_EMULATOR_KEY, "Content-Type": "application/json"}
    with httpx.Client(base_url=url, timeout=60) as client:
        for body in bodies:
            response = client.post("/1/batch/bench", content=body, headers=headers)
            response.raise_for_status()


def _round(url: str, bodies: list[bytes], clients: int) -> float:
    """Events per second for sending every body, split across ``clients`` threads."""
    shares = [bodies[i::clients] for i in range(clients)]
    threads = [threading.Thread(target=_send, args=(url, share)) for share in shares]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(bodies) * BATCH / (time.perf_counter() - started)


def main() -> None:
    bodies = [_batch(i) for i in range(BATCHES_PER_ROUND)]
    print(f"batch: {BATCH} events, {len(bodies[0]) / 1000:.0f} kB of JSON")
    with start_emulator() as server:
        _send(server.url, bodies[:2])  # warm up (dataset and columns created)
        for clients in (1, 4):
            rate = statistics.median(_round(server.url, bodies, clients) for _ in range(ROUNDS))
            print(f"POST /1/batch, {clients} client(s): {rate:,.0f} events/s (median of {ROUNDS})")


if __name__ == "__main__":
    main()
