"""Every error with a documented answer, and the one table that turns an error into that answer.

Code raises the exception that says what happened: one of the `EvaluatorError` classes below
(the caller's mistakes and ours) or one of Honeycomb's (`honeycomb/errors.py`, shaped like its
answers). Which HTTP status and stable `code` each becomes is decided here only, in `ANSWERS`,
and `answer_for` renders any exception as the JSON body every non-2xx answer has:
`{"error": {"code", "message", "field"?, "retry_after_seconds"?, "budget"?}}` (docs/design.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from honeycomb_evaluator.honeycomb.errors import (
    HoneycombAuthRejected,
    HoneycombError,
    HoneycombInvalidQuery,
    HoneycombNotFound,
    HoneycombRateLimited,
    HoneycombSloNotFound,
    HoneycombTimeout,
    HoneycombUnavailable,
)

Budget = Literal["evaluator", "honeycomb"]


class EvaluatorError(Exception):
    """An error of this service's own making or of its caller's; `code`/`status` come from ANSWERS."""

    def __init__(
        self, message: str, *, field: str | None = None, retry_after_seconds: float | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.retry_after_seconds = retry_after_seconds

    @property
    def status(self) -> int:
        return _answer(type(self)).status

    @property
    def code(self) -> str:
        return _answer(type(self)).code

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class MalformedJson(EvaluatorError):
    """The body is not JSON, or not a JSON object."""


class BodyTooLarge(EvaluatorError):
    """The body is over the configured limit."""


class BadHttpRequest(EvaluatorError):
    """Not a well-formed HTTP/1.1 request (a garbled or oversized header); serving.py."""


class HeadersTooLarge(EvaluatorError):
    """The request line and headers are over the limit (serving.py)."""


class RequestTimeout(EvaluatorError):
    """The client did not send its request headers or body in time (serving.py, app.py)."""


class ClientClosed(EvaluatorError):
    """The client closed the connection before its body was complete (nobody reads the answer)."""


class Overloaded(EvaluatorError):
    """Too many connections or requests in progress (serving.py); retry shortly."""


class InvalidRequest(EvaluatorError):
    """The request breaks a rule checked before any call; `field` names the part."""


class AmbiguousSelection(EvaluatorError):
    """Several rows or calculations and nothing that picks one."""


class NoData(EvaluatorError):
    """No data and the caller asked for an error in that case (`empty: "error"`)."""


class SloNotFound(EvaluatorError):
    """No SLO has the name the SLO gate was given (or several have: then it is InvalidRequest)."""


class NotConfigured(EvaluatorError):
    """This deployment lacks what the request needs (a key, a caller registry)."""


class Unauthenticated(EvaluatorError):
    """No credentials, or credentials that match no registered caller."""


class Forbidden(EvaluatorError):
    """A known caller asking for a dataset or environment it may not use."""


class RateLimited(EvaluatorError):
    """Our budget for the key has no token before the caller's deadline; Honeycomb was not called."""


class DeadlineExceeded(EvaluatorError):
    """The caller's deadline passed while the work it asked for is still going on."""


class StateUnavailable(EvaluatorError):
    """The shared state store (DynamoDB, Redis) did not answer or refused; names store and operation."""


class NotReady(EvaluatorError):
    """GET /readyz: the Honeycomb key cannot be read or the state store does not answer."""


class RouteNotFound(EvaluatorError):
    """No such route."""


class MethodNotAllowed(EvaluatorError):
    """The route exists, not with this method."""


class InternalError(EvaluatorError):
    """A bug: the request id in the logs has the details."""

    def __init__(self) -> None:
        super().__init__("internal error; the request id in the logs has the details")


@dataclass(frozen=True)
class Answer:
    status: int
    code: str
    field: str | None = None  # for Honeycomb's errors, which know no field of ours
    prefix: str = ""  # put before Honeycomb's own text
    budget: Budget | None = None  # for rate limits: whose budget refused


# The one place that says what each error becomes (looked up along the class hierarchy).
ANSWERS: dict[type[Exception], Answer] = {
    MalformedJson: Answer(400, "malformed_json"),
    ClientClosed: Answer(400, "client_closed"),
    BadHttpRequest: Answer(400, "bad_request"),
    RequestTimeout: Answer(408, "request_timeout"),
    Unauthenticated: Answer(401, "unauthenticated"),
    Forbidden: Answer(403, "forbidden"),
    RouteNotFound: Answer(404, "not_found"),
    MethodNotAllowed: Answer(405, "method_not_allowed"),
    BodyTooLarge: Answer(413, "body_too_large"),
    HeadersTooLarge: Answer(431, "headers_too_large"),
    InvalidRequest: Answer(422, "invalid_request"),
    AmbiguousSelection: Answer(422, "ambiguous_selection"),
    NoData: Answer(422, "no_data"),
    SloNotFound: Answer(404, "slo_not_found"),
    InternalError: Answer(500, "internal_error"),
    NotConfigured: Answer(500, "not_configured"),
    RateLimited: Answer(503, "rate_limited", budget="evaluator"),
    Overloaded: Answer(503, "overloaded"),
    NotReady: Answer(503, "not_ready"),
    DeadlineExceeded: Answer(504, "timeout"),
    StateUnavailable: Answer(502, "upstream_error"),
    HoneycombNotFound: Answer(404, "dataset_not_found", field="dataset", prefix="Honeycomb: "),
    HoneycombSloNotFound: Answer(404, "slo_not_found", field="slo_id", prefix="Honeycomb: "),
    HoneycombInvalidQuery: Answer(
        422, "invalid_query", field="query", prefix="Honeycomb rejected the query: "
    ),
    HoneycombAuthRejected: Answer(502, "honeycomb_auth", prefix="Honeycomb rejected the API key"),
    HoneycombUnavailable: Answer(502, "upstream_error", prefix="Honeycomb failed: "),
    HoneycombRateLimited: Answer(
        503, "rate_limited", prefix="Honeycomb rate limit reached: ", budget="honeycomb"
    ),
    HoneycombTimeout: Answer(504, "timeout"),
}
_INTERNAL = ANSWERS[InternalError]


def _answer(kind: type[BaseException]) -> Answer:
    for cls in kind.__mro__:
        answer = ANSWERS.get(cls)
        if answer is not None:
            return answer
    return _INTERNAL


@dataclass(frozen=True)
class ErrorAnswer:
    """An error as the caller receives it."""

    status: int
    code: str
    message: str
    field: str | None = None
    retry_after_seconds: float | None = None
    budget: Budget | None = None

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        if self.retry_after_seconds is not None:
            error["retry_after_seconds"] = self.retry_after_seconds
        if self.budget is not None:
            error["budget"] = self.budget
        return {"error": error}

    def headers(self) -> dict[str, str]:
        if self.retry_after_seconds is None:
            return {}
        # Retry-After takes whole seconds; round up so a client never comes back too early.
        return {"Retry-After": str(max(1, math.ceil(self.retry_after_seconds)))}


def answer_for(error: BaseException) -> ErrorAnswer:
    """The documented answer for any exception (an unknown one is an internal error)."""
    answer = _answer(type(error))
    if isinstance(error, EvaluatorError) and answer is not _INTERNAL:
        return ErrorAnswer(
            answer.status,
            answer.code,
            error.message,
            field=error.field,
            retry_after_seconds=error.retry_after_seconds,
            budget=answer.budget,
        )
    if isinstance(error, HoneycombError):
        message = error.message
        if isinstance(error, HoneycombAuthRejected):
            message = f" (HTTP {error.status}): {message}"
        retry = error.retry_after_seconds if isinstance(error, HoneycombRateLimited) else None
        return ErrorAnswer(
            answer.status,
            answer.code,
            answer.prefix + message,
            field=answer.field,
            retry_after_seconds=retry,
            budget=answer.budget,
        )
    internal = InternalError()
    return ErrorAnswer(_INTERNAL.status, _INTERNAL.code, internal.message)
