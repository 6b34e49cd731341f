"""Slices without servers: e-BH against statsmodels, cells added up, the slice history's family."""

from __future__ import annotations

import math
from typing import Any

import pytest
from honeycomb_evaluator.honeycomb.results import QueryResult
from honeycomb_evaluator.judgement.buckets import Side
from honeycomb_evaluator.judgement.cells import read_cells, whole_result
from honeycomb_evaluator.judgement.scorecard import ebh_adjusted
from honeycomb_evaluator.judgement.slice_history import (
    SlicedBucket,
    SliceRecording,
    decode,
    encode,
    extend,
)
from honeycomb_evaluator.judgement.slices import admit
from honeycomb_evaluator.judgement.slicing import label_of, slice_id
from honeycomb_evaluator.models.slices import Slices
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests

P_VALUES = st.lists(st.floats(0, 1), min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(P_VALUES)
def test_ebh_is_benjamini_hochberg_on_the_p_values(p_values: list[float]) -> None:
    expected = multipletests(p_values, method="fdr_bh")[1]
    assert ebh_adjusted(p_values, len(p_values)) == pytest.approx(list(expected), abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(P_VALUES, st.integers(0, 60))
def test_a_larger_family_counts_the_unjudged_as_p_one(p_values: list[float], more: int) -> None:
    padded = ebh_adjusted([*p_values, *([1.0] * more)], len(p_values) + more)
    assert ebh_adjusted(p_values, len(p_values) + more) == pytest.approx(padded[: len(p_values)], abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(P_VALUES, st.integers(1, 200), st.floats(0.001, 0.2))
def test_the_first_rejection_is_bonferronis(p_values: list[float], extra: int, q: float) -> None:
    """So that the chance any look ever rejects a true hypothesis is at most q (Ville and a union)."""
    family = len(p_values) + extra
    rejected = [a <= q for a in ebh_adjusted(p_values, family)]
    assert any(rejected) == (min(p_values) <= q / family)


CANARY, BASELINE, COLUMN = "c1", "b1", "hash"


def _row(version: str, route: str, count: float, latency: float, errors: float) -> dict[str, Any]:
    return {COLUMN: version, "route": route, "COUNT": count, "AVG(d)": latency, "AVG(e)": errors}


def _result(rows: list[dict[str, Any]], other: dict[str, Any] | None = None) -> QueryResult:
    series = [{"time": "2026-12-06T10:00:00Z", "data": row} for row in rows]
    return QueryResult("r", True, rows, series, None, other)


KEYS = ["AVG(d)", "AVG(e)", "COUNT"]


def test_a_versions_numbers_are_its_cells_added_up() -> None:
    result = _result(
        [
            _row(CANARY, "/a", 30, 100.0, 0.1),
            _row(CANARY, "/b", 10, 200.0, 0.5),
            _row(BASELINE, "/a", 20, 90.0, 0.0),
        ]
    )
    cells = read_cells(result, COLUMN, (CANARY, BASELINE), ["route"], 1000)
    whole = whole_result(result, cells, COLUMN, (CANARY, BASELINE), KEYS)
    rows = {row[COLUMN]: row for row in whole.results}
    assert rows[CANARY] == {COLUMN: CANARY, "COUNT": 40, "AVG(d)": 125.0, "AVG(e)": pytest.approx(0.2)}
    assert rows[BASELINE]["COUNT"] == 20 and rows[BASELINE]["AVG(d)"] == 90.0
    assert len(whole.series) == 2 and not cells.coverage.truncated


def test_a_cut_result_compares_the_versions_on_shared_cells_and_says_so() -> None:
    result = _result(
        [
            _row(CANARY, "/a", 30, 100.0, 0.1),
            _row(CANARY, "/b", 10, 200.0, 0.5),
            _row(BASELINE, "/a", 20, 90.0, 0),
        ],
        other={"COUNT": 123},
    )
    cells = read_cells(result, COLUMN, (CANARY, BASELINE), ["route"], 1000)
    assert cells.coverage.truncated and cells.coverage.events_beyond_limit == 123
    assert cells.coverage.one_sided_cells == 1
    whole = whole_result(result, cells, COLUMN, (CANARY, BASELINE), KEYS)
    assert {row[COLUMN]: row["COUNT"] for row in whole.results} == {CANARY: 30, BASELINE: 20}


def _bucket(start: int, ids: list[str]) -> SlicedBucket:
    side = Side(10.0, {"AVG(d)": 1.5, "share": None})
    return SlicedBucket(start, start + 60, dict.fromkeys(ids, (side, side)))


def test_a_bucket_of_slices_is_stored_and_read_back_unchanged() -> None:
    bucket = _bucket(600, [slice_id((("route", "/a"),)), slice_id((("route", None), ("plan", "pro")))])
    assert decode(encode(bucket, ["AVG(d)", "share"]), ["AVG(d)", "share"]) == bucket
    assert decode("not a bucket", ["AVG(d)"]) is None
    assert label_of(slice_id((("route", None), ("plan", "pro")))) == "route=(none), plan=pro"


def test_the_family_never_grows_past_max_slices_and_a_slice_admitted_stays() -> None:
    spec = Slices(dimensions=["route"], max_slices=3)
    names = [slice_id((("route", f"/{i}"),)) for i in range(6)]
    kept: list[SlicedBucket] = []
    ever: set[str] = set()
    for look, offered in enumerate([names[:2], names[2:5], names[5:], names[::-1]]):

        def admit_these(before: frozenset[str], offered: list[str] = offered) -> frozenset[str]:
            return admit(spec, (offered, []), before)

        def buckets(admitted: frozenset[str], start: int = 60 * look) -> list[SlicedBucket]:
            return [_bucket(start, sorted(admitted))]

        kept, _, admitted, _ = extend(kept, SliceRecording(["AVG(d)"], admit_these, buckets))
        assert ever <= admitted and len(admitted) <= 3
        ever |= admitted
    assert ever == set(names[:3]) and math.isclose(len(kept), 4)
