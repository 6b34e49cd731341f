"""Evaluator figures for docs/performance.md ("## Evaluator").

1. Overhead per evaluation, in-process: the whole app (ASGI request in, JSON answer out: parsing,
   validation, caller step, window, execution bookkeeping, selection, logs, EMF) minus the time
   spent in HTTP calls to the emulator (httpx's `send`, its own work included) and asleep between
   polls. Wall time on a shared machine waits for a core, so CPU time is reported too. The
   emulator completes results at once (`--result-delay-ms 0`) so no poll sleeps dominate; each
   request has a new spec.
2. Completion detection against the emulator with `--result-delay-ms D`; latency = (last GET's
   answer received) - (POST /1/query_results sent + D), an upper bound; GETs per result. Cold = a
   query shape never seen; warm = the same shape again (the canary case). Measured twice: the
   client's own loop (`wait_for_result`), and through the served app (`POST /v1/evaluate`, where
   the shared-service coordinator polls), each evaluation creating a new result
   (`max_age_seconds: 0`).
3. Import ratio: CPU time (`time.process_time()`, so waiting for a core on the shared machine does
   not count) of one import statement in a fresh interpreter with compiled bytecode, median of
   `IMPORT_RUNS` runs; the statements are run interleaved, round after round, so load changes hit
   all of them alike. Baseline: `import starlette.applications, starlette.routing, pydantic, httpx,
   mangum`. Ratio = median(statement) / median(baseline). The figure for the target is
   `import honeycomb_evaluator.handler` (tracing off, anonymous callers, memory state). Also shown:
   the handler plus `prime()`, the work a SnapStart function does before its snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx

from tests.support.servers import DEFAULT_EMULATOR_KEY, Server, start_emulator

# Within one minute's budget of the shared rate limiter at 400/min (an anonymous caller gets half).
EVALUATIONS = 160
WARMUP = 20
DELAYS_MS = (300, 500, 1000, 2000)
RUNS_PER_DELAY = 5
IMPORT_RUNS = 11


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class TimedClient(httpx.AsyncClient):
    """The evaluator's HTTP client, timing every exchange with the emulator (httpx's own work included)."""

    def __init__(self) -> None:
        super().__init__()
        self.spent = 0.0
        self.cpu = 0.0  # only this bench's one request is in flight, so this is the HTTP client's CPU
        self.result_created_sent = 0.0  # perf_counter when the last POST /1/query_results was sent
        self.last_get_answered = 0.0  # perf_counter when the last GET's answer arrived
        self.gets = 0

    async def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        started, cpu_started = time.perf_counter(), time.process_time()
        if request.method == "POST" and request.url.path.startswith("/1/query_results/"):
            self.result_created_sent = started
        try:
            return await super().send(request, **kwargs)
        finally:
            self.spent += time.perf_counter() - started
            self.cpu += time.process_time() - cpu_started
            if request.method == "GET":
                self.gets += 1
                self.last_get_answered = time.perf_counter()


@contextlib.contextmanager
def quiet_output() -> Iterator[None]:
    """Logs and EMF still get formatted and written, just not to a terminal."""
    from honeycomb_evaluator.observability import logger

    handler = logger.registered_handler
    sink = open(os.devnull, "w")  # noqa: SIM115 - closed below
    old_stream = handler.setStream(sink) if isinstance(handler, logging.StreamHandler) else None
    try:
        with contextlib.redirect_stdout(sink):
            yield
    finally:
        if isinstance(handler, logging.StreamHandler) and old_stream is not None:
            handler.setStream(old_stream)
        sink.close()


def body_for(marker: str, max_age: int = 0) -> dict[str, Any]:
    return {
        "dataset": "checkout",
        "query": {
            "calculations": [{"op": "P99", "column": "duration_ms"}],
            "filters": [
                {"column": "rollouts_pod_template_hash", "op": "=", "value": "7d9f8b6c5"},
                {"column": "name", "op": "!=", "value": marker},
            ],
            "time_range": 600,
        },
        "max_age_seconds": max_age,
    }


async def measure_overhead(emulator: Server, *, poll_at_once: bool = False) -> None:
    """`poll_at_once`: the first poll right after creating, instead of the shipped schedule's 0.1 s.

    The emulator's result is complete at once, but the shipped schedule first polls 0.1 s after
    creation. After that idle gap the process runs its next steps with cold caches (and, on a
    shared VM, a core that was given away), which costs about a millisecond of CPU per
    evaluation. Polling at once measures the evaluator's own work without that gap, as the
    figures before the schedule change were measured.
    """
    os.environ.update(
        {
            "EVALUATOR_ALLOW_ANONYMOUS": "true",
            "EVALUATOR_RATE_LIMIT_PER_MINUTE": os.environ.get("EVALUATOR_RATE_LIMIT_PER_MINUTE", "400"),
        }
    )
    from honeycomb_evaluator.app import create_app
    from honeycomb_evaluator.honeycomb.client import HoneycombClient
    from honeycomb_evaluator.secret import Secret
    from honeycomb_evaluator.settings import Settings

    class PollAtOnce(HoneycombClient):
        def poll_delay(self, result_id: str, waited: float) -> float:
            return 0.0

    transport = TimedClient()
    client = (PollAtOnce if poll_at_once else HoneycombClient)(transport)
    app = create_app(Settings(api_key=Secret(DEFAULT_EMULATOR_KEY), api_url=emulator.url), client=client)

    slept = [0.0]
    real_sleep = asyncio.sleep

    async def timed_sleep(seconds: float, result: Any = None) -> Any:
        started = time.perf_counter()
        try:
            return await real_sleep(seconds, result)
        finally:
            slept[0] += time.perf_counter() - started

    totals: list[float] = []
    cpu: list[float] = []
    cpu_overheads: list[float] = []
    overheads: list[float] = []
    upstreams: list[float] = []
    cached: list[float] = []
    harness: list[float] = []
    asyncio.sleep = timed_sleep  # type: ignore[assignment]
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://e") as caller:
            with quiet_output():
                for i in range(WARMUP + EVALUATIONS):
                    transport.spent, transport.cpu, slept[0] = 0.0, 0.0, 0.0
                    started, cpu_started = time.perf_counter(), time.process_time()
                    answer = await caller.post("/v1/evaluate", json=body_for(uuid.uuid4().hex))
                    total = time.perf_counter() - started
                    cpu_spent = time.process_time() - cpu_started
                    assert answer.status_code == 200, answer.text
                    if i >= WARMUP:
                        upstream = transport.spent + slept[0]
                        totals.append(total * 1000)
                        cpu.append(cpu_spent * 1000)
                        cpu_overheads.append((cpu_spent - transport.cpu) * 1000)
                        upstreams.append(upstream * 1000)
                        overheads.append((total - upstream) * 1000)
                for _ in range(EVALUATIONS):
                    cpu_started = time.process_time()
                    await caller.get("/healthz")
                    harness.append((time.process_time() - cpu_started) * 1000)
                repeat = body_for("cached", max_age=3600)
                assert (await caller.post("/v1/evaluate", json=repeat)).status_code == 200
                for _ in range(EVALUATIONS):
                    started = time.perf_counter()
                    answer = await caller.post("/v1/evaluate", json=repeat)
                    cached.append((time.perf_counter() - started) * 1000)
                    assert answer.json()["cached"] is True
    finally:
        asyncio.sleep = real_sleep
        await client.aclose()
    first_poll = "at once (no idle gap)" if poll_at_once else "0.1 s after creation (the shipped schedule)"
    print(
        f"\nin-process evaluations: {EVALUATIONS} (after {WARMUP} warm-up), emulator answers at once, "
        f"first poll {first_poll}"
    )
    print(
        f"  total      median {statistics.median(totals):6.2f} ms   p90 {pct(totals, 0.9):6.2f} ms\n"
        f"  upstream   median {statistics.median(upstreams):6.2f} ms   p90 {pct(upstreams, 0.9):6.2f} ms"
        "   (HTTP to the emulator + poll sleeps)\n"
        f"  OVERHEAD   median {statistics.median(overheads):6.2f} ms   p90 {pct(overheads, 0.9):6.2f} ms\n"
        f"  CPU        median {statistics.median(cpu):6.2f} ms   p90 {pct(cpu, 0.9):6.2f} ms"
        "   (this process per evaluation, incl. its HTTP client work for the 3 upstream calls)\n"
        f"  CPU OVERHEAD median {statistics.median(cpu_overheads):4.2f} ms"
        f"   p90 {pct(cpu_overheads, 0.9):6.2f} ms"
        "   (the same minus the CPU inside httpx send() to the emulator)\n"
        f"  cache hit  median {statistics.median(cached):6.2f} ms   p90 {pct(cached, 0.9):6.2f} ms"
        "   (max_age_seconds; no upstream call at all)\n"
        f"  harness    median {statistics.median(harness):6.2f} ms CPU"
        "   (GET /healthz through the same in-process ASGI client: the caller's share of the above)"
    )


async def measure_detection() -> None:
    from honeycomb_evaluator.honeycomb.client import CallStats, HoneycombClient, current_stats
    from honeycomb_evaluator.target import HoneycombTarget

    print("\ncompletion detection (client alone; latency is an upper bound):")
    header = ("result delay", "cold latency", "cold GETs", "warm latency", "warm GETs")
    print("  " + "  ".join(f"{h:>12}" for h in header))
    for delay_ms in DELAYS_MS:
        flags = ("--demo", "--result-delay-ms", str(delay_ms), "--rate-limit-per-minute", "100000")
        with start_emulator(*flags) as emulator:
            target = HoneycombTarget.build(DEFAULT_EMULATOR_KEY, emulator.url, "default")
            client = HoneycombClient()
            figures: dict[str, tuple[list[float], list[int]]] = {"cold": ([], []), "warm": ([], [])}
            warm_spec = body_for("warm")["query"]
            try:
                for kind in ("cold", "warm"):
                    for run in range(RUNS_PER_DELAY + (1 if kind == "warm" else 0)):
                        spec = body_for(uuid.uuid4().hex)["query"] if kind == "cold" else warm_spec
                        now = int(time.time())
                        spec = {**spec, "start_time": now - 600 - run, "end_time": now - run}
                        spec.pop("time_range", None)
                        query_id = await client.create_query(target, "checkout", spec)
                        stats = CallStats()
                        token = current_stats.set(stats)
                        sent = time.monotonic()
                        created = await client.create_query_result(
                            target, "checkout", query_id, disable_series=True
                        )
                        result = await client.wait_for_result(target, "checkout", created.id, sent + 25)
                        seen = time.monotonic()
                        current_stats.reset(token)
                        assert result.complete
                        if kind == "warm" and run == 0:
                            continue  # the first warm run only teaches the shape's run time
                        figures[kind][0].append((seen - sent) * 1000 - delay_ms)
                        figures[kind][1].append(stats.polls)
            finally:
                await client.aclose()
            (cold_lat, cold_gets), (warm_lat, warm_gets) = figures["cold"], figures["warm"]
            print(
                f"  {delay_ms:>9} ms  {statistics.median(cold_lat):>9.0f} ms  {max(cold_gets):>12}"
                f"  {statistics.median(warm_lat):>9.0f} ms  {max(warm_gets):>12}"
            )


async def measure_served_detection() -> None:
    """The same through the served app: the shared-service coordinator runs the poll loop."""
    from honeycomb_evaluator.app import create_app
    from honeycomb_evaluator.honeycomb.client import HoneycombClient
    from honeycomb_evaluator.secret import Secret
    from honeycomb_evaluator.settings import Settings

    print("\ncompletion detection through the served app (POST /v1/evaluate; latency is an upper bound):")
    header = ("result delay", "cold latency", "cold GETs", "warm latency", "warm GETs")
    print("  " + "  ".join(f"{h:>12}" for h in header))
    for delay_ms in DELAYS_MS:
        flags = ("--demo", "--result-delay-ms", str(delay_ms), "--rate-limit-per-minute", "100000")
        with start_emulator(*flags) as emulator:
            transport = TimedClient()
            client = HoneycombClient(transport)
            app = create_app(
                Settings(api_key=Secret(DEFAULT_EMULATOR_KEY), api_url=emulator.url), client=client
            )
            figures: dict[str, tuple[list[float], list[int]]] = {"cold": ([], []), "warm": ([], [])}
            try:
                async with httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://e", timeout=30
                ) as caller:
                    with quiet_output():
                        for kind in ("cold", "warm"):
                            for run in range(RUNS_PER_DELAY + (1 if kind == "warm" else 0)):
                                body = body_for(uuid.uuid4().hex if kind == "cold" else "served-warm")
                                body["timeout_seconds"] = 20
                                transport.gets = 0
                                answer = await caller.post("/v1/evaluate", json=body)
                                assert answer.status_code == 200, answer.text
                                if kind == "warm" and run == 0:
                                    continue  # the first warm run only teaches the shape's run time
                                latency = transport.last_get_answered - transport.result_created_sent
                                figures[kind][0].append(latency * 1000 - delay_ms)
                                figures[kind][1].append(transport.gets)
            finally:
                await client.aclose()
            (cold_lat, cold_gets), (warm_lat, warm_gets) = figures["cold"], figures["warm"]
            print(
                f"  {delay_ms:>9} ms  {statistics.median(cold_lat):>9.0f} ms  {max(cold_gets):>12}"
                f"  {statistics.median(warm_lat):>9.0f} ms  {max(warm_gets):>12}"
            )


def import_cpu_seconds(statement: str, env: dict[str, str]) -> float:
    """CPU time (not wall time: the machine is shared) of `statement` in a fresh interpreter."""
    code = f"import time; t = time.process_time(); {statement}; print(time.process_time() - t)"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


BASELINE = "starlette+pydantic+httpx+mangum"
IMPORTS = {
    BASELINE: "import starlette.applications, starlette.routing, pydantic, httpx, mangum",
    "  same + pydantic.BaseModel": (
        "import starlette.applications, starlette.routing, httpx, mangum; from pydantic import BaseModel"
    ),
    "honeycomb_evaluator.app + create_app()": "import honeycomb_evaluator.app as a; a.create_app()",
    "honeycomb_evaluator.handler (THE FIGURE)": "import honeycomb_evaluator.handler",
    "  handler + prime() (SnapStart, before the snapshot)": (
        "import honeycomb_evaluator.handler as h; h.prime()"
    ),
}


def measure_imports() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "LAMBDA_", "AWS_LAMBDA"))}
    env["EVALUATOR_ALLOW_ANONYMOUS"] = "true"
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # lets prime() build its boto3 clients
    # Measure compiled modules, as a deployed artifact has them: bytecode goes to a private cache,
    # filled by one unmeasured import of each statement.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="bench-pycache-")
    for stmt in IMPORTS.values():
        import_cpu_seconds(stmt, env)
    samples: dict[str, list[float]] = {label: [] for label in IMPORTS}
    for _ in range(IMPORT_RUNS):  # interleaved: a burst of load on the machine hits every statement
        for label, stmt in IMPORTS.items():
            samples[label].append(import_cpu_seconds(stmt, env))
    medians = {label: statistics.median(values) for label, values in samples.items()}
    baseline = medians[BASELINE]
    print(f"\nimport CPU time (median of {IMPORT_RUNS} fresh interpreters, interleaved, tracing off):")
    for label, seconds in medians.items():
        print(f"  {label:<52} {seconds * 1000:6.1f} ms   {seconds / baseline:4.2f}x")


def main() -> None:
    flags = ("--demo", "--result-delay-ms", "0", "--rate-limit-per-minute", "1000000")
    with start_emulator(*flags) as emulator:
        asyncio.run(measure_overhead(emulator))
        asyncio.run(measure_overhead(emulator, poll_at_once=True))
    asyncio.run(measure_detection())
    asyncio.run(measure_served_detection())
    measure_imports()


if __name__ == "__main__":
    main()
