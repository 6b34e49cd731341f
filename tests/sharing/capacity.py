"""Fleet capacity (issue 12): N canaries on one Honeycomb key, each checking its own pod-template hash.

N canaries spread over 20 clusters, each asking an error rate and a P99 of its own hash once a
minute (at its own second), through 4 evaluator instances on one DynamoDB table (moto), against
the emulator holding the key to 10 query-result creations a minute. Figures per simulated
minute: checks asked, answered with a value, 503s, Honeycomb runs used, upstream 429s.

Time is compressed: a simulated minute lasts `minute_seconds` of real time. The emulator's and
the evaluator's rate windows are set to that length (`--rate-limit-window-seconds`,
`EVALUATOR_RATE_WINDOW_SECONDS`), so the key's budget per simulated minute is the real one. Each
simulated minute m asks for its own absolute 10-minute window, one minute after the previous
(what a relative `time_range: 600` resolves to minute after minute), with `max_age_seconds` one
simulated minute (what "while the window is current" gives a relative window in real time). So
the ratio of Honeycomb runs to checks is the real one.

With `sliced`, each canary instead asks once a minute for the slices template's comparison of
its own hash against its own stable version's, sliced by route and plan (hash x dimensions, one
query a comparison; fusion puts 25 canaries' comparisons into one query).

Used by tests/sharing/test_capacity.py (assertions) and tests/bench/bench_capacity.py (figures):
`.venv/bin/python -m tests.sharing.capacity 100` (`--sliced 100` for the sliced comparisons).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support.aws import evaluators_sharing_one_table
from tests.support.evaluations import emulator_stats, write_registry
from tests.support.servers import Server, aws_env, start_emulator, start_moto

TEMPLATES = Path(__file__).resolve().parents[2] / "infra" / "argo-rollouts"

WINDOW = 600  # each check's query window (seconds)
EVENT_EVERY = 20  # seconds between a canary's seeded events
ROUTES = ("/checkout", "/checkout/cart", "/checkout/payment")
PLANS = ("free", "enterprise")


@dataclass(frozen=True)
class Plan:
    canaries: int
    clusters: int = 20
    instances: int = 4
    minutes: int = 4  # simulated minutes (distinct windows); the first is the cold start
    minute_seconds: float = 30.0  # real seconds per simulated minute
    per_minute: int = 10  # Honeycomb's query-result creations per minute for the key
    sliced: bool = False  # one sliced comparison a minute per canary instead of two metrics

    def hash_of(self, canary: int) -> str:
        return f"c{canary:08x}"

    def stable_of(self, canary: int) -> str:
        return f"s{canary:08x}"

    @property
    def checks_per_canary(self) -> int:
        return 1 if self.sliced else 2


@dataclass
class Minute:
    asked: int = 0
    valued: int = 0  # 200 with a number
    empty: int = 0  # 200 with value null
    refused: int = 0  # 503 rate_limited
    other: dict[str, int] = field(default_factory=dict)  # other error codes / transport errors
    runs: int = 0  # query results Honeycomb created
    honeycomb_429: int = 0
    samples: list[str] = field(default_factory=list)  # a few error messages, to explain the figures

    @property
    def answered(self) -> int:
        return self.valued + self.empty


@dataclass
class Report:
    plan: Plan
    minutes: list[Minute]

    def steady(self) -> list[Minute]:
        """Every minute after the first (the first is the fleet's cold start)."""
        return self.minutes[1:]

    def lines(self) -> list[str]:
        p = self.plan
        out = [
            f"{p.canaries} canaries, {p.clusters} clusters, {p.instances} instances, "
            f"{p.per_minute} runs/min, minute = {p.minute_seconds:g} s"
        ]
        for n, m in enumerate(self.minutes):
            other = f" other {m.other}" if m.other else ""
            out.append(
                f"  minute {n}: asked {m.asked}, with a value {m.valued}, null {m.empty}, "
                f"503 {m.refused}, runs {m.runs}, upstream 429 {m.honeycomb_429}{other}"
            )
            out += [f"    {sample}" for sample in m.samples]
        return out


def seed_events(emulator: Server, plan: Plan, first_end: int, last_end: int) -> None:
    """Events for every canary's hash over every window asked (latency and errors of its own);
    with `sliced`, its stable version's too, and a route and a plan on every event."""
    rng = random.Random(12)
    events = []
    every = EVENT_EVERY // 4 if plan.sliced else EVENT_EVERY
    for canary in range(plan.canaries):
        error_rate = rng.choice([0.004, 0.01, 0.08])
        hashes = [plan.hash_of(canary), *([plan.stable_of(canary)] if plan.sliced else [])]
        for hash_value in hashes:
            for t in range(first_end - WINDOW - 60, last_end, every):
                data: dict[str, Any] = {
                    "service.name": "checkout",
                    "rollouts_pod_template_hash": hash_value,
                    "duration_ms": rng.lognormvariate(5, 0.6),
                    "error": rng.random() < error_rate,
                }
                if plan.sliced:
                    data |= {"http.route": rng.choice(ROUTES), "user.plan": rng.choice(PLANS)}
                    if data["error"]:
                        data["exception.type"] = rng.choice(("TimeoutError", "DeclinedError"))
                events.append({"time": t + rng.uniform(0, every), "data": data})
    headers = {"X-Honeycomb-Team": emulator.extra["api_key"]}
    for start in range(0, len(events), 2000):
        batch = events[start : start + 2000]
        httpx.post(
            emulator.url + "/1/batch/checkout", json=batch, headers=headers, timeout=60
        ).raise_for_status()


def checks(plan: Plan, canary: int, end: int) -> list[dict[str, Any]]:
    """One canary's analysis at one minute: its error rate and its P99, for window `end`."""
    timeout = min(10.0, plan.minute_seconds * 0.6)  # an AnalysisTemplate's 10 s, within the minute
    base = {
        "dataset": "checkout",
        "timeout_seconds": round(timeout, 1),
        "max_age_seconds": plan.minute_seconds,
    }
    query = {
        "filters": [{"column": "rollouts_pod_template_hash", "op": "=", "value": plan.hash_of(canary)}],
        "start_time": end - WINDOW,
        "end_time": end,
    }
    error_rate = {
        **base,
        "query": {
            **query,
            "calculations": [{"op": "AVG", "column": "is_error"}],
            "calculated_fields": [{"name": "is_error", "expression": "IF($error, 1, 0)"}],
        },
    }
    p99 = {**base, "query": {**query, "calculations": [{"op": "P99", "column": "duration_ms"}]}}
    if plan.sliced:
        return [sliced_check(plan, canary, end, base)]
    return [error_rate, p99]


def sliced_check(plan: Plan, canary: int, end: int, base: dict[str, Any]) -> dict[str, Any]:
    """The slices template's body (infra/argo-rollouts/analysistemplate-canary-slices.yaml) for
    this canary against its stable version, the window pinned to the simulated minute."""
    document = yaml.safe_load((TEMPLATES / "analysistemplate-canary-slices.yaml").read_text())
    body: dict[str, Any] = document["spec"]["metrics"][0]["provider"]["web"]["jsonBody"]
    query = body["query"]
    query.pop("time_range")
    query |= {"start_time": end - WINDOW, "end_time": end}
    body["compare"] |= {"canary": plan.hash_of(canary), "baseline": plan.stable_of(canary)}
    return {**body, **base}


async def drive(
    plan: Plan, servers: list[Server], tokens: dict[str, str], ends: list[int], emulator: Server
) -> Report:
    rng = random.Random(7)
    offsets = [rng.uniform(0, plan.minute_seconds * 0.9) for _ in range(plan.canaries)]  # each its own second
    minutes = [Minute() for _ in ends]
    # Idle connections expire before uvicorn closes them (5 s), so none is reused after its close.
    limits = httpx.Limits(max_connections=128, max_keepalive_connections=128, keepalive_expiry=3)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def one(minute: Minute, canary: int, body: dict[str, Any]) -> None:
            cluster = f"cluster-{canary % plan.clusters:02d}"
            server = servers[rng.randrange(len(servers))]
            minute.asked += 1
            try:
                answer = await client.post(
                    server.url + "/v1/evaluate",
                    json=body,
                    headers={"Authorization": f"Bearer {tokens[cluster]}"},
                )
            except httpx.HTTPError as e:
                minute.other[type(e).__name__] = minute.other.get(type(e).__name__, 0) + 1
                return
            data = answer.json()
            if answer.status_code == 200:
                if data["value"] is None:
                    minute.empty += 1
                else:
                    minute.valued += 1
            elif answer.status_code == 503 and data["error"]["code"] == "rate_limited":
                minute.refused += 1
                if len(minute.samples) < 3:
                    error = data["error"]
                    minute.samples.append(
                        f"503 {error.get('budget')} {error.get('retry_after_seconds')}: {error['message']}"
                    )
            else:
                code = data.get("error", {}).get("code", str(answer.status_code))
                minute.other[code] = minute.other.get(code, 0) + 1
                if len(minute.samples) < 3:
                    minute.samples.append(f"{code}: {data.get('error', {}).get('message')}")

        async def canary_at(n: int, canary: int) -> None:
            await asyncio.sleep(
                max(0.0, started + n * plan.minute_seconds + offsets[canary] - time.monotonic())
            )
            await asyncio.gather(*(one(minutes[n], canary, body) for body in checks(plan, canary, ends[n])))

        started = time.monotonic()
        before = emulator_stats(emulator.url)
        for n in range(len(ends)):
            tasks = [asyncio.ensure_future(canary_at(n, c)) for c in range(plan.canaries)]
            await asyncio.sleep(max(0.0, started + (n + 1) * plan.minute_seconds - time.monotonic()))
            await asyncio.gather(*tasks)  # stragglers of this minute finish before it is counted
            after = emulator_stats(emulator.url)
            minutes[n].runs = after["query_results_created"] - before["query_results_created"]
            minutes[n].honeycomb_429 = after["rate_limited"] - before["rate_limited"]
            before = after
    return Report(plan, minutes)


@contextlib.contextmanager
def capacity_servers(workdir: Path, plan: Plan) -> Iterator[tuple[Server, list[Server], dict[str, str]]]:
    registry = workdir / "callers.json"
    tokens = write_registry(registry, [f"cluster-{c:02d}" for c in range(plan.clusters)])
    window = f"{plan.minute_seconds:g}"
    with (
        start_moto() as moto,
        start_emulator(
            "--result-delay-ms", "200",
            "--rate-limit-per-minute", str(plan.per_minute),
            "--rate-limit-window-seconds", window,
        ) as emulator,
    ):  # fmt: skip
        settings = {
            "EVALUATOR_RATE_LIMIT_PER_MINUTE": str(plan.per_minute),
            "EVALUATOR_RATE_WINDOW_SECONDS": window,
            # The default 2 s margin of a 60 s window, compressed alike.
            "EVALUATOR_RATE_MARGIN_SECONDS": f"{plan.minute_seconds * 2 / 60:.2f}",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
        with evaluators_sharing_one_table(
            emulator, aws_env(moto.url), registry, plan.instances, **settings
        ) as servers:
            yield emulator, servers, tokens


def simulate(workdir: Path, plan: Plan) -> Report:
    with capacity_servers(workdir, plan) as (emulator, servers, tokens):
        last_end = int(time.time()) // 60 * 60 - 60
        ends = [last_end - 60 * (plan.minutes - 1 - n) for n in range(plan.minutes)]
        seed_events(emulator, plan, ends[0], last_end)
        return asyncio.run(drive(plan, servers, tokens, ends, emulator))


def main() -> None:
    import tempfile

    sliced = "--sliced" in sys.argv
    for canaries in [int(a) for a in sys.argv[1:] if a != "--sliced"] or [100]:
        with tempfile.TemporaryDirectory() as workdir:
            print("\n".join(simulate(Path(workdir), Plan(canaries, sliced=sliced)).lines()), flush=True)


if __name__ == "__main__":
    main()
