"""Errors raised by the sharing layer, each carrying the HTTP answer the contract gives it."""

from __future__ import annotations


class SharingError(Exception):
    """An error with a fixed HTTP status and contract error code."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, retry_after_seconds: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after_seconds = retry_after_seconds


class Unauthenticated(SharingError):
    """No credentials, or credentials that match no registered caller (who are you?)."""

    status = 401
    code = "unauthenticated"


class Forbidden(SharingError):
    """A known caller asking for a dataset or environment it may not use."""

    status = 403
    code = "forbidden"


class RegistryUnavailable(SharingError):
    """The caller registry is missing or invalid, so nobody can be identified."""

    status = 500
    code = "not_configured"


class RateLimited(SharingError):
    """No query-result token frees up before the caller's deadline; Argo retries later."""

    status = 503
    code = "rate_limited"
