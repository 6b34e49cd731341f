"""Honeycomb's error answers, mapped to our error codes.

Honeycomb answers errors in two JSON shapes side by side (legacy `{"error": "..."}` and RFC 7807
problem+json, which also carries `error`), and JSON:API `{"errors": [...]}` on /2.
"""

from __future__ import annotations

import json
from typing import Any

from honeycomb_evaluator.errors import ApiError


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


class HoneycombAuthError(ApiError):
    """401/403: our key was refused. Caught once by the caller to refetch a rotated key."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(502, "honeycomb_auth", f"Honeycomb rejected the API key (HTTP {status}): {message}")


def dataset_not_found(message: str) -> ApiError:
    return ApiError(404, "dataset_not_found", f"Honeycomb: {message}", field="dataset")


def invalid_query(message: str) -> ApiError:
    return ApiError(422, "invalid_query", f"Honeycomb rejected the query: {message}", field="query")


def rate_limited(retry_after_seconds: float, message: str) -> ApiError:
    return ApiError(
        503,
        "rate_limited",
        f"Honeycomb rate limit reached: {message}",
        retry_after_seconds=retry_after_seconds,
    )


def upstream_error(message: str) -> ApiError:
    return ApiError(502, "upstream_error", f"Honeycomb failed: {message}")


def timeout(message: str) -> ApiError:
    return ApiError(504, "timeout", message)


class ResultNotFound(ApiError):
    """404 on a query result we created earlier (expired or never existed): safe to create anew."""

    def __init__(self, message: str) -> None:
        super().__init__(404, "dataset_not_found", f"Honeycomb: {message}", field="dataset")
