"""Parsing Honeycomb's answers: error shapes, rate-limit headers, result bodies."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import pytest
from honeycomb_evaluator.honeycomb.errors import error_message
from honeycomb_evaluator.honeycomb.ratelimit_headers import parse_ratelimit, parse_retry_after, read_headers
from honeycomb_evaluator.honeycomb.results import QueryResult


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"error": "dataset not found"}, "dataset not found"),
        (
            {
                "status": 404,
                "type": "https://api.honeycomb.io/problems/not-found",
                "title": "The requested resource cannot be found.",
                "error": "Dataset not found",
            },
            "Dataset not found",
        ),
        (
            {
                "status": 429,
                "title": "You have exceeded your rate limit.",
                "error": "You have exceeded your rate limit.",
                "detail": "This endpoint allows 10 requests per minute.",
            },
            "You have exceeded your rate limit.; This endpoint allows 10 requests per minute.",
        ),
        (
            {
                "status": 422,
                "title": "The provided input is invalid.",
                "error": "The provided input is invalid.",
                "type_detail": [{"field": "calculations", "code": "invalid", "description": "unknown op"}],
            },
            "calculations: unknown op",
        ),
        (
            {"errors": [{"code": "rate-limited/may-retry", "title": "request rate limit exceeded"}]},
            "request rate limit exceeded",
        ),
        ({"title": "Only a title"}, "Only a title"),
        (
            {
                "title": "The provided input is invalid.",
                "error": "column 'x' does not exist",
                "type_detail": [{"field": "filters[0].column", "description": "column 'x' does not exist"}],
            },
            "filters[0].column: column 'x' does not exist",
        ),
    ],
)
def test_both_error_shapes_and_jsonapi(body: dict[str, object], expected: str) -> None:
    assert error_message(400, json.dumps(body).encode()) == expected


def test_unreadable_error_bodies_fall_back_to_the_status() -> None:
    assert error_message(502, b"<html>bad gateway</html>") == "HTTP 502"
    assert error_message(500, b"") == "HTTP 500"
    assert error_message(500, b"[1,2]") == "HTTP 500"


def test_ratelimit_header_is_a_structured_dictionary() -> None:
    assert parse_ratelimit("limit=100, remaining=50, reset=60") == {
        "limit": 100,
        "remaining": 50,
        "reset": 60,
    }
    assert parse_ratelimit('"x", limit=10;w=60, junk') == {"limit": 10}
    info = read_headers({"ratelimit": "limit=10, remaining=0, reset=42", "ratelimit-policy": "10;w=60"})
    assert (info.limit, info.remaining, info.reset_seconds, info.policy) == (10, 0, 42.0, "10;w=60")
    assert read_headers({"ratelimitpolicy": "100;w=60"}).policy == "100;w=60"


def test_retry_after_in_all_three_forms() -> None:
    now = 1_700_000_000.0
    later = datetime.fromtimestamp(now + 30, UTC)
    assert parse_retry_after("12", now) == 12
    assert parse_retry_after(format_datetime(later, usegmt=True), now) == pytest.approx(30)
    assert parse_retry_after(later.strftime("%Y-%m-%dT%H:%M:%SZ"), now) == pytest.approx(30)
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after("-5", now) == 0


def test_result_bodies_are_read_tolerantly() -> None:
    body = {
        "id": "hij678a",
        "complete": True,
        "data": {
            "series": [{"time": "2021-04-09T14:16:00Z", "data": {"COUNT": 3}}, "junk"],
            "results": [{"data": {"COUNT": 2728, "user_agent": "x"}}, {"nodata": 1}],
        },
        "links": {"query_url": "https://ui.honeycomb.io/t/datasets/d/result/hij678a"},
    }
    r = QueryResult.from_json(body)
    assert r.results == [{"COUNT": 2728, "user_agent": "x"}]
    assert r.series == [{"time": "2021-04-09T14:16:00Z", "data": {"COUNT": 3}}]
    pending = QueryResult.from_json({"id": "x", "complete": False})
    assert not pending.complete and pending.results == [] and pending.query_url is None
    bad: Any
    for bad in (None, [], {"complete": True}, {"id": 3}):
        with pytest.raises(ValueError):
            QueryResult.from_json(bad)
