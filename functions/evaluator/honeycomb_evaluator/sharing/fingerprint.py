"""Stable keys for "the same Honeycomb work": a query spec, and one execution of it.

Two requests share work when Honeycomb would compute the same thing for both. So the spec is
normalized first: lists whose order cannot change the answer are sorted, defaults are made
explicit, and the time window is turned into the absolute window Honeycomb truncates it to.
The keys are digests, safe to use as DynamoDB keys and log fields; they reveal nothing about
the key (only its non-secret `key_id` goes in).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from honeycomb_evaluator.window import truncation_step

_VALUE_LIST_OPS = {"in", "not-in"}


class TargetLike(Protocol):
    @property
    def key_id(self) -> str: ...
    @property
    def environment(self) -> str: ...
    @property
    def api_url(self) -> str: ...


def snap_window(time_range: int, now: float) -> tuple[int, int]:
    """The absolute window a relative `time_range` ending now runs over, as Honeycomb truncates it."""
    step = truncation_step(time_range)
    end = math.floor(now / step) * step
    return end - time_range, end


def spec_columns(spec: Mapping[str, Any]) -> list[str]:
    """Every column the spec names (to spot relational fields such as `root.service.name`)."""
    columns = [c for c in spec.get("breakdowns") or [] if isinstance(c, str)]
    for part in ("calculations", "filters", "orders", "havings"):
        for item in spec.get(part) or []:
            if isinstance(item, Mapping) and isinstance(item.get("column"), str):
                columns.append(item["column"])
    return columns


def _snap_absolute(start: int, end: int) -> tuple[int, int]:
    step = truncation_step(end - start)
    return start - start % step, end - end % step


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _sorted(items: list[Any]) -> list[Any]:
    return sorted(items, key=_canonical)


def _without_nulls(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if v is not None and v != []}


def normalize_spec(spec: Mapping[str, Any], now: float) -> dict[str, Any]:
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
    _normalize_window(out, now)
    return out


def _normalize_filter(item: Mapping[str, Any]) -> dict[str, Any]:
    normalized = {k: v for k, v in item.items() if v is not None}
    if normalized.get("op") in _VALUE_LIST_OPS and isinstance(normalized.get("value"), list):
        normalized["value"] = _sorted(normalized["value"])
    return normalized


def _normalize_window(spec: dict[str, Any], now: float) -> None:
    start, end, time_range = spec.get("start_time"), spec.get("end_time"), spec.get("time_range")
    if isinstance(start, int) and isinstance(end, int):
        pass
    elif isinstance(start, int) and isinstance(time_range, int):
        end = start + time_range
    elif isinstance(end, int) and isinstance(time_range, int):
        start = end - time_range
    else:
        start, end = snap_window(time_range if isinstance(time_range, int) else 7200, now)
    spec.pop("time_range", None)
    spec["start_time"], spec["end_time"] = _snap_absolute(start, end)


def _digest(*parts: Any) -> str:
    return hashlib.sha256(_canonical(parts).encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Fingerprint:
    """`spec_key` names a query (→ query id); `execution_key` one run of it (→ query result)."""

    spec_key: str
    execution_key: str
    key_id: str
    window: tuple[int, int]


def fingerprint(
    target: TargetLike,
    dataset: str,
    spec: Mapping[str, Any],
    *,
    disable_series: bool,
    limit: int | None,
    now: float,
) -> Fingerprint:
    normalized = normalize_spec(spec, now)
    spec_key = _digest("spec", target.key_id, target.api_url, target.environment, dataset, normalized)
    execution_key = _digest("execution", spec_key, disable_series, limit if disable_series else None)
    return Fingerprint(
        spec_key=spec_key,
        execution_key=execution_key,
        key_id=target.key_id,
        window=(normalized["start_time"], normalized["end_time"]),
    )
