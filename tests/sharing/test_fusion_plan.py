"""Fusion planning, pure: which filters a request could be fused on, which one is, and the plan.

No store and no Honeycomb: `Fusion.plan` only gathers what the rosters say (`Known`), and these
functions decide from it (test_fusion.py runs the plans against the emulator).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from honeycomb_evaluator.honeycomb.client import ResultOptions
from honeycomb_evaluator.honeycomb.results import QueryResult
from honeycomb_evaluator.sharing.execution import Execution, ExecutionRequest, Served
from honeycomb_evaluator.sharing.fusion_plan import (
    FIRST_CHECK_LEAVES,
    FUSED_GROUPS,
    FUSED_ROW_LIMIT,
    MAX_FUSED_PAIRS,
    MAX_FUSED_VALUES,
    PAIR_SEPARATOR,
    Candidate,
    FusionPlan,
    Known,
    answer_from,
    candidates,
    chunk_of,
    decide,
    rows_by_value,
    should_gather,
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


def request(body: dict[str, Any], *, series: bool = False, deadline: float = 0.0) -> ExecutionRequest:
    return ExecutionRequest(TARGET, "checkout", body, ResultOptions(disable_series=not series), 0, deadline)


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
        ("a row limit asked for", spec(), None),
        ("relative window", {k: v for k, v in spec().items() if k != "start_time"}, False),
    ],
)
def test_what_is_never_fused(why: str, body: dict[str, Any], series: bool | None) -> None:
    wanted = request(body, series=bool(series))
    if series is None:
        wanted = dataclasses.replace(wanted, options=ResultOptions(disable_series=True, limit=5))
    assert candidates(wanted) == [], why


def known(
    value: str,
    earlier: frozenset[str] | set[str] = frozenset(),
    current: frozenset[str] | set[str] = frozenset(),
    column: str = HASH,
) -> Known:
    return Known(candidate_for(value, column), frozenset(earlier), frozenset({value, *current}))


def kind(plan: FusionPlan) -> str:
    if plan.fused is None:
        return "alone, leaving tokens" if plan.alone.leave_tokens else "alone"
    assert plan.candidate is not None
    return f"{'open' if plan.opened else 'chunk'} on {plan.candidate.column}"


FLEET = {"b", "c", "d"}


@pytest.mark.parametrize(
    ("why", "what", "truncated", "expected", "gather"),
    [
        ("nothing to fuse on", [], set(), "alone", False),
        ("a value never seen, no company yet: look again first", [known("a")], set(), "alone", True),
        ("a lone canary checked before: alone at once", [known("a", {"a"})], set(), "alone", False),
        (
            "a fleet's first minute: others noted this step",
            [known("a", set(), FLEET)],
            set(),
            "open on " + HASH,
            False,
        ),
        ("a new canary in a running fleet", [known("a", FLEET)], set(), "open on " + HASH, False),
        ("a known canary in a running fleet", [known("a", {"a", *FLEET})], set(), "open on " + HASH, False),
        (
            "the value that varies most: the hash, not the service",
            [known("checkout", {"checkout", "cart"}, column="service.name"), known("a", {"a", *FLEET})],
            set(),
            "open on " + HASH,
            False,
        ),
        (
            "open query cut: known values in chunks",
            [known("a", {"a", *FLEET})],
            {"f"},
            "chunk on " + HASH,
            False,
        ),
        (
            "open query cut, value new: alone, leaving tokens",
            [known("a", FLEET)],
            {"f"},
            "alone, leaving tokens",
            False,
        ),
        (
            "open query cut, nobody else known earlier",
            [known("a", {"a"}, FLEET)],
            {"f"},
            "alone, leaving tokens",
            False,
        ),
    ],
)
def test_the_plan_from_what_the_rosters_say(
    why: str, what: list[Known], truncated: set[str], expected: str, gather: bool
) -> None:
    plan = decide(request(spec("a")), what, truncated)
    assert kind(plan) == expected, why
    assert should_gather(what) is gather, why


def test_the_open_query_drops_the_filter_and_breaks_down_by_its_column() -> None:
    alone = request(spec("b", SERVICE))
    plan = decide(alone, [known("b", {"a", "c"})])
    assert plan.alone == alone and plan.fused is not None and plan.opened
    assert plan.fused.spec["filters"] == [SERVICE]
    assert plan.fused.spec["breakdowns"] == [HASH]
    assert plan.fused.spec["start_time"] == alone.spec["start_time"]
    assert plan.fused.options == ResultOptions(disable_series=True, limit=FUSED_ROW_LIMIT)
    # Every value of the family, known or not, asks for the very same query.
    other = decide(request(spec("zz", SERVICE)), [known("zz", set(), {"b"})])
    assert other.fused is not None and other.fused.spec == plan.fused.spec
    # The only filter dropped: no filters left.
    only = decide(request(spec("b")), [known("b", {"a"})])
    assert only.fused is not None and "filters" not in only.fused.spec


def test_a_chunk_asks_for_every_value_of_the_chunk_broken_down_by_the_column() -> None:
    alone = request(spec("b", SERVICE))
    plan = decide(alone, [known("b", {"c", "a", "b"})], {"f"})
    assert plan.fused is not None and not plan.opened
    assert plan.fused.spec["filters"] == [
        {"column": HASH, "op": "in", "value": ["a", "b", "c"]},
        SERVICE,
    ]
    assert plan.fused.spec["breakdowns"] == [HASH]
    assert dataclasses.replace(plan.fused, spec=alone.spec, options=alone.options) == alone


def test_an_identical_request_is_served_by_the_same_plan_as_itself() -> None:
    first, second = request(spec("a"), deadline=1.0), request(spec("a"), deadline=9.0)
    plan = decide(first, [known("a", FLEET)]).serving(second)
    assert plan.alone == second and plan.fused is not None and plan.fused.deadline == 9.0
    leaving = decide(first, [known("a", FLEET)], {"f"}).serving(second)
    assert leaving.fused is None and leaving.alone == dataclasses.replace(
        second, leave_tokens=FIRST_CHECK_LEAVES
    )


def result(*rows: dict[str, Any]) -> Execution:
    body = QueryResult(id="r", complete=True, results=list(rows), series=[{"time": 1}], query_url="u")
    return Execution(result=body, query_id="q", served=Served.CREATED)


def answer(plan: FusionPlan, fused: Execution) -> Execution | None:
    assert plan.candidate is not None
    return answer_from(plan, fused, rows_by_value(fused.result, plan.candidate.column))


def test_a_fused_answer_keeps_the_values_own_rows_without_the_breakdown_column() -> None:
    plan = decide(request(spec("b")), [known("b", {"a"})])
    got = answer(plan, result({HASH: "a", "P99": 1}, {HASH: "b", "P99": 2}, {"P99": 3}))
    assert got is not None
    assert got.result.results == [{"P99": 2}] and got.result.series == []
    assert (got.query_id, got.served) == ("q", Served.CREATED)
    # The group of events without the column (no `=` matches them) is nobody's.
    no_rows = answer(plan, result({HASH: "a", "P99": 1}, {"P99": 3}))
    assert no_rows is not None and no_rows.result.results == []  # no data for this value
    # Not a string column: `=` may have compared differently than grouping. Run on its own.
    assert answer(plan, result({HASH: 7, "P99": 1})) is None


def test_a_value_missing_from_an_open_result_that_may_be_cut_is_planned_again() -> None:
    plan = decide(request(spec("b")), [known("b", {"a"})])
    full = [{HASH: f"h{i:05d}", "P99": i} for i in range(FUSED_ROW_LIMIT)]
    assert answer(plan, result(*full)) is None
    present = decide(request(spec("h00001")), [known("h00001", {"a"})])
    got = answer(present, result(*full))
    assert got is not None and got.result.results == [{"P99": 1}]


def test_many_values_are_fused_in_chunks_every_instance_cuts_alike() -> None:
    values = frozenset(f"h{i:04d}" for i in range(2500))
    chunks = {tuple(chunk_of(values, v)) for v in values}
    assert sorted(len(c) for c in chunks) == [500, MAX_FUSED_VALUES, MAX_FUSED_VALUES]
    assert all("h0000" in chunk_of(values, "h0000") for _ in range(3))


def comparison(canary: str, baseline: str = "stable", **parts: Any) -> ExecutionRequest:
    """A comparison's query as judgement/query.py builds it: both versions, broken down by hash."""
    body = {
        "calculations": [{"op": "AVG", "column": "duration_ms"}],
        "filters": [{"column": HASH, "op": "in", "value": [canary, baseline]}],
        "breakdowns": [HASH, "http.route"],
        "orders": [{"op": "COUNT", "order": "descending"}],
        "start_time": END - 600,
        "end_time": END,
        **parts,
    }
    return dataclasses.replace(
        request(body, series=True), options=ResultOptions(False, other_by_aggregate=True)
    )


def pair_of(canary: str) -> str:
    return PAIR_SEPARATOR.join(sorted((canary, "stable")))


def pair_known(canary: str, earlier: tuple[str, ...] = (), current: tuple[str, ...] = ()) -> Known:
    (found,) = candidates(comparison(canary))
    return Known(found, frozenset(map(pair_of, earlier)), frozenset(map(pair_of, {canary, *current})))


def test_a_comparison_is_fused_on_its_pair_of_versions() -> None:
    (found,) = candidates(comparison("a"))
    assert found.pair and found.column == HASH and found.value == pair_of("a")
    assert candidates(comparison("b"))[0].family == found.family  # another canary, same family
    assert candidates(comparison("a", limit=FUSED_GROUPS))[0].family == found.family
    for why, other in [
        ("havings", comparison("a", havings=[{"calculate_op": "COUNT", "op": ">", "value": 1}])),
        (
            "another order",
            comparison("a", orders=[{"op": "AVG", "column": "duration_ms", "order": "ascending"}]),
        ),
        ("a smaller limit", comparison("a", limit=5)),
        ("OR", comparison("a", filter_combination="OR")),
    ]:
        assert candidates(other) == [], why


@pytest.mark.parametrize(
    ("why", "what", "expected"),
    [
        ("a lone comparison", pair_known("a"), "alone"),
        (
            "a fleet's first minute: no open query for pairs",
            pair_known("a", current=("b", "c")),
            "alone, leaving tokens",
        ),
        (
            "listed earlier beside others: a chunk of pairs",
            pair_known("a", earlier=("a", "b", "c")),
            "chunk on " + HASH,
        ),
    ],
)
def test_the_plan_of_a_comparison(why: str, what: Known, expected: str) -> None:
    plan = decide(comparison("a"), [what])
    assert kind(plan) == expected, why
    assert not should_gather([what]), why  # pairs are fused from settled rosters only


def test_a_chunk_of_pairs_asks_for_every_version_with_series_and_the_most_groups() -> None:
    own = comparison("b")
    plan = decide(own, [pair_known("b", earlier=("a", "b", "c"))])
    assert plan.fused is not None and plan.fused.options == own.options  # series and the groups left out
    assert plan.fused.spec["filters"] == [{"column": HASH, "op": "in", "value": ["a", "b", "c", "stable"]}]
    assert (
        plan.fused.spec["breakdowns"] == own.spec["breakdowns"] and plan.fused.spec["limit"] == FUSED_GROUPS
    )
    many = decide(own, [pair_known("b", earlier=(*(f"h{i:03d}" for i in range(60)), "b"))])
    assert many.fused is not None and len(many.fused.spec["filters"][0]["value"]) <= MAX_FUSED_PAIRS + 1


def test_a_comparison_takes_its_own_versions_rows_and_series_unless_the_result_was_cut() -> None:
    plan = decide(comparison("b"), [pair_known("b", earlier=("a", "b"))])
    rows = [{HASH: v, "COUNT": 1} for v in ("a", "b", "stable")]
    series = [{"time": 1, "data": {HASH: v}} for v in ("a", "b", "stable")]
    body = QueryResult(id="r", complete=True, results=rows, series=series, query_url="u")
    got = answer_from(plan, Execution(result=body, query_id="q", served=Served.CREATED), None)
    assert got is not None and got.fused
    assert [r[HASH] for r in got.result.results] == ["b", "stable"]
    assert [p["data"][HASH] for p in got.result.series] == ["b", "stable"]
    cut = dataclasses.replace(body, other={"COUNT": 3})  # groups beyond the limit were summed up
    assert answer_from(plan, Execution(result=cut, query_id="q", served=Served.CREATED), None) is None
