"""The one error type the engine raises for a query Honeycomb would reject."""

from __future__ import annotations


class QueryError(Exception):
    """A query spec Honeycomb would reject.

    ``status`` is 400 for what Honeycomb cannot parse or will not run (wrong JSON types, a window
    longer than or outside the last 7 days) and 422 for validation failures; ``field`` names the
    offending part of the spec (``calculations[0].op``) so the server can fill ``type_detail``.
    """

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field

    def __repr__(self) -> str:
        return f"QueryError({self.status}, {self.message!r}, field={self.field!r})"


def invalid(message: str, field: str | None = None) -> QueryError:
    """A validation failure (422)."""
    return QueryError(422, message, field)


def unparseable(message: str, field: str | None = None) -> QueryError:
    """Something Honeycomb cannot parse or will not run (400)."""
    return QueryError(400, message, field)
