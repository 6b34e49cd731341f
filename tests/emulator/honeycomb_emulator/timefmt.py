"""Time formats Honeycomb uses in JSON (RFC 3339, seconds, ``Z``) and HTTP (IMF-fixdate)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import formatdate


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_or_none(ts: float | None) -> str | None:
    return None if ts is None else rfc3339(ts)


def http_date(ts: float) -> str:
    return formatdate(ts, usegmt=True)


def parse_event_time(value: object) -> float | None:
    """An event's ``time``: RFC 3339 (any precision, ``Z`` or offset) or unix seconds/ms.

    Returns None when the value cannot be read (the caller reports it).
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = float(value)
        return seconds / 1000 if seconds > 1e11 else seconds  # milliseconds, as some SDKs send
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return float(text) if text.replace(".", "", 1).isdigit() else _parse_iso(text)
        except ValueError:
            return None
    return None


def _parse_iso(text: str) -> float:
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # Python before 3.11 rejected nanoseconds; trim fractions to microseconds to be safe.
    if "." in text:
        head, _, tail = text.partition(".")
        digits = "".join(c for c in tail if c.isdigit())
        rest = tail[len(digits) :]
        text = f"{head}.{digits[:6].ljust(6, '0')}{rest}"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()
