"""Fusion's rosters (sharing/fusion.py) on the memory store: what a plan reads and writes.

A running fleet's check costs no state-store operation once its instance has answered the family
from its open query, and one read per instance and family to find another instance's; before
that, at most half a roster write and no read of this step's roster. A fleet starting together
sees itself within the gathering moment; a lone canary runs alone.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence

from honeycomb_evaluator.honeycomb.client import ResultOptions
from honeycomb_evaluator.honeycomb.results import QueryResult
from honeycomb_evaluator.sharing.execution import Execution, ExecutionRequest, Served
from honeycomb_evaluator.sharing.fingerprint import fingerprint
from honeycomb_evaluator.sharing.fusion import Fusion
from honeycomb_evaluator.sharing.fusion_plan import candidates
from honeycomb_evaluator.sharing.local import LocalState
from honeycomb_evaluator.state.base import ExecutionRecord
from honeycomb_evaluator.state.memory import MemoryStore
from honeycomb_evaluator.target import HoneycombTarget

HASH = "rollouts_pod_template_hash"
TARGET = HoneycombTarget.build("k", "http://x", "default")


class CountingStore(MemoryStore):
    """The memory store, counting the roster operations asked of it (as a shared store runs them)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()
        self._writing = False

    async def add_to_roster(self, roster: str, values: Sequence[str], ttl_seconds: float) -> None:
        self.calls["write"] += 1
        self._writing = True  # the memory store reads the roster to add to it: not a read asked for
        try:
            await super().add_to_roster(roster, values, ttl_seconds)
        finally:
            self._writing = False

    async def read_roster(self, roster: str) -> frozenset[str]:
        self.calls["read"] += not self._writing
        return await super().read_roster(roster)

    async def get_execution(self, execution_key: str) -> ExecutionRecord | None:
        self.calls["execution"] += 1
        return await super().get_execution(execution_key)


def check(value: str, end: int) -> ExecutionRequest:
    spec = {
        "calculations": [{"op": "P99", "column": "duration_ms"}],
        "filters": [{"column": HASH, "op": "=", "value": value}],
        "start_time": end - 600,
        "end_time": end,
    }
    return ExecutionRequest(
        TARGET, "checkout", spec, ResultOptions(disable_series=True), 0, time.monotonic() + 10
    )


def fusion_at(store: MemoryStore, now: float) -> Fusion:
    fusion = Fusion(store, LocalState(wall_clock=lambda: now))
    fusion.gather_seconds = 0.01
    return fusion


def test_a_running_fleet_writes_each_value_every_other_step_and_never_reads_this_steps_roster() -> None:
    end = 60 * 1001  # an odd step: a listed value is not written again
    fleet = [f"h{i}" for i in range(5)]

    async def run() -> None:
        store = CountingStore()
        for step in (2, 1):  # the two earlier steps list the fleet
            earlier = candidates(check("h0", end - 60 * step))[0]
            await store.add_to_roster(earlier.roster(earlier.end), fleet, 600)
        fusion = fusion_at(store, end + 30)
        store.calls.clear()
        plans = [await fusion.plan(check(v, end)) for v in [*fleet, "new"]]
        assert all(p.opened for p in plans)
        # The earlier rosters once, the new value's write, and one look for an open query of the
        # step before (another instance's): none ran.
        assert store.calls == {"read": 2, "write": 1, "execution": 1}
        roster = candidates(check("h0", end))[0].roster(end)
        assert await store.read_roster(roster) == {"new"}
        # One step later (an even one) every value is listed again: one write each.
        later = fusion_at(store, end + 90)
        store.calls.clear()
        for v in fleet:
            await later.plan(check(v, end + 60))
        assert store.calls["write"] == len(fleet)

    asyncio.run(run())


def test_a_fleet_starting_together_is_planned_onto_its_open_query() -> None:
    end = 60 * 2000

    async def run() -> None:
        store = CountingStore()
        fusion = fusion_at(store, end + 5)
        plans = await asyncio.gather(*(fusion.plan(check(f"h{i}", end)) for i in range(20)))
        assert all(p.opened for p in plans)
        assert len({p.fused.spec["breakdowns"][0] for p in plans if p.fused is not None}) == 1

    asyncio.run(run())


def test_a_lone_canary_runs_alone_and_waits_only_on_its_first_check() -> None:
    end = 60 * 3000

    async def run() -> None:
        store = CountingStore()
        fusion = fusion_at(store, end + 5)
        fusion.gather_seconds = 0.3
        started = time.monotonic()
        first = await fusion.plan(check("only", end))
        assert first.fused is None and time.monotonic() - started >= 0.3
        later = fusion_at(store, end + 65)
        later.gather_seconds = 0.3
        started = time.monotonic()
        second = await later.plan(check("only", end + 60))
        assert second.fused is None and time.monotonic() - started < 0.3

    asyncio.run(run())


def test_once_an_instance_answered_a_family_from_its_open_query_its_checks_cost_no_store_operation() -> None:
    end = 60 * 4001

    async def run() -> None:
        store = CountingStore()
        fusion = fusion_at(store, end + 5)
        plans = await asyncio.gather(*(fusion.plan(check(f"h{i}", end)) for i in range(5)))
        result = QueryResult("r", True, [{HASH: f"h{i}", "P99(duration_ms)": i} for i in range(5)])
        for plan in plans:
            assert fusion.answer(plan, Execution(result, "q", Served.CREATED)) is not None
        store.calls.clear()
        for step in (1, 2):  # the next steps, checked by the same fleet and a new canary
            later = [await fusion.plan(check(v, end + 60 * step)) for v in ["new", "h1", "h2"]]
            assert all(p.opened for p in later)
        assert store.calls == {}

    asyncio.run(run())


def test_an_instance_finds_the_open_query_another_ran_the_step_before_with_one_read() -> None:
    end = 60 * 5001

    async def run() -> None:
        store = CountingStore()
        other = fusion_at(store, end + 5)
        plan = (await asyncio.gather(*(other.plan(check(f"h{i}", end)) for i in range(3))))[0]
        assert plan.fused is not None
        fp = fingerprint(TARGET, "checkout", plan.fused.spec, plan.fused.options)
        claim = await store.claim(
            fp.execution_key, seen=None, owner="other:1", lease_until=end + 60, ttl_seconds=60
        )
        assert claim is not None
        await store.set_pending(fp.execution_key, claim, query_id="q", result_id="r", created_at=end + 6)
        fresh = fusion_at(store, end + 65)
        store.calls.clear()
        later = [await fresh.plan(check(f"h{i}", end + 60)) for i in range(3)]
        assert all(p.opened for p in later)
        assert store.calls == {"execution": 1}

    asyncio.run(run())
