"""Bad input never crashes: arbitrary JSON bodies get a 4xx naming the cause, never a 5xx."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import Honeycomb

pytestmark = pytest.mark.servers

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
)
FIELDS = st.sampled_from(
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
        "query_id",
        "disable_series",
        "name",
        "sli",
        "time_period_days",
        "target_per_million",
        "ids",
        "alias",
        "expression",
        "op",
        "column",
        "data",
        "time",
        "samplerate",
    ]
)
JSON = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(FIELDS, inner, max_size=4)
)
PATHS = [
    "/1/queries/checkout",
    "/1/query_results/checkout",
    "/1/slos/checkout",
    "/1/derived_columns/checkout",
    "/1/burn_alerts/checkout",
    "/1/reporting/slos/historical",
    "/1/batch/fuzzed",
    "/1/events/fuzzed",
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(PATHS), body=st.dictionaries(FIELDS, JSON, max_size=5) | JSON)
def test_any_json_body_gets_an_answer_below_500(honeycomb: Honeycomb, path: str, body: object) -> None:
    response = honeycomb.call("POST", path, json_body=body if body is not None else [])
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.json()["error"]


@pytest.mark.parametrize(
    "expression",
    [
        "9" * 5000,  # over Python's 4,300-digit int conversion limit
        "1" * 400,  # an int too large for a double
        "1" + "0" * 400 + ".5",  # a float that would be infinite
        "MUL($duration_ms, " + "9" * 5000 + ")",
        "NOT(" * 500 + "true" + ")" * 500,  # deeper than the parser's recursion
    ],
)
def test_hostile_calculated_field_literals_are_a_4xx(honeycomb: Honeycomb, expression: str) -> None:
    spec = {
        "calculations": [{"op": "MAX", "column": "f"}],
        "calculated_fields": [{"name": "f", "expression": expression}],
        "time_range": 600,
    }
    response = honeycomb.call("POST", "/1/queries/checkout", json_body=spec)
    assert 400 <= response.status_code < 500, response.text
    assert "expression" in response.json()["error"]


def test_a_lone_surrogate_becomes_the_replacement_character_as_in_go(honeycomb: Honeycomb) -> None:
    spec = {"filters": [{"column": "name", "op": "=", "value": "\ud800"}], "time_range": 600}
    response = honeycomb.call("POST", "/1/queries/checkout", json_body=spec, expect=200)
    assert response.json()["filters"][0]["value"] == "\ufffd"
