"""Coalescing, caches, resuming and the rate budget through `honeycomb-evaluator serve` and the emulator."""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.evaluations import (
    VERSIONS,
    created,
    emulator_stats,
    error_rate,
    evaluation,
    pinned,
    rate_limited,
    reset_emulator,
    with_room_in_the_minute,
    write_registry,
)
from tests.support.servers import Server, start_emulator, start_evaluator

pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def tokens(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("callers") / "callers.json"
    return path, write_registry(path, ["cluster-a", "cluster-b"])


@pytest.fixture
def emulator() -> Iterator[Server]:
    # Slow enough that concurrent requests really overlap with the running query.
    with start_emulator("--demo", "--result-delay-ms", "300") as server:
        yield server


def evaluator_env(emulator: Server, registry: Path, **extra: str) -> dict[str, str]:
    return {
        "HONEYCOMB_API_KEY": emulator.extra["api_key"],
        "HONEYCOMB_API_URL": emulator.url,
        "EVALUATOR_CALLERS_FILE": str(registry),
        **extra,
    }


@pytest.fixture
def evaluator(emulator: Server, tokens: tuple[Path, dict[str, str]]) -> Iterator[Server]:
    with start_evaluator(evaluator_env(emulator, tokens[0])) as server:
        yield server


async def post_many(url: str, bodies: list[dict[str, Any]], token: str) -> list[httpx.Response]:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=200)) as client:
        return list(
            await asyncio.gather(
                *(client.post(url + "/v1/evaluate", json=b, headers=headers) for b in bodies)
            )
        )


def post(url: str, body: dict[str, Any], token: str) -> httpx.Response:
    return httpx.post(
        url + "/v1/evaluate", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=60
    )


def test_concurrent_identical_requests_create_one_result(
    emulator: Server, evaluator: Server, tokens: tuple[Path, dict[str, str]]
) -> None:
    reset_emulator(emulator.url)
    body = pinned(evaluation(VERSIONS["bad"], time_range=900))
    answers = asyncio.run(post_many(evaluator.url, [body] * 40, tokens[1]["cluster-a"]))
    assert [a.status_code for a in answers] == [200] * 40, answers[0].text
    assert len({a.json()["query_result_id"] for a in answers}) == 1
    assert sum(not a.json()["cached"] for a in answers) == 1  # the one that created it
    assert created(emulator.url) == 1


def test_different_callers_and_spellings_share_one_result(
    emulator: Server, evaluator: Server, tokens: tuple[Path, dict[str, str]]
) -> None:
    reset_emulator(emulator.url)
    with_room_in_the_minute()  # the third request relies on the window being current
    body = pinned(error_rate(VERSIONS["good"], time_range=1200, max_age_seconds=60))
    first = post(evaluator.url, body, tokens[1]["cluster-a"])
    assert first.status_code == 200, first.text
    # The same query written differently (explicit defaults), by another cluster.
    respelled = copy.deepcopy(body)
    respelled["query"]["filter_combination"] = "AND"
    second = post(evaluator.url, respelled, tokens[1]["cluster-b"])
    assert second.status_code == 200 and second.json()["cached"] is True
    assert second.json()["value"] == first.json()["value"]
    assert created(emulator.url) == 1
    # max_age_seconds 0 (the default) still gets the same window's answer while it is current.
    again = post(evaluator.url, {**body, "max_age_seconds": 0}, tokens[1]["cluster-a"])
    assert again.status_code == 200 and again.json()["cached"] is True
    assert again.json()["query_result_id"] == first.json()["query_result_id"]
    assert created(emulator.url) == 1


def test_identical_requests_spread_over_the_step_create_one_result(
    emulator: Server, evaluator: Server, tokens: tuple[Path, dict[str, str]]
) -> None:
    """Issue 12: 200 identical evaluations of a relative window (default max_age_seconds) arriving
    over several seconds of the same minute, during and after the run: one query result."""
    while time.time() % 60 > 45:  # all 200 must fall in one step (one snapped window)
        time.sleep(0.5)
    reset_emulator(emulator.url)
    body = evaluation(VERSIONS["bad"])
    headers = {"Authorization": f"Bearer {tokens[1]['cluster-a']}"}

    async def spread() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=200)) as client:

            async def one(i: int) -> httpx.Response:
                await asyncio.sleep(i * 0.02)  # 0 to 4 s: before, during and long after the run
                return await client.post(evaluator.url + "/v1/evaluate", json=body, headers=headers)

            return list(await asyncio.gather(*(one(i) for i in range(200))))

    answers = asyncio.run(spread())
    assert [a.status_code for a in answers] == [200] * 200, answers[0].text
    assert len({a.json()["query_result_id"] for a in answers}) == 1
    assert len({a.json()["window"]["end_time"] for a in answers}) == 1
    assert created(emulator.url) == 1


def test_budget_answers_503_instead_of_a_honeycomb_429(
    emulator: Server, tokens: tuple[Path, dict[str, str]]
) -> None:
    reset_emulator(emulator.url)
    env = evaluator_env(emulator, tokens[0], EVALUATOR_RATE_LIMIT_PER_MINUTE="3", EVALUATOR_RATE_HEADROOM="0")
    with start_evaluator(env) as evaluator:
        answers = [
            post(
                evaluator.url, evaluation(VERSIONS["stable"], time_range=300 + 60 * i), tokens[1]["cluster-a"]
            )
            for i in range(5)
        ]
    statuses = [a.status_code for a in answers]
    assert statuses == [200, 200, 200, 503, 503]
    refused = answers[3]
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 62
    assert refused.json()["error"]["retry_after_seconds"] >= 1
    assert created(emulator.url) == 3 and rate_limited(emulator.url) == 0


def test_a_retry_after_the_deadline_resumes_the_same_result(tokens: tuple[Path, dict[str, str]]) -> None:
    with (
        start_emulator("--demo", "--result-delay-ms", "2500") as slow,
        start_evaluator(evaluator_env(slow, tokens[0])) as evaluator,
    ):
        body = pinned(evaluation(VERSIONS["bad"], timeout_seconds=0.8))
        first = post(evaluator.url, body, tokens[1]["cluster-a"])
        assert first.status_code == 504 and first.json()["error"]["code"] == "timeout"
        answer = first
        for _ in range(20):  # Argo's retries; each within its own short deadline
            answer = post(evaluator.url, body, tokens[1]["cluster-b"])
            if answer.status_code == 200:
                break
            assert answer.status_code == 504
            time.sleep(0.3)
        assert answer.status_code == 200, answer.text
        assert answer.json()["cached"] is True  # resumed, not created
        assert created(slow.url) == 1


def test_an_unexpected_honeycomb_429_stops_creations_for_a_window(
    emulator: Server, tokens: tuple[Path, dict[str, str]]
) -> None:
    reset_emulator(emulator.url)
    with start_evaluator(evaluator_env(emulator, tokens[0])) as evaluator:
        # Another user of the key spent Honeycomb's budget: its next creation answers 429.
        fault = {
            "method": "POST",
            "path_prefix": "/1/query_results",
            "count": 1,
            "status": 429,
            "mode": "status",
        }
        httpx.post(emulator.url + "/_emulator/faults", json=fault, timeout=10).raise_for_status()
        first = post(evaluator.url, evaluation(VERSIONS["good"], time_range=4200), tokens[1]["cluster-a"])
        assert first.status_code == 503 and first.json()["error"]["code"] == "rate_limited"
        # The bucket is now spent for a window: the next query is refused without calling Honeycomb.
        second = post(evaluator.url, evaluation(VERSIONS["good"], time_range=4260), tokens[1]["cluster-b"])
        assert second.status_code == 503 and "Retry-After" in second.headers
    requests = emulator_stats(emulator.url)["requests"]
    assert requests.get("POST /1/query_results/{dataset}") == 1


def test_a_result_honeycomb_forgot_is_created_again(tokens: tuple[Path, dict[str, str]]) -> None:
    with (
        start_emulator("--demo", "--result-delay-ms", "2500") as slow,
        start_evaluator(evaluator_env(slow, tokens[0])) as evaluator,
    ):
        body = pinned(evaluation(VERSIONS["stable"], timeout_seconds=0.8))
        assert post(evaluator.url, body, tokens[1]["cluster-a"]).status_code == 504
        # The pending result expired upstream: the next poll answers 404.
        fault = {
            "method": "GET",
            "path_prefix": "/1/query_results",
            "count": 1,
            "status": 404,
            "mode": "status",
        }
        httpx.post(slow.url + "/_emulator/faults", json=fault, timeout=10).raise_for_status()
        answer = post(evaluator.url, {**body, "timeout_seconds": 10}, tokens[1]["cluster-a"])
        assert answer.status_code == 200, answer.text
        assert answer.json()["cached"] is False
        assert created(slow.url) == 2


def test_a_caller_leaving_a_query_queued_for_a_token_is_told_rate_limited(
    emulator: Server, tokens: tuple[Path, dict[str, str]]
) -> None:
    # One token per 3 s: after the first evaluation spends it, a new query waits ~3 s for the next.
    # A caller with a long deadline keeps that execution queued; an identical request with a 1 s
    # deadline joins it and leaves while it is still queued: the budget held it back (503 with
    # Retry-After, which Argo retries), not a slow Honeycomb query (504).
    reset_emulator(emulator.url)
    env = evaluator_env(
        emulator,
        tokens[0],
        EVALUATOR_RATE_LIMIT_PER_MINUTE="1",
        EVALUATOR_RATE_HEADROOM="0",
        EVALUATOR_RATE_WINDOW_SECONDS="2",
        EVALUATOR_RATE_MARGIN_SECONDS="1",
    )
    token = tokens[1]["cluster-a"]
    with start_evaluator(env) as evaluator:
        assert post(evaluator.url, evaluation(VERSIONS["stable"]), token).status_code == 200
        patient = pinned(evaluation(VERSIONS["bad"], time_range=1800, timeout_seconds=10))
        hurried = {**patient, "timeout_seconds": 1}

        async def both() -> list[httpx.Response]:
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(timeout=60) as client:
                first = asyncio.ensure_future(
                    client.post(evaluator.url + "/v1/evaluate", json=patient, headers=headers)
                )
                await asyncio.sleep(0.2)  # the patient request is queued for the token by now
                second = await client.post(evaluator.url + "/v1/evaluate", json=hurried, headers=headers)
                return [await first, second]

        waited, left = asyncio.run(both())
    assert waited.status_code == 200, waited.text
    assert left.status_code == 503, left.text
    assert left.json()["error"]["code"] == "rate_limited"
    assert int(left.headers["Retry-After"]) >= 1
    assert created(emulator.url) == 2 and rate_limited(emulator.url) == 0
