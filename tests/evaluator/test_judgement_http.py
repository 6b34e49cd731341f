"""`compare`/`judge`/`scorecard` end to end: the evaluator over HTTP against the emulator's demo data."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from honeycomb_emulator.demo import DEMO_HASHES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.evaluator.conftest import (
    BAD_CANARY_HASH,
    NO_DATA_HASH,
    PRIMARY_KEY,
    STABLE_HASH,
    Stack,
    evaluator_env,
    unique_filter,
)
from tests.support.servers import VENV_BIN, Server

pytestmark = pytest.mark.servers

GOOD_CANARY_HASH = DEMO_HASHES["good"]
HASH = "rollouts_pod_template_hash"
P99 = "P99(duration_ms)"


def window(minutes: int = 10) -> dict[str, int]:
    """A finished window (its minutes are all in the demo data): the same numbers on every call."""
    end = (int(time.time()) // 60 - 2) * 60
    return {"start_time": end - minutes * 60, "end_time": end}


def comparison(canary: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "dataset": "checkout",
        "query": {
            "calculations": [{"op": "P99", "column": "duration_ms"}],
            "filters": [unique_filter()],
            "granularity": 60,
            **window(),
        },
        "compare": {"column": HASH, "canary": canary, "baseline": STABLE_HASH},
        "judge": {"allowed_increase": 1.05, "harmful_increase": 1.3, "min_count": 50, "significance": 0.02},
    }
    body.update(extra)
    return body


EVENTS = 6000  # 600 a minute per version in the demo, over 10 minutes


def created(stack: Stack) -> int:
    return int(stack.stats()["query_results_created"])


def test_a_bad_canary_is_high_from_exactly_one_query_result(stack: Stack) -> None:
    before = created(stack)
    answer = stack.evaluate(comparison(BAD_CANARY_HASH))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert created(stack) - before == 1
    assert body["verdict"] == "high" and body["test"] == "paired", (body["reason"], body["evidence"])
    assert body["canary"]["key"] == BAD_CANARY_HASH and body["canary"]["count"] == EVENTS
    assert body["baseline"]["count"] == EVENTS
    assert body["value"] == pytest.approx(body["canary"]["value"] / body["baseline"]["value"])
    low, high = body["ratio_ci"]
    assert 3 < low < body["estimate"] < high < 5 and body["p_value"] < 0.001
    assert body["confidence"] == 0.96 and body["mde"] is not None and body["mde"] < 1.2
    assert body["evidence"]["buckets"] == 10 and body["evidence"]["skipped_buckets"] == 0
    assert body["reason"].startswith(f"canary {P99} ") and "over 10 paired buckets" in body["reason"]
    assert "above the allowed 1.05x (p" in body["reason"]
    assert body["reason"].endswith(f"; {EVENTS:,} vs {EVENTS:,} events")
    assert body["query_url"] and body["calculation"] == P99 and len(body["rows"]) == 2


def error_rate(canary: str) -> dict[str, Any]:
    return {
        "dataset": "checkout",
        "query": {
            "calculated_fields": [{"name": "is_error", "expression": "IF($error, 1, 0)"}],
            "calculations": [{"op": "AVG", "column": "is_error"}],
            "filters": [unique_filter()],
            **window(),
        },
        "compare": {"column": HASH, "canary": canary, "baseline": STABLE_HASH},
        "judge": {"harmful_increase": 2, "min_count": 50, "test": "proportions", "significance": 0.02},
    }


def test_a_good_canary_passes_and_its_error_rate_too(stack: Stack) -> None:
    latency = stack.evaluate(comparison(GOOD_CANARY_HASH)).json()
    assert latency["verdict"] == "pass" and latency["ratio_ci"][1] < 1.3, latency
    good = stack.evaluate(error_rate(GOOD_CANARY_HASH)).json()
    assert (good["verdict"], good["test"]) == ("pass", "proportions"), good
    assert "shown below the harmful 2x" in good["reason"]
    bad = stack.evaluate(error_rate(BAD_CANARY_HASH)).json()
    assert bad["verdict"] == "high" and bad["p_value"] < 0.001, bad
    assert " % " in bad["reason"]


def test_a_scorecard_judges_both_metrics_from_one_query_result(stack: Stack) -> None:
    query = {
        "calculated_fields": [{"name": "is_error", "expression": "IF($error, 1, 0)"}],
        "calculations": [{"op": "P99", "column": "duration_ms"}, {"op": "AVG", "column": "is_error"}],
        "filters": [unique_filter()],
        **window(),
    }
    scorecard = {
        "significance": 0.02,
        "metrics": [
            {"name": "latency", "calculation": P99, "allowed_increase": 1.05, "harmful_increase": 1.3},
            {"name": "errors", "calculation": "AVG(is_error)", "test": "proportions", "harmful_increase": 2},
        ],
    }
    before = created(stack)
    answers = {}
    for canary in (BAD_CANARY_HASH, GOOD_CANARY_HASH):
        body = {
            "dataset": "checkout",
            "query": query,
            "compare": {"column": HASH, "canary": canary, "baseline": STABLE_HASH},
            "scorecard": scorecard,
        }
        answer = stack.evaluate(body)
        assert answer.status_code == 200, answer.text
        answers[canary] = answer.json()
    assert created(stack) - before == 2  # one query result per scorecard
    bad, good = answers[BAD_CANARY_HASH], answers[GOOD_CANARY_HASH]
    assert bad["verdict"] == "high" and bad["deciding_metric"] in ("latency", "errors")
    assert [m["verdict"] for m in bad["metrics"]] == ["high", "high"]
    assert all(m["adjusted_p_value"] < 0.001 for m in bad["metrics"])
    assert bad["reason"].startswith(f"high, decided by {bad['deciding_metric']}: canary ")
    assert good["verdict"] == "pass" and [m["verdict"] for m in good["metrics"]] == ["pass", "pass"]


def test_a_canary_without_traffic_is_nodata_with_a_null_value(stack: Stack) -> None:
    body = stack.evaluate(comparison(NO_DATA_HASH)).json()
    assert (body["verdict"], body["value"], body["estimate"]) == ("nodata", None, None), body
    assert body["canary"] == {"key": NO_DATA_HASH, "value": None, "count": 0}
    expected = f"no data: fewer than min_count 50 events in a version; 0 vs {EVENTS:,} events"
    assert body["reason"].endswith(expected)
    as_error = stack.evaluate(comparison(NO_DATA_HASH, empty="error"))
    assert as_error.status_code == 422 and as_error.json()["error"]["code"] == "no_data"


def test_what_cannot_be_compared_is_a_422_naming_the_field_before_any_call(stack: Stack) -> None:
    before = created(stack)
    body = comparison(BAD_CANARY_HASH)
    body["query"] = {**body["query"], "breakdowns": ["service.version"]}
    answer = stack.evaluate(body)
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "query.breakdowns"
    answer = stack.evaluate({**comparison(BAD_CANARY_HASH), "judge": {"allowed_decrease": 0.5}})
    assert (answer.status_code, answer.json()["error"]["field"]) == (422, "judge.allowed_decrease")
    assert created(stack) == before


def single_group(stack: Stack, query: dict[str, Any], hash_value: str, calculation: str) -> tuple[Any, int]:
    """The calculation and the event count of one group, by two ordinary single-group queries."""
    only = {**query, "filters": [*query["filters"], {"column": HASH, "op": "=", "value": hash_value}]}
    values = []
    for key, calculations in ((calculation, only["calculations"]), ("COUNT", [{"op": "COUNT"}])):
        body = {"dataset": "checkout", "query": {**only, "calculations": calculations}}
        body["select"] = {"calculation": key}
        answer = stack.evaluate(body)
        assert answer.status_code == 200, answer.text
        values.append(answer.json()["value"])
    return values[0], int(values[1] or 0)


OPS = ["P99", "P50", "P90", "AVG", "MAX", "MIN", "SUM", "COUNT"]
HASHES = [BAD_CANARY_HASH, GOOD_CANARY_HASH, STABLE_HASH, NO_DATA_HASH]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    op=st.sampled_from(OPS),
    minutes=st.sampled_from([5, 10, 30]),
    name_filter=st.sampled_from([None, "POST /checkout", "GET /checkout/cart"]),
    groups=st.permutations(HASHES).map(lambda order: order[:2]),
)
def test_the_two_numbers_equal_two_single_group_queries(
    stack: Stack, op: str, minutes: int, name_filter: str | None, groups: list[str]
) -> None:
    calculation = op if op == "COUNT" else f"{op}(duration_ms)"
    filters = [unique_filter()]
    if name_filter is not None:
        filters.append({"column": "name", "op": "=", "value": name_filter})
    query = {
        "calculations": [{"op": op} if op == "COUNT" else {"op": op, "column": "duration_ms"}],
        "filters": filters,
        **window(minutes),
    }
    canary, baseline = groups
    answer = stack.evaluate(
        {
            "dataset": "checkout",
            "query": query,
            "compare": {"column": HASH, "canary": canary, "baseline": baseline},
        }
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    for role, key in (("canary", canary), ("baseline", baseline)):
        value, count = single_group(stack, query, key, calculation)
        assert body[role]["key"] == key
        assert body[role]["count"] == count
        assert body[role]["value"] == (pytest.approx(value, rel=1e-12) if value is not None else None)


def test_the_cli_evaluates_a_comparison(emulator: Server, tmp_path: Path) -> None:
    request = tmp_path / "compare.json"
    request.write_text(json.dumps(comparison(BAD_CANARY_HASH)))
    env = evaluator_env(emulator, HONEYCOMB_API_KEY=PRIMARY_KEY)
    done = subprocess.run(
        [str(VENV_BIN / "honeycomb-evaluator"), "evaluate", str(request)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["verdict"] == "high" and answer["canary"]["count"] == EVENTS


def test_stated_sampling_counts_stored_events_through_the_emulator(stack: Stack) -> None:
    """Events stored 1 in 20 (Honeycomb weights them): the tests count the stored ones."""
    end = (int(time.time()) // 60 - 3) * 60
    suffix = uuid.uuid4().hex[:8]
    events = []
    for role in ("canary", "stable"):
        for minute in range(10):
            for i in range(30):  # 30 stored a minute, 600 weighted
                events.append(
                    {
                        "time": end - 600 + minute * 60 + i,
                        "samplerate": 20,
                        "data": {
                            HASH: f"{role}-{suffix}",
                            "duration_ms": 100.0 + i,
                            "error": i == 0 and minute % 2 == 0,
                            "SampleRate": 20,
                        },
                    }
                )
    ingested = httpx.post(
        f"{stack.emulator.url}/1/batch/sampled", json=events, headers={"X-Honeycomb-Team": PRIMARY_KEY}
    )
    assert ingested.status_code == 200, ingested.text

    def judged(sampling: dict[str, Any] | None, calculation: str) -> dict[str, Any]:
        compare: dict[str, Any] = {
            "column": HASH,
            "canary": f"canary-{suffix}",
            "baseline": f"stable-{suffix}",
        }
        if sampling is not None:
            compare["sampling"] = sampling
        judge: dict[str, Any] = {"test": "proportions"} if calculation.startswith("AVG") else {}
        body = {
            "dataset": "sampled",
            "query": {
                "calculated_fields": [{"name": "is_error", "expression": "IF($error, 1, 0)"}],
                "calculations": [{"op": "P99", "column": "duration_ms"}, {"op": "AVG", "column": "is_error"}],
                "start_time": end - 600,
                "end_time": end,
            },
            "select": {"calculation": calculation},
            "compare": compare,
            "judge": judge,
        }
        answer = stack.evaluate(body)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    by_rate = judged({"rate": 20}, P99)
    assert by_rate["canary"]["count"] == 6000  # Honeycomb's weighted COUNT
    # 30 stored events a minute are too few for a P99, whatever the weighted count says.
    assert by_rate["verdict"] == "nodata" and by_rate["evidence"]["skipped_buckets"] == 10
    assert by_rate["evidence"]["why_skipped"] == "10 with fewer than 100 stored events in a version"
    by_column = judged({"column": "SampleRate"}, "AVG(is_error)")
    assert by_column["evidence"]["sampling"] == "sample rates from SampleRate"
    assert by_column["verdict"] in ("nodata", "inconclusive")
    unstated = judged(None, "AVG(is_error)")
    assert unstated["evidence"]["sampling"] == "sample rate 20 read off the counts"
