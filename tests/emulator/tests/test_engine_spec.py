"""Query spec validation and echo (engine.normalize_query, unknown_columns, uses_relational_fields)."""

from __future__ import annotations

from typing import Any

import pytest
from honeycomb_emulator.engine import QueryError, normalize_query, unknown_columns, uses_relational_fields
from honeycomb_emulator.engine.ops import CALCULATION_OPS, FILTER_OPS, PERCENTILES


def rejected(spec: Any) -> QueryError:
    with pytest.raises(QueryError) as caught:
        normalize_query(spec)
    return caught.value


def test_there_are_24_calculation_ops_and_16_filter_ops() -> None:
    assert len(CALCULATION_OPS) == 24
    assert len(set(CALCULATION_OPS)) == 24
    assert len(FILTER_OPS) == 16
    assert len(PERCENTILES) == 13


@pytest.mark.parametrize("op", [op for op in CALCULATION_OPS if op not in ("COUNT", "CONCURRENCY")])
def test_every_column_op_is_accepted_with_a_column_and_rejected_without(op: str) -> None:
    assert normalize_query({"calculations": [{"op": op, "column": "duration_ms"}]}) == {
        "calculations": [{"op": op, "column": "duration_ms"}]
    }
    error = rejected({"calculations": [{"op": op}]})
    assert (error.status, error.field) == (422, "calculations[0].column")
    assert f"{op} requires a column" in error.message


@pytest.mark.parametrize("op", ["COUNT", "CONCURRENCY"])
def test_columnless_ops_take_no_column(op: str) -> None:
    assert normalize_query({"calculations": [{"op": op, "column": None}]}) == {"calculations": [{"op": op}]}
    error = rejected({"calculations": [{"op": op, "column": "x"}]})
    assert (error.status, error.field) == (422, "calculations[0].column")


def test_unknown_op_names_the_op_and_field() -> None:
    error = rejected({"calculations": [{"op": "COUNT"}, {"op": "P98", "column": "d"}]})
    assert (error.status, error.field) == (422, "calculations[1].op")
    assert error.message == "unknown calculation op: P98"


@pytest.mark.parametrize(
    ("spec", "status", "field"),
    [
        ("not an object", 400, None),
        ({"calculations": "COUNT"}, 400, "calculations"),
        ({"calculations": ["COUNT"]}, 400, "calculations[0]"),
        ({"calculations": [{"column": "x"}]}, 422, "calculations[0].op"),
        ({"time_range": "600"}, 400, "time_range"),
        ({"time_range": 1.5}, 400, "time_range"),
        ({"time_range": 0}, 422, "time_range"),
        ({"limit": True}, 400, "limit"),
        ({"limit": 0}, 422, "limit"),
        ({"limit": 1001}, 422, "limit"),
        ({"filter_combination": "XOR"}, 422, "filter_combination"),
        ({"breakdowns": [1]}, 400, "breakdowns[0]"),
        ({"calculations": [{"op": "COUNT"}] * 101}, 422, "calculations"),
        ({"bogus": 1}, 422, "bogus"),
        ({"compare_time_offset_seconds": 60}, 422, "compare_time_offset_seconds"),
        ({"compare_time_offset_seconds": 1800, "time_range": 3600}, 422, "compare_time_offset_seconds"),
    ],
)
def test_bad_specs(spec: Any, status: int, field: str | None) -> None:
    error = rejected(spec)
    assert (error.status, error.field) == (status, field)


def test_limit_bounds() -> None:
    assert normalize_query({"limit": 1}) == {"limit": 1}
    assert normalize_query({"limit": 1000}) == {"limit": 1000}


@pytest.mark.parametrize("op", ["exists", "does-not-exist"])
def test_existence_filters_take_no_value(op: str) -> None:
    assert normalize_query({"filters": [{"column": "a", "op": op}]}) == {
        "filters": [{"column": "a", "op": op}]
    }
    assert rejected({"filters": [{"column": "a", "op": op, "value": 1}]}).field == "filters[0].value"


@pytest.mark.parametrize("op", ["in", "not-in"])
def test_list_filters_take_arrays(op: str) -> None:
    assert normalize_query({"filters": [{"column": "a", "op": op, "value": [1, "x", True]}]})
    for bad in ("x", [], None, [[1]], [None]):
        assert rejected({"filters": [{"column": "a", "op": op, "value": bad}]}).field == "filters[0].value"


@pytest.mark.parametrize(
    "op",
    ["starts-with", "does-not-start-with", "ends-with", "does-not-end-with", "contains", "does-not-contain"],
)
def test_string_filters_take_strings(op: str) -> None:
    assert normalize_query({"filters": [{"column": "a", "op": op, "value": "x"}]})
    for bad in (1, None, True, ["x"]):
        assert rejected({"filters": [{"column": "a", "op": op, "value": bad}]}).field == "filters[0].value"


@pytest.mark.parametrize("op", ["=", "!=", ">", ">=", "<", "<="])
def test_comparison_filters_take_scalars(op: str) -> None:
    for good in ("x", 1, 1.5, False):
        assert normalize_query({"filters": [{"column": "a", "op": op, "value": good}]})
    for bad in (None, [1], {"a": 1}):
        assert rejected({"filters": [{"column": "a", "op": op, "value": bad}]}).field == "filters[0].value"


def test_unknown_filter_op_and_missing_column() -> None:
    assert rejected({"filters": [{"column": "a", "op": "like", "value": "x"}]}).field == "filters[0].op"
    assert rejected({"filters": [{"op": "=", "value": "x"}]}).field == "filters[0].column"


def test_orders_must_name_a_breakdown_or_a_calculation() -> None:
    spec = {
        "calculations": [{"op": "P99", "column": "d"}],
        "breakdowns": ["svc"],
        "orders": [{"op": "P99", "column": "d", "order": "descending"}, {"column": "svc"}],
    }
    assert normalize_query(spec) == spec
    assert rejected({**spec, "orders": [{"column": "other"}]}).field == "orders[0].column"
    assert rejected({**spec, "orders": [{"op": "P50", "column": "d"}]}).field == "orders[0].op"
    assert rejected({**spec, "orders": [{"column": "svc", "order": "up"}]}).field == "orders[0].order"
    # No calculations means COUNT, so ordering by COUNT is allowed.
    assert normalize_query({"orders": [{"op": "COUNT", "order": "descending"}]})


def test_heatmap_cannot_be_ordered_or_had() -> None:
    spec = {"calculations": [{"op": "HEATMAP", "column": "d"}]}
    assert rejected({**spec, "orders": [{"op": "HEATMAP", "column": "d"}]}).field == "orders[0].op"
    having = {"calculate_op": "HEATMAP", "column": "d", "op": ">", "value": 1}
    assert rejected({**spec, "havings": [having]}).field == "havings[0].calculate_op"


def test_havings() -> None:
    spec = {"calculations": [{"op": "COUNT"}], "havings": [{"calculate_op": "COUNT", "op": ">", "value": 3}]}
    assert normalize_query(spec) == spec
    bad_op = {"calculate_op": "COUNT", "op": "contains", "value": 3}
    assert rejected({**spec, "havings": [bad_op]}).field == "havings[0].op"
    bad_value = {"calculate_op": "COUNT", "op": ">", "value": "3"}
    assert rejected({**spec, "havings": [bad_value]}).field == "havings[0].value"
    not_calculated = {"calculate_op": "AVG", "column": "d", "op": ">", "value": 3}
    assert rejected({**spec, "havings": [not_calculated]}).field == "havings[0].calculate_op"


def test_time_fields() -> None:
    assert normalize_query({"start_time": 100, "end_time": 200}) == {"start_time": 100, "end_time": 200}
    error = rejected({"time_range": 60, "start_time": 100, "end_time": 200})
    assert (error.status, error.field) == (422, "time_range")
    assert rejected({"start_time": 300, "end_time": 200}).field == "start_time"
    error = rejected({"time_range": 7 * 86400 + 1})
    assert error.status == 400
    assert rejected({"start_time": 1, "end_time": 1 + 8 * 86400}).status == 400
    assert normalize_query({"time_range": 7 * 86400}) == {"time_range": 7 * 86400}


def test_granularity_bounds_are_t_over_1000_to_t() -> None:
    assert normalize_query({"time_range": 7200, "granularity": 7200})
    assert normalize_query({"time_range": 7200, "granularity": 8})
    assert normalize_query({"time_range": 7200, "granularity": 0})
    assert rejected({"time_range": 7200, "granularity": 7201}).field == "granularity"
    assert rejected({"time_range": 7200, "granularity": 7}).field == "granularity"
    # The default time range is two hours.
    assert rejected({"granularity": 7201}).field == "granularity"
    assert rejected({"granularity": -1}).field == "granularity"


def test_echo_drops_nulls_and_default_and_keeps_order() -> None:
    spec = {
        "time_range": 600,
        "filter_combination": "AND",
        "calculations": [{"op": "COUNT", "column": None}],
        "filters": [{"column": "a", "op": "exists", "value": None}],
        "breakdowns": ["a"],
        "granularity": None,
    }
    echoed = normalize_query(spec)
    assert echoed == {
        "time_range": 600,
        "calculations": [{"op": "COUNT"}],
        "filters": [{"column": "a", "op": "exists"}],
        "breakdowns": ["a"],
    }
    assert list(echoed) == ["time_range", "calculations", "filters", "breakdowns"]
    assert normalize_query({"filter_combination": "OR"}) == {"filter_combination": "OR"}


def test_calculated_fields_are_parsed_at_validation() -> None:
    good = {"calculated_fields": [{"name": "adhoc_check", "expression": "GT($response.status_code, 200)"}]}
    assert normalize_query(good) == good
    error = rejected({"calculated_fields": [{"name": "x", "expression": "FROBNICATE($a)"}]})
    assert (error.status, error.field) == (422, "calculated_fields[0].expression")
    assert "FROBNICATE" in error.message
    assert (
        rejected({"calculated_fields": [{"name": "", "expression": "1"}]}).field
        == "calculated_fields[0].name"
    )
    assert rejected({"calculated_fields": [{"name": "x"}]}).field == "calculated_fields[0].expression"
    dup = [{"name": "x", "expression": "1"}, {"name": "x", "expression": "2"}]
    assert rejected({"calculated_fields": dup}).field == "calculated_fields[1].name"


def test_unknown_columns() -> None:
    spec = {
        "calculations": [{"op": "P99", "column": "duration_ms"}, {"op": "AVG", "column": "is_error"}],
        "filters": [{"column": "root.service.name", "op": "=", "value": "x"}],
        "breakdowns": ["nope", "service.version"],
        "calculated_fields": [{"name": "is_error", "expression": "IF($error, 1, $missing)"}],
    }
    known = {"duration_ms", "service.name", "service.version", "error"}
    assert unknown_columns(spec, known) == ["nope", "missing"]
    assert unknown_columns(spec, known | {"nope", "missing"}) == []


def test_relational_fields_are_detected() -> None:
    assert uses_relational_fields({"breakdowns": ["name", "root.response.status_code"]})
    assert uses_relational_fields({"filters": [{"column": "child.status", "op": "=", "value": 400}]})
    assert uses_relational_fields({"calculations": [{"op": "AVG", "column": "any.duration_ms"}]})
    assert not uses_relational_fields({"breakdowns": ["rooted.x", "service.name"]})
    assert not uses_relational_fields({})
