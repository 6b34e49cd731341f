"""Specs Honeycomb answers identically get one key; anything that changes the answer changes it."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import pytest
from honeycomb_evaluator.honeycomb.client import ResultOptions
from honeycomb_evaluator.sharing.fingerprint import fingerprint, spec_columns
from hypothesis import given
from hypothesis import strategies as st

START, END = 1_795_538_400, 1_795_539_000


@dataclass(frozen=True)
class Target:
    key_id: str = "k1"
    environment: str = "default"
    api_url: str = "https://api.honeycomb.io"


BASE: dict[str, Any] = {
    "calculations": [{"op": "P99", "column": "duration_ms"}, {"op": "COUNT"}],
    "filters": [
        {"column": "service.name", "op": "=", "value": "checkout"},
        {"column": "service.version", "op": "in", "value": ["v1.5.0", "v1.4.2"]},
    ],
    "breakdowns": ["service.version", "rollouts_pod_template_hash"],
    "start_time": START,
    "end_time": END,
    "limit": 1000,
}


def key(spec: dict[str, Any], **kwargs: Any) -> str:
    options = {"disable_series": True, **kwargs}
    target = options.pop("target", Target())
    dataset = options.pop("dataset", "checkout")
    return fingerprint(target, dataset, spec, ResultOptions(**options)).execution_key


def variant(**changes: Any) -> dict[str, Any]:
    spec = copy.deepcopy(BASE)
    spec.update(changes)
    return spec


def test_filter_order_and_in_values_do_not_matter() -> None:
    shuffled = variant(
        filters=[
            {"column": "service.version", "op": "in", "value": ["v1.4.2", "v1.5.0"]},
            {"column": "service.name", "op": "=", "value": "checkout"},
        ]
    )
    assert key(shuffled) == key(BASE)


def test_explicit_defaults_equal_implicit_ones() -> None:
    assert key(variant(filter_combination="AND")) == key(BASE)
    assert key(variant(granularity=0)) == key(BASE)
    assert key(variant(havings=[], orders=None)) == key(BASE)
    count_only = {"start_time": START, "end_time": END}
    assert key(count_only) == key({**count_only, "calculations": [{"op": "COUNT", "column": None}]})
    one_filter = {**count_only, "filters": [{"column": "a", "op": "exists"}]}
    assert key({**one_filter, "filter_combination": "OR"}) == key(one_filter)


def test_calculation_order_matters_only_without_orders() -> None:
    swapped = variant(calculations=list(reversed(BASE["calculations"])))
    assert key(swapped) != key(BASE)
    ordered = [{"op": "COUNT", "order": "descending"}]
    assert key({**swapped, "orders": ordered}) == key(variant(orders=ordered))
    assert key(variant(orders=[{"op": "COUNT", "order": "ascending"}])) == key(
        variant(orders=[{"op": "COUNT"}])
    )


def test_the_window_is_part_of_the_execution() -> None:
    # Windows arrive absolute and snapped (window.py, tested in tests/evaluator/test_window.py).
    assert key(variant(end_time=END + 60)) != key(BASE)
    assert key(variant(start_time=START - 60)) != key(BASE)


@pytest.mark.parametrize(
    "change",
    [
        {"filters": [{"column": "service.name", "op": "=", "value": "other"}]},
        {"breakdowns": ["service.version"]},
        {"calculations": [{"op": "P95", "column": "duration_ms"}]},
        {"limit": 10},
        {"filter_combination": "OR"},
    ],
)
def test_meaningful_changes_change_the_key(change: dict[str, Any]) -> None:
    assert key(variant(**change)) != key(BASE)


def test_target_dataset_and_result_options_are_part_of_the_execution() -> None:
    assert key(BASE, target=Target(key_id="k2")) != key(BASE)
    assert key(BASE, target=Target(environment="prod")) != key(BASE)
    assert key(BASE, dataset="other") != key(BASE)
    assert key(BASE, disable_series=False) != key(BASE)


def test_execution_keys_stay_those_of_earlier_versions() -> None:
    """Old and new instances share one store during a rolling deploy: the same work, the same key."""
    assert key(BASE) == "f50edce0dcbb7e88834e02b2e0639fab"


def test_spec_key_is_shared_by_different_executions() -> None:
    a = fingerprint(Target(), "checkout", BASE, ResultOptions(disable_series=True))
    b = fingerprint(Target(), "checkout", BASE, ResultOptions(disable_series=False))
    assert a.spec_key == b.spec_key and a.execution_key != b.execution_key
    assert a.key_id == "k1"


def test_spec_columns_finds_relational_fields() -> None:
    spec = {
        "breakdowns": ["root.name"],
        "filters": [{"column": "parent.x", "op": "exists"}],
        "calculations": [],
    }
    assert spec_columns(spec) == ["root.name", "parent.x"]


@given(st.permutations(BASE["filters"]), st.permutations(["v1.5.0", "v1.4.2", "v1.5.1"]))
def test_any_permutation_gives_the_same_key(filters: list[dict[str, Any]], values: list[str]) -> None:
    reference = variant(filters=[*BASE["filters"], {"column": "v", "op": "not-in", "value": sorted(values)}])
    shuffled = variant(filters=[{"column": "v", "op": "not-in", "value": values}, *filters])
    assert key(shuffled) == key(reference)
