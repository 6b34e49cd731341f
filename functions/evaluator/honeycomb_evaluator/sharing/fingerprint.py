"""Stable keys for "the same Honeycomb work": a query spec, and one execution of it.

Two requests share work when Honeycomb would compute the same thing for both. So the spec is
normalized first: lists whose order cannot change the answer are sorted and defaults are made
explicit. The window is already absolute and snapped (window.py resolves it before the spec is
built). The keys are digests, safe to use as state-store keys and log fields; they reveal
nothing about the key (only its non-secret `key_id` goes in).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from honeycomb_evaluator.digest import canonical_json, digest
from honeycomb_evaluator.honeycomb.client import ResultOptions

_VALUE_LIST_OPS = {"in", "not-in"}


class TargetLike(Protocol):
    @property
    def key_id(self) -> str: ...
    @property
    def environment(self) -> str: ...
    @property
    def api_url(self) -> str: ...


def spec_columns(spec: Mapping[str, Any]) -> list[str]:
    """Every column the spec names (to spot relational fields such as `root.service.name`)."""
    columns = [c for c in spec.get("breakdowns") or [] if isinstance(c, str)]
    for part in ("calculations", "filters", "orders", "havings"):
        for item in spec.get(part) or []:
            if isinstance(item, Mapping) and isinstance(item.get("column"), str):
                columns.append(item["column"])
    return columns


def _sorted(items: list[Any]) -> list[Any]:
    return sorted(items, key=canonical_json)


def _without_nulls(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if v is not None and v != []}


def normalize_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The spec in a canonical form: equal for specs Honeycomb answers identically."""
    out = _without_nulls(spec)
    calculations = [_without_nulls(c) for c in out.get("calculations") or [{"op": "COUNT"}]]
    filters = [_normalize_filter(f) for f in out.get("filters", [])]
    out["calculations"] = calculations
    if filters:
        out["filters"] = _sorted(filters)
    # With one filter or none, OR and AND mean the same thing.
    combination = out.get("filter_combination", "AND")
    out["filter_combination"] = combination if len(filters) > 1 else "AND"
    for name in ("calculated_fields", "havings"):
        if name in out:
            out[name] = _sorted([_without_nulls(item) for item in out[name]])
    if "orders" in out:
        out["orders"] = [{"order": "ascending", **_without_nulls(o)} for o in out["orders"]]
        # Without orders Honeycomb sorts rows by the first calculation, so only an explicit
        # order makes the order of calculations and breakdowns irrelevant.
        out["calculations"] = _sorted(calculations)
        if "breakdowns" in out:
            out["breakdowns"] = sorted(out["breakdowns"])
    if out.get("granularity") == 0:
        del out["granularity"]
    return out


def _normalize_filter(item: Mapping[str, Any]) -> dict[str, Any]:
    normalized = {k: v for k, v in item.items() if v is not None}
    if normalized.get("op") in _VALUE_LIST_OPS and isinstance(normalized.get("value"), list):
        normalized["value"] = _sorted(normalized["value"])
    return normalized


@dataclass(frozen=True)
class Fingerprint:
    """`spec_key` names a query (→ query id); `execution_key` one run of it (→ query result)."""

    spec_key: str
    execution_key: str
    key_id: str


def fingerprint(
    target: TargetLike, dataset: str, spec: Mapping[str, Any], options: ResultOptions
) -> Fingerprint:
    """`spec` has an absolute `start_time`/`end_time` (window.py snapped them)."""
    normalized = normalize_spec(spec)
    spec_key = digest("spec", target.key_id, target.api_url, target.environment, dataset, normalized)
    # No row limit (None) digests as it did before limits were asked for: keys stay those of
    # earlier versions, which share the store with this one during a rolling deploy.
    # Asking for the groups beyond the limit changes the answer's shape, not its rows.
    other = ("other_by_aggregate",) if options.other_by_aggregate else ()
    execution_key = digest("execution", spec_key, options.disable_series, options.limit, *other)
    return Fingerprint(spec_key=spec_key, execution_key=execution_key, key_id=target.key_id)
