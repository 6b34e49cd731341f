"""Async client for Honeycomb's Query Data API (one pooled httpx client per process).

    client = HoneycombClient()
    scope = Scope(target, dataset, deadline)              # where, until when, and what it cost
    query_id = await client.create_query(scope, spec)     # POST /1/queries/{dataset}
    created = await client.create_query_result(scope, query_id, ResultOptions(disable_series=True))
    result = await client.get_query_result(scope, result_id)   # GET /1/query_results/{dataset}/{id}
    await asyncio.sleep(client.poll_delay(result_id, seconds_since_creation))   # between polls

`target` is a `HoneycombTarget`; `deadline` a `time.monotonic()` instant. Every failure is one of
the upstream-shaped exceptions in honeycomb/errors.py; what our caller sees is decided at the
edge. The scope's `CallStats` counts the calls made for it (for the evaluation's log line).

Retries: 5xx, timeouts, dropped connections and malformed bodies are retried with jittered
backoff inside the deadline for GETs and query creation (both idempotent). Query-result
creation spends Honeycomb's 10-per-minute budget, so it is never retried after the request may
have reached Honeycomb — only when the connection could not even be opened.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

try:
    import sniffio  # noqa: F401
except ImportError:
    # httpcore tries `import sniffio` on every request; when it is not installed (anyio ≥ 4.11 no
    # longer needs it) each failed attempt searches sys.path again, ~12 times per evaluation.
    # A None entry makes those imports fail at once; httpcore then assumes asyncio, as it would.
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]

from honeycomb_evaluator import __version__, spans
from honeycomb_evaluator.cache import BoundedCache
from honeycomb_evaluator.honeycomb import errors
from honeycomb_evaluator.honeycomb.polling import PollSchedule, PollTracker, query_shape
from honeycomb_evaluator.honeycomb.ratelimit_headers import RateLimitInfo, read_headers
from honeycomb_evaluator.honeycomb.results import QueryResult
from honeycomb_evaluator.target import HoneycombTarget

DEFAULT_CALL_SECONDS = 10.0
# Honeycomb's query-result budget is per minute and it sends no Retry-After on that 429.
DEFAULT_RATE_LIMIT_WAIT_SECONDS = 60.0
USER_AGENT = f"honeycomb-rollouts-evaluator/{__version__} (+argo-rollouts analysis) httpx/{httpx.__version__}"


@dataclass
class CallStats:
    """What the calls for one scope cost, for the evaluation's log line and metrics."""

    requests: int = 0
    polls: int = 0
    retries: int = 0
    rate_limited: int = 0
    rate_limit: RateLimitInfo | None = None


@dataclass
class Scope:
    """One series of calls: which account and dataset, until when, and what they cost."""

    target: HoneycombTarget
    dataset: str
    deadline: float  # time.monotonic() instant
    stats: CallStats = field(default_factory=CallStats)

    @property
    def dataset_path(self) -> str:
        # The request model refuses "." and ".."; quoting keeps any other slug inside its segment.
        if self.dataset in (".", ".."):
            raise ValueError("a dataset slug cannot be . or ..")
        return quote(self.dataset, safe="")


@dataclass(frozen=True)
class ResultOptions:
    """How a query result is created: with its time series or without, how many rows, and whether
    the groups beyond the query's limit are summed up (`other_by_aggregate`, to report what was
    left out).

    `limit` (rows, up to 10 000) counts only without series; None leaves Honeycomb's default.
    """

    disable_series: bool
    limit: int | None = None
    other_by_aggregate: bool = False


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base: float = 0.1
    cap: float = 1.0

    def backoff(self, attempt: int) -> float:
        # "Equal jitter": at least half the exponential step, so retries never bunch up at zero.
        step: float = min(self.cap, self.base * 2.0**attempt)
        return step / 2 + random.uniform(0, step / 2)


class _Retryable(Exception):
    """A failure worth another attempt; `error` is what the caller sees if none is left."""

    def __init__(self, error: errors.HoneycombError, wait: float | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.wait = wait


@dataclass(frozen=True)
class _Call:
    method: str
    path: str
    payload: dict[str, Any] | None
    idempotent: bool

    @property
    def what(self) -> str:
        return f"{self.method} {self.path.split('/')[2]}"


class HoneycombClient:
    def __init__(
        self,
        http: httpx.AsyncClient | None = None,
        *,
        poll: PollSchedule | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        # Built on first use: creating the client loads the CA bundle into an SSL context (~40 ms
        # of CPU), which an import or a request that never reaches Honeycomb should not pay.
        self._client = http
        self.poll = poll or PollSchedule()
        self.retry = retry or RetryPolicy()
        self.tracker = PollTracker()
        # Keys rotate rarely: only a runaway number of keys ever evicts one.
        self._headers: BoundedCache[httpx.Headers] = BoundedCache(64)

    @property
    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                headers={"User-Agent": USER_AGENT},
                limits=httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=30),
                timeout=DEFAULT_CALL_SECONDS,
            )
        return self._client

    def warm(self) -> None:
        """Build the pooled HTTP client now (e.g. before a SnapStart snapshot); no connection is made."""
        _ = self._http

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- the operations ------------------------------------------------------------------

    async def create_query(self, scope: Scope, spec: Mapping[str, Any]) -> str:
        call = _Call("POST", f"/1/queries/{scope.dataset_path}", dict(spec), idempotent=True)
        body = await self._call(scope, call)
        query_id = body.get("id") if isinstance(body, dict) else None
        if not isinstance(query_id, str) or not query_id:
            raise errors.HoneycombUnavailable("query creation answered without an id")
        self.learn_query(scope, query_id, spec)
        return query_id

    def learn_query(self, scope: Scope, query_id: str, spec: Mapping[str, Any]) -> None:
        """Tell the poll schedule which shape `query_id` has (also for ids another instance created)."""
        self.tracker.query_created(query_id, query_shape(scope.target.key_id, scope.dataset, spec))

    async def create_query_result(self, scope: Scope, query_id: str, options: ResultOptions) -> QueryResult:
        payload: dict[str, Any] = {"query_id": query_id, "disable_series": options.disable_series}
        if options.limit is not None:
            payload["limit"] = options.limit
        if options.other_by_aggregate:
            payload["disable_other_by_aggregate"] = False
        call = _Call("POST", f"/1/query_results/{scope.dataset_path}", payload, idempotent=False)
        result = self._parse_result(await self._call(scope, call))
        self.tracker.result_created(query_id, result.id)
        return result

    async def get_query_result(self, scope: Scope, result_id: str) -> QueryResult:
        scope.stats.polls += 1
        path = f"/1/query_results/{scope.dataset_path}/{quote(result_id, safe='')}"
        try:
            body = await self._call(scope, _Call("GET", path, None, idempotent=True))
        except errors.HoneycombNotFound as e:
            raise errors.HoneycombResultNotFound(e.message, status=e.status) from None
        result = self._parse_result(body)
        self.tracker.polled(result_id, result.complete)
        return result

    async def list_columns(self, scope: Scope) -> list[str]:
        """GET /1/columns/{dataset}: the dataset's column names (free: no query budget)."""
        body = await self._call(
            scope, _Call("GET", f"/1/columns/{scope.dataset_path}", None, idempotent=True)
        )
        items = body if isinstance(body, list) else []
        return [c["key_name"] for c in items if isinstance(c, dict) and isinstance(c.get("key_name"), str)]

    async def create_marker(self, scope: Scope, marker: Mapping[str, Any]) -> dict[str, Any]:
        """POST /1/markers/{dataset} (`__all__`: the environment): the marker Honeycomb made.

        Never retried once it may have reached Honeycomb: a second marker would be a duplicate.
        """
        call = _Call("POST", f"/1/markers/{scope.dataset_path}", dict(marker), idempotent=False)
        body = await self._call(scope, call)
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            raise errors.HoneycombUnavailable("marker creation answered without an id")
        return body

    async def get_json(self, scope: Scope, path: str) -> Any:
        """GET any other read-only endpoint (SLOs, burn alerts, auth), retried like the others."""
        return await self._call(scope, _Call("GET", path, None, idempotent=True))

    def poll_delay(self, result_id: str, waited: float) -> float:
        """Seconds to sleep before the next poll of `result_id`, `waited` seconds after creation.

        Uses how long the same query shape took recently (see polling.py), else the cold schedule.
        """
        return self.poll.delay(waited, self.tracker.expected(result_id))

    def waited(self, result_id: str) -> float | None:
        """Seconds since this process created `result_id`, or None if another one did."""
        return self.tracker.waited(result_id)

    # -- plumbing ----------------------------------------------------------------------------

    @staticmethod
    def _parse_result(body: Any) -> QueryResult:
        try:
            return QueryResult.from_json(body)
        except ValueError as e:
            raise errors.HoneycombUnavailable(f"unexpected query result body ({e})") from None

    async def _call(self, scope: Scope, call: _Call) -> Any:
        attempt = 0
        while True:
            try:
                return await self._attempt(scope, call)
            except _Retryable as failure:
                attempt += 1
                wait = max(self.retry.backoff(attempt - 1), failure.wait or 0.0)
                if attempt >= self.retry.max_attempts or time.monotonic() + wait >= scope.deadline:
                    raise failure.error from None
                scope.stats.retries += 1
                await asyncio.sleep(wait)

    async def _attempt(self, scope: Scope, call: _Call) -> Any:
        """One HTTP exchange, as one span when tracing is on (retries are spans of their own)."""
        attributes = {
            "http.request.method": call.method,
            "url.full": scope.target.api_url + call.path,
            "honeycomb.dataset": scope.dataset,
            "honeycomb.key_id": scope.target.key_id,
        }
        with spans.span(f"honeycomb {call.what}", **attributes) as span:
            try:
                return await self._send(scope, call, span)
            except _Retryable as failure:
                span.failed(type(failure.error).__name__)
                raise
            except Exception as e:
                span.failed(type(e).__name__)
                raise

    async def _send(self, scope: Scope, call: _Call, span: spans.Span) -> Any:
        remaining = scope.deadline - time.monotonic()
        if remaining <= 0:
            raise errors.HoneycombTimeout(f"deadline passed before {call.what} could be sent")
        request = self._request(scope.target, call, min(remaining, DEFAULT_CALL_SECONDS))
        scope.stats.requests += 1
        try:
            response = await self._http.send(request)
        except httpx.ConnectError as e:
            # Nothing reached Honeycomb, so even a non-idempotent call may be retried.
            where = scope.target.api_url
            raise _Retryable(
                errors.HoneycombUnavailable(f"cannot connect to {where} ({type(e).__name__})")
            ) from None
        except httpx.TimeoutException:
            raise self._maybe_retry(
                call, errors.HoneycombTimeout(f"Honeycomb did not answer {call.what} in time")
            ) from None
        except httpx.TransportError as e:
            failed = errors.HoneycombUnavailable(
                f"connection failed during {call.method} ({type(e).__name__})"
            )
            raise self._maybe_retry(call, failed) from None
        span.set({"http.response.status_code": response.status_code})
        info = read_headers(response.headers)
        if info.limit is not None or info.retry_after_seconds is not None:
            scope.stats.rate_limit = info
        return self._interpret(scope, call, response, info)

    @staticmethod
    def _maybe_retry(call: _Call, error: errors.HoneycombError) -> Exception:
        return _Retryable(error) if call.idempotent else error

    def _request(self, target: HoneycombTarget, call: _Call, timeout: float) -> httpx.Request:
        """The request, built directly rather than by `AsyncClient.build_request`.

        That merges the client's URL, headers, cookies and timeout anew for every call, which
        costs about as much as the rest of our per-call work. The client's headers plus the key are
        merged once per key instead; and no cookie is ever sent, so nothing one key's answers set
        can travel with another key's calls through the shared client.
        """
        content = None if call.payload is None else json.dumps(call.payload).encode()
        return httpx.Request(
            call.method,
            target.api_url + call.path,
            headers=self._headers_for(target, json_body=content is not None),
            content=content,
            extensions={"timeout": httpx.Timeout(timeout).as_dict()},
        )

    def _headers_for(self, target: HoneycombTarget, *, json_body: bool) -> httpx.Headers:
        api_key = target.api_key.get_secret_value()
        cache_key = f"{json_body}:{api_key}"  # in memory only, like the key itself
        headers = self._headers.value(cache_key)
        if headers is None:
            headers = httpx.Headers(self._http.headers)
            headers["X-Honeycomb-Team"] = api_key
            if json_body:
                headers["Content-Type"] = "application/json"
            self._headers.put(cache_key, headers)
        return headers

    def _interpret(self, scope: Scope, call: _Call, response: httpx.Response, info: RateLimitInfo) -> Any:
        status = response.status_code
        if 200 <= status < 300:
            try:
                return json.loads(response.content)
            except ValueError:
                raise self._maybe_retry(
                    call, errors.HoneycombUnavailable(f"malformed JSON in a {status} answer")
                ) from None
        # Honeycomb's text is passed on to our caller, so make sure it can never carry the key.
        message = redact(
            errors.error_message(status, response.content), scope.target.api_key.get_secret_value()
        )
        if status in (401, 403):
            raise errors.HoneycombAuthRejected(message, status=status)
        if status == 404:
            raise errors.HoneycombNotFound(f"{message} (dataset {scope.dataset!r})", status=status)
        if status in (400, 422):
            raise errors.HoneycombInvalidQuery(message, status=status)
        if status == 429:
            scope.stats.rate_limited += 1
            wait = info.retry_after_seconds or info.reset_seconds or DEFAULT_RATE_LIMIT_WAIT_SECONDS
            limited = errors.HoneycombRateLimited(message, retry_after_seconds=wait)
            if call.idempotent:
                raise _Retryable(limited, wait=wait)
            raise limited
        failed = errors.HoneycombUnavailable(f"HTTP {status}: {message}", status=status)
        if status >= 500:
            raise self._maybe_retry(call, failed)
        raise failed


def redact(text: str, api_key: str) -> str:
    """`text` without the key, however an upstream may have echoed it (any case, URL-quoted)."""
    if not api_key:
        return text
    for form in {api_key, quote(api_key, safe=""), quote(api_key, safe="").lower()}:
        text = _replace_any_case(text, form)
    return text


def _replace_any_case(text: str, needle: str) -> str:
    lowered, wanted = text.lower(), needle.lower()
    start = lowered.find(wanted)
    while start != -1:
        text = text[:start] + "[redacted]" + text[start + len(needle) :]
        lowered = text.lower()
        start = lowered.find(wanted, start + len("[redacted]"))
    return text
