"""Errors raised by the sharing layer: `ApiError`s with the status and code the contract gives them."""

from __future__ import annotations

from honeycomb_evaluator.errors import ApiError


class Unauthenticated(ApiError):
    """No credentials, or credentials that match no registered caller (who are you?)."""

    def __init__(self, message: str) -> None:
        super().__init__(401, "unauthenticated", message)


class Forbidden(ApiError):
    """A known caller asking for a dataset or environment it may not use."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(403, "forbidden", message, field=field)


class RegistryUnavailable(ApiError):
    """The caller registry is missing or invalid, so nobody can be identified."""

    def __init__(self, message: str) -> None:
        super().__init__(500, "not_configured", message)


class RateLimited(ApiError):
    """No query-result token frees up before the caller's deadline; Argo retries later."""

    def __init__(self, message: str, *, retry_after_seconds: float) -> None:
        super().__init__(503, "rate_limited", message, retry_after_seconds=retry_after_seconds)
