"""Shared service: N simultaneous identical evaluations, the memory a waiting request costs, a cache hit.

1. N = 1, 10, 50, 200, 2,000 identical requests sent at once, each on its own connection (a raw
   asyncio client: tests/support/rawhttp.py), a new window each round and `max_age_seconds` 0, so
   only in-flight sharing applies, against `honeycomb-evaluator serve` with its shipped limits and
   the emulator (result ready 500 ms after creation): Honeycomb calls made by kind, client-side
   p50/p99 latency. Once with one evaluator (memory backend), once with two sharing a DynamoDB
   table on moto, once with two sharing a redis-server (requests split between them); for Redis,
   the commands it ran per evaluation (INFO commandstats). A round in which a request is not
   answered 200, or that creates other than one query result, fails the benchmark.
2. The memory of a waiting request: a fresh evaluator (one warm-up evaluation), then 2,000
   identical requests at once while the emulator takes 4 s to complete the result; the growth of
   the evaluator's RSS (sampled every 20 ms) over the 2,000 (docs/operations.md sizes the request
   cap with it).
3. A cache-hit evaluation in-process: the whole ASGI app (auth, validation, selection, JSON)
   through httpx's ASGI transport, `Evaluator.evaluate` alone, and `SharedExecutor.execute` alone.

Run: `.venv/bin/python -m tests.bench sharing` (or `make bench`).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from tests.support.aws import create_state_table
from tests.support.evaluations import VERSIONS, emulator_stats, evaluation, reset_emulator, write_registry
from tests.support.rawhttp import Answer, burst, request_bytes
from tests.support.servers import Server, aws_env, start_emulator, start_evaluator, start_moto, start_redis

SIZES = (1, 10, 50, 200, 2000)
MEMORY_BURST = 2000
HIT_ROUNDS = 2000


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _timed_burst(
    servers: list[Server], body: dict[str, Any], n: int, token: str
) -> list[tuple[int, float]]:
    headers = {"Authorization": f"Bearer {token}"}

    async def one_server(index: int, count: int) -> list[tuple[int, float]]:
        url = servers[index].url
        started = time.perf_counter()
        answers = await burst(url, [request_bytes(url + "/v1/evaluate", body, headers)] * count)
        # Each answer's latency: the burst's start to its own end (read as it completes).
        return [(a.status, a.elapsed_ms(started)) if isinstance(a, Answer) else (0, 0.0) for a in answers]

    shares = [n // len(servers) + (1 if i < n % len(servers) else 0) for i in range(len(servers))]
    parts = await asyncio.gather(*(one_server(i, k) for i, k in enumerate(shares) if k))
    return [answer for part in parts for answer in part]


def concurrent_rounds(label: str, emulator: Server, servers: list[Server], token: str, offset: int) -> None:
    print(f"\n{label}")
    print("| N | query results created | queries created | result polls | p50 ms | p99 ms | non-200 |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for i, n in enumerate(SIZES):
        # A window of its own per round: nothing is cached from an earlier round.
        body = evaluation(VERSIONS["bad"], time_range=600 + 60 * (offset + i), timeout_seconds=20)
        reset_emulator(emulator.url)
        answers = asyncio.run(_timed_burst(servers, body, n, token))
        stats = emulator_stats(emulator.url)["requests"]
        latencies = [ms for _, ms in answers]
        failures = sum(status != 200 for status, _ in answers)
        results = stats.get("POST /1/query_results/{dataset}", 0)
        queries = stats.get("POST /1/queries/{dataset}", 0)
        polls = stats.get("GET /1/query_results/{dataset}/{id}", 0)
        p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
        print(f"| {n} | {results} | {queries} | {polls} | {p50:.0f} | {p99:.0f} | {failures} |", flush=True)
        if failures or results != 1:
            raise RuntimeError(
                f"{label}, N = {n}: {failures} answers not 200, {results} query results created"
            )


def redis_rounds(emulator: Server, env: dict[str, str], token: str) -> None:
    import redis

    with start_redis() as server:
        shared = {**env, "EVALUATOR_STATE_BACKEND": "redis", "EVALUATOR_REDIS_URL": server.url}
        with start_evaluator(shared) as a, start_evaluator(shared) as b:
            client = redis.Redis.from_url(server.url)
            client.config_resetstat()
            concurrent_rounds("two evaluators, one Redis (redis-server)", emulator, [a, b], token, offset=20)
            stats = client.info("commandstats")
            client.close()
    # Commands a script runs (HGET, HSET, PEXPIRE, DEL) are counted too, as their own names.
    calls = {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}
    ran = ", ".join(f"{n.upper()} {calls[n]}" for n in sorted(calls, key=lambda n: -calls[n]))
    print(f"Redis commands for these {len(SIZES)} rounds ({sum(SIZES)} evaluations): {ran}")


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def waiting_request_memory(env: dict[str, str], token: str) -> None:
    """RSS growth of a fresh evaluator while 2,000 requests wait for one execution."""
    with start_emulator("--demo", "--result-delay-ms", "4000", "--rate-limit-per-minute", "1000") as emulator:
        own = {**env, "HONEYCOMB_API_URL": emulator.url}
        with start_evaluator(own) as evaluator:
            pid = evaluator.process.pid
            warm = evaluation(VERSIONS["good"], time_range=660)
            asyncio.run(_timed_burst([evaluator], warm, 1, token))
            before = rss_kib(pid)
            body = evaluation(VERSIONS["bad"], time_range=600, timeout_seconds=20)

            async def sampled() -> tuple[list[tuple[int, float]], int]:
                task = asyncio.ensure_future(_timed_burst([evaluator], body, MEMORY_BURST, token))
                peak = before
                while not task.done():
                    peak = max(peak, rss_kib(pid))
                    await asyncio.sleep(0.02)
                return task.result(), peak

            answers, peak = asyncio.run(sampled())
            created = emulator_stats(emulator.url)["query_results_created"]
    failures = sum(status != 200 for status, _ in answers)
    if failures or created != 2:  # the warm-up's and the burst's
        raise RuntimeError(
            f"memory burst: {failures} answers not 200, {created - 1} query results for the burst"
        )
    print(
        f"\nmemory of waiting requests: RSS {before} KiB before, {peak} KiB at the peak of {MEMORY_BURST} "
        f"identical requests waiting together: {(peak - before) / MEMORY_BURST:.1f} KiB a waiting request"
    )


def cache_hits(emulator: Server, registry: Path, token: str) -> None:
    import httpx
    from honeycomb_evaluator.app import create_app
    from honeycomb_evaluator.honeycomb.client import ResultOptions
    from honeycomb_evaluator.models.request import EvaluateRequest
    from honeycomb_evaluator.observability import logger
    from honeycomb_evaluator.record import EvaluationRecord
    from honeycomb_evaluator.settings import Settings
    from honeycomb_evaluator.sharing.execution import ExecutionRequest
    from honeycomb_evaluator.window import resolve_window

    logger.setLevel("WARNING")
    settings = Settings.from_env(
        {
            "HONEYCOMB_API_KEY": emulator.extra["api_key"],
            "HONEYCOMB_API_URL": emulator.url,
            "EVALUATOR_CALLERS_FILE": str(registry),
        }
    )
    app = create_app(settings)
    body = evaluation(VERSIONS["good"], max_age_seconds=600)
    # An absolute window, so the rounds never cross into the next minute's window.
    end = int(time.time()) // 60 * 60
    del body["query"]["time_range"]
    body["query"].update(start_time=end - 3600, end_time=end)
    headers = {"Authorization": f"Bearer {token}"}

    async def measure() -> dict[str, list[float]]:
        timings: dict[str, list[float]] = {"app": [], "evaluate": [], "execute": []}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            first = await client.post("/v1/evaluate", json=body, headers=headers)
            assert first.status_code == 200, first.text
            for _ in range(HIT_ROUNDS):
                started = time.perf_counter()
                answer = await client.post("/v1/evaluate", json=body, headers=headers)
                timings["app"].append((time.perf_counter() - started) * 1000)
                assert answer.json()["cached"] is True
        evaluator = app.state.service.evaluator
        parsed = EvaluateRequest.model_validate(body)
        for _ in range(HIT_ROUNDS):
            started = time.perf_counter()
            await evaluator.evaluate(parsed, EvaluationRecord())
            timings["evaluate"].append((time.perf_counter() - started) * 1000)
        target = await evaluator.keys.resolve("default")
        window = resolve_window(parsed.query)
        request = ExecutionRequest(
            target=target,
            dataset="checkout",
            spec=parsed.query.honeycomb_body(window.start_time, window.end_time),
            options=ResultOptions(disable_series=True),
            max_age_seconds=600,
            deadline=time.monotonic() + 60,
        )
        executor = evaluator.executor
        for _ in range(HIT_ROUNDS):
            started = time.perf_counter()
            await executor.execute(request)
            timings["execute"].append((time.perf_counter() - started) * 1000)
        return timings

    with contextlib.redirect_stdout(io.StringIO()):  # one EMF line per evaluation
        timings = asyncio.run(measure())
    print(f"\ncache hit, in-process ({HIT_ROUNDS} each): p50 / p99 ms")
    names = {
        "app": "whole app via ASGI (auth, validation, selection, JSON)",
        "evaluate": "Evaluator.evaluate",
        "execute": "SharedExecutor.execute",
    }
    for key, values in timings.items():
        print(f"- {names[key]}: {statistics.median(values):.3f} / {percentile(values, 0.99):.3f}")


def main() -> None:
    with tempfile.TemporaryDirectory() as workdir:
        registry = Path(workdir) / "callers.json"
        token = write_registry(registry, ["bench"])["bench"]
        with start_emulator(
            "--demo", "--result-delay-ms", "500", "--rate-limit-per-minute", "1000"
        ) as emulator:
            env = {
                "HONEYCOMB_API_KEY": emulator.extra["api_key"],
                "HONEYCOMB_API_URL": emulator.url,
                "EVALUATOR_CALLERS_FILE": str(registry),
                "EVALUATOR_RATE_LIMIT_PER_MINUTE": "1000",
                "POWERTOOLS_LOG_LEVEL": "WARNING",
            }
            with start_evaluator(env) as evaluator:
                concurrent_rounds("one evaluator, memory backend", emulator, [evaluator], token, offset=0)
            with start_moto() as moto:
                aws = aws_env(moto.url)
                table = f"bench-{uuid.uuid4().hex[:8]}"
                create_state_table(aws, table)
                shared = {**env, **aws, "EVALUATOR_STATE_BACKEND": "dynamodb", "EVALUATOR_TABLE_NAME": table}
                with start_evaluator(shared) as a, start_evaluator(shared) as b:
                    concurrent_rounds(
                        "two evaluators, one DynamoDB table (moto)", emulator, [a, b], token, offset=10
                    )
            redis_rounds(emulator, env, token)
            cache_hits(emulator, registry, token)
        waiting_request_memory(env, token)


if __name__ == "__main__":
    main()
