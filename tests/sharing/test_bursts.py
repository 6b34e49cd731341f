"""Bursts (issue 24): 200 and 2,000 identical evaluations at once, all answered, one query run.

A fleet-wide rollout sends the same check from many clusters in the same second. Requests that
only wait for an execution already in flight are not refused (admission bounds work, not
waiting: docs/operations.md "Admission"): with the shipped limits, one evaluator on the memory
backend, two on one Redis and two on one DynamoDB table (moto) answer every request 200 from one
query result. The emulator keeps Honeycomb's 10 creations a minute and completes a result 3 s
after its creation, so the burst arrives while the one execution runs: most requests join it.
Requests are sent by a raw asyncio client (tests/support/rawhttp.py), each on its own connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.evaluations import VERSIONS, created, evaluation, pinned, served_counts, write_registry
from tests.support.rawhttp import Answer, burst, request_bytes
from tests.support.servers import Server, start_emulator, start_evaluator
from tests.support.shared_state import evaluators_sharing_state, shared_state

pytestmark = pytest.mark.servers

BACKENDS = {"memory": 1, "redis": 2, "dynamodb": 2}  # backend → evaluator instances
_windows = itertools.count()


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("callers") / "callers.json"
    return path, write_registry(path, ["fleet"])["fleet"]


@pytest.fixture(scope="module")
def emulator() -> Iterator[Server]:
    with start_emulator("--demo", "--result-delay-ms", "3000", "--rate-limit-per-minute", "10") as server:
        yield server


@contextlib.contextmanager
def evaluators(backend: str, emulator: Server, registry: Path) -> Iterator[list[Server]]:
    """The evaluators of one backend, with the shipped limits (nothing raised for the burst)."""
    quiet = {"POWERTOOLS_LOG_LEVEL": "WARNING"}
    if backend == "memory":
        env = {
            "HONEYCOMB_API_KEY": emulator.extra["api_key"],
            "HONEYCOMB_API_URL": emulator.url,
            "EVALUATOR_CALLERS_FILE": str(registry),
            **quiet,
        }
        with start_evaluator(env) as server:
            yield [server]
        return
    with (
        shared_state(backend) as state,
        evaluators_sharing_state(emulator, state.fresh(), registry, BACKENDS[backend], **quiet) as servers,
    ):
        yield servers


def send(servers: list[Server], n: int, token: str) -> list[Answer | Exception]:
    # A window of its own (and a minute before now), so nothing is cached from another burst.
    body = pinned(evaluation(VERSIONS["bad"], time_range=600 + 60 * next(_windows), timeout_seconds=20))
    headers = {"Authorization": f"Bearer {token}"}
    prepared = [request_bytes(s.url + "/v1/evaluate", body, headers) for s in servers]

    async def all_at_once() -> list[Answer | Exception]:
        parts = [burst(server.url, [prepared[i]] * (n // len(servers))) for i, server in enumerate(servers)]
        return [answer for part in await asyncio.gather(*parts) for answer in part]

    return asyncio.run(all_at_once())


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n", [200, 2000])
def test_a_burst_of_identical_evaluations_is_all_answered_by_one_query(
    emulator: Server, registry: tuple[Path, str], backend: str, n: int
) -> None:
    with evaluators(backend, emulator, registry[0]) as servers:
        before = created(emulator.url)
        answers = send(servers, n, registry[1])
        statuses = Counter(a.status if isinstance(a, Answer) else repr(a)[:80] for a in answers)
        served = served_counts(servers)
    print(backend, n, dict(statuses), dict(served))
    assert statuses == {200: n}, (statuses, served)
    assert created(emulator.url) - before == 1
    values = {a.json()["value"] for a in answers if isinstance(a, Answer)}
    assert len(values) == 1 and None not in values
    assert served["created/200"] == 1, served
    # Most of the burst waited for the one execution (not answered from a cache after it).
    assert served["joined/200"] + served["waited/200"] >= n // 2, served
