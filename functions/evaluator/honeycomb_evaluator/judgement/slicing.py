"""Which slices a sliced comparison result holds, their numbers, and this look's buckets of them.

A slice is a value of one dimension (`user.plan=enterprise`), or with depth 2 a pair of values
of two dimensions (`user.plan=enterprise, http.route=/api/billing`): the cells with those values
added up (cells.py). An error type is a value of the declared error column; its number in a
bucket is the share of the version's events with that type (every event of the version counts
in the denominator, so "new in the canary" is an ordinary rate ratio for the counts test).

Ids are stable strings (`s:` + the pairs as JSON, `e:` + the value as JSON) so the history can
keep them; `label` is how a person reads them.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from honeycomb_evaluator.judgement.buckets import Sampling, Side
from honeycomb_evaluator.judgement.cells import Cell, Cells, Sum, Tally, tally
from honeycomb_evaluator.judgement.slice_history import SlicedBucket

if TYPE_CHECKING:
    from honeycomb_evaluator.models.slices import Slices

SHARE = "share"  # an error type's share of the version's events, in a bucket or the window
Pairs = tuple[tuple[str, Any], ...]


def slice_id(pairs: Pairs) -> str:
    return "s:" + json.dumps([list(p) for p in pairs], separators=(",", ":"))


def error_id(value: Any) -> str:
    return "e:" + json.dumps(value, separators=(",", ":"))


def shown_value(value: Any) -> str:
    return "(none)" if value is None else str(value)


def label_of(identity: str) -> str:
    """`user.plan=enterprise, http.route=/api/billing` or the error type's value."""
    body = json.loads(identity[2:])
    if identity.startswith("e:"):
        return shown_value(body)
    return ", ".join(f"{column}={shown_value(value)}" for column, value in body)


def pairs_of(identity: str) -> dict[str, Any]:
    """The slice's dimensions and values (an error type's: {} )."""
    return {} if identity.startswith("e:") else dict(json.loads(identity[2:]))


@dataclass(frozen=True)
class Candidate:
    identity: str
    size: float  # events of both versions in the window (the larger first)


@dataclass(frozen=True)
class SliceData:
    """A look's slices and error types, summed from the cells."""

    slices: Tally  # keyed by slice id
    errors: Tally  # keyed by error id; COUNT only
    totals: Tally  # keyed by (): each version's events per bucket and window

    def window(self, identity: str) -> dict[str, Sum]:
        return (self.errors if identity.startswith("e:") else self.slices).sides(identity)


def slice_keys(dimensions: Sequence[str], depth: int) -> list[tuple[int, ...]]:
    """Positions of the dimensions each slice fixes: each alone, and each pair with depth 2."""
    single = [(i,) for i in range(len(dimensions))]
    return single + (list(itertools.combinations(range(len(dimensions)), 2)) if depth == 2 else [])


def read_slices(cells: Cells, spec: Slices, keys: Sequence[str]) -> SliceData:
    """Sum the cells per slice, per error type (the error column follows the dimensions), and per version."""
    dimensions = spec.dimensions
    chosen = slice_keys(dimensions, spec.depth)
    with_errors = spec.errors is not None

    def slices_of(cell: Cell) -> Iterable[str]:
        return [slice_id(tuple((dimensions[i], cell.values[i]) for i in key)) for key in chosen]

    def errors_of(cell: Cell) -> Iterable[str]:
        kind = cell.values[len(dimensions)] if with_errors else None
        return [] if kind is None else [error_id(kind)]

    return SliceData(
        tally(cells, keys, slices_of), tally(cells, (), errors_of), tally(cells, keys, lambda cell: [()])
    )


def _events(s: Sum | None, sampling: Sampling) -> float:
    if s is None:
        return 0.0
    return sampling.stored(s.side()) if sampling.stated else s.count


def slice_candidates(data: SliceData, sampling: Sampling, min_count: int) -> list[Candidate]:
    """Slices with at least `min_count` events in each version over the window, largest first."""
    out = []
    for identity, sums in data.slices.window.items():
        canary, baseline = (_events(sums.get(role), sampling) for role in ("canary", "baseline"))
        if canary >= min_count and baseline >= min_count:
            out.append(Candidate(str(identity), canary + baseline))
    return sorted(out, key=lambda c: (-c.size, c.identity))


def error_candidates(data: SliceData) -> list[Candidate]:
    """Error types the canary shows in the window, the most frequent first."""
    out = []
    for identity, sums in data.errors.window.items():
        canary = sums.get("canary")
        if canary is not None and canary.count > 0:
            out.append(Candidate(str(identity), canary.count))
    return sorted(out, key=lambda c: (-c.size, c.identity))


def _share_side(kind: Sum | None, total: Sum) -> Side:
    events = kind.count if kind is not None else 0.0
    return Side(total.count, {SHARE: events / total.count if total.count > 0 else None})


def error_sides(data: SliceData, identity: str, start: int | None) -> tuple[Side, Side] | None:
    """An error type's (canary, baseline) sides in a bucket (start) or the window (None)."""
    totals = data.totals.sides(()) if start is None else data.totals.buckets.get((), {}).get(start, {})
    kinds = (
        data.errors.sides(identity) if start is None else data.errors.buckets.get(identity, {}).get(start, {})
    )
    canary, baseline = totals.get("canary"), totals.get("baseline")
    if canary is None or baseline is None or canary.count <= 0 or baseline.count <= 0:
        return None
    return _share_side(kinds.get("canary"), canary), _share_side(kinds.get("baseline"), baseline)


def current_buckets(
    data: SliceData, granularity: int, end: int, identities: Sequence[str]
) -> list[SlicedBucket]:
    """This look's buckets with the sides of every slice and error type named (both versions present)."""
    out = []
    for start in sorted(data.totals.buckets.get((), {})):
        sides: dict[str, tuple[Side, Side]] = {}
        for identity in identities:
            if identity.startswith("e:"):
                pair = error_sides(data, identity, start)
            else:
                per_role = data.slices.buckets.get(identity, {}).get(start, {})
                c, b = per_role.get("canary"), per_role.get("baseline")
                pair = (
                    (c.side(), b.side())
                    if c is not None and b is not None and c.count > 0 and b.count > 0
                    else None
                )
            if pair is not None:
                sides[identity] = pair
        out.append(SlicedBucket(start, min(start + granularity, end), sides))
    return out
