"""Honeycomb markers for judged canaries: once per canary and event across instances, and never a
change to an answer when Honeycomb refuses them.

Two evaluators share a real redis-server; Honeycomb is the emulator, whose Markers API is checked
against the official spec in tests/emulator.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.evaluations import VERSIONS, judged, write_registry
from tests.support.servers import Server, start_emulator, start_redis
from tests.support.shared_state import RedisState, evaluators_sharing_state

pytestmark = pytest.mark.servers

LIMITS = {
    # Honeycomb's budget is not what this test is about; 200 requests at once fit under the cap.
    "EVALUATOR_RATE_LIMIT_PER_MINUTE": "1000",
    "EVALUATOR_MAX_CONCURRENT_REQUESTS": "256",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, list[Server], str]]:
    registry = tmp_path_factory.mktemp("markers") / "callers.json"
    token = write_registry(registry, ["cluster-a"])["cluster-a"]
    with (
        start_redis() as redis,
        start_emulator("--demo", "--result-delay-ms", "200", "--rate-limit-per-minute", "1000") as emulator,
        evaluators_sharing_state(emulator, RedisState(redis).fresh(), Path(registry), 2, **LIMITS) as servers,
    ):
        yield emulator, servers, token


def markers(emulator: Server) -> list[dict[str, Any]]:
    answer = httpx.get(
        emulator.url + "/1/markers/checkout", headers={"X-Honeycomb-Team": emulator.extra["api_key"]}
    )
    answer.raise_for_status()
    found: list[dict[str, Any]] = answer.json()
    return found


async def evaluate_all(
    servers: list[Server], token: str, bodies: list[dict[str, Any]]
) -> list[httpx.Response]:
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=len(bodies))
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        calls = [
            client.post(servers[i % len(servers)].url + "/v1/evaluate", json=body, headers=headers)
            for i, body in enumerate(bodies)
        ]
        return list(await asyncio.gather(*calls))


def test_one_marker_per_canary_and_event_from_200_evaluations_on_two_instances(
    stack: tuple[Server, list[Server], str],
) -> None:
    emulator, servers, token = stack
    bad, good = VERSIONS["bad"], VERSIONS["good"]
    answers = asyncio.run(evaluate_all(servers, token, [judged(bad), judged(good)] * 100))
    assert Counter(a.status_code for a in answers) == {200: 200}, [
        a.text for a in answers if a.status_code != 200
    ]
    verdicts = Counter((a.json()["canary"]["key"], a.json()["verdict"]) for a in answers)
    assert verdicts == {(bad, "high"): 100, (good, "pass"): 100}

    made = Counter((m["type"], m["message"].split(" ")[1]) for m in markers(emulator))
    assert made == {
        ("canary-judged", f"rollouts_pod_template_hash={bad}"): 1,
        ("canary-failed", f"rollouts_pod_template_hash={bad}"): 1,
        ("canary-judged", f"rollouts_pod_template_hash={good}"): 1,
    }
    failed = next(m for m in markers(emulator) if m["type"] == "canary-failed")
    window = answers[0].json()["window"]
    # A range over the judged window, with the reason and the query's link.
    assert (failed["start_time"], failed["end_time"]) == (window["start_time"], window["end_time"])
    assert answers[0].json()["reason"] in failed["message"]
    assert failed["url"] == answers[0].json()["query_url"] and failed["url"].startswith(emulator.url + "/ui/")
    # Judged again later: still one marker per event.
    asyncio.run(evaluate_all(servers, token, [judged(bad), judged(good)] * 5))
    assert len(markers(emulator)) == 3


def test_a_refused_marker_leaves_the_answer_unchanged_and_is_written_later(
    stack: tuple[Server, list[Server], str],
) -> None:
    emulator, servers, token = stack
    # Another canary identity: the version column, so its events are new.
    body = judged("v1.5.0", column="service.version", baseline="v1.4.2")
    without = {**body, "markers": {"write": False}}
    # Two looks without markers: the second, like the later ones, finds no bucket new to it.
    asyncio.run(evaluate_all(servers[:1], token, [without]))
    (quiet,) = asyncio.run(evaluate_all(servers[:1], token, [without]))
    # Honeycomb refuses the markers (a key without "Manage Markers" gets 403): nothing is made.
    with fault(emulator, status=403):
        refused = asyncio.run(evaluate_all(servers, token, [body, body]))
    for answer in refused:
        assert answer.status_code == quiet.status_code == 200
        same = {k: v for k, v in answer.json().items() if k not in ("elapsed_ms", "cached")}
        assert same == {k: v for k, v in quiet.json().items() if k not in ("elapsed_ms", "cached")}
    assert marked(emulator, "service.version=v1.5.0") == []
    # Refused, so the claims were released: the next evaluation writes both markers, once.
    asyncio.run(evaluate_all(servers, token, [body] * 4))
    assert sorted(m["type"] for m in marked(emulator, "service.version=v1.5.0")) == [
        "canary-failed",
        "canary-judged",
    ]


def test_a_marker_whose_outcome_is_unknown_is_never_written_twice(
    stack: tuple[Server, list[Server], str],
) -> None:
    """A 5xx may come from a proxy after Honeycomb made the marker: the claim stays, so no later
    evaluation writes a second one (at the price of perhaps none), and the answers are unchanged."""
    emulator, servers, token = stack
    body = judged("v1.4.2", column="service.version", baseline="v1.5.0")
    with fault(emulator, status=502, count=1):
        (first,) = asyncio.run(evaluate_all(servers[:1], token, [body]))
    later = asyncio.run(evaluate_all(servers, token, [body] * 4))
    assert {a.status_code for a in [first, *later]} == {200}
    assert isinstance(first.json()["verdict"], str)  # judged: a canary-judged event was due
    assert {a.json()["verdict"] for a in later} == {first.json()["verdict"]}
    assert marked(emulator, "service.version=v1.4.2") == []


@contextlib.contextmanager
def fault(emulator: Server, *, status: int, count: int = -1) -> Iterator[None]:
    """Honeycomb answers marker creations with `status` (`count` times; -1: until the block ends)."""
    rule = {"method": "POST", "path_prefix": "/1/markers", "count": count, "status": status}
    httpx.post(emulator.url + "/_emulator/faults", json=rule).raise_for_status()
    try:
        yield
    finally:
        httpx.delete(emulator.url + "/_emulator/faults").raise_for_status()


def marked(emulator: Server, canary: str) -> list[dict[str, Any]]:
    return [m for m in markers(emulator) if f" {canary} " in m["message"]]
