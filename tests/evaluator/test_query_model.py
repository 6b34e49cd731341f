"""The Honeycomb query model: every documented op and rule, checked before any call."""

from __future__ import annotations

from typing import Any, get_args

import pytest
from honeycomb_evaluator.models.query import (
    FilterOp,
    HavingCalculateOp,
    QueryOp,
    QuerySpec,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError


def spec(**fields: Any) -> QuerySpec:
    return QuerySpec.model_validate(fields)


def test_the_documented_op_lists_are_complete() -> None:
    assert len(get_args(QueryOp)) == 24
    assert len(get_args(FilterOp)) == 16
    assert set(get_args(HavingCalculateOp)) == set(get_args(QueryOp)) - {"HEATMAP"}


@pytest.mark.parametrize("op", get_args(QueryOp))
def test_every_calculation_op_is_accepted_with_the_right_column_rule(op: str) -> None:
    if op in ("COUNT", "CONCURRENCY"):
        assert spec(calculations=[{"op": op}]).calculation_keys == [op]
        with pytest.raises(ValidationError, match="takes no column"):
            spec(calculations=[{"op": op, "column": "duration_ms"}])
    else:
        assert spec(calculations=[{"op": op, "column": "duration_ms"}]).calculation_keys == [
            f"{op}(duration_ms)"
        ]
        with pytest.raises(ValidationError, match="requires a column"):
            spec(calculations=[{"op": op}])


@pytest.mark.parametrize(
    ("op", "good", "bad"),
    [
        ("=", 200, [1]),
        ("!=", "x", None),
        (">", 1.5, None),
        ("<=", True, [1]),
        ("starts-with", "api", 3),
        ("does-not-end-with", "z", None),
        ("contains", "err", True),
        ("in", [1, 2], 1),
        ("not-in", ["a"], []),
        ("exists", None, "x"),
        ("does-not-exist", None, 0),
    ],
)
def test_filter_values_follow_the_op(op: str, good: Any, bad: Any) -> None:
    spec(filters=[{"column": "c", "op": op, "value": good}])
    with pytest.raises(ValidationError):
        spec(filters=[{"column": "c", "op": op, "value": bad}])


def test_unknown_fields_are_rejected_at_every_level() -> None:
    bodies: list[dict[str, Any]] = [
        {"calculation": []},
        {"calculations": [{"op": "COUNT", "col": "x"}]},
        {"filters": [{"column": "c", "op": "=", "value": 1, "x": 1}]},
        {"id": "abc"},
    ]
    for body in bodies:
        with pytest.raises(ValidationError, match="Extra inputs"):
            QuerySpec.model_validate(body)


def test_orders_and_havings_must_refer_to_calculations_or_breakdowns() -> None:
    ok = spec(
        calculations=[{"op": "P99", "column": "d"}],
        breakdowns=["service.version"],
        orders=[{"op": "P99", "column": "d", "order": "descending"}, {"column": "service.version"}],
        havings=[{"calculate_op": "P99", "column": "d", "op": ">", "value": 10}],
    )
    assert ok.orders[1].order == "ascending"
    with pytest.raises(ValidationError, match="not one of the calculations"):
        spec(calculations=[{"op": "P99", "column": "d"}], orders=[{"op": "P95", "column": "d"}])
    with pytest.raises(ValidationError, match="not one of the breakdowns"):
        spec(orders=[{"column": "name"}])
    with pytest.raises(ValidationError, match="not one of the calculations"):
        spec(havings=[{"calculate_op": "MAX", "column": "d", "op": ">", "value": 1}])
    # No calculations means COUNT, so COUNT may be ordered and filtered on.
    spec(
        orders=[{"op": "COUNT", "order": "descending"}],
        havings=[{"calculate_op": "COUNT", "op": ">", "value": 1}],
    )
    with pytest.raises(ValidationError, match="HEATMAP"):
        spec(calculations=[{"op": "HEATMAP", "column": "d"}], orders=[{"op": "HEATMAP", "column": "d"}])
    with pytest.raises(ValidationError):
        spec(
            calculations=[{"op": "HEATMAP", "column": "d"}],
            havings=[{"calculate_op": "HEATMAP", "column": "d", "op": ">", "value": 1}],
        )


def test_time_rules() -> None:
    spec(time_range=600)
    spec(start_time=1000, end_time=2000)
    spec(start_time=1000, time_range=60)
    with pytest.raises(ValidationError, match="at most two"):
        spec(start_time=1000, end_time=2000, time_range=1000)
    with pytest.raises(ValidationError, match="before end_time"):
        spec(start_time=2000, end_time=2000)
    with pytest.raises(ValidationError, match="7 days"):
        spec(start_time=1, end_time=1 + 7 * 86400 + 1)
    with pytest.raises(ValidationError):
        spec(time_range=0)
    with pytest.raises(ValidationError):
        spec(time_range=7 * 86400 + 1)
    with pytest.raises(ValidationError):
        spec(time_range=60.5)
    with pytest.raises(ValidationError):
        spec(time_range="600")


def test_granularity_and_compare_offset_bounds() -> None:
    spec(time_range=600, granularity=60)
    spec(time_range=600, granularity=600)
    with pytest.raises(ValidationError, match="granularity"):
        spec(time_range=600, granularity=601)
    with pytest.raises(ValidationError, match="granularity"):
        spec(time_range=86400 * 7, granularity=1)
    spec(time_range=1800, compare_time_offset_seconds=1800)
    with pytest.raises(ValidationError, match="at least the query's duration"):
        spec(time_range=3600, compare_time_offset_seconds=1800)
    with pytest.raises(ValidationError):
        spec(compare_time_offset_seconds=1000)


def test_limits_and_list_sizes() -> None:
    spec(limit=1000)
    for bad in (0, 1001):
        with pytest.raises(ValidationError):
            spec(limit=bad)
    with pytest.raises(ValidationError):
        spec(breakdowns=[f"c{i}" for i in range(101)])
    with pytest.raises(ValidationError, match="unique"):
        spec(calculated_fields=[{"name": "a", "expression": "1"}, {"name": "a", "expression": "2"}])


def test_honeycomb_body_carries_an_absolute_window_and_nothing_unset() -> None:
    query = spec(
        calculations=[{"op": "AVG", "column": "is_error"}],
        calculated_fields=[{"name": "is_error", "expression": "IF($error, 1, 0)"}],
        time_range=600,
    )
    assert query.honeycomb_body(100, 700) == {
        "calculations": [{"op": "AVG", "column": "is_error"}],
        "calculated_fields": [{"name": "is_error", "expression": "IF($error, 1, 0)"}],
        "start_time": 100,
        "end_time": 700,
    }


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)
field_names = st.sampled_from(
    [
        "calculations",
        "filters",
        "breakdowns",
        "orders",
        "havings",
        "limit",
        "time_range",
        "start_time",
        "end_time",
        "granularity",
        "calculated_fields",
        "filter_combination",
        "compare_time_offset_seconds",
        "x",
    ]
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(field_names, json_values, max_size=5))
def test_arbitrary_json_is_either_a_valid_spec_or_a_validation_error(body: dict[str, Any]) -> None:
    try:
        query = QuerySpec.model_validate(body)
    except ValidationError:
        return
    # Whatever validates can be sent: the body is plain JSON with an absolute window.
    sent = query.honeycomb_body(1000, 2000)
    assert sent["start_time"] == 1000 and "time_range" not in sent


calculations = st.lists(
    st.one_of(
        st.builds(lambda op: {"op": op}, st.sampled_from(["COUNT", "CONCURRENCY"])),
        st.builds(
            lambda op, col: {"op": op, "column": col},
            st.sampled_from([o for o in get_args(QueryOp) if o not in ("COUNT", "CONCURRENCY")]),
            st.sampled_from(["duration_ms", "is_error", "bytes"]),
        ),
    ),
    max_size=4,
)


@settings(max_examples=100, deadline=None)
@given(calculations, st.lists(st.sampled_from(["service.version", "name"]), unique=True, max_size=2))
def test_generated_valid_specs_validate_and_keep_their_calculation_keys(
    calcs: list[dict[str, Any]], breakdowns: list[str]
) -> None:
    query = QuerySpec.model_validate({"calculations": calcs, "breakdowns": breakdowns, "time_range": 600})
    expected = [c["op"] if "column" not in c else f"{c['op']}({c['column']})" for c in calcs] or ["COUNT"]
    assert query.calculation_keys == expected
