"""Test controls (/_emulator/...), the query-result rate limit and fault injection."""

from __future__ import annotations

import time

import httpx
import pytest

from .conftest import FULL_KEY, Honeycomb

pytestmark = pytest.mark.servers

COUNT: dict[str, object] = {"calculations": [{"op": "COUNT"}], "time_range": 600}


def create_result(emu: Honeycomb, query_id: str, expect: int | None = 201) -> httpx.Response:
    return emu.call("POST", "/1/query_results/checkout", expect=expect, json_body={"query_id": query_id})


@pytest.mark.emulator_flags("--demo", "--rate-limit-per-minute", "3", "--result-delay-ms", "0")
def test_query_results_are_limited_per_key_per_minute(fresh_emulator: Honeycomb) -> None:
    emu = fresh_emulator
    query_id = emu.create_query("checkout", COUNT)
    remaining = [create_result(emu, query_id).headers["RateLimit"] for _ in range(3)]
    assert remaining[-1].startswith("limit=3, remaining=0, reset=")
    limited = create_result(emu, query_id, expect=429)
    assert limited.headers["content-type"].startswith("application/problem+json")
    assert "Retry-After" not in limited.headers  # Query Data is the documented exception
    assert limited.headers["RateLimitPolicy"] == "3;w=60"
    assert limited.json() == {
        "status": 429,
        "type": "https://api.honeycomb.io/problems/rate-limited",
        "title": "You have exceeded your rate limit.",
        "error": "You have exceeded your rate limit.",
        "detail": "This endpoint allows 3 requests per minute.",
    }
    stats = emu.control("GET", "/_emulator/stats")
    assert stats["query_results_created"] == 3 and stats["rate_limited"] == 1
    assert stats["by_key"]["default"]["rate_limited"] == 1
    assert stats["requests"]["POST /1/query_results/{dataset}"] == 4

    # another key has its own budget
    other = emu.call(
        "POST",
        "/1/query_results/checkout",
        key="queries-only-key",
        expect=201,
        json_body={"query_id": query_id},
    )
    assert other.headers["RateLimit"].startswith("limit=3, remaining=2")

    emu.control("POST", "/_emulator/reset")
    assert emu.control("GET", "/_emulator/stats")["query_results_created"] == 0
    create_result(emu, query_id)  # the window was cleared too


@pytest.mark.emulator_flags("--demo", "--rate-limit-per-minute", "5", "--result-delay-ms", "0")
def test_relational_field_queries_get_one_per_minute(fresh_emulator: Honeycomb) -> None:
    emu = fresh_emulator
    spec = {"calculations": [{"op": "COUNT"}], "breakdowns": ["root.name"], "time_range": 600}
    query_id = emu.create_query("checkout", spec)
    # Whether or not the engine can run relational fields (201, or 422 naming the column), the
    # attempt uses the 1-per-minute budget.
    first = create_result(emu, query_id, expect=None)
    assert first.status_code in (201, 422), first.text
    limited = create_result(emu, query_id, expect=429).json()
    assert limited["detail"] == "This endpoint allows 1 requests per minute."
    plain = emu.create_query("checkout", COUNT)
    assert create_result(emu, plain).headers["RateLimit"].startswith("limit=5, remaining=4")


def test_health_needs_no_key(honeycomb: Honeycomb) -> None:
    assert honeycomb.client.get("/_emulator/health").json() == {"ok": True}


def test_stats_count_calls_per_endpoint_and_key(honeycomb: Honeycomb) -> None:
    before = honeycomb.control("GET", "/_emulator/stats")
    honeycomb.call("GET", "/1/auth", expect=200)
    honeycomb.call("GET", "/1/auth", key="queries-only-key", expect=200)
    honeycomb.call("GET", "/1/auth", key="bogus", expect=401)
    after = honeycomb.control("GET", "/_emulator/stats")
    assert after["requests"]["GET /1/auth"] - before["requests"].get("GET /1/auth", 0) == 3
    assert after["by_key"]["queries-only"]["endpoints"]["GET /1/auth"] >= 1
    assert "(no key)" in after["by_key"]
    assert FULL_KEY not in str(after)  # keys are never shown, only their names
    assert after["events"] > 20_000


def _fault(emu: Honeycomb, **rule: object) -> None:
    emu.control("POST", "/_emulator/faults", {"method": "GET", "path_prefix": "/1/auth", **rule})


def test_status_fault_answers_the_next_n_calls_then_clears(honeycomb: Honeycomb) -> None:
    _fault(honeycomb, status=503, count=2)
    assert honeycomb.client.get("/1/auth", headers={"X-Honeycomb-Team": FULL_KEY}).status_code == 503
    assert honeycomb.client.get("/1/auth", headers={"X-Honeycomb-Team": FULL_KEY}).status_code == 503
    assert honeycomb.client.get("/1/auth", headers={"X-Honeycomb-Team": FULL_KEY}).status_code == 200


def test_fault_until_cleared(honeycomb: Honeycomb) -> None:
    _fault(honeycomb, status=500, count=-1)
    for _ in range(3):
        assert honeycomb.client.get("/1/auth", headers={"X-Honeycomb-Team": FULL_KEY}).status_code == 500
    honeycomb.control("DELETE", "/_emulator/faults")
    assert honeycomb.client.get("/1/auth", headers={"X-Honeycomb-Team": FULL_KEY}).status_code == 200


def test_malformed_and_truncated_bodies(honeycomb: Honeycomb) -> None:
    headers = {"X-Honeycomb-Team": FULL_KEY}
    _fault(honeycomb, mode="malformed")
    response = honeycomb.client.get("/1/auth", headers=headers)
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()
    _fault(honeycomb, mode="truncated")
    with pytest.raises(httpx.RemoteProtocolError):
        honeycomb.client.get("/1/auth", headers=headers)


def test_dropped_connection(honeycomb: Honeycomb) -> None:
    _fault(honeycomb, mode="drop")
    with pytest.raises(httpx.TransportError):
        honeycomb.client.get("/1/auth", headers={"X-Honeycomb-Team": FULL_KEY})
    assert honeycomb.client.get("/1/auth", headers={"X-Honeycomb-Team": FULL_KEY}).status_code == 200


def test_latency_fault_still_answers(honeycomb: Honeycomb) -> None:
    _fault(honeycomb, mode="latency", latency_ms=50)
    assert honeycomb.client.get("/1/auth", headers={"X-Honeycomb-Team": FULL_KEY}).status_code == 200


def test_never_complete_results(honeycomb: Honeycomb) -> None:
    query_id = honeycomb.create_query("checkout", COUNT)
    honeycomb.control(
        "POST",
        "/_emulator/faults",
        {"method": "POST", "path_prefix": "/1/query_results", "mode": "never_complete"},
    )
    result_id = create_result(honeycomb, query_id).json()["id"]
    time.sleep(0.3)  # well past the 100 ms result delay
    for _ in range(3):
        body = honeycomb.call("GET", f"/1/query_results/checkout/{result_id}", expect=200).json()
        assert body["complete"] is False


def test_invalid_fault_is_400_naming_the_field(honeycomb: Honeycomb) -> None:
    response = honeycomb.client.post("/_emulator/faults", json={"path_prefix": "/1", "mode": "explode"})
    assert response.status_code == 400 and "mode" in response.json()["error"]
    response = honeycomb.client.post("/_emulator/faults", json={"path_prefix": "/1", "count": 0})
    assert response.status_code == 400 and "count" in response.json()["error"]
