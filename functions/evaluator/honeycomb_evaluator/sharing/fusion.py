"""Query fusion: checks that differ only in one equality filter's value share one Honeycomb query.

A hundred canaries each asking `P99(duration_ms)` where `rollouts_pod_template_hash = <its own
hash>` ask one question a hundred times. Their specs without that filter's value and without the
window form a *family*. Each check adds its value to the family's *roster* for its window (a set
in the state store, shared by every instance). A check whose value was in the roster of one of
the two previous steps is answered from one fused query of the current window:

    the spec with `<column> = <value>` replaced by `<column> in [every value of those rosters]`
    and a breakdown on `<column>`

and gets the rows of its own value, with the breakdown column taken out: exactly the rows its
own query gives, because the fused query keeps every event of that value (the filters are ANDed)
and groups them apart from the others. The value set comes from rosters of steps that are over,
so every instance builds the same fused spec, and the fused query is an ordinary execution
(coalesced, cached, budgeted, shared through the store like any other): `Fusion.plan` reads
the rosters and returns a `FusionPlan`, which the executor runs. A value checked for the
first time (a new canary) runs its own query once; from the next step on it is fused. When
other values of its family are being checked too (a fleet, not a lone canary), that first query
takes a token only while `FIRST_CHECK_LEAVES` stay free for their fused queries.

Not fused (the meaning could change, or nothing is gained): series requested, `limit`, `orders`,
`havings`, existing `breakdowns`, relational fields, `OR` filters, non-string values. Values are
fused in chunks of at most `MAX_FUSED_VALUES` (sorted, so chunks are the same everywhere), well
under Honeycomb's 1 000 rows of a result.

Comparisons (judgement/query.py) are fused the same way on their *pair* of versions: a spec
whose first breakdown is the column of an `in` filter on two string values (canary, stable), with
its series and, with slices, more breakdowns (hash x dimensions), its COUNT order and its limit.
The fused query asks `column in [every version of the chunk's pairs]` with the same breakdowns
and Honeycomb's 1 000 groups; a comparison takes the rows and series points of its own two
versions, which are exactly its own query's as long as the fused result was not cut at the
limit. A cut fused result is not used: the comparison runs its own query. `MAX_FUSED_PAIRS`
canaries share a query (their groups, versions x cells, must fit the limit).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from honeycomb_evaluator.budget import uses_relational_fields
from honeycomb_evaluator.cache import BoundedCache
from honeycomb_evaluator.digest import digest
from honeycomb_evaluator.honeycomb.results import QueryResult
from honeycomb_evaluator.state.base import StateStore
from honeycomb_evaluator.window import truncation_step

from .execution import Execution, ExecutionRequest
from .fingerprint import normalize_spec, spec_columns
from .local import LocalState

MAX_FUSED_VALUES = 100
MAX_FUSED_PAIRS = 25  # comparisons per fused query: 50 versions, 20 cells each within 1 000 groups
FUSED_GROUPS = 1000  # Honeycomb's most groups with series (models/limits.py MAX_QUERY_LIMIT)
PAIR_SEPARATOR = "\n"
MAX_CANDIDATES = 3  # equality filters considered per spec (one roster write each)
PREVIOUS_STEPS = 2  # rosters looked at: a check every 60 s may skip a step now and then
ROSTER_SETTLE_SECONDS = 5.0  # a step's roster may still get late additions this long after it ended
UNFUSABLE_PARTS = ("breakdowns", "orders", "havings", "limit")
# A first check (its value not fused yet) runs its own query only while this many tokens stay
# free: when a whole fleet starts at once, the first checks must not spend the budget the next
# minute's fused queries need (each of those answers every canary of a family).
FIRST_CHECK_LEAVES = 3


@dataclass(frozen=True)
class Candidate:
    """One equality filter a spec could be fused on."""

    index: int  # position of the filter in the spec's filters
    column: str
    value: str
    family: str  # digest of everything but this value and the window
    end: int  # the window's end
    step: int  # Honeycomb's truncation step: windows of this family are one step apart
    pair: bool = False  # a comparison's two versions (value is both, joined by PAIR_SEPARATOR)

    def roster(self, end: int) -> str:
        return f"{self.family}#{end}"


@dataclass(frozen=True)
class FusionPlan:
    """How the executor answers one request: from a fused query, or on its own."""

    alone: ExecutionRequest  # run on its own (also when the fused answer cannot serve it)
    fused: ExecutionRequest | None = None  # the fused query that answers it, if any
    candidate: Candidate | None = None  # the filter it is fused on

    def answer(self, fused: Execution) -> Execution | None:
        """The request's own answer out of the fused query's; None if it must run on its own."""
        assert self.candidate is not None
        if self.candidate.pair:
            return _pair_answer(fused, self.candidate)
        rows = rows_of(fused.result, self.candidate.column, self.candidate.value)
        if rows is None:
            return None
        result = dataclasses.replace(fused.result, results=rows, series=[])
        return Execution(result=result, query_id=fused.query_id, served=fused.served, fused=True)


def _pair_answer(fused: Execution, candidate: Candidate) -> Execution | None:
    """A comparison's rows and series points out of the fused result, unless it was cut."""
    result = fused.result
    cut = len(result.results) >= FUSED_GROUPS or bool((result.other or {}).get("COUNT"))
    versions = set(candidate.value.split(PAIR_SEPARATOR))
    if cut or any(not isinstance(row.get(candidate.column), str) for row in result.results):
        return None
    rows = [row for row in result.results if row[candidate.column] in versions]
    series = [p for p in result.series if p.get("data", {}).get(candidate.column) in versions]
    own = dataclasses.replace(result, results=rows, series=series)
    return Execution(result=own, query_id=fused.query_id, served=fused.served)


def comparison_candidate(request: ExecutionRequest) -> Candidate | None:
    """The comparison's pair of versions to fuse on, if `request` is a comparison query that can be."""
    spec = request.spec
    start, end = spec.get("start_time"), spec.get("end_time")
    breakdowns = spec.get("breakdowns") or []
    filters = spec.get("filters") or []
    orders = spec.get("orders") or []
    if (
        not breakdowns
        or spec.get("havings")
        or spec.get("limit") not in (None, FUSED_GROUPS)
        or any(o != {"op": "COUNT", "order": "descending"} for o in orders)
        or not isinstance(start, int)
        or not isinstance(end, int)
        or spec.get("filter_combination", "AND") != "AND"
        or uses_relational_fields(spec_columns(spec))
    ):
        return None
    found = [
        i
        for i, f in enumerate(filters)
        if isinstance(f, Mapping)
        and f.get("column") == breakdowns[0]
        and f.get("op") == "in"
        and isinstance(f.get("value"), list)
        and len(f["value"]) == 2
        and all(isinstance(v, str) and PAIR_SEPARATOR not in v for v in f["value"])
    ]
    if len(found) != 1:
        return None
    index = found[0]
    rest = {k: v for k, v in spec.items() if k not in ("start_time", "end_time", "limit")}
    rest["filters"] = [f for i, f in enumerate(filters) if i != index]
    target = request.target
    family = digest(
        "pairs", target.key_id, target.api_url, target.environment, request.dataset,
        normalize_spec(rest), request.options.disable_series, request.options.other_by_aggregate, end - start,
    )  # fmt: skip
    pair = PAIR_SEPARATOR.join(sorted(filters[index]["value"]))
    return Candidate(index, breakdowns[0], pair, family, end, truncation_step(end - start), pair=True)


def candidates(request: ExecutionRequest) -> list[Candidate]:
    """The equality filters `request` could be fused on; none when fusing could change its meaning."""
    comparison = comparison_candidate(request)
    if comparison is not None:
        return [comparison]
    spec = request.spec
    start, end = spec.get("start_time"), spec.get("end_time")
    filters = spec.get("filters") or []
    if (
        not request.options.disable_series
        or any(spec.get(part) for part in UNFUSABLE_PARTS)
        or not isinstance(start, int)
        or not isinstance(end, int)
        or (len(filters) > 1 and spec.get("filter_combination", "AND") != "AND")
        or uses_relational_fields(spec_columns(spec))
    ):
        return []
    found = []
    for index, item in enumerate(filters):
        if not _fusable_filter(item):
            continue
        rest = {k: v for k, v in spec.items() if k not in ("start_time", "end_time")}
        rest["filters"] = [f for i, f in enumerate(filters) if i != index]
        target = request.target
        family = digest(
            "family", target.key_id, target.api_url, target.environment, request.dataset,
            normalize_spec(rest), item["column"], end - start,
        )  # fmt: skip
        step = truncation_step(end - start)
        found.append(Candidate(index, item["column"], item["value"], family, end, step))
        if len(found) == MAX_CANDIDATES:
            break
    return found


def _fusable_filter(item: Any) -> bool:
    return (
        isinstance(item, Mapping)
        and item.get("op") == "="
        and isinstance(item.get("column"), str)
        and isinstance(item.get("value"), str)
    )


def choose(known: Sequence[tuple[Candidate, frozenset[str]]]) -> tuple[Candidate, frozenset[str]] | None:
    """The candidate to fuse on, with the values known for its family; None if none is fused yet.

    A candidate is fused once its value was checked in an earlier step beside others'. Of several,
    the filter whose value varies most is the one (a pod-template hash, not a service name).
    """
    chosen: tuple[Candidate, frozenset[str]] | None = None
    for candidate, values in known:
        if candidate.value in values and len(values) > 1 and (chosen is None or len(values) > len(chosen[1])):
            chosen = candidate, values
    return chosen


def fused_plan(request: ExecutionRequest, candidate: Candidate, values: frozenset[str]) -> FusionPlan:
    """`request` answered from the fused query of its value's chunk of `values`."""
    if candidate.pair:
        pairs = chunk_of(values, candidate.value, MAX_FUSED_PAIRS)
        versions = sorted({v for p in pairs for v in p.split(PAIR_SEPARATOR)})
        filters = list(request.spec["filters"])
        filters[candidate.index] = {"column": candidate.column, "op": "in", "value": versions}
        spec = {**request.spec, "filters": filters, "limit": FUSED_GROUPS}
    else:
        spec = fused_spec(request.spec, candidate, chunk_of(values, candidate.value))
    return FusionPlan(request, dataclasses.replace(request, spec=spec), candidate)


def alone_plan(request: ExecutionRequest, *, has_company: bool) -> FusionPlan:
    """`request` on its own; a first check among others of its family leaves their fused queries tokens."""
    if has_company:
        return FusionPlan(dataclasses.replace(request, leave_tokens=FIRST_CHECK_LEAVES))
    return FusionPlan(request)


def fused_spec(spec: Mapping[str, Any], candidate: Candidate, values: list[str]) -> dict[str, Any]:
    filters = list(spec["filters"])
    filters[candidate.index] = {"column": candidate.column, "op": "in", "value": sorted(values)}
    return {**spec, "filters": filters, "breakdowns": [candidate.column]}


def rows_of(result: QueryResult, column: str, value: str) -> list[dict[str, Any]] | None:
    """The rows `value`'s own query gives; None if the breakdown's values are not strings (then
    the column is not a string column and `=` may have compared differently than grouping)."""
    if any(not isinstance(row.get(column), str) for row in result.results):
        return None
    return [{k: v for k, v in row.items() if k != column} for row in result.results if row[column] == value]


def chunk_of(values: frozenset[str], value: str, size: int = MAX_FUSED_VALUES) -> list[str]:
    """The sorted chunk of at most `size` values that holds `value`."""
    ordered = sorted(values)
    start = ordered.index(value) // size * size
    return ordered[start : start + size]


class Fusion:
    """The rosters in the state store, read and written to plan each request."""

    def __init__(self, store: StateStore, local: LocalState) -> None:
        self.store = store
        self.wall = local.wall
        # Rosters of steps that are over no longer change: read each once per process.
        self._settled: BoundedCache[frozenset[str]] = BoundedCache(
            10_000, retention_seconds=3600.0, clock=local.wall
        )
        self._noted: BoundedCache[bool] = BoundedCache(100_000, retention_seconds=3600.0, clock=local.wall)

    async def plan(self, request: ExecutionRequest) -> FusionPlan:
        """Note `request`'s values in this step's rosters, and plan it from the earlier steps'."""
        found = candidates(request)
        known = []
        for candidate in found:
            await self._note(candidate)
            known.append((candidate, await self._known(candidate)))
        chosen = choose(known)
        if chosen is not None:
            return fused_plan(request, *chosen)
        return alone_plan(request, has_company=await self._has_company(found))

    async def _has_company(self, found: list[Candidate]) -> bool:
        """Other values of a family were checked this step or the previous ones (a fleet, not one canary)."""
        for candidate in found:
            current = await self.store.read_roster(candidate.roster(candidate.end))
            if (current | await self._known(candidate)) - {candidate.value}:
                return True
        return False

    async def _note(self, candidate: Candidate) -> None:
        key = f"{candidate.roster(candidate.end)}#{candidate.value}"
        if self._noted.value(key) is None:
            # Kept for the steps that read it, and a little longer.
            ttl = candidate.step * (PREVIOUS_STEPS + 2)
            await self.store.add_to_roster(candidate.roster(candidate.end), [candidate.value], ttl)
            self._noted.put(key, True)

    async def _known(self, candidate: Candidate) -> frozenset[str]:
        known: frozenset[str] = frozenset()
        now = self.wall()
        for back in range(1, PREVIOUS_STEPS + 1):
            end = candidate.end - back * candidate.step
            roster = candidate.roster(end)
            settled = self._settled.value(roster)
            if settled is None:
                settled = await self.store.read_roster(roster)
                # Checks of window `end` arrive during the step after it: settled once that is over.
                if now > end + candidate.step + ROSTER_SETTLE_SECONDS:
                    self._settled.put(roster, settled)
            known |= settled
        return known
