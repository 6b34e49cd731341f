"""Fleet capacity (issues 12, 24): N canaries on one Honeycomb key, in real-time minutes.

N canaries spread over 20 clusters, each asking an error rate and a P99 of its own pod-template
hash once a minute (at its own second, `time_range: 600` as the shipped templates do), through
evaluator instances sharing one state (4 on a DynamoDB table on moto or on one Redis; 1 on the
memory backend), against the emulator holding the key to Honeycomb's 10 query-result creations
in any 60 s. The first minute is the fleet's start: no canary was ever checked. One canary in
twenty sends no events (its checks are answered `null`).

Figures per minute: checks asked, answered with a value, answered null, 503s, other errors,
Honeycomb runs, upstream 429s; `Report.problems` lists what breaks the claim "every check answered
in every minute, at most 10 runs a minute, no 429". Requests go through a raw keep-alive client
(tests/support/rawhttp.py), so a thousand canaries cost the driver little CPU.

With `sliced`, each canary instead asks once a minute for the slices template's comparison of
its own hash against its own stable version's, sliced by route and plan (hash x dimensions, one
query a comparison; fusion puts 25 canaries' comparisons into one query once their pairs are
listed by a settled step: every comparison is answered from the third minute).

Used by tests/sharing/test_capacity.py (a small fleet, slow tests) and tests/bench/bench_capacity.py
(100 and 1,000 canaries): `.venv/bin/python -m tests.sharing.capacity 100 dynamodb` (add
`--sliced` for the sliced comparisons).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support.aws import recorded_operations
from tests.support.evaluations import emulator_stats, served_counts, write_registry
from tests.support.rawhttp import Pool
from tests.support.servers import Server, aws_env, start_emulator, start_evaluator, start_moto, start_redis
from tests.support.shared_state import REDIS_DATABASES, DynamoDBState, RedisState, evaluators_sharing_state

TEMPLATES = Path(__file__).resolve().parents[2] / "infra" / "argo-rollouts"
WINDOW = 600  # each check's query window (seconds)
EVENT_EVERY = 20  # seconds between a canary's seeded events
SILENT_EVERY = 20  # every 20th canary sends no events: its checks are answered null
MAX_RUNS_PER_MINUTE = 10  # Honeycomb's creations per minute for the key
ROUTES = ("/checkout", "/checkout/cart", "/checkout/payment")
PLANS = ("free", "enterprise")


@dataclass(frozen=True)
class Plan:
    canaries: int
    backend: str = "dynamodb"  # memory (one instance), dynamodb or redis (`instances`)
    clusters: int = 20
    instances: int = 4
    minutes: int = 3  # real minutes; the first is the fleet's start
    timeout_seconds: float = 15.0  # the shipped AnalysisTemplates' timeout_seconds
    sliced: bool = False  # one sliced comparison a minute per canary instead of two metrics

    def hash_of(self, canary: int) -> str:
        return f"c{canary:08x}"

    def stable_of(self, canary: int) -> str:
        return f"s{canary:08x}"

    @property
    def checks_per_canary(self) -> int:
        return 1 if self.sliced else 2

    @property
    def evaluators(self) -> int:
        return 1 if self.backend == "memory" else self.instances


@dataclass
class Minute:
    asked: int = 0
    valued: int = 0  # 200 with a number
    empty: int = 0  # 200 with value null
    refused: int = 0  # 503 rate_limited
    other: Counter[str] = field(default_factory=Counter)  # other error codes / transport errors
    runs: int = 0  # query results Honeycomb created
    honeycomb_429: int = 0
    store_ops: int = 0  # state-store operations (DynamoDB calls or Redis commands)
    samples: list[str] = field(default_factory=list)  # a few error messages, to explain the figures

    @property
    def answered(self) -> int:
        return self.valued + self.empty


@dataclass
class Report:
    plan: Plan
    minutes: list[Minute]
    served: Counter[str] = field(default_factory=Counter)  # how the evaluators answered
    store_ops: Counter[str] = field(default_factory=Counter)  # DynamoDB calls or Redis commands
    seconds: float = 0.0

    def problems(self) -> list[str]:
        """What breaks the claim: every check answered in every minute, ≤ 10 runs, no 429 in any.

        A sliced fleet's claim starts at its third minute: a comparison is fused from the step
        after the one it was first noted in, from the pairs the steps before list, and a fleet
        starting over a minute spans two steps; until then most comparisons run alone, and a
        minute whose stragglers wait for tokens lasts longer than 60 s (Honeycomb's limit, any
        10 in 60 s, is checked by its 429s in every minute)."""
        found = []
        claimed_from = 2 if self.plan.sliced else 0
        for n, m in enumerate(self.minutes):
            if m.asked != self.plan.checks_per_canary * self.plan.canaries:
                found.append(f"minute {n}: {m.asked} checks asked")
            if n >= claimed_from and m.answered != m.asked:
                found.append(f"minute {n}: {m.answered} of {m.asked} checks answered")
            if n >= claimed_from and m.runs > MAX_RUNS_PER_MINUTE:
                found.append(f"minute {n}: {m.runs} runs")
            if m.honeycomb_429:
                found.append(f"minute {n}: {m.honeycomb_429} upstream 429s")
        return found

    def lines(self) -> list[str]:
        p = self.plan
        what = "a sliced comparison" if p.sliced else "2 metrics"
        out = [
            f"{p.canaries} canaries x {what}, {p.clusters} clusters, {p.evaluators} evaluator(s) on "
            f"{p.backend}, {MAX_RUNS_PER_MINUTE} runs/min, real-time minutes ({self.seconds:.0f} s)"
        ]
        for n, m in enumerate(self.minutes):
            other = f" other {dict(m.other)}" if m.other else ""
            ops = f", state store {m.store_ops} ops" if self.store_ops else ""
            out.append(
                f"  minute {n}: asked {m.asked}, with a value {m.valued}, null {m.empty}, "
                f"503 {m.refused}, runs {m.runs}, upstream 429 {m.honeycomb_429}{ops}{other}"
            )
            out += [f"    {sample}" for sample in m.samples]
        out.append(f"  served: {dict(self.served.most_common())}")
        if self.store_ops:
            checks = sum(m.asked for m in self.minutes)
            ops = ", ".join(f"{name} {count}" for name, count in self.store_ops.most_common())
            total = sum(self.store_ops.values())
            out.append(
                f"  state store: {total} operations for {checks} checks ({total / checks:.2f} a check): {ops}"
            )
        return out


def seed_events(emulator: Server, plan: Plan, start: float, end: float) -> None:
    """Events of every canary but the silent ones, from `start` to `end` (latency and errors of its
    own); with `sliced`, its stable version's too, and a route and a plan on every event."""
    rng = random.Random(12)
    events = []
    every = EVENT_EVERY // 4 if plan.sliced else EVENT_EVERY
    for canary in range(plan.canaries):
        error_rate = rng.choice([0.004, 0.01, 0.08])
        if canary % SILENT_EVERY == SILENT_EVERY - 1:
            continue
        hashes = [plan.hash_of(canary), *([plan.stable_of(canary)] if plan.sliced else [])]
        for hash_value in hashes:
            for t in range(int(start), int(end), every):
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
    with httpx.Client(timeout=60) as client:
        for first in range(0, len(events), 2000):
            batch = events[first : first + 2000]
            client.post(emulator.url + "/1/batch/checkout", json=batch, headers=headers).raise_for_status()


def checks(plan: Plan, canary: int) -> list[dict[str, Any]]:
    """One canary's analysis at one minute: its error rate and its P99 over the last 10 minutes."""
    query = {
        "filters": [{"column": "rollouts_pod_template_hash", "op": "=", "value": plan.hash_of(canary)}],
        "time_range": WINDOW,
    }
    base = {"dataset": "checkout", "timeout_seconds": plan.timeout_seconds}
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
        return [sliced_check(plan, canary, base)]
    return [error_rate, p99]


def sliced_check(plan: Plan, canary: int, base: dict[str, Any]) -> dict[str, Any]:
    """The slices template's body (infra/argo-rollouts/analysistemplate-canary-slices.yaml) for
    this canary against its stable version."""
    body: dict[str, Any] = copy.deepcopy(_slices_body())
    body["compare"] |= {"canary": plan.hash_of(canary), "baseline": plan.stable_of(canary)}
    return {**body, **base}


@functools.cache
def _slices_body() -> dict[str, Any]:
    document = yaml.safe_load((TEMPLATES / "analysistemplate-canary-slices.yaml").read_text())
    body: dict[str, Any] = document["spec"]["metrics"][0]["provider"]["web"]["jsonBody"]
    return body


def _count(minute: Minute, status: int, data: dict[str, Any]) -> None:
    if status == 200:
        if data["value"] is None:
            minute.empty += 1
        else:
            minute.valued += 1
        return
    error = data.get("error", {})
    code = error.get("code", str(status))
    if status == 503 and code == "rate_limited":
        minute.refused += 1
    else:
        minute.other[code] += 1
    if len(minute.samples) < 3:
        minute.samples.append(f"{status} {code}: {error.get('message')}")


async def drive(plan: Plan, fleet: Fleet) -> list[Minute]:
    servers, tokens, emulator = fleet.servers, fleet.tokens, fleet.emulator
    rng = random.Random(7)
    offsets = [rng.uniform(0, 54) for _ in range(plan.canaries)]  # each canary its own second
    minutes = [Minute() for _ in range(plan.minutes)]
    pools = [Pool(server.url, timeout=60) for server in servers]

    async def one(minute: Minute, canary: int, body: dict[str, Any]) -> None:
        headers = {"Authorization": f"Bearer {tokens[f'cluster-{canary % plan.clusters:02d}']}"}
        minute.asked += 1
        try:
            answer = await pools[rng.randrange(len(pools))].post("/v1/evaluate", body, headers)
        except (TimeoutError, OSError, asyncio.IncompleteReadError) as e:
            minute.other[type(e).__name__] += 1
            return
        _count(minute, answer.status, answer.json())

    async def canary_at(n: int, canary: int) -> None:
        await asyncio.sleep(max(0.0, started + 60 * n + offsets[canary] - time.monotonic()))
        await asyncio.gather(*(one(minutes[n], canary, body) for body in checks(plan, canary)))

    started = time.monotonic()
    before = emulator_stats(emulator.url)
    ops_before = sum(fleet.store_ops().values())
    try:
        for n in range(plan.minutes):
            tasks = [asyncio.ensure_future(canary_at(n, c)) for c in range(plan.canaries)]
            await asyncio.sleep(max(0.0, started + 60 * (n + 1) - time.monotonic()))
            await asyncio.gather(*tasks)  # stragglers of this minute finish before it is counted
            after = emulator_stats(emulator.url)
            minutes[n].runs = after["query_results_created"] - before["query_results_created"]
            minutes[n].honeycomb_429 = after["rate_limited"] - before["rate_limited"]
            before = after
            ops_after = sum(fleet.store_ops().values())
            minutes[n].store_ops, ops_before = ops_after - ops_before, ops_after
    finally:
        for pool in pools:
            pool.close()
    return minutes


@dataclass
class Fleet:
    emulator: Server
    servers: list[Server]
    tokens: dict[str, str]
    store_ops: Callable[[], Counter[str]] = Counter  # the state store's operations since the start


@contextlib.contextmanager
def shared_store(plan: Plan, workdir: Path) -> Iterator[tuple[dict[str, str], Callable[[], Counter[str]]]]:
    """A fresh shared state for `plan.backend`, and how to count the operations run on it."""
    if plan.backend == "dynamodb":
        # moto's recorder keeps every call (by default in ./moto_recording: kept in workdir).
        with start_moto(env={"MOTO_RECORDER_FILEPATH": str(workdir / "moto_recording")}) as moto:
            state = DynamoDBState(aws_env(moto.url))
            env = state.fresh()
            httpx.post(moto.url + "/moto-api/recorder/start-recording").raise_for_status()
            yield env, lambda: recorded_operations(moto.url)
        return
    with start_redis(databases=REDIS_DATABASES) as server:
        env = RedisState(server).fresh()
        client = RedisState.client(env)
        client.config_resetstat()
        try:
            yield env, lambda: _redis_commands(client)
        finally:
            client.close()


def _redis_commands(client: Any) -> Counter[str]:
    """Commands the Redis server ran (a script's own commands are counted under their names too)."""
    stats = client.info("commandstats")
    counts = Counter({name.removeprefix("cmdstat_").upper(): int(v["calls"]) for name, v in stats.items()})
    for own in ("CONFIG|RESETSTAT", "INFO"):  # this function's, not the evaluators'
        del counts[own]
    return counts


@contextlib.contextmanager
def capacity_servers(workdir: Path, plan: Plan) -> Iterator[Fleet]:
    registry = workdir / "callers.json"
    tokens = write_registry(registry, [f"cluster-{c:02d}" for c in range(plan.clusters)])
    per_minute = str(MAX_RUNS_PER_MINUTE)
    flags = ("--result-delay-ms", "200", "--rate-limit-per-minute", per_minute)
    with start_emulator(*flags) as emulator:
        settings = {"EVALUATOR_RATE_LIMIT_PER_MINUTE": per_minute, "POWERTOOLS_LOG_LEVEL": "WARNING"}
        if plan.backend == "memory":
            env = {
                "HONEYCOMB_API_KEY": emulator.extra["api_key"],
                "HONEYCOMB_API_URL": emulator.url,
                "EVALUATOR_CALLERS_FILE": str(registry),
                **settings,
            }
            with start_evaluator(env) as server:
                yield Fleet(emulator, [server], tokens)
            return
        with (
            shared_store(plan, workdir) as (env, store_ops),
            evaluators_sharing_state(emulator, env, registry, plan.instances, **settings) as servers,
        ):
            yield Fleet(emulator, servers, tokens, store_ops)


def simulate(workdir: Path, plan: Plan) -> Report:
    with capacity_servers(workdir, plan) as fleet:
        now = time.time()
        seed_events(fleet.emulator, plan, now - WINDOW - 120, now + 60 * plan.minutes + 60)
        started = time.monotonic()
        minutes = asyncio.run(drive(plan, fleet))
        seconds = time.monotonic() - started
        return Report(plan, minutes, served_counts(fleet.servers), fleet.store_ops(), seconds)


def main() -> None:
    import tempfile

    sliced = "--sliced" in sys.argv
    arguments = [a for a in sys.argv[1:] if a != "--sliced"]
    canaries = int(arguments[0]) if arguments else 100
    backend = arguments[1] if len(arguments) > 1 else "dynamodb"
    with tempfile.TemporaryDirectory() as workdir:
        report = simulate(Path(workdir), Plan(canaries, backend=backend, sliced=sliced))
    print("\n".join(report.lines()), flush=True)
    for problem in report.problems():
        print("PROBLEM:", problem)


if __name__ == "__main__":
    main()
