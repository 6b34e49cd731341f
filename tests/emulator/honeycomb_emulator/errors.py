"""Honeycomb's two V1 error shapes, raised as ``ApiError`` and rendered by one handler.

Honeycomb answers V1 errors either as legacy JSON ``{"error": "..."}`` or as RFC 7807
``application/problem+json`` that *also* carries ``error`` (so old clients keep working). Which
shape each status uses follows the official spec's ``components.responses`` and the examples in
the reference: 401 is legacy, 404/422/429 and unparseable 400s are problem+json, 413 is the
problem body served as ``application/json`` (exactly as ``PayloadTooLarge`` declares it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from starlette.responses import JSONResponse, Response

PROBLEM_BASE = "https://api.honeycomb.io/problems/"
PROBLEM_JSON = "application/problem+json"

UNKNOWN_KEY_MESSAGE = "unknown API key - check your credentials"


class ApiError(Exception):
    """An error answer; ``headers`` are added to the response (e.g. RateLimit on a 429)."""

    def __init__(
        self,
        status: int,
        body: Mapping[str, Any],
        media_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(str(body.get("error", status)))
        self.status = status
        self.body = dict(body)
        self.media_type = media_type
        self.headers = dict(headers or {})

    def response(self) -> Response:
        return JSONResponse(
            self.body, status_code=self.status, media_type=self.media_type, headers=self.headers
        )


def legacy(status: int, message: str) -> ApiError:
    return ApiError(status, {"error": message})


def problem(
    status: int,
    kind: str,
    title: str,
    error: str,
    detail: str | None = None,
    media_type: str = PROBLEM_JSON,
    **extra: Any,
) -> ApiError:
    body: dict[str, Any] = {"status": status, "type": PROBLEM_BASE + kind, "title": title, "error": error}
    if detail is not None:
        body["detail"] = detail
    body.update(extra)
    return ApiError(status, body, media_type=media_type)


def unauthorized() -> ApiError:
    return legacy(401, UNKNOWN_KEY_MESSAGE)


def forbidden(message: str) -> ApiError:
    return problem(403, "forbidden", "You do not have permission to access this resource.", message)


def ingest_forbidden(message: str) -> ApiError:
    # The ingest endpoints declare 403 only as legacy JSON.
    return legacy(403, message)


def not_found(message: str) -> ApiError:
    return problem(404, "not-found", "The requested resource cannot be found.", message, detail=message)


def unparseable(message: str = "could not parse request body") -> ApiError:
    return problem(400, "unparseable", "The request body could not be parsed.", message)


def bad_request(message: str) -> ApiError:
    """A 400 that is not about parsing (e.g. a time window Honeycomb refuses): legacy shape."""
    return legacy(400, message)


def validation_failed(details: Sequence[Mapping[str, str]], message: str | None = None) -> ApiError:
    """422 with ``type_detail`` entries ``{field, code, description}``; code is one of
    invalid, missing, incorrect_type, already_exists."""
    first = details[0]["description"] if details else "The provided input is invalid."
    return problem(
        422,
        "validation-failed",
        "The provided input is invalid.",
        message or first,
        type_detail=[dict(d) for d in details],
    )


def invalid(field: str, description: str, code: str = "invalid") -> ApiError:
    return validation_failed([{"field": field, "code": code, "description": description}])


def payload_too_large(limit: int) -> ApiError:
    return problem(
        413,
        "payload-too-large",
        "Request body is too large.",
        f"Body size is larger than maximum size of {limit} bytes",
        media_type="application/json",
    )


def rate_limited(per_minute: int, headers: Mapping[str, str]) -> ApiError:
    # Query Data answers 429 without Retry-After (documented exception); RateLimit headers only.
    err = problem(
        429,
        "rate-limited",
        "You have exceeded your rate limit.",
        "You have exceeded your rate limit.",
        detail=f"This endpoint allows {per_minute} requests per minute.",
    )
    err.headers.update(headers)
    return err


def method_not_allowed() -> ApiError:
    return legacy(405, "method not allowed")


def internal_error() -> ApiError:
    return problem(500, "internal-error", "Something went wrong.", "internal error in the emulator")
