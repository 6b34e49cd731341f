"""Evaluator figures for docs/performance.md ("## Evaluator").

1. Overhead per evaluation, in-process: the whole app (ASGI request in, JSON answer out: parsing,
   validation, caller step, window, execution bookkeeping, selection, logs, EMF) minus the time
   spent in HTTP calls to the emulator (httpx's `send`, its own work included) and asleep between
   polls. Requests go straight into the ASGI app (`call_asgi`), so no client's work is counted.
   Wall time on a shared machine waits for a core, so CPU time is reported too. The emulator
   completes results at once (`--result-delay-ms 0`) so no poll sleeps dominate; each request
   has a new spec (three Honeycomb calls). A control (`measure_bare_stack`) measures a bare
   Starlette route making the same three calls, with and without the schedule's idle gap.
2. Completion detection against the emulator with `--result-delay-ms D`; latency = (last GET's
   answer received) - (POST /1/query_results sent + D), an upper bound; GETs per result. Cold = a
   query shape never seen; warm = the same shape again (the canary case). Measured twice: the
   client's own loop (`wait_for_result`), and through the served app (`POST /v1/evaluate`, where
   the shared executor's flight polls), each evaluation creating a new result
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
import json
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
from honeycomb_emulator.demo import DEMO_HASHES

from tests.support.servers import DEFAULT_EMULATOR_KEY, Server, start_emulator

# Within one minute's budget of the shared rate limiter at 400/min (an anonymous caller gets half).
EVALUATIONS = 160
WARMUP = 20
DELAYS_MS = (300, 500, 1000, 2000)
RUNS_PER_DELAY = 5
OVERHEAD_ROUNDS = 3
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


class Answer:
    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code = status_code
        self.text = content.decode()

    def json(self) -> Any:
        return json.loads(self.text)


async def call_asgi(app: Any, method: str, path: str, body: dict[str, Any] | None = None) -> Answer:
    """One request straight into the ASGI app: the evaluator's own work and nothing of a client's.

    (Through httpx's ASGITransport the caller's own request and response handling, ~0.2 ms,
    would count as the evaluator's overhead.)
    """
    content = b"" if body is None else json.dumps(body).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"e"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(content)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("e", 80),
    }
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": content, "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        return {"type": "http.disconnect"}

    status = 0
    chunks: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return Answer(status, b"".join(chunks))


def allow_anonymous_evaluations() -> None:
    """The served app in these benchmarks: no caller registry, a budget that fits a benchmark."""
    os.environ.update(
        {
            "EVALUATOR_ALLOW_ANONYMOUS": "true",
            "EVALUATOR_RATE_LIMIT_PER_MINUTE": os.environ.get("EVALUATOR_RATE_LIMIT_PER_MINUTE", "400"),
        }
    )


def body_for(marker: str, max_age: int = 0) -> dict[str, Any]:
    return {
        "dataset": "checkout",
        "query": {
            "calculations": [{"op": "P99", "column": "duration_ms"}],
            "filters": [
                {"column": "rollouts_pod_template_hash", "op": "=", "value": DEMO_HASHES["bad"]},
                {"column": "name", "op": "!=", "value": marker},
            ],
            "time_range": 600,
        },
        "max_age_seconds": max_age,
    }


async def measure_overhead(emulator: Server, *, poll_at_once: bool = False) -> float:
    """`poll_at_once`: the first poll right after creating, instead of the shipped schedule's 0.1 s.

    The emulator's result is complete at once, but the shipped schedule first polls 0.1 s after
    creation. After that idle gap the process runs its next steps with cold caches (and, on a
    shared VM, a core that was given away), which costs about a millisecond of CPU per
    evaluation. Polling at once measures the evaluator's own work without that gap, as the
    figures before the schedule change were measured.
    """
    allow_anonymous_evaluations()
    from honeycomb_evaluator.app import create_app
    from honeycomb_evaluator.honeycomb.client import HoneycombClient

    class PollAtOnce(HoneycombClient):
        def poll_delay(self, result_id: str, waited: float) -> float:
            return 0.0

    transport = TimedClient()
    client = (PollAtOnce if poll_at_once else HoneycombClient)(transport)
    app = create_app(service=service_for(emulator, client))

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
    asyncio.sleep = timed_sleep  # type: ignore[assignment]
    try:
        with quiet_output():
            for i in range(WARMUP + EVALUATIONS):
                body = body_for(uuid.uuid4().hex)
                transport.spent, transport.cpu, slept[0] = 0.0, 0.0, 0.0
                started, cpu_started = time.perf_counter(), time.process_time()
                answer = await call_asgi(app, "POST", "/v1/evaluate", body)
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
            # An absolute window: a relative one moves at a minute boundary, and the repeat after
            # it would be a new query (not a cache hit) in a loop that happens to cross one.
            repeat = body_for("cached", max_age=3600)
            end = int(time.time()) // 60 * 60
            del repeat["query"]["time_range"]
            repeat["query"] |= {"start_time": end - 600, "end_time": end}
            assert (await call_asgi(app, "POST", "/v1/evaluate", repeat)).status_code == 200
            for _ in range(EVALUATIONS):
                started = time.perf_counter()
                answer = await call_asgi(app, "POST", "/v1/evaluate", repeat)
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
    )
    return statistics.median(overheads)


async def measure_bare_stack(emulator: Server, *, gap: bool) -> float:
    """The same measurement on a bare stack: the control for what this machine adds by itself.

    A Starlette route that makes the evaluator's three Honeycomb calls with the same httpx client
    and answers JSON, and nothing else: no validation, sharing, selection, logs or metrics. With
    `gap` it sleeps 0.1 s before the GET, as the shipped poll schedule does. What the gap adds
    here is not anyone's code: on this VM the first work after an idle moment runs several times
    slower (e.g. a 28 µs httpx.Request build takes ~600 µs right after a 0.1 s sleep).
    """
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    transport = TimedClient()
    headers = {"X-Honeycomb-Team": DEFAULT_EMULATOR_KEY, "Content-Type": "application/json"}

    async def call(method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        content = json.dumps(payload).encode() if payload is not None else None
        answer = await transport.request(method, emulator.url + path, headers=headers, content=content)
        return json.loads(answer.content)

    async def evaluate(request: Request) -> JSONResponse:
        body = await request.json()
        query = await call("POST", "/1/queries/checkout", body["query"])
        created = await call(
            "POST", "/1/query_results/checkout", {"query_id": query["id"], "disable_series": True}
        )
        if gap:
            started = time.perf_counter()
            await asyncio.sleep(0.1)
            transport.spent += time.perf_counter() - started
        result = await call("GET", f"/1/query_results/checkout/{created['id']}")
        return JSONResponse({"value": None, "rows": result["data"]["results"]})

    app = Starlette(routes=[Route("/v1/evaluate", evaluate, methods=["POST"])])
    overheads: list[float] = []
    try:
        for i in range(WARMUP + EVALUATIONS):
            body = body_for(uuid.uuid4().hex)
            transport.spent = 0.0
            started = time.perf_counter()
            answer = await call_asgi(app, "POST", "/v1/evaluate", body)
            total = time.perf_counter() - started
            assert answer.status_code == 200, answer.text
            if i >= WARMUP:
                overheads.append((total - transport.spent) * 1000)
    finally:
        await transport.aclose()
    return statistics.median(overheads)


# Completion detection, three kinds of query (each teaching run excluded from the figures):
# first = a query of a kind this process never ran (a new `limit` makes a new family);
# rollout = the same check for a new rollout (only a filter value differs: a new shape, known family);
# same = the same check again, only the window moves (what an analysis does every interval).
KINDS = ("first", "rollout", "same")


def detection_query(kind: str) -> dict[str, Any]:
    query = body_for("same-check" if kind == "same" else uuid.uuid4().hex)["query"]
    if kind == "first":
        query["limit"] = 1 + (uuid.uuid4().int % 999)
    return query


def print_detection(delay_ms: int, figures: dict[str, tuple[list[float], list[int]]]) -> None:
    cells = [f"{statistics.median(figures[k][0]):>9.0f} ms {max(figures[k][1]):>4}" for k in KINDS]
    print(f"  {delay_ms:>9} ms  " + "  ".join(f"{c:>17}" for c in cells))


def print_detection_header(title: str) -> None:
    print(f"\n{title} (latency is an upper bound; median of {RUNS_PER_DELAY}, most GETs):")
    print("  result delay  " + "  ".join(f"{k + ' latency, GETs':>17}" for k in KINDS))


def service_for(emulator: Server, client: Any) -> Any:
    """The app's service on the emulator's key, anonymous callers, with `client` as its HTTP client."""
    from honeycomb_evaluator.service import build_service
    from honeycomb_evaluator.settings import Settings

    env = {
        "HONEYCOMB_API_KEY": DEFAULT_EMULATOR_KEY,
        "HONEYCOMB_API_URL": emulator.url,
        "EVALUATOR_ALLOW_ANONYMOUS": "true",
        # Every evaluation is a query of its own (a new marker), about a thousand in a run: the
        # budget is not what this measures, so the most the setting allows (the emulator allows
        # more still). With the default 10 a minute the 11th evaluation was refused.
        "EVALUATOR_RATE_LIMIT_PER_MINUTE": "10000",
    }
    service = build_service(Settings.from_env(env), client=client)
    # Every evaluation here is a new canary with no company, whose first check waits a moment
    # for a fleet to show up (sharing/fusion.py): a wait like the polls', left out of the figures.
    fusion = service.evaluator.executor.fusion
    if fusion is not None:
        fusion.gather_seconds = 0.0
    return service


async def measure_detection() -> None:
    from honeycomb_evaluator.budget import RateBudget
    from honeycomb_evaluator.honeycomb.client import CallStats, HoneycombClient, ResultOptions
    from honeycomb_evaluator.settings import BudgetSettings
    from honeycomb_evaluator.sharing.execution import ExecutionRequest
    from honeycomb_evaluator.sharing.executor import SharedExecutor
    from honeycomb_evaluator.state.memory import MemoryStore
    from honeycomb_evaluator.target import HoneycombTarget

    print_detection_header("completion detection, the executor's poll loop (memory backend, as the CLI)")
    for delay_ms in DELAYS_MS:
        flags = ("--demo", "--result-delay-ms", str(delay_ms), "--rate-limit-per-minute", "100000")
        with start_emulator(*flags) as emulator:
            target = HoneycombTarget.build(DEFAULT_EMULATOR_KEY, emulator.url, "default")
            client = HoneycombClient()
            store = MemoryStore()
            executor = SharedExecutor(client, store, RateBudget(store, BudgetSettings(per_window=100_000)))
            if executor.fusion is not None:  # a new shape's 0.25 s wait for a fleet is no polling
                executor.fusion.gather_seconds = 0.0
            figures: dict[str, tuple[list[float], list[int]]] = {k: ([], []) for k in KINDS}
            try:
                for kind in KINDS:
                    teaching = kind != "first"  # the first run of the family/shape only teaches
                    for run in range(RUNS_PER_DELAY + teaching):
                        now = int(time.time())
                        spec = {
                            **detection_query(kind),
                            "start_time": now - 600 - run,
                            "end_time": now - run,
                        }
                        spec.pop("time_range", None)
                        stats = CallStats()
                        sent = time.monotonic()
                        request = ExecutionRequest(
                            target=target,
                            dataset="checkout",
                            spec=spec,
                            options=ResultOptions(disable_series=True),
                            max_age_seconds=0,
                            deadline=sent + 25,
                            stats=stats,
                        )
                        result = (await executor.execute(request)).result
                        seen = time.monotonic()
                        assert result.complete
                        if teaching and run == 0:
                            continue
                        figures[kind][0].append((seen - sent) * 1000 - delay_ms)
                        figures[kind][1].append(stats.polls)
            finally:
                await client.aclose()
            print_detection(delay_ms, figures)


async def measure_served_detection() -> None:
    """The same through the served app: the shared executor's flight runs the poll loop."""
    from honeycomb_evaluator.app import create_app
    from honeycomb_evaluator.honeycomb.client import HoneycombClient

    allow_anonymous_evaluations()
    print_detection_header("completion detection through the served app (POST /v1/evaluate)")
    for delay_ms in DELAYS_MS:
        flags = ("--demo", "--result-delay-ms", str(delay_ms), "--rate-limit-per-minute", "100000")
        with start_emulator(*flags) as emulator:
            transport = TimedClient()
            client = HoneycombClient(transport)
            app = create_app(service=service_for(emulator, client))
            figures: dict[str, tuple[list[float], list[int]]] = {k: ([], []) for k in KINDS}
            try:
                with quiet_output():
                    for kind in KINDS:
                        teaching = kind != "first"
                        for run in range(RUNS_PER_DELAY + teaching):
                            body = {
                                **body_for(""),
                                "query": detection_query(kind),
                                "timeout_seconds": 20,
                            }
                            transport.gets = 0
                            answer = await call_asgi(app, "POST", "/v1/evaluate", body)
                            assert answer.status_code == 200, answer.text
                            if teaching and run == 0:
                                continue
                            latency = transport.last_get_answered - transport.result_created_sent
                            figures[kind][0].append(latency * 1000 - delay_ms)
                            figures[kind][1].append(transport.gets)
            finally:
                await client.aclose()
            print_detection(delay_ms, figures)


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
    # The machine's speed drifts from minute to minute (other tenants), so the evaluator and the
    # bare-stack control are measured alternately, round after round.
    rounds: list[tuple[float, float, float, float]] = []
    with start_emulator(*flags) as emulator:
        for _ in range(OVERHEAD_ROUNDS):
            rounds.append(
                (
                    asyncio.run(measure_overhead(emulator, poll_at_once=True)),
                    asyncio.run(measure_bare_stack(emulator, gap=False)),
                    asyncio.run(measure_overhead(emulator)),
                    asyncio.run(measure_bare_stack(emulator, gap=True)),
                )
            )
    print("\noverhead per evaluation, median ms, by round (evaluator | bare-stack control):")
    print("  first poll at once: evaluator  control | shipped 0.1 s gap: evaluator  control")
    for once, bare_once, gap, bare_gap in rounds:
        print(f"  {once:28.2f} {bare_once:8.2f} | {gap:28.2f} {bare_gap:8.2f}")
    columns = list(zip(*rounds, strict=True))
    once, bare_once, gap, bare_gap = (statistics.median(column) for column in columns)
    print(f"  median of rounds:  {once:9.2f} {bare_once:8.2f} | {gap:28.2f} {bare_gap:8.2f}")
    asyncio.run(measure_detection())
    asyncio.run(measure_served_detection())
    measure_imports()


if __name__ == "__main__":
    main()
