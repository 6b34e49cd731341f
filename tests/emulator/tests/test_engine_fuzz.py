"""Bad input never crashes: random (mostly wrong) specs give a result or a QueryError, nothing else."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from honeycomb_emulator.engine import Event, QueryError, Store, normalize_query, run_query, unknown_columns
from honeycomb_emulator.engine.ops import CALCULATION_OPS, FILTER_OPS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC).timestamp()
COLUMNS = ["svc", "d", "status", "flag", 'we"ird', "it's", "trace.trace_id", "root.svc", "any.d", "nope", ""]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
)
values = st.one_of(
    scalars, st.lists(scalars, max_size=3), st.dictionaries(st.text(max_size=3), scalars, max_size=2)
)
named_columns = st.sampled_from(COLUMNS[:-1])
any_columns = st.one_of(st.sampled_from(COLUMNS), st.text(max_size=6), scalars)
any_ops = st.one_of(st.sampled_from([*CALCULATION_OPS, "P98", "count", ""]), scalars)
any_filter_ops = st.one_of(st.sampled_from([*FILTER_OPS, "like"]), scalars)

expressions = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        [
            "IF($flag, 1, 0)",
            'CONCAT($svc, "x")',
            "DIV($d, $status)",
            "GT($root.svc, 1)",
            "BUCKET($d, 10)",
            'IF(EQUALS($"we\\"ird", "a"), $d)',
            "SUM(",
            "$",
            '"unterminated',
            "MUL($d, 1e400)",
            'REG_MATCH($svc, "(")',
            'REG_VALUE($svc, "[")',
        ]
    ),
)


def spec_strategy(wrong_types: bool) -> st.SearchStrategy[dict[str, Any]]:
    """Random specs; with ``wrong_types`` any field may also be null or a value of the wrong type."""

    def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.one_of(strategy, st.none(), values) if wrong_types else strategy

    if not wrong_types:  # names and ops from the right sets, so that most specs run
        columns, ops, filter_ops = (
            named_columns,
            st.sampled_from(CALCULATION_OPS),
            st.sampled_from(FILTER_OPS),
        )
    else:
        columns, ops, filter_ops = any_columns, any_ops, any_filter_ops

    orders = st.fixed_dictionaries(
        {},
        optional={"op": ops, "column": columns, "order": st.sampled_from(["ascending", "descending", "x"])},
    )
    havings = st.fixed_dictionaries(
        {"calculate_op": ops, "op": st.sampled_from(["=", "!=", ">", ">=", "<", "<=", "~"])},
        optional={"column": columns, "value": scalars},
    )
    filters = st.fixed_dictionaries({"column": columns, "op": filter_ops}, optional={"value": values})
    return st.fixed_dictionaries(
        {},
        optional={
            "calculations": maybe(
                st.lists(st.fixed_dictionaries({"op": ops}, optional={"column": columns}), max_size=3)
            ),
            "filters": maybe(st.lists(filters, max_size=3)),
            "filter_combination": maybe(st.sampled_from(["AND", "OR", "and"])),
            "breakdowns": maybe(st.lists(columns, max_size=3)),
            "orders": maybe(st.lists(orders, max_size=2)),
            "havings": maybe(st.lists(havings, max_size=2)),
            "limit": maybe(st.integers(min_value=-5, max_value=20_000)),
            "time_range": maybe(st.integers(min_value=-5, max_value=10**6)),
            "start_time": maybe(st.integers(min_value=int(NOW) - 10**5, max_value=int(NOW))),
            "end_time": maybe(st.integers(min_value=int(NOW) - 10**4, max_value=int(NOW) + 10**4)),
            "granularity": maybe(st.integers(min_value=-1, max_value=10**5)),
            "calculated_fields": maybe(
                st.lists(st.fixed_dictionaries({"name": columns, "expression": expressions}), max_size=2)
            ),
            "compare_time_offset_seconds": maybe(st.sampled_from([1800, 86400, 5])),
        },
    )


specs = st.one_of(spec_strategy(wrong_types=True), spec_strategy(wrong_types=False))


@pytest.fixture(scope="module")
def store() -> Store:
    store = Store()
    store.add_events(
        "ds",
        [
            Event(NOW - 600, {"svc": "a", "d": 1.5, "status": 200, "flag": True, 'we"ird': "a", "it's": 1}),
            Event(NOW - 300, {"svc": "b", "d": None, "status": 0, "trace.trace_id": "t"}, 3),
        ],
    )
    return store


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(spec=specs, disable_series=st.booleans(), limit=st.one_of(st.none(), st.integers(-1, 20_000)))
def test_random_specs_give_results_or_query_errors(
    store: Store, spec: dict[str, Any], disable_series: bool, limit: int | None
) -> None:
    try:
        result = run_query(
            store,
            "ds",
            spec,
            NOW,
            disable_series=disable_series,
            limit=limit,
            total_by_aggregate=True,
            other_by_aggregate=True,
        )
    except QueryError as error:
        assert error.status in (400, 422) and error.message
        return
    assert isinstance(result["results"], list) and isinstance(result["series"], list)
    # What run_query accepted, normalize_query accepts too, and its echo is stable.
    echoed = normalize_query(spec)
    assert normalize_query(echoed) == echoed
    assert isinstance(unknown_columns(echoed, {"svc"}), list)
