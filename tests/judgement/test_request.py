"""`compare`, `judge` and `scorecard` in the request: validation errors name the field; the query."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from honeycomb_emulator.demo import DEMO_HASHES
from honeycomb_evaluator.errors import EvaluatorError
from honeycomb_evaluator.judgement.query import plan_comparison
from honeycomb_evaluator.models.request import EvaluateRequest
from honeycomb_evaluator.validation import validation_error
from pydantic import ValidationError

HASH = "rollouts_pod_template_hash"
P99 = "P99(duration_ms)"
BASE: dict[str, Any] = {
    "dataset": "checkout",
    "query": {
        "calculations": [{"op": "P99", "column": "duration_ms"}],
        "filters": [{"column": "service.name", "op": "=", "value": "checkout"}],
        "time_range": 600,
    },
    "compare": {"column": HASH, "canary": DEMO_HASHES["bad"], "baseline": DEMO_HASHES["stable"]},
    "judge": {"allowed_increase": 1.2},
}


def body(**changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        target = out
        for part in parents:
            target = target.setdefault(part, {})
        if value is None:
            target.pop(last, None)
        else:
            target[last] = value
    return out


def rejected(raw: dict[str, Any]) -> EvaluatorError:
    with pytest.raises(ValidationError) as e:
        EvaluateRequest.model_validate(raw)
    return validation_error(e.value)


def test_a_valid_comparison_request_parses_with_kayenta_defaults() -> None:
    request = EvaluateRequest.model_validate(BASE)
    assert request.compare is not None and request.compare.value == "ratio"
    assert request.judge is not None
    assert (request.judge.direction, request.judge.min_count, request.judge.test) == ("increase", 1, "auto")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"judge": {}, "compare": None}, "judge"),
        ({"compare__baseline": DEMO_HASHES["bad"]}, "compare.baseline"),
        ({"compare__value": "quotient"}, "compare.value"),
        ({"compare__extra": 1}, "compare.extra"),
        ({"compare__canary": ""}, "compare.canary"),
        ({"compare__canary": 1.5}, "compare.canary"),
        ({"judge__critical_increase": 1.1}, "judge.critical_increase"),
        ({"judge__allowed_decrease": 0.8}, "judge.allowed_decrease"),
        ({"judge__allowed_increase": 0.9}, "judge.allowed_increase"),
        ({"judge__direction": "decrease"}, "judge.allowed_increase"),
        ({"judge__direction": "sideways"}, "judge.direction"),
        ({"judge__min_count": 0}, "judge.min_count"),
        ({"judge__significance": 1.0}, "judge.significance"),
        ({"judge__test": "t_test"}, "judge.test"),
        ({"judge__tolerance": -1}, "judge.tolerance"),
        ({"judge__typo": True}, "judge.typo"),
        ({"judge__harmful_increase": 1.1}, "judge.harmful_increase"),
        ({"judge__harmful_decrease": 0.5}, "judge.harmful_decrease"),
        ({"judge__test": "mann_whitney"}, "judge.test"),
        ({"judge__significance": 0.5}, "judge.significance"),
        ({"compare__sampling": {}}, "compare.sampling"),
        ({"compare__sampling": {"rate": 5, "column": "SampleRate"}}, "compare.sampling"),
        ({"compare__sampling": {"rate": 0.5}}, "compare.sampling.rate"),
        ({"scorecard": {"metrics": []}}, "scorecard.metrics"),
        ({"judge": None, "scorecard": {"metrics": [{"calculation": "P99(duration_ms)", "critical": False}]}},
         "scorecard.metrics"),
        ({"judge": None, "scorecard": {"metrics": [{"calculation": P99}, {"calculation": P99}]}},
         "scorecard.metrics"),
        ({"scorecard": {"metrics": [{"calculation": "P99(duration_ms)"}]}}, "scorecard"),
        ({"judge": None, "compare": None, "scorecard": {"metrics": [{"calculation": "COUNT"}]}}, "scorecard"),
    ],
)  # fmt: skip
def test_bad_compare_or_judge_is_a_422_naming_the_field(changes: dict[str, Any], field: str) -> None:
    error = rejected(body(**changes))
    assert (error.status, error.code, error.field) == (422, "invalid_request", field)


def test_either_direction_takes_both_allowances() -> None:
    request = EvaluateRequest.model_validate(
        body(judge={"direction": "either", "allowed_increase": 1.2, "allowed_decrease": 0.8})
    )
    assert request.judge is not None and request.judge.allowed_decrease == 0.8


def plan(raw: dict[str, Any], calculation: str = "P99(duration_ms)") -> Any:
    return plan_comparison(EvaluateRequest.model_validate(raw), calculation)


def test_the_comparison_query_filters_breaks_down_and_counts() -> None:
    planned = plan(BASE)
    query = planned.query
    assert query.breakdowns == [HASH]
    assert [c.key for c in query.calculations] == ["P99(duration_ms)", "COUNT"]
    assert query.filters[0].column == "service.name"
    assert (query.filters[1].column, query.filters[1].op, query.filters[1].value) == (
        HASH,
        "in",
        [DEMO_HASHES["bad"], DEMO_HASHES["stable"]],
    )
    # The test pairs 1-minute buckets: a granularity is set when the caller gave none.
    assert (planned.judged[0].test, planned.needs_series, query.granularity) == ("paired", True, 60)
    honeycomb = query.honeycomb_body(1000, 1600)
    assert honeycomb["breakdowns"] == [HASH] and "time_range" not in honeycomb


def test_count_is_not_added_twice_and_an_implicit_count_is_kept() -> None:
    with_count = body(query__calculations=[{"op": "COUNT"}, {"op": "P99", "column": "duration_ms"}])
    assert [c.key for c in plan(with_count).query.calculations] == ["COUNT", "P99(duration_ms)"]
    implicit = body(query__calculations=None, judge__test="none")
    assert [c.key for c in plan(implicit, "COUNT").query.calculations] == ["COUNT"]


def test_tests_pair_buckets_and_only_then_fetch_the_series() -> None:
    assert plan(body(query__granularity=300)).query.granularity == 300  # the caller's is kept
    untested = plan(body(judge__test="none"))
    assert (untested.judged[0].test, untested.needs_series, untested.query.granularity) == (None, False, None)
    compare_only = plan(body(judge=None))
    assert (compare_only.judged, compare_only.needs_series) == ((), False)
    by_series = plan(body(judge=None, select={"over": "series", "reduce": "max"}))
    assert by_series.needs_series
    week = plan(body(query__time_range=7 * 86400))
    assert week.query.granularity == 900  # at most 1000 buckets


def test_a_scorecard_judges_each_named_calculation_and_samples_by_column() -> None:
    raw = body(
        judge=None,
        query__calculations=[{"op": "P99", "column": "duration_ms"}, {"op": "AVG", "column": "is_error"}],
        compare__sampling={"column": "SampleRate"},
        scorecard={
            "metrics": [
                {"name": "latency", "calculation": "P99(duration_ms)", "harmful_increase": 1.3},
                {"calculation": "AVG(is_error)", "test": "proportions", "critical": False},
            ]
        },
    )
    planned = plan_comparison(EvaluateRequest.model_validate(raw), None)
    assert [(j.label, j.test, j.critical) for j in planned.judged] == [
        ("latency", "paired", True),
        ("AVG(is_error)", "proportions", False),
    ]
    keys = [c.key for c in planned.query.calculations]
    assert keys == ["P99(duration_ms)", "AVG(is_error)", "COUNT", "SUM(SampleRate)"]
    assert planned.calculation == "P99(duration_ms)"
    unknown = copy.deepcopy(raw)
    unknown["scorecard"]["metrics"][1]["calculation"] = "AVG(is_eror)"
    with pytest.raises(EvaluatorError) as e:
        plan_comparison(EvaluateRequest.model_validate(unknown), None)
    assert e.value.field == "scorecard.metrics.1.calculation"


def test_calculations_that_grow_with_traffic_are_not_paired() -> None:
    with pytest.raises(EvaluatorError) as e:
        plan(body(query__calculations=[{"op": "COUNT"}]), "COUNT")
    assert e.value.field == "judge.test" and "share of the traffic" in e.value.message
    untested = plan(body(query__calculations=[{"op": "COUNT"}], judge__test="none"), "COUNT")
    assert untested.judged[0].test is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"query__breakdowns": ["service.version"]}, "query.breakdowns"),
        ({"query__limit": 10}, "query.limit"),
        ({"query__havings": [{"calculate_op": "P99", "column": "duration_ms", "op": ">", "value": 1}]},
         "query.havings"),
        ({"query__time_range": 1800, "query__compare_time_offset_seconds": 1800},
         "query.compare_time_offset_seconds"),
        ({"query__filter_combination": "OR"}, "query.filter_combination"),
        ({"query__filters": [{"column": "service.name", "op": "exists"},
                             {"column": HASH, "op": "=", "value": DEMO_HASHES["bad"]}]}, "query.filters.1"),
        ({"judge__test": "proportions"}, "judge.test"),
    ],
)  # fmt: skip
def test_what_cannot_be_compared_is_refused_before_any_call(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(EvaluatorError) as e:
        plan(body(**changes))
    assert (e.value.status, e.value.code, e.value.field) == (422, "invalid_request", field)
    assert "compare" in e.value.message or "proportions" in e.value.message


def test_select_match_is_refused_with_compare() -> None:
    with pytest.raises(EvaluatorError) as e:
        plan(body(select={"match": {"service.version": "v1"}}))
    assert e.value.field == "select.match"


def test_an_or_without_filters_is_harmless() -> None:
    planned = plan(body(query__filters=[], query__filter_combination="OR"))
    assert planned.query.filter_combination is None and len(planned.query.filters) == 1


def test_proportions_need_an_average() -> None:
    rate = body(
        query__calculations=[{"op": "AVG", "column": "is_error"}],
        query__calculated_fields=[{"name": "is_error", "expression": "IF($error, 1, 0)"}],
        judge__test="proportions",
    )
    planned = plan(rate, "AVG(is_error)")
    assert (planned.judged[0].test, planned.needs_series) == ("proportions", True)
