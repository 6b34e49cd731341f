"""Async client for Honeycomb's Query Data API (one pooled httpx client per process).

Stable interface (the shared-service layer in `sharing/` codes against it):

    client = HoneycombClient()
    # POST /1/queries/{dataset}
    query_id = await client.create_query(target, dataset, spec, deadline=...)
    # POST /1/query_results/{dataset}
    created = await client.create_query_result(target, dataset, query_id,
                                               disable_series=True, limit=None, deadline=...)
    # GET /1/query_results/{dataset}/{id}, once / until complete
    result = await client.get_query_result(target, dataset, result_id, deadline=...)
    result = await client.wait_for_result(target, dataset, result_id, deadline)
    # For a poll loop of your own: sleep client.poll_delay(result_id, seconds_since_creation)

`target` is a `HoneycombTarget`; `deadline` is a `time.monotonic()` instant (optional on the
single calls: they then allow `DEFAULT_CALL_SECONDS`). Every failure is an `ApiError` with our
error code (see honeycomb/errors.py); a 401/403 is the subclass `HoneycombAuthError` so the
caller can refetch a rotated key once.

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
from contextvars import ContextVar
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

from honeycomb_evaluator import __version__
from honeycomb_evaluator.errors import ApiError
from honeycomb_evaluator.honeycomb import errors
from honeycomb_evaluator.honeycomb.polling import PollSchedule, PollTracker, query_shape
from honeycomb_evaluator.honeycomb.ratelimit_headers import RateLimitInfo, read_headers
from honeycomb_evaluator.honeycomb.results import QueryResult
from honeycomb_evaluator.target import HoneycombTarget

DEFAULT_CALL_SECONDS = 10.0
MAX_CACHED_HEADERS = 64
# Honeycomb's query-result budget is per minute and it sends no Retry-After on that 429.
DEFAULT_RATE_LIMIT_WAIT_SECONDS = 60.0
USER_AGENT = f"honeycomb-rollouts-evaluator/{__version__} (+argo-rollouts analysis) httpx/{httpx.__version__}"


@dataclass
class CallStats:
    """Per-evaluation counters, collected through a ContextVar so the method signatures stay small."""

    requests: int = 0
    polls: int = 0
    retries: int = 0
    rate_limited: int = 0
    upstream_seconds: float = 0.0  # time inside HTTP calls to Honeycomb
    waiting_seconds: float = 0.0  # time asleep between polls and retries
    rate_limit: RateLimitInfo | None = None
    statuses: list[int] = field(default_factory=list)

    @property
    def honeycomb_seconds(self) -> float:
        return self.upstream_seconds + self.waiting_seconds


current_stats: ContextVar[CallStats | None] = ContextVar("honeycomb_call_stats", default=None)


def _stats() -> CallStats:
    stats = current_stats.get()
    return stats if stats is not None else CallStats()


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

    def __init__(self, error: ApiError, wait: float | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.wait = wait


def _dataset_path(dataset: str) -> str:
    # Honeycomb slugs never contain "/"; quote anyway so a bad slug cannot change the route.
    return quote(dataset, safe="")


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
        self._headers: dict[tuple[str, bool], httpx.Headers] = {}

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

    # -- the four stable operations --------------------------------------------------------

    async def create_query(
        self, target: HoneycombTarget, dataset: str, spec: Mapping[str, Any], *, deadline: float | None = None
    ) -> str:
        body = await self._call(
            target, "POST", f"/1/queries/{_dataset_path(dataset)}", dict(spec), deadline, idempotent=True
        )
        query_id = body.get("id") if isinstance(body, dict) else None
        if not isinstance(query_id, str) or not query_id:
            raise errors.upstream_error("query creation answered without an id")
        self.tracker.query_created(query_id, query_shape(target.key_id, dataset, spec))
        return query_id

    async def create_query_result(
        self,
        target: HoneycombTarget,
        dataset: str,
        query_id: str,
        *,
        disable_series: bool,
        limit: int | None = None,
        deadline: float | None = None,
    ) -> QueryResult:
        payload: dict[str, Any] = {"query_id": query_id, "disable_series": disable_series}
        if limit is not None and disable_series:
            payload["limit"] = limit
        body = await self._call(
            target, "POST", f"/1/query_results/{_dataset_path(dataset)}", payload, deadline, idempotent=False
        )
        result = self._parse_result(body)
        self.tracker.result_created(query_id, result.id)
        return result

    async def get_query_result(
        self, target: HoneycombTarget, dataset: str, result_id: str, *, deadline: float | None = None
    ) -> QueryResult:
        _stats().polls += 1
        path = f"/1/query_results/{_dataset_path(dataset)}/{quote(result_id, safe='')}"
        try:
            body = await self._call(target, "GET", path, None, deadline, idempotent=True)
        except ApiError as e:
            if e.code == "dataset_not_found":
                raise errors.ResultNotFound(e.message.removeprefix("Honeycomb: ")) from None
            raise
        result = self._parse_result(body)
        self.tracker.polled(result_id, result.complete)
        return result

    def poll_delay(self, result_id: str, waited: float) -> float:
        """Seconds to sleep before the next poll of `result_id`, `waited` seconds after creation.

        Uses how long the same query shape took recently (see polling.py), else the cold schedule.
        """
        return self.poll.delay(waited, self.tracker.expected(result_id))

    async def wait_for_result(
        self, target: HoneycombTarget, dataset: str, result_id: str, deadline: float
    ) -> QueryResult:
        """Poll until the result is complete; 504 `timeout` at the deadline (a retry can resume it)."""
        # Waiting counts from the result's creation when we created it (a resumed result continues).
        already = self.tracker.waited(result_id) or 0.0
        started = time.monotonic() - already
        while True:
            now = time.monotonic()
            remaining = deadline - now
            # Keep room for the last GET itself rather than sleeping right up to the deadline.
            delay = min(self.poll_delay(result_id, now - started), remaining - 0.05)
            if delay < 0:
                raise errors.timeout(
                    f"query result {result_id} was not complete before the deadline; "
                    "retrying the same request resumes it"
                )
            await self._sleep(delay)
            result = await self.get_query_result(target, dataset, result_id, deadline=deadline)
            if result.complete:
                return result

    # -- plumbing ----------------------------------------------------------------------------

    @staticmethod
    def _parse_result(body: Any) -> QueryResult:
        try:
            return QueryResult.from_json(body)
        except ValueError as e:
            raise errors.upstream_error(f"unexpected query result body ({e})") from None

    @staticmethod
    async def _sleep(seconds: float) -> None:
        if seconds <= 0:
            return
        stats = _stats()
        started = time.perf_counter()
        await asyncio.sleep(seconds)
        stats.waiting_seconds += time.perf_counter() - started

    async def _call(
        self,
        target: HoneycombTarget,
        method: str,
        path: str,
        payload: dict[str, Any] | None,
        deadline: float | None,
        *,
        idempotent: bool,
    ) -> Any:
        if deadline is None:
            deadline = time.monotonic() + DEFAULT_CALL_SECONDS
        stats = _stats()
        attempt = 0
        while True:
            try:
                return await self._attempt(target, method, path, payload, deadline, idempotent=idempotent)
            except _Retryable as failure:
                attempt += 1
                wait = max(self.retry.backoff(attempt - 1), failure.wait or 0.0)
                if attempt >= self.retry.max_attempts or time.monotonic() + wait >= deadline:
                    raise failure.error from None
                stats.retries += 1
                await self._sleep(wait)

    async def _attempt(
        self,
        target: HoneycombTarget,
        method: str,
        path: str,
        payload: dict[str, Any] | None,
        deadline: float,
        *,
        idempotent: bool,
    ) -> Any:
        stats = _stats()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise errors.timeout(f"deadline passed before {method} {path.split('/')[2]} could be sent")
        request = self._request(target, method, path, payload, min(remaining, DEFAULT_CALL_SECONDS))
        stats.requests += 1
        started = time.perf_counter()
        try:
            response = await self._http.send(request)
        except httpx.ConnectError as e:
            # Nothing reached Honeycomb, so even a non-idempotent call may be retried.
            raise _Retryable(errors.upstream_error(f"cannot connect ({type(e).__name__})")) from None
        except httpx.TimeoutException:
            error = errors.timeout(f"Honeycomb did not answer {method} {path.split('/')[2]} in time")
            if idempotent:
                raise _Retryable(error) from None
            raise error from None
        except httpx.TransportError as e:
            error = errors.upstream_error(f"connection failed during {method} ({type(e).__name__})")
            if idempotent:
                raise _Retryable(error) from None
            raise error from None
        finally:
            stats.upstream_seconds += time.perf_counter() - started
        stats.statuses.append(response.status_code)
        info = read_headers(response.headers)
        if info.limit is not None or info.retry_after_seconds is not None:
            stats.rate_limit = info
        return self._interpret(target, response, info, idempotent=idempotent)

    def _request(
        self, target: HoneycombTarget, method: str, path: str, payload: dict[str, Any] | None, timeout: float
    ) -> httpx.Request:
        """The request, built directly rather than by `AsyncClient.build_request`.

        That merges the client's URL, headers, cookies and timeout anew for every call, which
        costs about as much as the rest of our per-call work. The client's headers plus the key are
        merged once per key instead; and no cookie is ever sent, so nothing one key's answers set
        can travel with another key's calls through the shared client.
        """
        content = None if payload is None else json.dumps(payload).encode()
        return httpx.Request(
            method,
            target.api_url + path,
            headers=self._headers_for(target, json_body=content is not None),
            content=content,
            extensions={"timeout": httpx.Timeout(timeout).as_dict()},
        )

    def _headers_for(self, target: HoneycombTarget, *, json_body: bool) -> httpx.Headers:
        api_key = target.api_key.get_secret_value()
        cache_key = (api_key, json_body)  # in memory only, like the key itself
        headers = self._headers.get(cache_key)
        if headers is None:
            if len(self._headers) >= MAX_CACHED_HEADERS:
                self._headers.clear()  # keys rotate rarely; only a runaway number of keys gets here
            headers = httpx.Headers(self._http.headers)
            headers["X-Honeycomb-Team"] = api_key
            if json_body:
                headers["Content-Type"] = "application/json"
            self._headers[cache_key] = headers
        return headers

    @staticmethod
    def _interpret(
        target: HoneycombTarget, response: httpx.Response, info: RateLimitInfo, *, idempotent: bool
    ) -> Any:
        status = response.status_code
        if 200 <= status < 300:
            try:
                return json.loads(response.content)
            except ValueError:
                error = errors.upstream_error(f"malformed JSON in a {status} answer")
                if idempotent:
                    raise _Retryable(error) from None
                raise error from None
        # Honeycomb's text is passed on to our caller, so make sure it can never carry the key.
        message = errors.error_message(status, response.content).replace(
            target.api_key.get_secret_value(), "[redacted]"
        )
        if status in (401, 403):
            raise errors.HoneycombAuthError(status, message)
        if status == 404:
            raise errors.dataset_not_found(message)
        if status in (400, 422):
            raise errors.invalid_query(message)
        if status == 429:
            _stats().rate_limited += 1
            wait = info.retry_after_seconds or info.reset_seconds or DEFAULT_RATE_LIMIT_WAIT_SECONDS
            error = errors.rate_limited(wait, message)
            if idempotent:
                raise _Retryable(error, wait=wait)
            raise error
        error = errors.upstream_error(f"HTTP {status}: {message}")
        if status >= 500 and idempotent:
            raise _Retryable(error)
        raise error
