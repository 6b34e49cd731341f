"""`slices` end to end: the evaluator over HTTP against the emulator's demo data (docs/design.md).

The demo's slice-regressed canary is the good one except for enterprise users on
/checkout/payment (about 1 % of its traffic: 3x slower, 60 % failing); the new-exception canary
throws a NullPointerException no other version throws. Every comparison costs one query result.
"""

from __future__ import annotations

from typing import Any

import pytest
from honeycomb_emulator.demo import DEMO_HASHES
from honeycomb_evaluator.models.response import EvaluateResponse

from tests.evaluator.conftest import BAD_CANARY_HASH, STABLE_HASH, Stack, error, unique_filter
from tests.evaluator.test_judgement_http import GOOD_CANARY_HASH, HASH, created, window

pytestmark = pytest.mark.servers

SLICE_CANARY_HASH = DEMO_HASHES["slice"]
NEW_EXCEPTION_HASH = DEMO_HASHES["new_exception"]
REGRESSED = "http.route=/checkout/payment, user.plan=enterprise"


def sliced(canary: str, slices: dict[str, Any] | None = None, **query: Any) -> dict[str, Any]:
    """The sliced template's body (infra/argo-rollouts/analysistemplate-canary-slices.yaml)."""
    return {
        "dataset": "checkout",
        "query": {
            "calculated_fields": [{"name": "is_error", "expression": "IF($error, 1, 0)"}],
            "calculations": [{"op": "AVG", "column": "duration_ms"}, {"op": "AVG", "column": "is_error"}],
            "filters": [unique_filter()],
            "granularity": 60,
            **window(),
            **query,
        },
        "compare": {"column": HASH, "canary": canary, "baseline": STABLE_HASH},
        "scorecard": {
            "significance": 0.02,
            "metrics": [
                {
                    "name": "latency",
                    "calculation": "AVG(duration_ms)",
                    "allowed_increase": 1.05,
                    "harmful_increase": 1.3,
                    "min_count": 50,
                },
                {
                    "name": "errors",
                    "calculation": "AVG(is_error)",
                    "test": "proportions",
                    "harmful_increase": 2,
                    "min_count": 50,
                },
            ],
        },
        "slices": slices
        or {
            "dimensions": ["http.route", "user.plan"],
            "depth": 2,
            "significance": 0.015,
            "max_slices": 40,
            "min_count": 30,
            "errors": {"column": "exception.type", "min_count": 5},
        },
    }


def test_a_canary_regressed_in_one_slice_is_high_and_the_slice_named_from_one_query_result(
    stack: Stack,
) -> None:
    before = created(stack)
    answer = stack.evaluate(sliced(SLICE_CANARY_HASH))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    EvaluateResponse.model_validate(body)  # the documented answer (docs/openapi.json)
    assert created(stack) - before == 1
    assert body["verdict"] == "high" and body["deciding_slice"] == REGRESSED, body["reason"]
    assert body["reason"].startswith(f"high, decided by slice {REGRESSED} (")
    assert "q=" in body["reason"] or "q<" in body["reason"]
    # The whole canary is not shown worse: its slice is 1 % of its traffic.
    assert body["reason"].endswith(("whole comparison: pass", "whole comparison: inconclusive")), body[
        "reason"
    ]
    # The whole comparison is as without slices: one row per version, both groups' numbers.
    assert sorted(row[HASH] for row in body["rows"]) == sorted([SLICE_CANARY_HASH, STABLE_HASH])
    assert body["canary"]["count"] == 6000 and body["baseline"]["count"] == 6000
    block = body["slices"]
    assert block["regressed"] >= 1 and block["coverage"]["truncated"] is False
    top = block["top"][0]
    assert top["label"] == REGRESSED and top["verdict"] == "high" and top["q_value"] <= 0.015
    assert top["slice"] == {"http.route": "/checkout/payment", "user.plan": "enterprise"}
    assert 30 < top["canary"]["count"] < 100 and 30 < top["baseline"]["count"] < 100
    low, _ = top["ratio_ci"]
    # Stable never failed there: the estimate is unbounded (null), the lower bound well above 1.
    assert low is not None and low > 1 and (top["estimate"] is None or top["estimate"] > low)
    # Every slice of a route or plan, and every route x plan the traffic fills: 3 + 3 + 9.
    assert block["seen"] == 15 and block["judged"] + block["too_small"] >= block["seen"] - 1


def test_a_good_canary_passes_with_its_slices_and_no_new_error_type(stack: Stack) -> None:
    body = stack.evaluate(sliced(GOOD_CANARY_HASH)).json()
    assert body["verdict"] == "pass" and body["deciding_slice"] is None, body["reason"]
    block = body["slices"]
    assert block["regressed"] == 0 and block["new_errors"] == [] and block["judged"] >= 10
    assert all(entry["verdict"] != "high" for entry in block["top"])


def test_a_new_exception_type_is_named_with_its_counts(stack: Stack) -> None:
    body = stack.evaluate(sliced(NEW_EXCEPTION_HASH)).json()
    EvaluateResponse.model_validate(body)
    (named,) = body["slices"]["new_errors"]
    assert named["type"] == "NullPointerException" and named["baseline_count"] == 0
    assert named["canary_count"] >= 5 and named["critical"] is False
    assert "new error types: NullPointerException (" in body["reason"]


def test_a_new_exception_type_at_critical_count_fails_the_canary(stack: Stack) -> None:
    slices = {"dimensions": ["user.plan"], "errors": {"column": "exception.type", "critical_count": 5}}
    body = stack.evaluate(sliced(NEW_EXCEPTION_HASH, slices)).json()
    assert body["verdict"] == "high" and body["deciding_slice"] == "NullPointerException", body["reason"]
    assert body["reason"].startswith("high, decided by the new error type NullPointerException: ")


def test_a_regression_of_the_whole_canary_is_decided_by_the_whole_comparison(stack: Stack) -> None:
    body = stack.evaluate(sliced(BAD_CANARY_HASH)).json()
    assert body["verdict"] == "high" and body["deciding_slice"] is None
    assert body["reason"].startswith("high, decided by ")


def test_groups_past_honeycombs_limit_are_reported_not_dropped(stack: Stack) -> None:
    # One group per span: far more than the 1,000 groups Honeycomb returns with series.
    slices = {"dimensions": ["trace.span_id"], "max_slices": 10}
    before = created(stack)
    body = stack.evaluate(sliced(GOOD_CANARY_HASH, slices)).json()
    assert created(stack) - before == 1
    coverage = body["slices"]["coverage"]
    assert coverage["truncated"] is True and coverage["limit"] == 1000 and coverage["groups"] == 1000
    assert coverage["events_beyond_limit"] > 10_000
    assert (
        f"{coverage['events_beyond_limit']:,.0f} events beyond Honeycomb's 1,000 groups not judged"
        in (body["reason"])
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"query": {"calculations": [{"op": "P99", "column": "duration_ms"}]}}, "query.calculations.0"),
        ({"slices": {"dimensions": [HASH]}}, "slices.dimensions"),
        ({"slices": {"dimensions": ["user.plan"], "significance": 0.05}}, "slices"),
        ({"slices": {}}, "slices"),
        ({"slices": {"dimensions": ["a", "a"]}}, "slices.dimensions"),
    ],
)
def test_what_slices_cannot_judge_is_refused_before_any_query(
    stack: Stack, change: dict[str, Any], field: str
) -> None:
    body = sliced(GOOD_CANARY_HASH)
    if "query" in change:
        body["query"] = {**body["query"], **change["query"]}
        body["scorecard"] = {"metrics": [{"calculation": "P99(duration_ms)"}]}
    else:
        body["slices"] = change["slices"]
    before = created(stack)
    details = error(stack.evaluate(body), 422, "invalid_request")
    assert details["field"] == field, details
    assert created(stack) - before == 0


def test_slices_need_a_verdict(stack: Stack) -> None:
    body = sliced(GOOD_CANARY_HASH)
    del body["scorecard"]
    details = error(stack.evaluate(body), 422, "invalid_request")
    assert details["field"] == "slices" and "judge" in details["message"]


def test_a_single_judged_metric_is_sliced_too(stack: Stack) -> None:
    body = sliced(SLICE_CANARY_HASH)
    del body["scorecard"]
    body["select"] = {"calculation": "AVG(is_error)"}
    body["judge"] = {"test": "proportions", "harmful_increase": 2, "min_count": 50, "significance": 0.02}
    answer = stack.evaluate(body).json()
    assert answer["verdict"] == "high" and answer["deciding_slice"] == REGRESSED, answer["reason"]
    assert {entry["metric"] for entry in answer["slices"]["top"]} <= {"AVG(is_error)", "new type"}
