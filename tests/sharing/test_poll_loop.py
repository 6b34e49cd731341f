"""The shared executor's poll loop follows the client's schedule (cold and learned per query shape).

Against the real emulator, with the real client; only the order of calls is checked, never time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterator

import pytest
from honeycomb_emulator.demo import DEMO_HASHES
from honeycomb_evaluator.budget import RateBudget
from honeycomb_evaluator.honeycomb.client import HoneycombClient, ResultOptions, Scope
from honeycomb_evaluator.honeycomb.results import QueryResult
from honeycomb_evaluator.sharing.execution import ExecutionRequest
from honeycomb_evaluator.sharing.executor import SharedExecutor
from honeycomb_evaluator.state.memory import MemoryStore
from honeycomb_evaluator.target import HoneycombTarget

from tests.support.servers import DEFAULT_EMULATOR_KEY, Server, start_emulator

pytestmark = pytest.mark.servers


class RecordingClient(HoneycombClient):
    """The real client, noting each call of interest in order."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    async def create_query_result(self, scope: Scope, query_id: str, options: ResultOptions) -> QueryResult:
        result = await super().create_query_result(scope, query_id, options)
        self.calls.append("create")
        return result

    async def get_query_result(self, scope: Scope, result_id: str) -> QueryResult:
        result = await super().get_query_result(scope, result_id)
        self.calls.append("get")
        return result

    def poll_delay(self, result_id: str, waited: float) -> float:
        expected = self.tracker.expected(result_id)
        self.calls.append("cold" if expected is None else "warm")
        delay: float = super().poll_delay(result_id, waited)
        return delay


@pytest.fixture(scope="module")
def emulator() -> Iterator[Server]:
    with start_emulator("--demo", "--result-delay-ms", "300", "--rate-limit-per-minute", "1000") as server:
        yield server


def request_for(emulator: Server, earlier: int = 0) -> ExecutionRequest:
    now = int(time.time()) - earlier
    return ExecutionRequest(
        target=HoneycombTarget.build(DEFAULT_EMULATOR_KEY, emulator.url, "default"),
        dataset="checkout",
        spec={"calculations": [{"op": "COUNT"}], "start_time": now - 600, "end_time": now},
        options=ResultOptions(disable_series=True),
        max_age_seconds=0,
        deadline=time.monotonic() + 10,
    )


def test_a_created_result_waits_for_the_schedule_and_a_repeated_shape_uses_what_it_learned(
    emulator: Server,
) -> None:
    async def run() -> tuple[list[str], list[str]]:
        client = RecordingClient()
        store = MemoryStore()
        executor = SharedExecutor(client, store, RateBudget(store))
        try:
            await executor.execute(request_for(emulator))
            first, client.calls = client.calls, []
            await executor.execute(request_for(emulator, earlier=60))  # another window
            return first, client.calls
        finally:
            await client.aclose()

    first, second = asyncio.run(run())
    # Never a GET right after creating: the result was running a moment ago.
    assert first[:2] == ["create", "cold"], first
    assert first[-1] == "get" and "warm" not in first, first
    # The same query shape again: the schedule knows its run time.
    assert second[:2] == ["create", "warm"], second


def canary_request(emulator: Server, pod_hash: str) -> ExecutionRequest:
    request = request_for(emulator)
    spec = {
        **request.spec,
        "filters": [{"column": "rollouts_pod_template_hash", "op": "=", "value": pod_hash}],
    }
    return dataclasses.replace(request, spec=spec)


def test_a_new_rollouts_first_check_uses_what_the_previous_rollouts_check_taught(emulator: Server) -> None:
    """Only the pod-template hash differs: a new shape of a known family, so no cold schedule."""

    async def run() -> tuple[list[str], list[str], list[str]]:
        client = RecordingClient()
        store = MemoryStore()
        # Unfused: fused, the second hash would be answered by the family's open query (a shape of
        # its own, learnt the first time it runs; test_fusion.py covers it).
        executor = SharedExecutor(client, store, RateBudget(store), fuse=False)
        try:
            await executor.execute(canary_request(emulator, DEMO_HASHES["bad"]))
            first, client.calls = client.calls, []
            await executor.execute(canary_request(emulator, "5c6b8f9d7"))
            rollout, client.calls = client.calls, []
            other_kind = request_for(emulator)  # no filter at all: another family
            await executor.execute(dataclasses.replace(other_kind, spec={**other_kind.spec, "limit": 7}))
            return first, rollout, client.calls
        finally:
            await client.aclose()

    first, rollout, other = asyncio.run(run())
    assert first[:2] == ["create", "cold"], first
    assert rollout[:2] == ["create", "warm"] and "cold" not in rollout, rollout
    assert other[:2] == ["create", "cold"], other
