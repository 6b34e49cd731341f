"""Fuzz target: JSON body → request model → window → Honeycomb spec → fingerprint.

Every body either becomes a fingerprint or is refused with one of our documented 4xx errors
naming a field; anything else (a 5xx, an exception that is not ours) is a bug. In-process and
deterministic (a fixed derandomized seed); `make test` runs a few hundred examples, `make fuzz`
(FUZZ_EXAMPLES) many more.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

from honeycomb_emulator.demo import DEMO_HASHES
from honeycomb_evaluator.body import read_json_object
from honeycomb_evaluator.errors import EvaluatorError, InvalidRequest
from honeycomb_evaluator.honeycomb.client import ResultOptions
from honeycomb_evaluator.models.request import EvaluateRequest
from honeycomb_evaluator.selection import check_match, choose_calculation
from honeycomb_evaluator.sharing.fingerprint import fingerprint
from honeycomb_evaluator.target import HoneycombTarget
from honeycomb_evaluator.validation import validation_error
from honeycomb_evaluator.window import resolve_window
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from starlette.requests import Request

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=EXAMPLES, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck)
)
TARGET = HoneycombTarget.build("fuzzkey", None, "default")

VALID: dict[str, Any] = {
    "dataset": "checkout",
    "query": {
        "calculations": [{"op": "P99", "column": "duration_ms"}, {"op": "COUNT"}],
        "filters": [{"column": "rollouts_pod_template_hash", "op": "=", "value": DEMO_HASHES["bad"]}],
        "breakdowns": ["service.version"],
        "calculated_fields": [{"name": "slow", "expression": "IF(GT($duration_ms, 500), 1, 0)"}],
        "havings": [{"calculate_op": "COUNT", "op": ">", "value": 1}],
        "orders": [{"op": "COUNT", "order": "descending"}],
        "time_range": 600,
        "granularity": 60,
        "limit": 100,
    },
    "select": {
        "calculation": "COUNT",
        "match": {"service.version": "v1"},
        "reduce": "sum",
        "over": "results",
    },
    "empty": "null",
    "timeout_seconds": 8,
    "max_age_seconds": 60,
    "include_series": False,
}
NAMES = st.sampled_from(
    sorted({*VALID, *VALID["query"], "op", "column", "value", "start_time", "end_time", "order", "name"})
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["P99", "COUNT", "=", "in", "exists", "__all__", "..", "\ud800", "1e400", "-0"])
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(NAMES | st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=30,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    """The valid body with one part replaced, removed or given an extra key."""
    body = json.loads(json.dumps(VALID))
    path = draw(st.sampled_from(paths(body)[1:]))
    parent = body
    for step in path[:-1]:
        parent = parent[step]
    action = draw(st.sampled_from(["replace", "remove", "extra"]))
    if action == "remove" and isinstance(parent, dict):
        del parent[path[-1]]
    elif action == "extra" and isinstance(parent, dict):
        parent[draw(NAMES)] = draw(JSON)
    else:
        parent[path[-1]] = draw(JSON)
    return body


def request_for(raw: bytes) -> Request:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": raw, "more_body": False}

    scope = {"type": "http", "method": "POST", "path": "/v1/evaluate", "headers": []}
    return Request(scope, receive)


def evaluate_until_the_fingerprint(raw: bytes) -> None:
    """What the app does with a body before calling Honeycomb; raises our errors only."""
    body = asyncio.run(read_json_object(request_for(raw), 64 * 1024, 10))
    try:
        request = EvaluateRequest.model_validate(body)
    except ValidationError as e:
        raise validation_error(e) from None
    choose_calculation(request)
    check_match(request)
    window = resolve_window(request.query)
    spec = request.query.honeycomb_body(window.start_time, window.end_time)
    options = ResultOptions(disable_series=not request.include_series)
    assert fingerprint(TARGET, request.dataset, spec, options).execution_key
    json.dumps(spec, allow_nan=False).encode()  # what the client sends must be valid JSON


def check(raw: bytes) -> None:
    try:
        evaluate_until_the_fingerprint(raw)
    except EvaluatorError as e:
        assert 400 <= e.status < 500, (e, raw[:300])
        assert e.message
        if isinstance(e, InvalidRequest):
            assert e.field, (e, raw[:300])


def test_the_valid_body_gets_a_fingerprint() -> None:
    evaluate_until_the_fingerprint(json.dumps(VALID).encode())


@FUZZ
@given(body=mutated())
def test_mutated_bodies_are_a_fingerprint_or_a_documented_4xx(body: Any) -> None:
    check(json.dumps(body).encode())


@FUZZ
@given(body=st.dictionaries(NAMES, JSON, max_size=6) | JSON)
def test_arbitrary_json_is_a_fingerprint_or_a_documented_4xx(body: Any) -> None:
    check(json.dumps(body).encode())


@FUZZ
@given(
    raw=st.binary(max_size=200)
    | st.text(max_size=200).map(lambda text: text.encode("utf-8", "surrogatepass"))
)
def test_arbitrary_bytes_are_a_documented_4xx(raw: bytes) -> None:
    check(raw)
