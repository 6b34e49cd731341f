"""Several evaluator processes sharing one state (a DynamoDB table on moto, or a real redis-server):
one result, one budget."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.evaluations import (
    VERSIONS,
    created,
    evaluation,
    pinned,
    rate_limited,
    reset_emulator,
    write_registry,
)
from tests.support.servers import Server, start_emulator
from tests.support.shared_state import SHARED_BACKENDS, SharedState, evaluators_sharing_state, shared_state

pytestmark = pytest.mark.servers

TOKEN = "token-cluster-a"


Infra = tuple[Server, SharedState, Path]


@pytest.fixture(scope="module", params=SHARED_BACKENDS)
def state(request: pytest.FixtureRequest) -> Iterator[SharedState]:
    with shared_state(request.param) as backend:
        yield backend


@pytest.fixture
def infra(state: SharedState, tmp_path: Path) -> Iterator[Infra]:
    registry = tmp_path / "callers.json"
    write_registry(registry, ["cluster-a"])
    # An emulator per test: the counts asserted on are its own.
    with start_emulator("--demo", "--result-delay-ms", "1500") as emulator:
        yield emulator, state, registry


@contextlib.contextmanager
def fleet(infra: Infra, count: int, **extra: str) -> Iterator[list[Server]]:
    """`count` evaluators on a fresh shared state; each server's extra["state"] is its namespace."""
    emulator, state, registry = infra
    state_env = state.fresh()
    with evaluators_sharing_state(emulator, state_env, registry, count, **extra) as servers:
        for server in servers:
            server.extra.update(state_env)
        yield servers


async def spread(servers: list[Server], bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(timeout=60) as client:
        calls = [
            client.post(servers[i % len(servers)].url + "/v1/evaluate", json=body, headers=headers)
            for i, body in enumerate(bodies)
        ]
        return list(await asyncio.gather(*calls))


def post(server: Server, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        server.url + "/v1/evaluate", json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
    )


def test_instances_share_one_result_and_its_cache(infra: Infra) -> None:
    emulator, state, _ = infra
    reset_emulator(emulator.url)
    with fleet(infra, 2) as (a, b):
        body = pinned(evaluation(VERSIONS["bad"], time_range=1800, max_age_seconds=120))
        answers = asyncio.run(spread([a, b], [body] * 20))
        assert [r.status_code for r in answers] == [200] * 20, answers[0].text
        assert len({r.json()["query_result_id"] for r in answers}) == 1
        assert created(emulator.url) == 1
        # Later, on either instance: the completed result comes from the table.
        again = post(b, body)
        assert again.status_code == 200 and again.json()["cached"] is True
        assert created(emulator.url) == 1
        # The shared state holds digests, ids and results, never the Honeycomb key.
        stored = state.dump(a.extra)
        assert stored and emulator.extra["api_key"].encode() not in stored


def test_another_instance_resumes_a_pending_result(infra: Infra) -> None:
    emulator = infra[0]
    with fleet(infra, 2) as (a, b):
        # Warm both instances (clients, connections) so the short deadline below is spent waiting
        # for the result (1.5 s in this emulator), not on a first connection.
        for server in (a, b):
            assert post(server, evaluation(VERSIONS["none"], time_range=2460)).status_code == 200
        reset_emulator(emulator.url)
        body = pinned(evaluation(VERSIONS["good"], time_range=2400))
        first = post(a, {**body, "timeout_seconds": 1})
        assert first.status_code == 504, first.text
        second = post(b, body)  # Argo's retry landed on another instance
        assert second.status_code == 200, second.text
        assert second.json()["cached"] is True
        assert created(emulator.url) == 1


def test_instances_share_one_rate_budget(infra: Infra) -> None:
    emulator = infra[0]
    reset_emulator(emulator.url)
    limits = {
        "EVALUATOR_RATE_LIMIT_PER_MINUTE": "3",
        "EVALUATOR_RATE_HEADROOM": "0",
    }
    with fleet(infra, 2, **limits) as servers:
        bodies = [evaluation(VERSIONS["stable"], time_range=3000 + 60 * i) for i in range(6)]
        answers = [post(servers[i % 2], body) for i, body in enumerate(bodies)]
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200, 200, 200, 503, 503, 503]
    assert all(r.json()["error"]["code"] == "rate_limited" for r in answers if r.status_code == 503)
    assert created(emulator.url) == 3 and rate_limited(emulator.url) == 0


def test_an_abandoned_claim_is_taken_over(infra: Infra) -> None:
    emulator, state, _ = infra
    reset_emulator(emulator.url)
    # The second request goes to another instance: the first keeps the result it made in memory.
    with fleet(infra, 2) as (evaluator, other):
        body = evaluation(VERSIONS["bad"], time_range=3600)
        first = post(evaluator, body)
        assert first.status_code == 200, first.text
        # An instance claimed the next generation of that execution, then died (lease: 3 s).
        state.abandon_next_generation(evaluator.extra, first.json()["query_result_id"], time.time() + 3)
        answer = post(other, {**body, "timeout_seconds": 15})
        assert answer.status_code == 200, answer.text
        assert answer.json()["cached"] is False  # created anew once the lease ran out
        assert created(emulator.url) == 2
