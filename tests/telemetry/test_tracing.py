"""`serve`'s own traces over OTLP/HTTP, and what is imported where tracing is off.

Spans go to a collector-compatible OTLP/HTTP receiver (tests/support/otlp_sink.py) that parses
real OTLP protobuf.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.evaluator.conftest import BAD_CANARY_HASH, PRIMARY_KEY, STABLE_HASH, evaluator_env, unique_filter
from tests.support.otlp_sink import OtlpSink, ReceivedSpan, start_otlp_sink
from tests.support.servers import Server, free_port, start_evaluator

INGEST_KEY = "hcaik_otlpingestkey0123456789"
SERVER, CLIENT = 2, 3  # OTLP span kinds


def judged_body() -> dict[str, Any]:
    end = (int(time.time()) // 60 - 2) * 60
    return {
        "dataset": "checkout",
        "query": {
            "calculations": [{"op": "P99", "column": "duration_ms"}],
            "filters": [unique_filter()],
            "granularity": 60,
            "start_time": end - 600,
            "end_time": end,
        },
        "compare": {
            "column": "rollouts_pod_template_hash",
            "canary": BAD_CANARY_HASH,
            "baseline": STABLE_HASH,
        },
        "judge": {"allowed_increase": 1.2, "min_count": 50},
        "max_age_seconds": 300,
    }


@pytest.fixture(scope="module")
def traced(emulator: Server) -> Iterator[tuple[Server, OtlpSink]]:
    with start_otlp_sink() as sink:
        env = evaluator_env(
            emulator,
            HONEYCOMB_API_KEY=PRIMARY_KEY,
            OTEL_EXPORTER_OTLP_ENDPOINT=sink.url,
            OTEL_EXPORTER_OTLP_HEADERS=f"x-honeycomb-team={INGEST_KEY}",
            OTEL_BSP_SCHEDULE_DELAY="100",  # ms: the test need not wait the default 5 s
        )
        with start_evaluator(env) as evaluator:
            yield evaluator, sink


def _trace(sink: OtlpSink, trace_id: str) -> list[ReceivedSpan]:
    """The trace's spans once its server span is in (children end, and are batched, before it)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = [s for s in sink.spans() if s.trace_id == trace_id]
        if any(s.kind == SERVER for s in found):
            return found
        time.sleep(0.1)
    raise AssertionError(f"trace {trace_id}: {[s.name for s in sink.spans() if s.trace_id == trace_id]}")


@pytest.mark.servers
def test_an_evaluation_is_one_server_span_with_its_honeycomb_calls_as_children(
    traced: tuple[Server, OtlpSink],
) -> None:
    evaluator, sink = traced
    trace_id, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    headers = {"traceparent": f"00-{trace_id}-{parent}-01"}  # a caller's trace is continued
    request = judged_body()
    answer = httpx.post(evaluator.url + "/v1/evaluate", json=request, headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    spans = _trace(sink, trace_id)
    (server,) = [s for s in spans if s.kind == SERVER]
    assert server.name == "POST /v1/evaluate" and server.parent_id == parent
    attributes = server.attributes
    assert attributes["evaluation.caller"] == "anonymous"
    assert attributes["evaluation.dataset"] == "checkout"
    assert attributes["evaluation.served"] == "created" and attributes["evaluation.fused"] is False
    assert attributes["evaluation.outcome"] == "ok" and attributes["evaluation.verdict"] == "high"
    assert attributes["evaluation.reason"] == body["reason"]
    assert attributes["evaluation.query_url"] == body["query_url"]
    assert int(attributes["http.response.status_code"]) == 200
    calls = [s for s in spans if s.kind == CLIENT]
    assert {s.name for s in calls} >= {"honeycomb POST queries", "honeycomb POST query_results"}
    assert any(s.name == "honeycomb GET query_results" for s in calls)
    assert all(s.parent_id == server.span_id for s in calls)
    assert all(int(s.attributes["http.response.status_code"]) in (200, 201) for s in calls)
    assert server.resource["service.name"] == "honeycomb-evaluator"

    # The same evaluation again: served from memory, no call to Honeycomb, one span.
    again = httpx.post(evaluator.url + "/v1/evaluate", json=request, timeout=30)
    assert again.status_code == 200
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        cached = [s for s in sink.spans() if s.attributes.get("evaluation.served") == "memory_cache"]
        if cached:
            break
        time.sleep(0.1)
    assert cached and not [s for s in sink.spans() if s.parent_id == cached[0].span_id]


@pytest.mark.servers
def test_no_span_carries_the_honeycomb_key(traced: tuple[Server, OtlpSink]) -> None:
    evaluator, sink = traced
    # A failing call too: Honeycomb's 401 answer may quote what it was sent.
    failing = {**judged_body(), "environment": "default"}
    httpx.post(evaluator.url + "/v1/evaluate", json=failing, timeout=30)
    httpx.post(evaluator.url + "/v1/evaluate", json={"dataset": "checkout"}, timeout=30)
    sink.wait_for(3)
    time.sleep(0.5)  # the last batch
    assert sink.raw and not any(PRIMARY_KEY.encode() in raw for raw in sink.raw)
    # The exporter authenticates with the ingest key in its header, nowhere else.
    assert all(h.get("x-honeycomb-team") == INGEST_KEY for h in sink.headers)
    assert not any(INGEST_KEY.encode() in raw for raw in sink.raw)


IMPORTS = """
import json, os, sys
import httpx
from honeycomb_evaluator.settings import Settings
from honeycomb_evaluator.telemetry.serve import served_app

async def main():
    app = served_app(Settings.from_env())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://evaluator") as client:
        statuses = [(await client.get(path)).status_code for path in ("/healthz", "/readyz", "/metrics")]
        body = {"dataset": "checkout", "query": {"calculations": [{"op": "COUNT"}]}, "timeout_seconds": 2}
        statuses.append((await client.post("/v1/evaluate", json=body)).status_code)
    return statuses

import asyncio
statuses = asyncio.run(main())
loaded = sorted(m for m in sys.modules if m.startswith(("opentelemetry", "prometheus_client")))
print(json.dumps({"statuses": statuses, "modules": loaded}))
"""


def _imports(**env: str) -> dict[str, Any]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    unreachable = f"http://127.0.0.1:{free_port()}"  # the evaluation fails fast: no Honeycomb here
    clean |= {
        "HONEYCOMB_API_KEY": PRIMARY_KEY,
        "HONEYCOMB_API_URL": unreachable,
        "EVALUATOR_ALLOW_ANONYMOUS": "true",
    }
    done = subprocess.run(
        [sys.executable, "-c", IMPORTS], env={**clean, **env}, capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_with_otel_off_nothing_of_opentelemetry_is_imported() -> None:
    off = _imports()
    assert off["statuses"] == [200, 200, 200, 502]
    assert not [m for m in off["modules"] if m.startswith("opentelemetry")], off["modules"]
    on = _imports(
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{free_port()}", OTEL_BSP_SCHEDULE_DELAY="60000"
    )
    assert "opentelemetry.exporter.otlp.proto.http.trace_exporter" in on["modules"]
    # OTEL_SDK_DISABLED wins over an endpoint, as the SDK's own rule says.
    disabled = _imports(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:1", OTEL_SDK_DISABLED="true")
    assert not [m for m in disabled["modules"] if m.startswith("opentelemetry")]


def test_the_lambda_handler_imports_neither_prometheus_nor_opentelemetry() -> None:
    code = (
        "import sys, honeycomb_evaluator.handler; "
        "print([m for m in sys.modules if m.startswith(('opentelemetry', 'prometheus_client'))])"
    )
    env = dict(os.environ)
    env |= {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "HONEYCOMB_API_KEY": "k"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
