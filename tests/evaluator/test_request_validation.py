"""Any body either validates or becomes a 422 whose `field` is a real dotted path into the body."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from honeycomb_emulator.demo import DEMO_HASHES
from honeycomb_evaluator.models.request import EvaluateRequest
from honeycomb_evaluator.validation import human_duration, validation_error
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

VALID: dict[str, Any] = {
    "dataset": "checkout",
    "environment": "default",
    "query": {
        "calculations": [{"op": "P99", "column": "duration_ms"}, {"op": "COUNT"}],
        "filters": [{"column": "rollouts_pod_template_hash", "op": "=", "value": DEMO_HASHES["bad"]}],
        "breakdowns": ["service.version"],
        "orders": [{"op": "COUNT", "order": "descending"}],
        "havings": [{"calculate_op": "COUNT", "op": ">", "value": 1}],
        "calculated_fields": [{"name": "is_error", "expression": "IF($error, 1, 0)"}],
        "time_range": 600,
    },
    "select": {"calculation": "P99(duration_ms)", "match": {"service.version": "v1.5.0"}, "reduce": "max"},
    "empty": "zero",
    "timeout_seconds": 8,
    "max_age_seconds": 60,
    "include_series": False,
}

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths(child, (*prefix, index))
    return found


ALL_PATHS = paths(VALID)


def replaced(body: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(body)
    target: Any = out
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return out


def test_the_reference_body_is_valid() -> None:
    EvaluateRequest.model_validate(VALID)


@pytest.mark.parametrize("key", ["int", "str", "list[int]"])
def test_field_names_that_look_like_type_tags_are_kept(key: str) -> None:
    with pytest.raises(ValidationError) as refused:  # an unknown field, as any other
        EvaluateRequest.model_validate({**VALID, key: 1})
    assert validation_error(refused.value).field == key


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(ALL_PATHS), junk)
def test_a_corrupted_field_is_named_exactly(path: tuple[Any, ...], value: Any) -> None:
    body = replaced(VALID, path, value)
    try:
        EvaluateRequest.model_validate(body)
    except ValidationError as e:
        error = validation_error(e)
        assert error.status == 422 and error.code == "invalid_request"
        assert error.field and error.message.startswith(error.field)
        # The named field exists in the body or is the parent of a missing/extra one.
        dotted = {".".join(map(str, p)) for p in ALL_PATHS} | {"query", "select", "body"}
        field = error.field
        # An unknown key that is empty or holds a dot is quoted: `query.orders.0["."]`.
        parent = field[: field.rindex("[")] if field.endswith('"]') else field.rsplit(".", 1)[0]
        assert field in dotted or parent in dotted or "." not in field, field


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=1, max_size=10).filter(lambda k: k not in VALID), junk)
def test_unknown_top_level_fields_are_named(key: str, value: Any) -> None:
    try:
        EvaluateRequest.model_validate({**VALID, key: value})
    except ValidationError as e:
        assert validation_error(e).field == key
    else:
        raise AssertionError("unknown field accepted")


def test_messages_suggest_the_fix() -> None:
    """A misspelt op gets the closest one; a window too long is said in days, not only seconds."""
    body = {"dataset": "checkout", "query": {"calculations": [{"op": "P98", "column": "d"}]}}
    with pytest.raises(ValidationError) as raised:
        EvaluateRequest.model_validate(body)
    assert "did you mean 'P99'?" in validation_error(raised.value).message
    month = {"dataset": "checkout", "query": {"time_range": 30 * 86400}}
    with pytest.raises(ValidationError) as raised:
        EvaluateRequest.model_validate(month)
    error = validation_error(raised.value)
    assert error.field == "query.time_range" and "(7 days); got 30 days" in error.message
    assert human_duration(5400) == "1 hour 30 minutes" and human_duration(45) == "45 seconds"
