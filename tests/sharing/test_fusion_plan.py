"""Fusion planning, pure: which filters a request could be fused on, which one is, and the plan.

No store and no Honeycomb: `Fusion.plan` only gathers the rosters these functions decide from
(test_fusion.py runs the plans against the emulator).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from honeycomb_evaluator.honeycomb.client import ResultOptions
from honeycomb_evaluator.honeycomb.results import QueryResult
from honeycomb_evaluator.sharing.execution import Execution, ExecutionRequest, Served
from honeycomb_evaluator.sharing.fusion import (
    FIRST_CHECK_LEAVES,
    MAX_FUSED_VALUES,
    Candidate,
    FusionPlan,
    alone_plan,
    candidates,
    choose,
    chunk_of,
    fused_plan,
)
from honeycomb_evaluator.target import HoneycombTarget

HASH = "rollouts_pod_template_hash"
END = 6000
TARGET = HoneycombTarget.build("k", "http://x", "default")


def spec(value: Any = "a", *extra: dict[str, Any], **parts: Any) -> dict[str, Any]:
    return {
        "calculations": [{"op": "P99", "column": "duration_ms"}],
        "filters": [{"column": HASH, "op": "=", "value": value}, *extra],
        "start_time": END - 600,
        "end_time": END,
        **parts,
    }


def request(body: dict[str, Any], *, series: bool = False) -> ExecutionRequest:
    return ExecutionRequest(TARGET, "checkout", body, ResultOptions(disable_series=not series), 0, 0.0)


def candidate_for(value: str, column: str = HASH) -> Candidate:
    return Candidate(0, column, value, family="f", end=END, step=60)


SERVICE = {"column": "service.name", "op": "=", "value": "checkout"}


def test_a_canary_check_can_be_fused_on_its_equality_filters() -> None:
    found = candidates(request(spec("a", SERVICE)))
    assert [(c.column, c.value, c.end, c.step) for c in found] == [
        (HASH, "a", END, 60),
        ("service.name", "checkout", END, 60),
    ]
    # The family is everything but the value and the window: another hash or window, same family.
    other = candidates(request({**spec("b", SERVICE), "start_time": END - 540, "end_time": END + 60}))[0]
    assert other.family == found[0].family
    assert candidates(request(spec("a", SERVICE, granularity=30)))[0].family != found[0].family
    assert candidates(request(spec("a")))[0].family != found[0].family


@pytest.mark.parametrize(
    ("why", "body", "series"),
    [
        ("series: buckets per group differ", spec(), True),
        ("limit", spec(limit=5), False),
        ("orders", spec(orders=[{"op": "P99", "column": "duration_ms", "order": "descending"}]), False),
        (
            "havings",
            spec(havings=[{"calculate_op": "P99", "column": "duration_ms", "op": ">", "value": 1}]),
            False,
        ),
        ("existing breakdowns", spec(breakdowns=["service.version"]), False),
        ("OR", spec("a", {"column": "x", "op": "=", "value": "y"}, filter_combination="OR"), False),
        (
            "relational field",
            {**spec(), "filters": [{"column": "root.hash", "op": "=", "value": "a"}]},
            False,
        ),
        ("not a string", spec(7), False),
        ("relative window", {k: v for k, v in spec().items() if k != "start_time"}, False),
    ],
)
def test_what_is_never_fused(why: str, body: dict[str, Any], series: bool) -> None:
    assert candidates(request(body, series=series)) == [], why


def test_the_value_that_varies_most_is_fused_on_once_it_was_seen_beside_others() -> None:
    by_hash, by_service = candidate_for("a"), candidate_for("checkout", "service.name")
    assert choose([]) is None
    assert choose([(by_hash, frozenset())]) is None  # never checked before: its own query first
    assert choose([(by_hash, frozenset({"a"}))]) is None  # alone in its family: nothing to share
    assert choose([(by_hash, frozenset({"b", "c"}))]) is None  # the others were seen, not this one
    hashes = frozenset({"a", "b", "c"})
    assert choose([(by_hash, hashes)]) == (by_hash, hashes)
    services = frozenset({"checkout", "cart"})
    assert choose([(by_service, services), (by_hash, hashes)]) == (by_hash, hashes)
    assert choose([(by_hash, hashes), (by_service, services)]) == (by_hash, hashes)


def test_a_fused_plan_asks_for_every_value_of_the_chunk_broken_down_by_the_column() -> None:
    alone = request(spec("b", {"column": "service.name", "op": "=", "value": "checkout"}))
    plan = fused_plan(alone, candidates(alone)[0], frozenset({"c", "a", "b"}))
    assert plan.alone == alone and plan.fused is not None
    assert plan.fused.spec["filters"] == [
        {"column": HASH, "op": "in", "value": ["a", "b", "c"]},
        {"column": "service.name", "op": "=", "value": "checkout"},
    ]
    assert plan.fused.spec["breakdowns"] == [HASH]
    assert plan.fused.spec["start_time"] == alone.spec["start_time"]
    assert dataclasses.replace(plan.fused, spec=alone.spec) == alone  # only the spec differs


def test_a_first_check_among_others_leaves_tokens_for_their_fused_queries() -> None:
    alone = request(spec())
    assert alone_plan(alone, has_company=False) == FusionPlan(alone)
    with_company = alone_plan(alone, has_company=True)
    assert with_company.fused is None and with_company.alone.leave_tokens == FIRST_CHECK_LEAVES


def result(*rows: dict[str, Any]) -> Execution:
    body = QueryResult(id="r", complete=True, results=list(rows), series=[{"time": 1}], query_url="u")
    return Execution(result=body, query_id="q", served=Served.CREATED)


def test_a_fused_answer_keeps_the_values_own_rows_without_the_breakdown_column() -> None:
    alone = request(spec("b"))
    plan = fused_plan(alone, candidates(alone)[0], frozenset({"a", "b"}))
    answer = plan.answer(result({HASH: "a", "P99": 1}, {HASH: "b", "P99": 2}))
    assert answer is not None
    assert answer.result.results == [{"P99": 2}] and answer.result.series == []
    assert (answer.query_id, answer.served) == ("q", Served.CREATED)
    no_rows = plan.answer(result({HASH: "a", "P99": 1}))
    assert no_rows is not None and no_rows.result.results == []  # no data for this value
    # Not a string column: `=` may have compared differently than grouping. Run on its own.
    assert plan.answer(result({HASH: 7, "P99": 1})) is None


def test_many_values_are_fused_in_chunks_every_instance_cuts_alike() -> None:
    values = frozenset(f"h{i:03d}" for i in range(250))
    chunks = {tuple(chunk_of(values, v)) for v in values}
    assert sorted(len(c) for c in chunks) == [50, MAX_FUSED_VALUES, MAX_FUSED_VALUES]
    assert all("h000" in chunk_of(values, "h000") for _ in range(3))
