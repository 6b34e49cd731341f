"""Fusion planning, pure: which filter a check could share a query on, and the plan for it.

A check such as `P99(duration_ms)` where `rollouts_pod_template_hash = <its hash>` is one of a
*family*: the same spec with another value of that filter (another canary). fusion.py keeps, per
family and window step, a *roster* of the values checked (in the state store, shared by every
instance) and hands this module what the rosters say (`Known`); `decide` turns that into a
`FusionPlan`:

- **open**: the family has company (another value was checked this step or in the two before):
  the check is answered from the family's *open* query, the spec without that filter and broken
  down by its column. It depends on nothing but the family and the window, so every check of the
  family in that window, in any instance, asks for the same query, the first checks of a fleet
  and every new canary included. A value absent from a complete open result has no events (its
  own query gives no rows); when the result holds `FUSED_ROW_LIMIT` rows it may have been cut, and
  a value absent from it is planned again without the open query.
- **chunk**: the family's open query was cut (more groups than a result can hold): the values the
  settled rosters of earlier steps list are fused in sorted chunks of at most `MAX_FUSED_VALUES`
  (`<column> in [...]`, the same chunks in every instance). A value not listed there runs alone.
- **alone**: no company (a lone canary, which loses nothing), or nothing else fits. A first check
  among others leaves `FIRST_CHECK_LEAVES` tokens free for the queries that answer the rest.

Either fused answer is exactly the rows of the check's own query, with the breakdown column taken
out: the fused query keeps every event of the value (filters are ANDed) and groups them apart
from the others' (tests/sharing/test_fusion.py runs both against the emulator).

Not fused (the meaning could change, or nothing is gained): series requested, `limit`, `orders`,
`havings`, existing `breakdowns`, relational fields, `OR` filters, non-string values.

Comparisons (judgement/query.py) are fused on their *pair* of versions instead: a spec whose first
breakdown is the column of an `in` filter on two string values (canary, stable), with its series
and, with slices, more breakdowns (hash x dimensions), its COUNT order and its limit. Such a
family has no open query (every version of every service, times the cells, with series, would
not fit a result's 1 000 groups): the pairs the settled rosters of earlier steps list are fused
in sorted chunks of `MAX_FUSED_PAIRS` (`column in [every version of the chunk's pairs]`, the same
breakdowns, Honeycomb's 1 000 groups). A comparison takes the rows and series points of its own
two versions, exactly its own query's as long as the fused result was not cut at the limit; a cut
fused result is not used (the comparison runs its own query). A pair not listed yet (a fleet's
first minute) runs alone, leaving `FIRST_CHECK_LEAVES` tokens when it has company.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from honeycomb_evaluator.budget import uses_relational_fields
from honeycomb_evaluator.digest import digest
from honeycomb_evaluator.honeycomb.client import ResultOptions
from honeycomb_evaluator.honeycomb.results import QueryResult
from honeycomb_evaluator.window import truncation_step

from .execution import Execution, ExecutionRequest
from .fingerprint import normalize_spec, spec_columns

# Rows a fused result may hold: Honeycomb's most for a result without series (1 000 with them).
FUSED_ROW_LIMIT = 10_000
# Values of one chunk: a fused query names them all, and Honeycomb takes query bodies up to
# 100 000 bytes; 1 000 pod-template hashes are about 15 kB.
MAX_FUSED_VALUES = 1000
# Comparisons per fused query: 50 versions, 20 cells each within 1 000 groups.
MAX_FUSED_PAIRS = 25
FUSED_GROUPS = 1000  # Honeycomb's most groups with series (models/limits.py MAX_QUERY_LIMIT)
PAIR_SEPARATOR = "\n"
MAX_CANDIDATES = 3  # equality filters considered per spec (one roster write each)
UNFUSABLE_PARTS = ("breakdowns", "orders", "havings", "limit")
# A first check that runs alone while others of its family are checked too takes a token only
# while this many stay free for the queries that answer the rest of the fleet.
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
class Known:
    """What the rosters say about one candidate's family."""

    candidate: Candidate
    earlier: frozenset[str]  # values checked in the previous steps (settled: the same everywhere)
    current: frozenset[str]  # values checked in this step so far (this check's own included)
    opened: bool = False  # the family's open query answered checks here in a recent step

    @property
    def values(self) -> frozenset[str]:
        return self.earlier | self.current

    @property
    def company(self) -> bool:
        """Another value of the family was checked recently: a fleet, not a lone canary."""
        return self.opened or bool(self.values - {self.candidate.value})


@dataclass(frozen=True)
class FusionPlan:
    """How the executor answers one request: from a fused query, or on its own."""

    alone: ExecutionRequest  # run on its own (also when the fused answer cannot serve it)
    fused: ExecutionRequest | None = None  # the fused query that answers it, if any
    candidate: Candidate | None = None  # the filter it is fused on
    opened: bool = False  # `fused` is the family's open query (no filter on the column)
    known: tuple[Known, ...] = ()  # what it was decided from (to plan again without the open query)

    def serving(self, request: ExecutionRequest) -> FusionPlan:
        """This plan for an identical request: its own caller, deadline and call counts."""
        alone = dataclasses.replace(request, leave_tokens=self.alone.leave_tokens)
        if self.fused is None:
            return dataclasses.replace(self, alone=alone)
        fused = dataclasses.replace(request, spec=self.fused.spec, options=self.fused.options, leave_tokens=0)
        return dataclasses.replace(self, alone=alone, fused=fused)


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
    found = [i for i, f in enumerate(filters) if _pair_filter(f, breakdowns[0])]
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


def _pair_filter(item: Any, column: str) -> bool:
    return (
        isinstance(item, Mapping)
        and item.get("column") == column
        and item.get("op") == "in"
        and isinstance(item.get("value"), list)
        and len(item["value"]) == 2
        and all(isinstance(v, str) and PAIR_SEPARATOR not in v for v in item["value"])
    )


def _fusable_filter(item: Any) -> bool:
    return (
        isinstance(item, Mapping)
        and item.get("op") == "="
        and isinstance(item.get("column"), str)
        and isinstance(item.get("value"), str)
    )


def should_gather(known: Sequence[Known]) -> bool:
    """A value never checked before, with no company yet: look again in a moment before running
    alone (a fleet starting at once notes its values within milliseconds of each other)."""
    # A comparison's pair never gathers: pairs are fused only from settled rosters (no open query).
    return bool(known) and not any(
        k.candidate.pair or k.company or k.candidate.value in k.earlier for k in known
    )


def decide(request: ExecutionRequest, known: Sequence[Known], truncated: Container[str] = ()) -> FusionPlan:
    """The plan for `request` from what the rosters say; `truncated`: families whose open query
    holds more groups than a result can (they are fused in chunks of values instead)."""
    chosen: Known | None = None
    for k in known:
        # Of several, the family already open, else the filter whose value varies most (a
        # pod-template hash, not a service name).
        if k.company and (chosen is None or (k.opened, len(k.values)) > (chosen.opened, len(chosen.values))):
            chosen = k
    if chosen is None:
        return FusionPlan(request)
    candidate = chosen.candidate
    if not candidate.pair and candidate.family not in truncated:
        spec = open_spec(request.spec, candidate)
        return _fused(request, spec, candidate, opened=True, known=tuple(known))
    if candidate.value in chosen.earlier and len(chosen.earlier) > 1:
        if candidate.pair:
            pairs = chunk_of(chosen.earlier, candidate.value, MAX_FUSED_PAIRS)
            fused = dataclasses.replace(
                request, spec=pairs_spec(request.spec, candidate, pairs), leave_tokens=0
            )
            return FusionPlan(request, fused, candidate, known=tuple(known))
        spec = fused_spec(request.spec, candidate, chunk_of(chosen.earlier, candidate.value))
        return _fused(request, spec, candidate, opened=False, known=tuple(known))
    return FusionPlan(dataclasses.replace(request, leave_tokens=FIRST_CHECK_LEAVES))


def fused_options() -> ResultOptions:
    """How every fused query's result is created: no series, as many rows as Honeycomb allows."""
    return ResultOptions(disable_series=True, limit=FUSED_ROW_LIMIT)


def open_query_before(request: ExecutionRequest, candidate: Candidate) -> ExecutionRequest:
    """The family's open query of the window one step before `request`'s."""
    spec = open_spec(request.spec, candidate)
    spec["start_time"] -= candidate.step
    spec["end_time"] -= candidate.step
    return dataclasses.replace(request, spec=spec, options=fused_options(), leave_tokens=0)


def _fused(
    request: ExecutionRequest,
    spec: dict[str, Any],
    candidate: Candidate,
    *,
    opened: bool,
    known: tuple[Known, ...],
) -> FusionPlan:
    fused = dataclasses.replace(request, spec=spec, options=fused_options(), leave_tokens=0)
    return FusionPlan(request, fused, candidate, opened, known)


def open_spec(spec: Mapping[str, Any], candidate: Candidate) -> dict[str, Any]:
    """The family's query: without the candidate's filter, broken down by its column."""
    filters = [f for i, f in enumerate(spec["filters"]) if i != candidate.index]
    out = {**spec, "breakdowns": [candidate.column]}
    if filters:
        out["filters"] = filters
    else:
        out.pop("filters", None)
        out.pop("filter_combination", None)
    return out


def fused_spec(spec: Mapping[str, Any], candidate: Candidate, values: list[str]) -> dict[str, Any]:
    filters = list(spec["filters"])
    filters[candidate.index] = {"column": candidate.column, "op": "in", "value": sorted(values)}
    return {**spec, "filters": filters, "breakdowns": [candidate.column]}


def pairs_spec(spec: Mapping[str, Any], candidate: Candidate, pairs: list[str]) -> dict[str, Any]:
    """A comparison's query for every version of `pairs`, with Honeycomb's most groups."""
    versions = sorted({v for pair in pairs for v in pair.split(PAIR_SEPARATOR)})
    filters = list(spec["filters"])
    filters[candidate.index] = {"column": candidate.column, "op": "in", "value": versions}
    return {**spec, "filters": filters, "limit": FUSED_GROUPS}


def chunk_of(values: frozenset[str], value: str, size: int | None = None) -> list[str]:
    """The sorted chunk of at most `size` (MAX_FUSED_VALUES) values that holds `value`."""
    size = size or MAX_FUSED_VALUES  # read when called: tests make chunks small
    ordered = sorted(values)
    start = ordered.index(value) // size * size
    return ordered[start : start + size]


RowsByValue = dict[str, list[dict[str, Any]]]


def rows_by_value(result: QueryResult, column: str) -> RowsByValue | None:
    """A fused result's rows by the value of `column`, that column taken out.

    A row without the column is the group of events that lack it, which no `=` filter matches.
    None when a value is not a string: the column is not a string column, and `=` may have
    compared differently than grouping did (the check then runs on its own).
    """
    index: RowsByValue = {}
    for row in result.results:
        value = row.get(column)
        if value is None:
            continue
        if not isinstance(value, str):
            return None
        index.setdefault(value, []).append({k: v for k, v in row.items() if k != column})
    return index


def may_be_cut(result: QueryResult) -> bool:
    """The result holds as many rows as it may: groups beyond them were left out."""
    return len(result.results) >= FUSED_ROW_LIMIT


def answer_from(plan: FusionPlan, fused: Execution, index: RowsByValue | None) -> Execution | None:
    """The request's own answer out of the fused query's (`index`: its `rows_by_value`); None if
    it must be planned again (an open result that may be cut) or run on its own."""
    assert plan.candidate is not None
    if plan.candidate.pair:
        return pair_answer(fused, plan.candidate)
    if index is None:
        return None
    rows = index.get(plan.candidate.value)
    if rows is None and plan.opened and may_be_cut(fused.result):
        return None
    result = dataclasses.replace(fused.result, results=list(rows or []), series=[])
    return Execution(result=result, query_id=fused.query_id, served=fused.served, fused=True)


def pair_answer(fused: Execution, candidate: Candidate) -> Execution | None:
    """A comparison's rows and series points out of the fused result, unless it was cut."""
    result = fused.result
    cut = len(result.results) >= FUSED_GROUPS or bool((result.other or {}).get("COUNT"))
    versions = set(candidate.value.split(PAIR_SEPARATOR))
    if cut or any(not isinstance(row.get(candidate.column), str) for row in result.results):
        return None
    rows = [row for row in result.results if row[candidate.column] in versions]
    series = [p for p in result.series if p.get("data", {}).get(candidate.column) in versions]
    own = dataclasses.replace(result, results=rows, series=series)
    return Execution(result=own, query_id=fused.query_id, served=fused.served, fused=True)
