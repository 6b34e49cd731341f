"""Emulator query engine: ingest rate into the Store and a P99-with-breakdown query over 1M events.

Run: `.venv/bin/python -m tests.bench.bench_emulator_engine` (or `make bench`). Prints figures only.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "emulator"))

from honeycomb_emulator.engine import Event, Store, run_query

EVENTS = 1_000_000
BATCH = 10_000
SMALL_EVENTS = 200_000
SMALL_BATCH = 1_000
QUERY_RUNS = 5
VERSIONS = ("v1.4.2", "v1.5.0", "v1.5.1")
ROUTES = ("GET /cart", "POST /checkout", "GET /health", "POST /pay", "GET /items")


def _events(now: float, count: int, seed: int) -> list[Event]:
    rng = random.Random(seed)
    events = []
    for i in range(count):
        version = VERSIONS[i % 3]
        events.append(
            Event(
                time=now - rng.random() * 3 * 3600,
                data={
                    "name": rng.choice(ROUTES),
                    "service.name": "checkout",
                    "service.version": version,
                    "duration_ms": rng.lognormvariate(4.0, 0.6),
                    "http.response.status_code": 500 if rng.random() < 0.01 else 200,
                    "error": rng.random() < 0.01,
                    "trace.trace_id": f"{rng.getrandbits(64):016x}",
                },
                samplerate=1 if i % 10 else 4,
            )
        )
    return events


def main() -> None:
    now = time.time()
    store = Store()
    # Batches are built one at a time (as HTTP requests would bring them) and only add_events is timed.
    ingest_seconds = 0.0
    for seed in range(EVENTS // BATCH):
        batch = _events(now, BATCH, seed)
        started = time.perf_counter()
        store.add_events("checkout", batch)
        ingest_seconds += time.perf_counter() - started
    print(f"ingest: {EVENTS:,} events in batches of {BATCH:,}: {EVENTS / ingest_seconds:,.0f} events/s")

    # HTTP-sized batches (the emulator's /1/batch requests) into a second dataset.
    small_seconds = 0.0
    for seed in range(SMALL_EVENTS // SMALL_BATCH):
        batch = _events(now, SMALL_BATCH, 1000 + seed)
        started = time.perf_counter()
        store.add_events("checkout-small", batch)
        small_seconds += time.perf_counter() - started
    print(
        f"ingest: {SMALL_EVENTS:,} events in batches of {SMALL_BATCH:,}: "
        f"{SMALL_EVENTS / small_seconds:,.0f} events/s"
    )

    spec = {
        "calculations": [{"op": "P99", "column": "duration_ms"}],
        "breakdowns": ["service.version"],
        "time_range": 4 * 3600,
    }
    for label, kwargs in (("with series", {}), ("results only (disable_series)", {"disable_series": True})):
        timings = []
        for _ in range(QUERY_RUNS):
            started = time.perf_counter()
            run_query(store, "checkout", spec, time.time(), **kwargs)  # type: ignore[arg-type]
            timings.append(time.perf_counter() - started)
        print(
            f"P99(duration_ms) by service.version over {EVENTS:,} events, {label}: "
            f"median {statistics.median(timings) * 1000:.0f} ms of {QUERY_RUNS} runs"
        )
    store.close()


if __name__ == "__main__":
    main()
