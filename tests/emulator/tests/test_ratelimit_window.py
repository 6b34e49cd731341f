"""The emulator's query-result budget over a configurable window (--rate-limit-window-seconds)."""

from __future__ import annotations

from honeycomb_emulator.cli import parse_args
from honeycomb_emulator.ratelimit import RateLimiter


def test_a_shorter_window_gives_the_budget_back_sooner() -> None:
    now = [100.0]
    limiter = RateLimiter(2, clock=lambda: now[0], window_seconds=5.0)
    assert limiter.acquire("k", False).allowed and limiter.acquire("k", False).allowed
    refused = limiter.acquire("k", False)
    assert not refused.allowed and refused.reset_seconds == 5
    assert refused.headers()["RateLimitPolicy"] == "2;w=5"
    now[0] += 5.0
    assert limiter.acquire("k", False).allowed


def test_the_window_is_a_command_line_flag() -> None:
    assert parse_args(["--rate-limit-window-seconds", "15"]).rate_limit_window_seconds == 15.0
    assert parse_args([]).rate_limit_window_seconds == 60.0
