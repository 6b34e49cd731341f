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
(coalesced, cached, budgeted, shared through the store like any other). A value checked for the
first time (a new canary) runs its own query once; from the next step on it is fused. When
other values of its family are being checked too (a fleet, not a lone canary), that first query
takes a token only while `FIRST_CHECK_LEAVES` stay free for their fused queries.

Not fused (the meaning could change, or nothing is gained): series requested, `limit`, `orders`,
`havings`, existing `breakdowns`, relational fields, `OR` filters, non-string values, a result
limit. Values are fused in chunks of at most `MAX_FUSED_VALUES` (sorted, so chunks are the same
everywhere), well under Honeycomb's 1 000 rows of a result.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from honeycomb_evaluator.cache import BoundedCache
from honeycomb_evaluator.digest import digest
from honeycomb_evaluator.honeycomb.client import HoneycombClient
from honeycomb_evaluator.honeycomb.results import QueryResult
from honeycomb_evaluator.window import truncation_step

from .execution import Execution, ExecutionRequest
from .fingerprint import normalize_spec, spec_columns
from .ratelimit import uses_relational_fields

if TYPE_CHECKING:
    from .executor import SharedExecutor

MAX_FUSED_VALUES = 100
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

    def roster(self, end: int) -> str:
        return f"{self.family}#{end}"


def candidates(request: ExecutionRequest) -> list[Candidate]:
    """The equality filters `request` could be fused on; none when fusing could change its meaning."""
    spec = request.spec
    start, end = spec.get("start_time"), spec.get("end_time")
    filters = spec.get("filters") or []
    if (
        not request.options.disable_series
        or request.options.limit is not None
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


def chunk_of(values: frozenset[str], value: str) -> list[str]:
    """The sorted chunk of at most MAX_FUSED_VALUES values that holds `value`."""
    ordered = sorted(values)
    start = ordered.index(value) // MAX_FUSED_VALUES * MAX_FUSED_VALUES
    return ordered[start : start + MAX_FUSED_VALUES]


class Fusion:
    """The executor's fusion step: rosters in the state store, fused executions through the executor."""

    def __init__(self, executor: SharedExecutor) -> None:
        self.executor = executor
        self.store = executor.store
        # Rosters of steps that are over no longer change: read each once per process.
        self._settled: BoundedCache[frozenset[str]] = BoundedCache(
            10_000, retention_seconds=3600.0, clock=executor.wall
        )
        self._noted: BoundedCache[bool] = BoundedCache(100_000, retention_seconds=3600.0, clock=executor.wall)

    async def answer(
        self, client: HoneycombClient, request: ExecutionRequest
    ) -> Execution | ExecutionRequest:
        """`request` answered from a fused query, or the request to run on its own instead."""
        chosen: tuple[Candidate, frozenset[str]] | None = None
        found = candidates(request)
        for candidate in found:
            await self._note(candidate)
            known = await self._known(candidate)
            # The filter whose value varies most is the one to fuse on (a hash, not a service name).
            if (
                candidate.value in known
                and len(known) > 1
                and (chosen is None or len(known) > len(chosen[1]))
            ):
                chosen = candidate, known
        if chosen is None:
            if await self._has_company(found):
                # A first check among others of its family: their fused queries go first.
                return dataclasses.replace(request, leave_tokens=FIRST_CHECK_LEAVES)
            return request
        candidate, known = chosen
        spec = fused_spec(request.spec, candidate, chunk_of(known, candidate.value))
        fused = await self.executor.execute_alone(client, dataclasses.replace(request, spec=spec))
        rows = rows_of(fused.result, candidate.column, candidate.value)
        if rows is None:
            return request
        result = dataclasses.replace(fused.result, results=rows, series=[])
        return Execution(result=result, query_id=fused.query_id, served=fused.served, fused=True)

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
        now = self.executor.wall()
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
