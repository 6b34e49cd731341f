"""`honeycomb-evaluator serve` against the emulator over loopback HTTP: answers and every error code."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from honeycomb_evaluator.models.response import EvaluateResponse

from tests.evaluator.conftest import (
    BAD_CANARY_HASH,
    NO_DATA_HASH,
    PRIMARY_KEY,
    ROTATED_KEY,
    STABLE_HASH,
    Stack,
    canary_body,
    error,
    evaluator_env,
    unique_filter,
)
from tests.support.servers import start_emulator, start_evaluator

pytestmark = pytest.mark.servers

QUERY_RESULTS = "/1/query_results"
POST_RESULTS = "POST /1/query_results/{dataset}"
POST_QUERIES = "POST /1/queries/{dataset}"
GET_RESULT = "GET /1/query_results/{dataset}/{id}"


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    EvaluateResponse.model_validate(body)
    return body


def test_bad_canary_and_stable_differ_as_the_demo_data_says(stack: Stack) -> None:
    bad = ok(stack.evaluate(canary_body(BAD_CANARY_HASH, "error_rate")))
    stable = ok(stack.evaluate(canary_body(STABLE_HASH, "error_rate")))
    assert 0.04 < bad["value"] < 0.12
    assert stable["value"] < 0.02
    p99_bad = ok(stack.evaluate(canary_body(BAD_CANARY_HASH)))
    p99_stable = ok(stack.evaluate(canary_body(STABLE_HASH)))
    assert p99_bad["value"] > 2 * p99_stable["value"]
    assert p99_bad["calculation"] == "P99(duration_ms)"
    assert p99_bad["query_url"].startswith(stack.emulator.url)
    window = p99_bad["window"]
    assert window["end_time"] - window["start_time"] == 600 and window["end_time"] % 60 == 0
    assert window["end"].endswith(":00Z")
    assert p99_bad["cached"] is False and p99_bad["series"] is None


def test_no_data_is_null_zero_or_an_error_as_asked(stack: Stack) -> None:
    assert ok(stack.evaluate(canary_body(NO_DATA_HASH)))["value"] is None
    assert ok(stack.evaluate(canary_body(NO_DATA_HASH, empty="zero")))["value"] == 0
    error(stack.evaluate(canary_body(NO_DATA_HASH, empty="error")), 422, "no_data")


def test_breakdowns_select_and_series(stack: Stack) -> None:
    body: dict[str, Any] = {
        "dataset": "checkout",
        "query": {
            "calculations": [{"op": "COUNT"}, {"op": "P99", "column": "duration_ms"}],
            "breakdowns": ["service.version"],
            "filters": [unique_filter()],
            "time_range": 600,
            "granularity": 60,
        },
    }
    ambiguous = error(stack.evaluate(body), 422, "ambiguous_selection")
    assert '"select"' in ambiguous["message"]
    one_calc = {**body, "select": {"calculation": "P99(duration_ms)"}}
    # Several rows and a select without match: the first row (Honeycomb's order) is the answer.
    assert ok(stack.evaluate(one_calc))["value"] is not None
    no_select_rows = {**body, "query": {**body["query"], "calculations": [{"op": "COUNT"}]}}
    assert "match" in error(stack.evaluate(no_select_rows), 422, "ambiguous_selection")["message"]

    series_body = {
        **body,
        "select": {
            "calculation": "COUNT",
            "match": {"service.version": "v1.5.0"},
            "over": "series",
            "reduce": "sum",
        },
        "include_series": True,
    }
    answer = ok(stack.evaluate(series_body))
    assert answer["series"], "include_series returns the time buckets"
    total = sum(p["data"]["COUNT"] for p in answer["series"] if p["data"].get("service.version") == "v1.5.0")
    assert answer["value"] == pytest.approx(total)
    row_count = next(r["COUNT"] for r in answer["rows"] if r["service.version"] == "v1.5.0")
    assert answer["value"] == pytest.approx(row_count)


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [
        (b"{not json", 400, "malformed_json"),
        (b"[1, 2]", 400, "malformed_json"),
        (b'{"dataset": NaN}', 400, "malformed_json"),
        (b"\xff\xfe", 400, "malformed_json"),
        (b'{"dataset": "checkout"}', 422, "invalid_request"),
        (b"x" * (64 * 1024 + 1), 413, "body_too_large"),
    ],
)
def test_bad_bodies(stack: Stack, content: bytes, status: int, code: str) -> None:
    response = httpx.post(
        f"{stack.evaluator.url}/v1/evaluate", content=content, headers={"Content-Type": "application/json"}
    )
    error(response, status, code)
    assert stack.requests(POST_QUERIES) == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"query": {"calculations": [{"op": "P98", "column": "duration_ms"}]}}, "query.calculations.0.op"),
        ({"query": {"calculations": [{"op": "P99"}]}}, "query.calculations.0"),
        ({"query": {"filters": [{"column": "a", "op": "in", "value": 1}]}}, "query.filters.0"),
        ({"query": {"time_range": 600, "start_time": 1, "end_time": 2}}, "query"),
        ({"query": {"limit": 5000}}, "query.limit"),
        ({"timeout_seconds": 26}, "timeout_seconds"),
        ({"empty": "nothing"}, "empty"),
        ({"surprise": 1}, "surprise"),
        ({"select": {"calculation": "P95(duration_ms)"}}, "select.calculation"),
        ({"select": {"match": {"service.version": "v1"}}}, "select.match"),
        ({"dataset": "bad/slug"}, "dataset"),
    ],
)
def test_schema_violations_name_the_field_and_cost_no_query(
    stack: Stack, change: dict[str, Any], field: str
) -> None:
    body = {
        "dataset": "checkout",
        "query": {"calculations": [{"op": "P99", "column": "duration_ms"}]},
        **change,
    }
    found = error(stack.evaluate(body), 422, "invalid_request")
    assert found["field"] == field, found
    assert field.split(".")[-1] in found["message"] or found["field"] == "query"
    assert stack.requests(POST_QUERIES) == 0 and stack.requests(POST_RESULTS) == 0


def test_routes_and_methods(stack: Stack) -> None:
    error(httpx.get(f"{stack.evaluator.url}/nope"), 404, "not_found")
    error(httpx.get(f"{stack.evaluator.url}/v1/evaluate"), 405, "method_not_allowed")
    health = httpx.get(f"{stack.evaluator.url}/healthz")
    assert health.status_code == 200 and health.json()["ok"] is True
    assert stack.stats()["requests"] == {}


def test_served_openapi_matches_the_committed_document(stack: Stack) -> None:
    served = httpx.get(f"{stack.evaluator.url}/openapi.json").json()
    committed = json.loads((Path(__file__).parents[2] / "docs" / "openapi.json").read_text())
    assert served == committed, "run: honeycomb-evaluator openapi > docs/openapi.json"


def test_unknown_dataset(stack: Stack) -> None:
    body = {**canary_body(STABLE_HASH), "dataset": "no-such-dataset"}
    error(stack.evaluate(body), 404, "dataset_not_found")


def test_honeycomb_rejects_the_query(stack: Stack) -> None:
    body = {"dataset": "checkout", "query": {"calculations": [{"op": "P99", "column": "no_such_column"}]}}
    found = error(stack.evaluate(body), 422, "invalid_query")
    assert "no_such_column" in found["message"]


def test_a_misspelt_column_gets_the_closest_real_one(stack: Stack) -> None:
    body = {"dataset": "checkout", "query": {"calculations": [{"op": "P99", "column": "duration_mss"}]}}
    found = error(stack.evaluate(body), 422, "invalid_query")
    assert "checkout has no column 'duration_mss' (did you mean 'duration_ms'?)" in found["message"]


def test_a_missing_dataset_is_named(stack: Stack) -> None:
    found = error(
        stack.evaluate({**canary_body(STABLE_HASH), "dataset": "no-such-dataset"}), 404, "dataset_not_found"
    )
    assert "no-such-dataset" in found["message"]


def test_an_environment_no_configuration_names_is_the_callers_mistake(stack: Stack) -> None:
    found = error(stack.evaluate({**canary_body(STABLE_HASH), "environment": "eu"}), 422, "invalid_request")
    assert found["field"] == "environment" and "'default'" in found["message"]


@contextlib.contextmanager
def isolated_stack(*flags: str) -> Iterator[Stack]:
    """Servers of its own, for tests that spend the rate budget (it would starve the shared stack)."""
    with (
        start_emulator("--demo", "--result-delay-ms", "50", *flags) as emulator,
        start_evaluator(evaluator_env(emulator, HONEYCOMB_API_KEY="emulator-key")) as evaluator,
    ):
        yield Stack(emulator, evaluator)


def test_query_result_429_is_never_retried() -> None:
    with isolated_stack("--rate-limit-per-minute", "1000") as stack:
        stack.fault(method="POST", path_prefix=QUERY_RESULTS, status=429, count=-1)
        response = stack.evaluate(canary_body(STABLE_HASH))
        found = error(response, 503, "rate_limited")
        assert found["retry_after_seconds"] and found["retry_after_seconds"] > 0
        assert int(response.headers["Retry-After"]) >= 1
        assert stack.requests(POST_RESULTS) == 1


def test_real_rate_limit_from_the_emulator() -> None:
    with isolated_stack("--rate-limit-per-minute", "1") as stack:
        ok(stack.evaluate(canary_body(STABLE_HASH)))
        error(stack.evaluate(canary_body(STABLE_HASH)), 503, "rate_limited")
        assert stack.requests(POST_RESULTS) <= 2


def test_query_creation_and_polls_recover_from_transient_5xx(stack: Stack) -> None:
    stack.fault(method="POST", path_prefix="/1/queries", status=503, count=2)
    stack.fault(method="GET", path_prefix=QUERY_RESULTS, status=500, count=1)
    stack.fault(method="GET", path_prefix=QUERY_RESULTS, mode="malformed", count=1)
    assert ok(stack.evaluate(canary_body(STABLE_HASH)))["value"] > 0
    assert stack.requests(POST_QUERIES) == 3
    assert stack.requests(POST_RESULTS) == 1


def test_persistent_5xx_is_upstream_error(stack: Stack) -> None:
    stack.fault(method="GET", path_prefix=QUERY_RESULTS, status=502, count=-1)
    error(stack.evaluate(canary_body(STABLE_HASH, timeout_seconds=5)), 502, "upstream_error")
    assert stack.requests(POST_RESULTS) == 1


@pytest.mark.parametrize("mode", ["truncated", "drop", "malformed"])
def test_broken_answers_to_result_creation_are_upstream_errors_not_retried(stack: Stack, mode: str) -> None:
    stack.fault(method="POST", path_prefix=QUERY_RESULTS, mode=mode, count=-1)
    error(stack.evaluate(canary_body(STABLE_HASH)), 502, "upstream_error")
    assert stack.requests(POST_RESULTS) == 1


def test_dropped_polls_are_retried(stack: Stack) -> None:
    stack.fault(method="GET", path_prefix=QUERY_RESULTS, mode="drop", count=2)
    stack.fault(method="GET", path_prefix=QUERY_RESULTS, mode="truncated", count=1)
    assert ok(stack.evaluate(canary_body(STABLE_HASH)))["value"] > 0


def test_deadline_is_504_and_a_retry_resumes_the_same_result(stack: Stack) -> None:
    body = canary_body(STABLE_HASH, timeout_seconds=1)
    # Only the polls see "not complete", so the result itself is ready once the fault is cleared.
    stack.fault(method="GET", path_prefix=QUERY_RESULTS, mode="never_complete", count=-1)
    error(stack.evaluate(body), 504, "timeout")
    httpx.delete(f"{stack.emulator.url}/_emulator/faults").raise_for_status()
    answer = ok(stack.evaluate({**body, "timeout_seconds": 8}))
    assert answer["value"] > 0
    assert stack.requests(POST_RESULTS) == 1, "the retry resumed the first query result"


def test_a_slow_honeycomb_is_a_timeout_not_a_hang(stack: Stack) -> None:
    stack.fault(method="POST", path_prefix="/1/queries", mode="latency", latency_ms=3000, count=-1)
    error(stack.evaluate(canary_body(STABLE_HASH, timeout_seconds=1)), 504, "timeout")
    assert stack.requests(POST_RESULTS) == 0


def test_correlation_id_is_echoed_and_logged(stack: Stack) -> None:
    response = stack.evaluate(canary_body(STABLE_HASH), headers={"X-Request-Id": "analysis-run-42"})
    assert response.headers["X-Request-Id"] == "analysis-run-42"
    lines = [json.loads(line) for line in stack.evaluator.output().splitlines() if line.startswith("{")]
    logged = [line for line in lines if line.get("correlation_id") == "analysis-run-42"]
    assert any(line.get("message") == "evaluation" for line in logged)
    emf = [line for line in lines if "_aws" in line]
    assert any("Evaluations" in line and "HoneycombPolls" in line for line in emf)


def test_the_key_never_appears_in_output_or_answers(stack: Stack) -> None:
    # Runs last in this module: by now every path above has logged and answered.
    bad_key = stack.evaluate({**canary_body(STABLE_HASH), "environment": "default"})
    for text in (stack.evaluator.output(), bad_key.text):
        assert PRIMARY_KEY not in text and ROTATED_KEY not in text
