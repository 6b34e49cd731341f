"""Honeycomb's rate-limit headers: `RateLimit`, `RateLimitPolicy`/`RateLimit-Policy`, `Retry-After`.

`RateLimit: limit=100, remaining=50, reset=60` is an HTTP structured-field dictionary; the policy
header has two spellings in Honeycomb's own docs; Retry-After comes as seconds, an HTTP-date or
ISO 8601. All parsers return None rather than raise: a header we cannot read is just absent.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class RateLimitInfo:
    limit: int | None = None
    remaining: int | None = None
    reset_seconds: float | None = None
    policy: str | None = None
    retry_after_seconds: float | None = None


def parse_ratelimit(value: str) -> dict[str, float]:
    """`limit=100, remaining=50, reset=60` → {"limit": 100.0, ...}; unknown parts ignored."""
    out: dict[str, float] = {}
    for item in value.split(","):
        name, sep, raw = item.strip().partition("=")
        if not sep:
            continue
        raw = raw.split(";", 1)[0].strip().strip('"')
        try:
            out[name.strip().lower()] = float(raw)
        except ValueError:
            continue
    return out


def parse_retry_after(value: str, now: float | None = None) -> float | None:
    """Seconds to wait, from delta-seconds, an HTTP-date or an ISO 8601 time."""
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
        return max(0.0, seconds) if seconds == seconds else None  # NaN guard
    except ValueError:
        pass
    # email.utils costs several ms to import and Honeycomb rarely sends an HTTP-date: load on demand.
    from email.utils import parsedate_to_datetime

    when: datetime | None = None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if when is None or when.tzinfo is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def read_headers(headers: Mapping[str, str], now: float | None = None) -> RateLimitInfo:
    """Everything rate-limit related in one response's headers (case-insensitive mapping)."""
    fields = parse_ratelimit(headers.get("ratelimit", ""))
    policy = headers.get("ratelimit-policy") or headers.get("ratelimitpolicy")
    retry_after = headers.get("retry-after")

    def as_int(name: str) -> int | None:
        v = fields.get(name)
        return int(v) if v is not None else None

    return RateLimitInfo(
        limit=as_int("limit"),
        remaining=as_int("remaining"),
        reset_seconds=fields.get("reset"),
        policy=policy,
        retry_after_seconds=parse_retry_after(retry_after, now) if retry_after else None,
    )
