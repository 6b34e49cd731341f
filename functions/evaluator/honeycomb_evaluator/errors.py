"""The one exception type that becomes an HTTP answer, and its JSON shape.

Every non-2xx answer is `{"error": {"code", "message", "field"?, "retry_after_seconds"?}}`
(docs/design.md). Code raises `ApiError` anywhere; app.py turns it into a response.
"""

from __future__ import annotations

import math
from typing import Any


class ApiError(Exception):
    """An error with the HTTP status and stable `code` the caller sees."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        retry_after_seconds: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.retry_after_seconds = retry_after_seconds

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        if self.retry_after_seconds is not None:
            error["retry_after_seconds"] = self.retry_after_seconds
        return {"error": error}

    def headers(self) -> dict[str, str]:
        if self.retry_after_seconds is None:
            return {}
        # Retry-After takes whole seconds; round up so a client never comes back too early.
        return {"Retry-After": str(max(1, math.ceil(self.retry_after_seconds)))}

    def __repr__(self) -> str:
        return f"ApiError({self.status}, {self.code!r}, {self.message!r})"


def invalid_request(field: str, message: str) -> ApiError:
    return ApiError(422, "invalid_request", message, field=field)


def internal_error() -> ApiError:
    return ApiError(500, "internal_error", "internal error; the request id in the logs has the details")


def not_configured(environment: str) -> ApiError:
    return ApiError(
        500,
        "not_configured",
        f"no Honeycomb API key is configured for environment {environment!r}",
        field="environment",
    )
