"""Query fusion: checks that differ only in one equality filter's value share one Honeycomb query.

A hundred canaries each asking `P99(duration_ms)` where `rollouts_pod_template_hash = <its own
hash>` ask one question a hundred times. `Fusion.plan` notes each check's value in its family's
*roster* for the window (a set in the state store, shared by every instance), reads what the
rosters say, and lets fusion_plan.py decide (pure): the family's one open query (the spec
without that filter, broken down by its column) answers every check of a family that has
company, from a fleet's very first checks on. The plan is an ordinary execution for the executor
(coalesced, cached, budgeted, shared through the store like any other).

The first minute of a fleet: canaries that start together note their values within milliseconds
of each other. A check whose value is new and sees no company yet looks again after
`GATHER_SECONDS` (inside its deadline) before it runs alone, so a fleet starting at one instant
is fused from its first checks too; a lone canary pays that moment once, on its first check.
Comparisons (a canary against its baseline, fused on their pair of versions) have no open query:
they are fused from their second step on (fusion_plan.py).

State-store operations per check: none once this process has answered checks of the family from
its open query in one of the last steps (a running fleet); one read, once per process and family,
to find the previous step's open query run by another instance. Otherwise (a fleet's first
minute, a lone canary): a roster write when the value is new, else every other step (once per
process); the rosters of earlier steps are read once per process once settled; this step's roster
only while the earlier ones show no company.
"""

from __future__ import annotations

import asyncio
import dataclasses

from honeycomb_evaluator.cache import BoundedCache
from honeycomb_evaluator.state.base import StateStore

from .execution import Execution, ExecutionRequest
from .fingerprint import fingerprint
from .fusion_plan import (
    Candidate,
    FusionPlan,
    Known,
    RowsByValue,
    answer_from,
    candidates,
    decide,
    may_be_cut,
    open_query_before,
    rows_by_value,
    should_gather,
)
from .local import LocalState

PREVIOUS_STEPS = 2  # rosters looked at: a check every 60 s may skip a step now and then
ROSTER_SETTLE_SECONDS = 5.0  # a step's roster may still get late additions this long after it ended
# A new value with no company looks again this much later (within its deadline): roster writes
# take milliseconds, so checks that arrive together see each other by then.
GATHER_SECONDS = 0.25
GATHER_MARGIN_SECONDS = 2.0  # time a gathered check keeps for its query
TRUNCATED_SECONDS = 3600.0  # a family whose open query was cut is fused in chunks this long


class Fusion:
    """The rosters in the state store, read and written to plan each request."""

    def __init__(self, store: StateStore, local: LocalState) -> None:
        self.store = store
        self.local = local
        self.gather_seconds = GATHER_SECONDS  # benchmarks of a single check's cost set it to 0
        # Rosters of steps that are over no longer change: read each once per process.
        self._settled: BoundedCache[frozenset[str]] = BoundedCache(
            10_000, retention_seconds=3600.0, clock=local.wall
        )
        self._noted: BoundedCache[bool] = BoundedCache(100_000, retention_seconds=3600.0, clock=local.wall)
        self._truncated: BoundedCache[bool] = BoundedCache(
            1000, retention_seconds=TRUNCATED_SECONDS, clock=local.wall
        )
        # Families whose open query answered checks here: family → that window's end.
        self._opened: BoundedCache[int] = BoundedCache(10_000, retention_seconds=3600.0, clock=local.wall)
        # Family and step for which the store had no open query of the step before.
        self._no_open: BoundedCache[bool] = BoundedCache(100_000, retention_seconds=600.0, clock=local.wall)
        # A fused result's rows by value, built once per result and column (a thousand canaries
        # read their rows out of one result).
        self._indexes: BoundedCache[RowsByValue | None] = BoundedCache(16, retention_seconds=600.0)

    async def plan(self, request: ExecutionRequest) -> FusionPlan:
        """Note `request`'s values in this step's rosters, and plan it from what they say."""
        found = candidates(request)
        for candidate in found:
            if not self._open_lately(candidate):
                await self._look_for_open_query(request, candidate)
        if any(self._open_lately(candidate) for candidate in found):
            # A running fleet: its family's open query answers it; no roster to read or write.
            opened = [Known(c, frozenset(), frozenset({c.value}), self._open_lately(c)) for c in found]
            return decide(request, opened, self._truncated)
        known = [await self._earlier(candidate) for candidate in found]
        for k in known:
            await self._note(k)
        if not any(k.company for k in known):
            # The earlier steps decide when they show company; only else is this step's read.
            known = [await self._with_current(k) for k in known]
            if should_gather(known):
                deadline = request.deadline - GATHER_MARGIN_SECONDS
                wait = min(self.gather_seconds, deadline - self.local.monotonic())
                if wait > 0:
                    await asyncio.sleep(wait)
                    known = [await self._with_current(k) for k in known]
        return decide(request, known, self._truncated)

    def answer(self, plan: FusionPlan, fused: Execution) -> Execution | None:
        """The request's answer out of its fused query's; None if it must be planned again."""
        candidate = plan.candidate
        assert candidate is not None
        if candidate.pair:
            return answer_from(plan, fused, None)  # a comparison's own two versions
        key = f"{fused.result.id}#{candidate.column}"
        hit = self._indexes.get(key)
        if hit is None:
            index = rows_by_value(fused.result, candidate.column)
            self._indexes.put(key, index)
        else:
            index = hit.value
        answer = answer_from(plan, fused, index)
        if answer is not None and plan.opened:
            self._opened.put(candidate.family, max(candidate.end, self._opened.value(candidate.family) or 0))
        return answer

    async def _look_for_open_query(self, request: ExecutionRequest, candidate: Candidate) -> None:
        """Whether another instance ran the family's open query of the previous step (one read)."""
        if (
            candidate.pair
            or candidate.family in self._truncated
            or self._no_open.value(candidate.roster(candidate.end))
        ):
            return
        previous = open_query_before(request, candidate)
        fp = fingerprint(previous.target, previous.dataset, previous.spec, previous.options)
        record = await self.store.get_execution(fp.execution_key)
        if record is not None and record.state != "claimed":
            self._opened.put(candidate.family, candidate.end - candidate.step)
        else:
            self._no_open.put(candidate.roster(candidate.end), True)  # asked once per step here

    def _open_lately(self, candidate: Candidate) -> bool:
        """The family's open query answered checks here within the last steps (and was not cut)."""
        end = self._opened.value(candidate.family)
        return (
            end is not None
            and candidate.family not in self._truncated
            and abs(candidate.end - end) <= PREVIOUS_STEPS * candidate.step
        )

    def replan(self, plan: FusionPlan, fused: Execution) -> FusionPlan:
        """The plan after its fused answer could not serve it: an open query that was cut marks
        its family (fused in chunks from now on); anything else runs alone."""
        assert plan.candidate is not None
        if plan.opened and may_be_cut(fused.result):
            self._truncated.put(plan.candidate.family, True)
            return decide(plan.alone, plan.known, self._truncated)
        return FusionPlan(plan.alone)

    async def _note(self, known: Known) -> None:
        """Add the value to this step's roster, unless the earlier steps list it and this step is
        not one of every `PREVIOUS_STEPS` (so a value checked every step stays listed, written every
        other step: half a roster write per check)."""
        candidate = known.candidate
        renewal = candidate.end // candidate.step % PREVIOUS_STEPS == 0
        if candidate.value in known.earlier and not renewal:
            return
        key = f"{candidate.roster(candidate.end)}#{candidate.value}"
        if self._noted.value(key) is None:
            # Kept for the steps that read it, and a little longer.
            ttl = candidate.step * (PREVIOUS_STEPS + 2)
            await self.store.add_to_roster(candidate.roster(candidate.end), [candidate.value], ttl)
            self._noted.put(key, True)

    async def _earlier(self, candidate: Candidate) -> Known:
        earlier: frozenset[str] = frozenset()
        now = self.local.wall()
        for back in range(1, PREVIOUS_STEPS + 1):
            end = candidate.end - back * candidate.step
            roster = candidate.roster(end)
            settled = self._settled.value(roster)
            if settled is None:
                settled = await self.store.read_roster(roster)
                # Checks of window `end` arrive during the step after it: settled once that is over.
                if now > end + candidate.step + ROSTER_SETTLE_SECONDS:
                    self._settled.put(roster, settled)
            earlier |= settled
        return Known(candidate, earlier, frozenset({candidate.value}))

    async def _with_current(self, known: Known) -> Known:
        candidate = known.candidate
        current = await self.store.read_roster(candidate.roster(candidate.end))
        return dataclasses.replace(known, current=current | {candidate.value})
