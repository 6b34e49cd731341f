"""Honeycomb's answers as exceptions shaped like Honeycomb's own failures, not like ours.

The client raises these; which HTTP status and error code our caller then sees is decided once,
at the edge (`honeycomb_evaluator.errors.ANSWERS`). `message` is Honeycomb's own text where it
sent one (already stripped of the key), else a description of what went wrong.

Honeycomb answers errors in two JSON shapes side by side (legacy `{"error": "..."}` and RFC 7807
problem+json, which also carries `error`), and JSON:API `{"errors": [...]}` on /2.
"""

from __future__ import annotations

import json
from typing import Any


class HoneycombError(Exception):
    """Any failed call to Honeycomb. `status` is Honeycomb's HTTP status when it answered."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class HoneycombRateLimited(HoneycombError):
    """429: this key's budget at Honeycomb is spent; `retry_after_seconds` from its headers."""

    def __init__(self, message: str, *, retry_after_seconds: float) -> None:
        super().__init__(message, status=429)
        self.retry_after_seconds = retry_after_seconds


class HoneycombAuthRejected(HoneycombError):
    """401/403: Honeycomb refused the key (a rotated key is refetched once by the evaluator)."""


class HoneycombNotFound(HoneycombError):
    """404 on a dataset route: the dataset (or the environment's data) does not exist."""


class HoneycombResultNotFound(HoneycombNotFound):
    """404 on a query result created earlier (expired or never existed): safe to create anew."""


class HoneycombSloNotFound(HoneycombNotFound):
    """404 for an SLO (or its dataset): the SLO gate's id names nothing for this key."""


class HoneycombInvalidQuery(HoneycombError):
    """400/422: Honeycomb rejected the query; no result was created."""


class HoneycombUnavailable(HoneycombError):
    """5xx after retries, a dropped connection, or an answer we could not read."""


class HoneycombTimeout(HoneycombError):
    """Honeycomb did not answer in time, or the deadline passed before a call could be made."""


def error_message(status: int, body: bytes) -> str:
    """The most specific human message in an error body, else the status."""
    try:
        parsed: Any = json.loads(body) if body else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        errors = parsed.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            text = first.get("detail") or first.get("title")
            if isinstance(text, str) and text:
                return text
        title = parsed.get("title")
        type_detail = parsed.get("type_detail")
        details = [
            f"{item.get('field')}: {item.get('description') or item.get('code')}"
            for item in (type_detail if isinstance(type_detail, list) else [])
            if isinstance(item, dict)
        ]
        described = {d.split(": ", 1)[1] for d in details}
        # problem+json repeats the title (or a detail's description) in `error`; keep only new text.
        texts = [parsed.get(k) for k in ("error", "detail")]
        unique = [t for t in dict.fromkeys(texts) if isinstance(t, str) and t and t not in described]
        if details and unique == [title]:
            unique = []
        if unique or details:
            return "; ".join(unique + details)[:500]
        if isinstance(title, str) and title:
            return title
    return f"HTTP {status}"
