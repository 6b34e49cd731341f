"""A simulated fleet: many clusters, each with rollouts, evaluating through several evaluator instances.

Used by the fleet test (assertions) and runnable on its own to print the figures:
`.venv/bin/python -m tests.sharing.fleet [dynamodb|redis]` (the shared state; default dynamodb).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.evaluations import (
    VERSIONS,
    emulator_stats,
    error_rate,
    evaluation,
    served_counts,
    write_registry,
)
from tests.support.servers import Server, start_emulator
from tests.support.shared_state import evaluators_sharing_state, shared_state

CANARIES = ("bad", "good", "stable")


@dataclass
class FleetReport:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    served: Counter[str] = field(default_factory=Counter)
    pairs: set[tuple[str, int]] = field(default_factory=set)  # (spec, window start) answered
    missing_retry_after: int = 0
    transport_errors: int = 0
    created: int = 0
    honeycomb_429: int = 0
    duration_s: float = 0.0
    noisy_ok: int = 0
    quiet_ok: int = 0
    quiet_refused_by_second: Counter[int] = field(default_factory=Counter)  # wall-clock second in the minute
    samples: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            f"requests {self.requests} in {self.duration_s:.0f} s; statuses {dict(self.statuses)}",
            f"error codes {dict(self.codes)}; transport errors {self.transport_errors}",
            f"distinct (spec, window) pairs answered {len(self.pairs)}; query results created {self.created}",
            f"Honeycomb 429s {self.honeycomb_429}; 503 without Retry-After {self.missing_retry_after}",
            f"answered with a value: quiet clusters {self.quiet_ok}, noisy cluster {self.noisy_ok}",
            f"served (how/status, from the evaluators' metrics): {dict(self.served.most_common())}",
            *(f"  sample: {sample}" for sample in self.samples),
        ]


@dataclass(frozen=True)
class Rollout:
    cluster: str
    canary: str  # which demo version it is rolling out
    noisy: bool


def plan(clusters: int, rollouts: int, seed: int) -> list[Rollout]:
    rng = random.Random(seed)
    fleet = []
    for c in range(clusters):
        noisy = c == clusters - 1  # one cluster asks for a new query every time
        fleet += [Rollout(f"cluster-{c:02d}", rng.choice(CANARIES), noisy) for _ in range(rollouts)]
    return fleet


def bodies_for(rollout: Rollout, interval: int, index: int) -> list[tuple[str, dict[str, Any]]]:
    """The analysis of one rollout at one interval: latency and error rate of its canary."""
    hash_value = VERSIONS[rollout.canary]
    # The noisy cluster varies its window length, so each of its queries is new.
    time_range = 600 + 60 * ((interval * 7 + index) % 50) if rollout.noisy else 600
    return [
        (
            f"p99/{rollout.canary}/{time_range}",
            evaluation(hash_value, time_range=time_range, max_age_seconds=60),
        ),
        (
            f"err/{rollout.canary}/{time_range}",
            error_rate(hash_value, time_range=time_range, max_age_seconds=60),
        ),
    ]


async def drive(
    servers: list[Server], tokens: dict[str, str], fleet: list[Rollout], *, intervals: int, every_s: float
) -> FleetReport:
    report = FleetReport()
    rng = random.Random(1)
    started = time.monotonic()
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(timeout=40, limits=limits) as client:

        async def one(rollout: Rollout, spec: str, body: dict[str, Any]) -> None:
            await asyncio.sleep(rng.uniform(0, every_s * 0.5))  # clusters are not in lockstep
            server = rng.choice(servers)
            headers = {"Authorization": f"Bearer {tokens[rollout.cluster]}"}
            report.requests += 1
            try:
                answer = await client.post(server.url + "/v1/evaluate", json=body, headers=headers)
            except httpx.HTTPError as e:
                report.transport_errors += 1
                report.samples.append(f"{spec} {server.url[-5:]} transport error {e!r}")
                return
            report.statuses[answer.status_code] += 1
            data = answer.json()
            if answer.status_code == 200:
                report.pairs.add((spec, int(data["window"]["start_time"])))
                if rollout.noisy:
                    report.noisy_ok += 1
                else:
                    report.quiet_ok += 1
                return
            report.codes[data.get("error", {}).get("code", "?")] += 1
            if not rollout.noisy:
                report.quiet_refused_by_second[int(time.time()) % 60 // 5 * 5] += 1
                if len(report.samples) < 12:
                    report.samples.append(
                        f"{time.time() % 60:.1f} {spec} {server.url[-5:]} {data['error']['message']}"
                    )
            if answer.status_code == 503 and "Retry-After" not in answer.headers:
                report.missing_retry_after += 1

        for interval in range(intervals):
            tick = started + interval * every_s
            await asyncio.sleep(max(0.0, tick - time.monotonic()))
            calls = [
                one(rollout, spec, body)
                for index, rollout in enumerate(fleet)
                for spec, body in bodies_for(rollout, interval, index)
            ]
            await asyncio.gather(*calls)
    report.duration_s = time.monotonic() - started
    return report


@contextlib.contextmanager
def fleet_servers(
    workdir: Path, instances: int, clusters: int, backend: str = "dynamodb"
) -> Iterator[tuple[Server, list[Server], dict[str, str]]]:
    registry = workdir / "callers.json"
    tokens = write_registry(registry, [f"cluster-{c:02d}" for c in range(clusters)])
    with (
        shared_state(backend) as state,
        start_emulator("--demo", "--result-delay-ms", "200", "--rate-limit-per-minute", "10") as emulator,
    ):
        settings = {"EVALUATOR_RATE_LIMIT_PER_MINUTE": "10", "POWERTOOLS_LOG_LEVEL": "WARNING"}
        with evaluators_sharing_state(emulator, state.fresh(), registry, instances, **settings) as servers:
            yield emulator, servers, tokens


def simulate(
    workdir: Path,
    *,
    instances: int = 4,
    clusters: int = 20,
    rollouts: int = 5,
    intervals: int = 9,
    every_s: float = 15,
    backend: str = "dynamodb",
) -> FleetReport:
    with fleet_servers(workdir, instances, clusters, backend) as (emulator, servers, tokens):
        report = asyncio.run(
            drive(servers, tokens, plan(clusters, rollouts, seed=5), intervals=intervals, every_s=every_s)
        )
        stats = emulator_stats(emulator.url)
        report.served = served_counts(servers)
    report.created = int(stats["query_results_created"])
    report.honeycomb_429 = int(stats["rate_limited"])
    return report


def main() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as workdir:
        backend = sys.argv[1] if len(sys.argv) > 1 else "dynamodb"
        for line in simulate(Path(workdir), backend=backend).lines():
            print(line)


if __name__ == "__main__":
    main()
