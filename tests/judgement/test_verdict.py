"""Comparison, verdict and reason: the no-data and zero-baseline rules, and reading the result."""

from __future__ import annotations

import math
from typing import Any

import pytest
from honeycomb_emulator.demo import DEMO_HASHES
from honeycomb_evaluator.errors import EvaluatorError
from honeycomb_evaluator.honeycomb.results import QueryResult
from honeycomb_evaluator.judgement.answer import comparison_answer
from honeycomb_evaluator.judgement.comparison import compare
from honeycomb_evaluator.judgement.groups import Group, read_groups
from honeycomb_evaluator.judgement.reason import number, unit_of
from honeycomb_evaluator.judgement.verdict import judge_groups
from honeycomb_evaluator.models.judgement import Judge
from honeycomb_evaluator.models.request import EvaluateRequest
from hypothesis import given
from hypothesis import strategies as st

P99 = "P99(duration_ms)"
RATE = "AVG(is_error)"
HASH = "rollouts_pod_template_hash"
CANARY, BASELINE = DEMO_HASHES["bad"], DEMO_HASHES["stable"]


def group(value: float | None, count: int, samples: tuple[float, ...] = (), key: str = CANARY) -> Group:
    return Group(key=key, value=value, count=count, overall=value, samples=samples)


def judge(**fields: Any) -> Judge:
    return Judge.model_validate(fields)


# -- comparison ------------------------------------------------------------------------------


def test_comparison_measures() -> None:
    c = compare(1188.0, 299.0)
    assert c.ratio == pytest.approx(3.9732, abs=1e-4)
    assert c.difference == 889.0
    assert c.percent_change == pytest.approx(297.32, abs=1e-2)
    assert compare(80.0, -100.0).percent_change == pytest.approx(180.0)  # up from a negative baseline


def test_zero_baseline_gives_no_ratio_unless_the_canary_is_zero_too() -> None:
    assert compare(0.0, 0.0) == type(compare(0.0, 0.0))(1.0, 0.0, 0.0)
    assert (compare(0.02, 0.0).ratio, compare(0.02, 0.0).percent_change) == (None, None)
    assert compare(0.02, 0.0).difference == 0.02


def test_missing_values_give_no_comparison() -> None:
    for pair in ((None, 1.0), (1.0, None), (None, None)):
        assert compare(*pair).value("difference") is None


@given(st.floats(-1e9, 1e9), st.floats(-1e9, 1e9))
def test_comparisons_are_finite_or_none(canary: float, baseline: float) -> None:
    c = compare(canary, baseline)
    for kind in ("ratio", "difference", "percent_change"):
        v = c.value(kind)  # type: ignore[arg-type]
        assert v is None or math.isfinite(v)


# -- verdict ---------------------------------------------------------------------------------


def verdict(j: Judge, canary: Group, baseline: Group, test: Any = None) -> str | None:
    decision = judge_groups(j, test, canary, baseline).decision
    assert decision is not None
    return decision.verdict


def test_increase_beyond_the_allowance_is_high_and_within_passes() -> None:
    j = judge(allowed_increase=1.2)
    assert verdict(j, group(1188, 2400), group(299, 2380)) == "high"
    assert verdict(j, group(358, 2400), group(299, 2380)) == "pass"
    assert verdict(j, group(10, 2400), group(299, 2380)) == "pass"  # better is never bad here


def test_direction_decrease_and_either() -> None:
    down = judge(direction="decrease", allowed_decrease=0.8)
    assert verdict(down, group(200, 100), group(300, 100)) == "low"
    assert verdict(down, group(5000, 100), group(300, 100)) == "pass"
    both = judge(direction="either", allowed_increase=1.5, allowed_decrease=0.5)
    assert verdict(both, group(100, 100), group(300, 100)) == "low"
    assert verdict(both, group(500, 100), group(300, 100)) == "high"
    assert verdict(both, group(300, 100), group(300, 100)) == "pass"


def test_nodata_for_missing_values_or_too_few_events() -> None:
    j = judge(allowed_increase=1.2, min_count=50)
    assert verdict(j, group(None, 0), group(299, 2380)) == "nodata"
    assert verdict(j, group(299, 2380), group(None, 0)) == "nodata"
    assert verdict(j, group(900, 49), group(299, 2380)) == "nodata"
    assert verdict(j, group(900, 50), group(299, 2380)) == "high"


def test_a_zero_baseline_neither_fails_nor_passes_every_canary() -> None:
    strict = judge(allowed_increase=1.2)
    assert verdict(strict, group(0.0, 2400), group(0.0, 2380)) == "pass"
    assert verdict(strict, group(0.01, 2400), group(0.0, 2380)) == "high"
    tolerant = judge(allowed_increase=1.2, tolerance=0.005)
    assert verdict(tolerant, group(0.004, 2400), group(0.0, 2380)) == "pass"
    assert verdict(tolerant, group(0.08, 2400), group(0.0, 2380)) == "high"
    # With the proportions test: 1 error in 1,000 against none in 2,380 is not significant, 8 % is.
    tested = judge(test="proportions")
    one = Group(CANARY, 1 / 1000, 1000, 1 / 1000, ())
    eight = Group(CANARY, 0.08, 1000, 0.08, ())
    clean = Group(BASELINE, 0.0, 2380, 0.0, ())
    assert verdict(tested, one, clean, "proportions") == "pass"
    assert verdict(tested, eight, clean, "proportions") == "high"
    # The critical bound needs a magnitude: it does not turn any error into a critical failure.
    critical = judge(allowed_increase=1.2, critical_increase=2, test="proportions")
    assert verdict(critical, one, clean, "proportions") == "pass"


def test_a_breach_the_test_cannot_confirm_passes_unless_critical() -> None:
    j = judge(allowed_increase=1.2, critical_increase=3, test="mann_whitney")
    noisy_canary = group(400, 100, samples=(100.0, 500.0, 300.0))
    baseline = group(299, 100, samples=(290.0, 310.0, 299.0), key=BASELINE)
    judged = judge_groups(j, "mann_whitney", noisy_canary, baseline)
    assert judged.test is not None and judged.test.p_value >= 0.05
    assert judged.decision is not None
    assert (judged.decision.verdict, judged.decision.significant) == ("pass", False)
    far = group(1200, 100, samples=(1100.0, 1300.0, 1200.0))
    judged = judge_groups(j, "mann_whitney", far, baseline)
    assert judged.decision is not None and (judged.decision.verdict, judged.decision.critical) == (
        "high",
        True,
    )


def test_no_test_runs_without_data_or_without_buckets() -> None:
    j = judge(test="mann_whitney")
    assert judge_groups(j, "mann_whitney", group(None, 0), group(299, 10, (1.0,))).test is None
    assert judge_groups(j, "mann_whitney", group(300, 10), group(299, 10, (1.0,))).test is None


def test_proportions_refuse_a_value_that_is_not_a_share() -> None:
    with pytest.raises(EvaluatorError) as e:
        judge_groups(judge(test="proportions"), "proportions", group(3.5, 10), group(0.1, 10))
    assert e.value.field == "judge.test"


# -- reason ----------------------------------------------------------------------------------


def reason(j: Judge | None, canary: Group, baseline: Group, calculation: str = P99) -> str:
    from honeycomb_evaluator.judgement.reason import sentence

    test = j.test if j is not None and j.test in ("mann_whitney", "proportions") else None
    return sentence(calculation, canary, baseline, judge_groups(j, test, canary, baseline))  # type: ignore[arg-type]


def test_the_reason_reads_like_the_issue_example() -> None:
    assert reason(judge(allowed_increase=1.2), group(1188, 2400), group(299, 2380)) == (
        "canary P99(duration_ms) 1,188 ms is 3.97x baseline 299 ms (allowed 1.2x); 2,400 vs 2,380 events"
    )
    assert reason(None, group(1188, 2400), group(299, 2380)) == (
        "canary P99(duration_ms) 1,188 ms is 3.97x baseline 299 ms; 2,400 vs 2,380 events"
    )


def test_the_reason_for_no_data_zero_baseline_critical_and_tests() -> None:
    j = judge(allowed_increase=1.2, min_count=50)
    assert reason(j, group(None, 0), group(299, 2380)) == (
        "no data: canary has 0 events, baseline has 2,380 events (min_count 50)"
    )
    assert reason(j, group(None, 60), group(299, 2380)).startswith(
        "no data: canary has no P99(duration_ms) value"
    )
    rate = judge(allowed_increase=1.2, tolerance=0.005, test="proportions")
    text = reason(rate, Group(CANARY, 0.08, 600, 0.08, ()), Group(BASELINE, 0.0, 2380, 0.0, ()), RATE)
    assert text.startswith(
        "canary AVG(is_error) 8 % vs baseline 0 % (allowed +0.5 % over a zero baseline, p="
    )
    either = judge(direction="either", allowed_increase=1.5, allowed_decrease=0.5, critical_increase=2)
    assert "(allowed 0.5x to 1.5x, critical 2x, critical bound exceeded)" in reason(
        either, group(900, 100), group(300, 100)
    )


def test_numbers_and_units() -> None:
    assert [number(v) for v in (1188.2, 299.1, 12.345, 0.0051, 2_400_000)] == [
        "1,188",
        "299",
        "12.3",
        "0.0051",
        "2,400,000",
    ]
    assert [unit_of(c) for c in (P99, "AVG(size_bytes)", "COUNT", "MAX(wait_s)", RATE)] == [
        " ms",
        " B",
        "",
        " s",
        "",
    ]


# -- reading the one result ------------------------------------------------------------------


def request(**fields: Any) -> EvaluateRequest:
    raw: dict[str, Any] = {
        "dataset": "checkout",
        "query": {"calculations": [{"op": "P99", "column": "duration_ms"}], "time_range": 600},
        "compare": {"column": HASH, "canary": CANARY, "baseline": BASELINE},
    }
    raw.update(fields)
    return EvaluateRequest.model_validate(raw)


ROWS = [{HASH: BASELINE, P99: 299.0, "COUNT": 2380}, {HASH: CANARY, P99: 1188.0, "COUNT": 2400}]
SERIES = [
    {"time": "t0", "data": {HASH: CANARY, P99: 1100.0, "COUNT": 1200}},
    {"time": "t0", "data": {HASH: BASELINE, P99: 290.0, "COUNT": 1190}},
    {"time": "t1", "data": {HASH: CANARY, P99: 1250.0, "COUNT": 1200}},
    {"time": "t1", "data": {HASH: BASELINE, P99: 305.0, "COUNT": 1190}},
]


def test_groups_are_read_from_their_rows_and_buckets() -> None:
    result = QueryResult(id="r", complete=True, results=ROWS, series=SERIES)
    canary, baseline = read_groups(request(), result, P99)
    assert (canary.value, canary.count, canary.samples) == (1188.0, 2400, (1100.0, 1250.0))
    assert (baseline.value, baseline.count, baseline.samples) == (299.0, 2380, (290.0, 305.0))
    over_series = request(select={"over": "series", "reduce": "max"})
    canary, _ = read_groups(over_series, result, P99)
    assert (canary.value, canary.overall) == (1250.0, 1188.0)


def test_a_group_without_a_row_has_no_data_and_the_empty_policy_applies() -> None:
    result = QueryResult(id="r", complete=True, results=ROWS[:1])
    canary, _ = read_groups(request(), result, P99)
    assert (canary.value, canary.count) == (None, 0)
    canary, _ = read_groups(request(empty="zero"), result, P99)
    assert (canary.value, canary.count) == (0.0, 0)
    with pytest.raises(EvaluatorError) as e:
        read_groups(request(empty="error"), result, P99)
    assert e.value.code == "no_data" and "canary" in e.value.message


def test_the_answer_fields() -> None:
    result = QueryResult(id="r", complete=True, results=ROWS, series=SERIES)
    answer = comparison_answer(request(judge={"allowed_increase": 1.2}, query={
        "calculations": [{"op": "P99", "column": "duration_ms"}], "granularity": 300, "time_range": 600
    }), result, P99)  # fmt: skip
    assert answer["value"] == pytest.approx(1188 / 299)
    # Two buckets a group cannot make Mann-Whitney significant: the breach is reported, not failed.
    assert answer["verdict"] == "pass" and answer["critical"] is False
    assert "(allowed 1.2x, p=0.25, not significant)" in answer["reason"]
    assert answer["canary"] == {"key": CANARY, "value": 1188.0, "count": 2400}
    assert answer["baseline"] == {"key": BASELINE, "value": 299.0, "count": 2380}
    assert answer["comparison"]["column"] == HASH and answer["comparison"]["value"] == "ratio"
    assert answer["comparison"]["difference"] == 889.0
    assert answer["test"] == "mann_whitney" and answer["effect_size"] == 1.0
    assert answer["p_value"] is not None and answer["reason"].startswith("canary P99(duration_ms) 1,188 ms")


def test_a_nodata_verdict_answers_a_null_value_and_compare_alone_has_no_verdict() -> None:
    result = QueryResult(id="r", complete=True, results=ROWS)
    starved = comparison_answer(request(judge={"min_count": 5000}), result, P99)
    assert (starved["value"], starved["verdict"]) == (None, "nodata")
    plain = comparison_answer(request(compare={"column": HASH, "canary": CANARY, "baseline": BASELINE,
                                               "value": "percent_change"}), result, P99)  # fmt: skip
    assert plain["verdict"] is None and plain["p_value"] is None and plain["test"] is None
    assert plain["value"] == pytest.approx((1188 - 299) / 299 * 100)
