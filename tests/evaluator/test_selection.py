"""Choosing one number from rows or series buckets, and what no data means."""

from __future__ import annotations

import math
import statistics
from typing import Any

import pytest
from honeycomb_evaluator.errors import EvaluatorError
from honeycomb_evaluator.honeycomb.results import QueryResult
from honeycomb_evaluator.models.request import EvaluateRequest
from honeycomb_evaluator.selection import choose_calculation, matching_rows, reduce_values, select_value
from hypothesis import given, settings
from hypothesis import strategies as st

P99 = "P99(duration_ms)"


def request(**fields: Any) -> EvaluateRequest:
    body: dict[str, Any] = {
        "dataset": "checkout",
        "query": {"calculations": [{"op": "P99", "column": "duration_ms"}], "time_range": 600},
    }
    body.update(fields)
    return EvaluateRequest.model_validate(body)


def result(rows: list[dict[str, Any]], series: list[dict[str, Any]] | None = None) -> QueryResult:
    return QueryResult(id="r", complete=True, results=rows, series=series or [])


BY_VERSION = {
    "calculations": [{"op": "P99", "column": "duration_ms"}, {"op": "COUNT"}],
    "breakdowns": ["service.version"],
    "time_range": 600,
}
ROWS = [
    {P99: 300.0, "COUNT": 400, "service.version": "v1.4.2"},
    {P99: 1200.0, "COUNT": 40, "service.version": "v1.5.0"},
]


def test_single_calculation_single_row_needs_no_select() -> None:
    req = request()
    assert choose_calculation(req) == P99
    assert select_value(req, result([{P99: 12.5}]), P99) == 12.5


def test_several_calculations_without_select_is_ambiguous_and_says_how() -> None:
    with pytest.raises(EvaluatorError) as e:
        choose_calculation(request(query=BY_VERSION))
    assert e.value.code == "ambiguous_selection" and e.value.status == 422
    assert '"select": {"calculation": "P99(duration_ms)"}' in e.value.message


def test_several_rows_without_select_is_ambiguous_and_says_how() -> None:
    req = request(query={**BY_VERSION, "calculations": [{"op": "P99", "column": "duration_ms"}]})
    with pytest.raises(EvaluatorError) as e:
        select_value(req, result(ROWS), P99)
    assert e.value.code == "ambiguous_selection"
    assert '"match": {"service.version"' in e.value.message and '"reduce"' in e.value.message


def test_match_picks_a_row_and_compares_values_as_honeycomb_shows_them() -> None:
    req = request(query=BY_VERSION, select={"calculation": P99, "match": {"service.version": "v1.5.0"}})
    assert select_value(req, result(ROWS), choose_calculation(req)) == 1200.0
    assert matching_rows([{"code": 200}, {"code": "500"}], {"code": "200"}) == [{"code": 200}]
    assert matching_rows([{"code": 500.0}], {"code": 500}) == [{"code": 500.0}]
    assert matching_rows([{"error": True}], {"error": "true"}) == [{"error": True}]
    assert matching_rows([{"other": 1}], {"code": 1}) == []


def test_select_refers_only_to_what_the_query_computes() -> None:
    with pytest.raises(EvaluatorError) as e:
        choose_calculation(request(select={"calculation": "P95(duration_ms)"}))
    assert e.value.field == "select.calculation"


def test_reduce_over_series_buckets() -> None:
    series = [{"time": f"t{i}", "data": {P99: v}} for i, v in enumerate([5.0, None, 9.0, 7.0])]
    for how, expected in [
        ("first", 5.0),
        ("last", 7.0),
        ("min", 5.0),
        ("max", 9.0),
        ("sum", 21.0),
        ("avg", 7.0),
    ]:
        req = request(select={"over": "series", "reduce": how})
        assert select_value(req, result([], series), P99) == expected


@pytest.mark.parametrize(("empty", "expected"), [("null", None), ("zero", 0.0)])
def test_no_data_is_a_value_not_an_error(empty: str, expected: float | None) -> None:
    req = request(empty=empty)
    assert select_value(req, result([]), P99) == expected
    assert select_value(req, result([{"COUNT": 0}]), P99) == expected  # calculation missing in the row
    assert select_value(req, result([{P99: None}]), P99) == expected


def test_no_data_with_empty_error_is_422() -> None:
    with pytest.raises(EvaluatorError) as e:
        select_value(request(empty="error"), result([]), P99)
    assert (e.value.status, e.value.code) == (422, "no_data")


def test_non_numeric_values_cannot_be_selected() -> None:
    req = request(
        query={"calculations": [{"op": "HEATMAP", "column": "duration_ms"}], "time_range": 600},
        select={"calculation": "HEATMAP(duration_ms)"},
    )
    with pytest.raises(EvaluatorError) as e:
        select_value(req, result([{"HEATMAP(duration_ms)": {"counts": [1]}}]), "HEATMAP(duration_ms)")
    assert e.value.field == "select.calculation"


finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)


@settings(max_examples=200, deadline=None)
@given(st.lists(finite, min_size=1, max_size=30))
def test_reductions_agree_with_a_reference(values: list[float]) -> None:
    assert reduce_values(values, "first") == values[0]
    assert reduce_values(values, "last") == values[-1]
    assert reduce_values(values, "min") == min(values)
    assert reduce_values(values, "max") == max(values)
    assert math.isclose(reduce_values(values, "sum"), math.fsum(values), rel_tol=1e-9, abs_tol=1e-6)
    assert math.isclose(reduce_values(values, "avg"), statistics.fmean(values), rel_tol=1e-9, abs_tol=1e-6)
    assert min(values) <= reduce_values(values, "avg") <= max(values)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries({"service.version": st.sampled_from(["a", "b", "c"]), P99: st.none() | finite}),
        max_size=8,
    ),
    st.sampled_from(["a", "b", "c"]),
    st.sampled_from(["first", "last", "min", "max", "sum", "avg"]),
)
def test_selected_value_comes_from_matching_rows_only(
    rows: list[dict[str, Any]], version: str, how: str
) -> None:
    req = request(
        query={"calculations": [{"op": "P99", "column": "duration_ms"}], "breakdowns": ["service.version"]},
        select={"match": {"service.version": version}, "reduce": how},
    )
    value = select_value(req, result(rows), P99)
    candidates = [r[P99] for r in rows if r["service.version"] == version and r[P99] is not None]
    if not candidates:
        assert value is None
    else:
        assert value is not None
        assert min(candidates) - 1e-6 <= value <= max(candidates) + 1e-6 or how == "sum"
