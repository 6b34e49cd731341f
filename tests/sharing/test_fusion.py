"""Query fusion (issues 12, 24): a fused answer is exactly the unfused answer, against the real emulator.

Two executors on the same emulator: one fuses, one never does. For generated canary queries
(calculations, extra filters, values that have data and values that have none) every value's
rows from the fused executor equal the rows of its own query, and the fused executor creates one
query result per query family instead of one per value: the family's open query, or, when that
was cut at the row limit, chunks of the values known.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from honeycomb_evaluator.budget import RateBudget
from honeycomb_evaluator.honeycomb.client import HoneycombClient, ResultOptions
from honeycomb_evaluator.settings import BudgetSettings
from honeycomb_evaluator.sharing import fusion_plan
from honeycomb_evaluator.sharing.execution import ExecutionRequest
from honeycomb_evaluator.sharing.executor import SharedExecutor
from honeycomb_evaluator.sharing.fusion_plan import candidates
from honeycomb_evaluator.state.memory import MemoryStore
from honeycomb_evaluator.target import HoneycombTarget
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.evaluations import VERSIONS, created, emulator_query, reset_emulator
from tests.support.servers import DEFAULT_EMULATOR_KEY, Server, start_emulator

pytestmark = pytest.mark.servers

HASH = "rollouts_pod_template_hash"
CALCULATIONS = [
    [{"op": "P99", "column": "duration_ms"}],
    [{"op": "AVG", "column": "is_error"}],
    [{"op": "COUNT"}, {"op": "MAX", "column": "duration_ms"}, {"op": "HEATMAP", "column": "duration_ms"}],
    [{"op": "COUNT_DISTINCT", "column": "service.version"}, {"op": "P50", "column": "duration_ms"}],
]
EXTRA_FILTERS = [
    [],
    [{"column": "service.name", "op": "=", "value": "checkout"}],
    [{"column": "duration_ms", "op": ">", "value": 100}],
    [{"column": "error", "op": "=", "value": True}],
]


@pytest.fixture(scope="module")
def emulator() -> Iterator[Server]:
    with start_emulator("--demo", "--result-delay-ms", "50", "--rate-limit-per-minute", "100000") as server:
        yield server


def request(emulator: Server, spec: dict[str, Any]) -> ExecutionRequest:
    return ExecutionRequest(
        target=HoneycombTarget.build(DEFAULT_EMULATOR_KEY, emulator.url, "default"),
        dataset="checkout",
        spec=spec,
        options=ResultOptions(disable_series=True),
        max_age_seconds=0,
        deadline=time.monotonic() + 20,
    )


def spec_for(
    calculations: list[dict[str, Any]], extra: list[dict[str, Any]], value: str, end: int
) -> dict[str, Any]:
    return {
        "calculations": calculations,
        "calculated_fields": [{"name": "is_error", "expression": "IF($error, 1, 0)"}],
        "filters": [{"column": HASH, "op": "=", "value": value}, *extra],
        "start_time": end - 600,
        "end_time": end,
    }


def executor(client: HoneycombClient, fuse: bool) -> SharedExecutor:
    store = MemoryStore()
    return SharedExecutor(client, store, RateBudget(store, BudgetSettings(per_window=100000)), fuse=fuse)


async def remember_checked(fusing: SharedExecutor, requests: list[ExecutionRequest]) -> None:
    """As if these checks had run one step earlier: their values are in the family's roster."""
    for req in requests:
        for candidate in candidates(req):
            earlier = candidate.roster(candidate.end - candidate.step)
            await fusing.machinery.store.add_to_roster(earlier, [candidate.value], 600)


Work = Callable[[SharedExecutor, SharedExecutor], Awaitable[None]]


def with_executors(work: Work) -> None:
    """Run `work(fusing, alone)`: two executors on one client, one fusing and one never."""

    async def run() -> None:
        client = HoneycombClient()
        try:
            await work(executor(client, fuse=True), executor(client, fuse=False))
        finally:
            await client.aclose()

    asyncio.run(run())


def assert_fused_equals_unfused(
    emulator: Server, calculations: list[dict[str, Any]], extra: list[dict[str, Any]], values: list[str]
) -> None:
    end = int(time.time()) // 60 * 60 - 60 * len(values)  # a settled window of its own

    async def work(fusing: SharedExecutor, alone: SharedExecutor) -> None:
        requests = [request(emulator, spec_for(calculations, extra, v, end)) for v in values]
        await remember_checked(fusing, requests)
        before = created(emulator.url)
        fused = await asyncio.gather(*(fusing.execute(r) for r in requests))
        assert created(emulator.url) - before == 1  # one query for every value
        for req, answer in zip(requests, fused, strict=True):
            own = await alone.execute(req)
            assert answer.result.results == own.result.results, req.spec["filters"]

    with_executors(work)


VALUES = st.lists(
    st.sampled_from([*VERSIONS.values(), "no-such-hash", "f00d"]), min_size=2, max_size=6, unique=True
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(calculations=st.sampled_from(CALCULATIONS), extra=st.sampled_from(EXTRA_FILTERS), values=VALUES)
def test_a_fused_answer_equals_the_unfused_answer(
    emulator: Server, calculations: list[dict[str, Any]], extra: list[dict[str, Any]], values: list[str]
) -> None:
    assert_fused_equals_unfused(emulator, calculations, extra, values)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(calculations=st.sampled_from(CALCULATIONS), extra=st.sampled_from(EXTRA_FILTERS), values=VALUES)
def test_when_the_open_query_is_cut_known_values_are_fused_in_chunks(
    emulator: Server,
    calculations: list[dict[str, Any]],
    extra: list[dict[str, Any]],
    values: list[str],
) -> None:
    end = int(time.time()) // 60 * 60 - 7200 - 60 * len(values)

    async def work(fusing: SharedExecutor, alone: SharedExecutor) -> None:
        requests = [request(emulator, spec_for(calculations, extra, v, end)) for v in values]
        await remember_checked(fusing, requests)
        answers = [await fusing.execute(r) for r in requests]  # one by one: cut, then chunks
        for req, answer in zip(requests, answers, strict=True):
            own = await alone.execute(req)
            assert answer.result.results == own.result.results, req.spec["filters"]

    # Row limits of one row per chunk value, so the demo's few groups already fill an open result.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fusion_plan, "FUSED_ROW_LIMIT", 2)
        patch.setattr(fusion_plan, "MAX_FUSED_VALUES", 2)
        with_executors(work)


def test_a_new_value_beside_known_ones_is_answered_by_the_open_query_at_once(emulator: Server) -> None:
    end = int(time.time()) // 60 * 60 - 3600
    calculations = CALCULATIONS[0]

    async def work(fusing: SharedExecutor, _: SharedExecutor) -> None:
        reset_emulator(emulator.url)
        known = [request(emulator, spec_for(calculations, [], v, end)) for v in ("a1", "a2")]
        await remember_checked(fusing, known)
        new = request(emulator, spec_for(calculations, [], VERSIONS["bad"], end))
        answers = await asyncio.gather(*(fusing.execute(r) for r in [*known, new]))
        assert created(emulator.url) == 1  # one open query: the new canary's first check too
        assert answers[2].result.results and answers[0].result.results == []
        spec = emulator_query(emulator.url, "checkout", answers[2].query_id)
        assert spec["breakdowns"] == [HASH] and "filters" not in spec
        # One step later: one query again.
        later = [
            dataclasses.replace(r, spec={**r.spec, "start_time": end - 540, "end_time": end + 60})
            for r in [*known, new]
        ]
        await asyncio.gather(*(fusing.execute(r) for r in later))
        assert created(emulator.url) == 2

    with_executors(work)


def test_a_fleet_starting_together_is_fused_from_its_first_checks(emulator: Server) -> None:
    end = int(time.time()) // 60 * 60 - 5400

    async def work(fusing: SharedExecutor, _: SharedExecutor) -> None:
        reset_emulator(emulator.url)
        # Nothing was checked before: no roster knows any of them.
        fleet = [
            request(emulator, spec_for(CALCULATIONS[1], [], v, end)) for v in [*VERSIONS.values(), "f00d"]
        ]
        await asyncio.gather(*(fusing.execute(r) for r in fleet))
        assert created(emulator.url) == 1

    with_executors(work)


def test_a_lone_canary_runs_its_own_query(emulator: Server) -> None:
    end = int(time.time()) // 60 * 60 - 4800

    async def work(fusing: SharedExecutor, _: SharedExecutor) -> None:
        reset_emulator(emulator.url)
        answer = await fusing.execute(request(emulator, spec_for(CALCULATIONS[0], [], VERSIONS["bad"], end)))
        assert created(emulator.url) == 1
        spec = emulator_query(emulator.url, "checkout", answer.query_id)
        assert "breakdowns" not in spec and spec["filters"][0]["value"] == VERSIONS["bad"]

    with_executors(work)


def comparison_request(emulator: Server, canary: str, end: int, slices: list[str] | None) -> ExecutionRequest:
    """A comparison's one query, planned as the evaluator plans it (judgement/query.py)."""
    from honeycomb_evaluator.judgement.query import plan_comparison
    from honeycomb_evaluator.models.request import EvaluateRequest

    body: dict[str, Any] = {
        "dataset": "checkout",
        "query": {
            "calculated_fields": [{"name": "is_error", "expression": "IF($error, 1, 0)"}],
            "calculations": [{"op": "AVG", "column": "duration_ms"}, {"op": "AVG", "column": "is_error"}],
            "granularity": 60,
            "start_time": end - 600,
            "end_time": end,
        },
        "compare": {"column": HASH, "canary": canary, "baseline": VERSIONS["stable"]},
        "judge": {},
        "select": {"calculation": "AVG(duration_ms)"},
    }
    if slices is not None:
        body["slices"] = {"dimensions": slices}
    evaluate = EvaluateRequest.model_validate(body)
    plan = plan_comparison(evaluate, "AVG(duration_ms)")
    return dataclasses.replace(
        request(emulator, plan.query.honeycomb_body(end - 600, end)),
        options=ResultOptions(disable_series=False, other_by_aggregate=slices is not None),
    )


def _sorted(items: list[dict[str, Any]]) -> list[str]:
    import json

    return sorted(json.dumps(i, sort_keys=True) for i in items)


@pytest.mark.parametrize(
    ("slices", "fused_runs", "minutes_ago"),
    [(None, 1, 2), (["http.route", "user.plan"], 1, 3), (["trace.span_id"], 5, 4)],
    ids=["whole", "hash x dimensions", "past the group limit"],
)
def test_comparisons_that_differ_only_in_their_hashes_share_one_query(
    emulator: Server, slices: list[str] | None, fused_runs: int, minutes_ago: int
) -> None:
    """Every comparison's rows and series from the fused query equal its own query's; a fused
    result cut at Honeycomb's 1,000 groups is not used (each comparison then runs its own)."""
    end = int(time.time()) // 60 * 60 - 60 * minutes_ago  # a settled window of each case's own
    canaries = [VERSIONS["bad"], VERSIONS["good"], "2e4f6a8c0", "no-such-hash"]

    async def work(fusing: SharedExecutor, alone: SharedExecutor) -> None:
        requests = [comparison_request(emulator, c, end, slices) for c in canaries]
        assert all(candidates(r) and candidates(r)[0].pair for r in requests)
        await remember_checked(fusing, requests)
        before = created(emulator.url)
        fused = await asyncio.gather(*(fusing.execute(r) for r in requests))
        assert created(emulator.url) - before == fused_runs
        for req, answer in zip(requests, fused, strict=True):
            own = await alone.execute(req)
            assert _sorted(answer.result.results) == _sorted(own.result.results)
            assert _sorted(answer.result.series) == _sorted(own.result.series)

    with_executors(work)
