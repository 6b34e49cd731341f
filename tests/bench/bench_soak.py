"""Soak figures for docs/performance.md ("## Soak"): does `serve` stay flat under steady mixed load?

`SOAK_SECONDS` (default 600) of traffic at `CONCURRENCY` clients on kept-alive connections
against `honeycomb-evaluator serve` and the emulator (results after 200 ms, Honeycomb's budget
set to the evaluator's, 300/min, so any 429 from it would be a budget bug; the result cache
bound set to 4 MiB so it is reached during the warm-up):

- repeated queries (the canary case: the same few specs, `max_age_seconds` 30),
- distinct queries (a new spec each time: these spend the budget and meet its 503s),
- large breakdowns with series from a pool of 20 (they fill the byte-bounded result cache),
- bad input (422, 400, 405) at a steady trickle,

with faults armed on the emulator for 20 s of every 60 (`POST /_emulator/faults`: 503s, 2 s
latency, malformed and truncated bodies, dropped connections, taking turns).

Reported: the evaluator's RSS and open descriptors (from /proc) at start, after warm-up
(`WARMUP_SECONDS`) and at the end, status counts, p50/p99 latency, the emulator's own 429s.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
import uuid
from collections import Counter
from typing import Any

import httpx
from honeycomb_emulator.demo import DEMO_HASHES

from tests.support.servers import Server, start_emulator, start_evaluator

SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "600"))
# Until the caches reach their bounds: new windows every minute make new results, and the first
# run (docs/performance.md) showed RSS level from about 4 minutes on. RSS at 60 s is printed too.
WARMUP_SECONDS = min(240.0, SOAK_SECONDS / 2.5)
CONCURRENCY = 16
BUDGET_PER_MINUTE = 300
# Small, so the caches reach their bound during the warm-up and the rest shows they stay there.
RESULT_CACHE_BYTES = 4 * 1024 * 1024
LARGE_VARIANTS = 20
KEY = "soakkey0123456789abcdef"
FAULTS = [
    {"path_prefix": "/1/query_results", "method": "POST", "status": 503, "count": -1},
    {"path_prefix": "/1/query_results", "method": "GET", "mode": "latency", "latency_ms": 2000, "count": -1},
    {"path_prefix": "/1/query_results", "method": "GET", "mode": "malformed", "count": -1},
    {"path_prefix": "/1/queries", "mode": "truncated", "count": -1},
    {"path_prefix": "/1/query_results", "mode": "drop", "count": -1},
]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def canary(pod_hash: str, calculation: dict[str, Any], *extra_filters: dict[str, Any]) -> dict[str, Any]:
    filters = [{"column": "rollouts_pod_template_hash", "op": "=", "value": pod_hash}, *extra_filters]
    return {
        "dataset": "checkout",
        "query": {"calculations": [calculation], "filters": filters, "time_range": 600},
        "timeout_seconds": 8,
    }


P99 = {"op": "P99", "column": "duration_ms"}
REPEATED = [
    {**canary(h, calc), "max_age_seconds": 30}
    for h in (DEMO_HASHES["bad"], DEMO_HASHES["stable"])
    for calc in (P99, {"op": "AVG", "column": "duration_ms"}, {"op": "COUNT"})
]


def distinct() -> dict[str, Any]:
    return canary(DEMO_HASHES["bad"], P99, {"column": "name", "op": "!=", "value": uuid.uuid4().hex})


def large(variant: int) -> dict[str, Any]:
    return {
        "dataset": "checkout",
        "query": {
            "calculations": [{"op": "COUNT"}, P99],
            "breakdowns": ["name", "service.version"],
            "filters": [{"column": "duration_ms", "op": ">", "value": variant}],
            "time_range": 3600,
            "granularity": 60,
            "limit": 1000,
        },
        "select": {"calculation": "COUNT", "reduce": "sum"},
        "include_series": True,
        "max_age_seconds": 300,
    }


BAD: list[tuple[str, bytes]] = [
    ("POST", json.dumps({"dataset": "checkout", "query": {"calculations": [{"op": "NOPE"}]}}).encode()),
    ("POST", b"[" * 2000 + b"]" * 2000),
    ("GET", b""),
    ("POST", json.dumps({**REPEATED[0], "environment": "nowhere"}).encode()),
]


class Soak:
    def __init__(self, evaluator: Server, emulator: Server) -> None:
        self.evaluator, self.emulator = evaluator, emulator
        self.statuses: Counter[str] = Counter()
        self.latencies: list[float] = []
        self.samples: list[tuple[float, int, int]] = []  # seconds, RSS kB, descriptors
        self.faults_armed = 0
        self.random = random.Random(14)
        self.stop_at = 0.0

    def process_figures(self) -> tuple[int, int]:
        pid = self.evaluator.process.pid
        with open(f"/proc/{pid}/status") as status:
            rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
        return rss, len(os.listdir(f"/proc/{pid}/fd"))

    def request(self) -> tuple[str, bytes, str]:
        roll = self.random.random()
        if roll < 0.6:
            return "POST", json.dumps(self.random.choice(REPEATED)).encode(), "repeated"
        if roll < 0.7:
            return "POST", json.dumps(distinct()).encode(), "distinct"
        if roll < 0.9:
            return "POST", json.dumps(large(self.random.randrange(LARGE_VARIANTS))).encode(), "large"
        method, body = self.random.choice(BAD)
        return method, body, "bad"

    async def client(self, http: httpx.AsyncClient) -> None:
        while time.monotonic() < self.stop_at:
            method, body, kind = self.request()
            started = time.perf_counter()
            try:
                response = await http.request(
                    method, "/v1/evaluate", content=body or None, headers={"content-type": "application/json"}
                )
                outcome = str(response.status_code)
                if response.status_code >= 400:
                    outcome += " " + response.json()["error"]["code"]
            except httpx.HTTPError as e:
                outcome = type(e).__name__
            self.latencies.append(time.perf_counter() - started)
            self.statuses[f"{kind}: {outcome}"] += 1

    async def faults(self, control: httpx.AsyncClient) -> None:
        """20 s of one fault mode in every 60 s, the modes taking turns."""
        turn = 0
        while time.monotonic() < self.stop_at:
            await asyncio.sleep(min(40.0, max(0.0, self.stop_at - time.monotonic())))
            if time.monotonic() >= self.stop_at:
                break
            (await control.post("/_emulator/faults", json=FAULTS[turn % len(FAULTS)])).raise_for_status()
            self.faults_armed += 1
            turn += 1
            await asyncio.sleep(min(20.0, max(0.0, self.stop_at - time.monotonic())))
            (await control.delete("/_emulator/faults")).raise_for_status()

    async def sampler(self, started: float) -> None:
        while time.monotonic() < self.stop_at:
            rss, fds = self.process_figures()
            self.samples.append((time.monotonic() - started, rss, fds))
            await asyncio.sleep(5)

    async def run(self) -> None:
        started = time.monotonic()
        self.stop_at = started + SOAK_SECONDS
        limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
        async with (
            httpx.AsyncClient(base_url=self.evaluator.url, timeout=30, limits=limits) as http,
            httpx.AsyncClient(base_url=self.emulator.url, timeout=10) as control,
        ):
            await asyncio.gather(
                self.sampler(started), self.faults(control), *(self.client(http) for _ in range(CONCURRENCY))
            )
        self.samples.append((time.monotonic() - started, *self.process_figures()))

    def problems(self) -> list[str]:
        """What says the traffic did not get the answers the soak is meant to measure."""
        stats = httpx.get(f"{self.emulator.url}/_emulator/stats", timeout=10).json()
        found = []
        by_kind: dict[str, Counter[str]] = {}
        for outcome, count in self.statuses.items():
            kind, answer = outcome.split(": ", 1)
            by_kind.setdefault(kind, Counter())[answer] += count
            if answer.startswith("500"):
                found.append(f"{count} x {outcome}")
        # The mix asks for more query results than the budget allows (that is part of what it
        # soaks), so many answers are 503 rate_limited; but every kind must be answered too.
        for kind in ("repeated", "large", "distinct"):
            answers = by_kind.get(kind, Counter())
            ok, total = answers.get("200", 0), sum(answers.values())
            if total == 0 or ok < 0.05 * total:
                found.append(f"{kind}: {ok} of {total} answered 200")
        bad = by_kind.get("bad", Counter())
        if not bad or any(not answer.startswith("4") for answer in bad):
            found.append(f"bad input not refused with a 4xx: {dict(bad)}")
        if not stats["query_results_created"]:
            found.append("no query result was created")
        if stats["rate_limited"]:
            found.append(f"{stats['rate_limited']} upstream 429s")
        if "Traceback" in self.evaluator.output():
            found.append("the evaluator's log has a traceback:\n" + self.evaluator.output()[-3000:])
        return found

    def report(self) -> None:
        stats = httpx.get(f"{self.emulator.url}/_emulator/stats", timeout=10).json()
        first = self.samples[0]
        minute = next((s for s in self.samples if s[0] >= 60), first)
        warm = next((s for s in self.samples if s[0] >= WARMUP_SECONDS), first)
        last = self.samples[-1]
        after_warmup = [s for s in self.samples if s[0] >= WARMUP_SECONDS]
        total = sum(self.statuses.values())
        print(
            f"soak: {SOAK_SECONDS:.0f} s, {CONCURRENCY} clients, {total} requests "
            f"({total / SOAK_SECONDS:.0f}/s)"
        )
        print(
            f"RSS kB: start {first[1]}, at 60 s {minute[1]}, after {WARMUP_SECONDS:.0f} s warm-up {warm[1]}, "
            f"end {last[1]} "
            f"({100 * (last[1] - warm[1]) / warm[1]:+.1f} % since warm-up), "
            f"max after warm-up {max(s[1] for s in after_warmup)}"
        )
        print(
            f"open descriptors: start {first[2]}, after warm-up {warm[2]}, end {last[2]}, "
            f"max {max(s[2] for s in self.samples)}"
        )
        print(
            f"latency: p50 {1000 * pct(self.latencies, 0.5):.0f} ms, "
            f"p99 {1000 * pct(self.latencies, 0.99):.0f} ms, "
            f"max {1000 * max(self.latencies):.0f} ms"
        )
        print(
            f"fault windows armed: {self.faults_armed}; emulator: {stats['faults_applied']} faults applied, "
            f"{stats['query_results_created']} query results created, "
            f"upstream 429s (Honeycomb's own rate limit): {stats['rate_limited']}"
        )
        for outcome, count in sorted(self.statuses.items()):
            print(f"  {outcome}: {count}")
        print(
            "RSS/fds every 60 s:", [(round(s[0]), s[1], s[2]) for s in self.samples if round(s[0]) % 60 < 5]
        )


def main() -> None:
    emulator_flags = (
        "--demo",
        "--result-delay-ms",
        "200",
        "--rate-limit-per-minute",
        str(BUDGET_PER_MINUTE),
        "--api-key",
        f"soak={KEY}",
    )
    with start_emulator(*emulator_flags) as emulator:
        env = {
            "HONEYCOMB_API_KEY": KEY,
            "HONEYCOMB_API_URL": emulator.url,
            "EVALUATOR_ALLOW_ANONYMOUS": "true",
            "EVALUATOR_RATE_LIMIT_PER_MINUTE": str(BUDGET_PER_MINUTE),
            "EVALUATOR_RESULT_CACHE_BYTES": str(RESULT_CACHE_BYTES),
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
        }
        with start_evaluator(env) as evaluator:
            soak = Soak(evaluator, emulator)
            asyncio.run(soak.run())
            soak.report()
            problems = soak.problems()
    if problems:
        raise RuntimeError(
            "the soak's traffic did not get the answers it was meant to: " + "; ".join(problems)
        )


if __name__ == "__main__":
    main()
