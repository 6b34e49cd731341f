"""The limits `honeycomb-evaluator serve` puts on clients when nothing stands in front of it.

On Lambda, API Gateway and the Function URL read requests and cap concurrency. In a container
the evaluator faces clients itself, so (settings.py `ServerSettings`, docs/operations.md):

- A client must finish its request headers within `header_timeout_seconds` of its first byte
  (of connecting, for a new connection) and its body within `body_timeout_seconds` of the last
  header; otherwise it gets a 408 and the connection is closed. An idle keep-alive connection is
  closed after `keepalive_timeout_seconds`, any connection after `keepalive_max_requests`.
- Past `max_connections` open connections, an idle keep-alive connection is closed to make room;
  when none is idle the new connection gets a 503 and is closed.
- Past `max_concurrent_requests` requests in progress, a request gets a 503 `overloaded` at once
  (`/healthz`, `/readyz` and `/metrics` are exempt, so probes do not restart a busy pod). The
  cap bounds memory: a request waiting for an execution another one started costs ~30 KiB
  (docs/operations.md); the work itself is bounded per execution (`max_concurrent_executions`,
  sharing/executor.py).
- The process may open as many files as `max_connections` needs: its soft limit is raised up to
  the hard one at start (as Go programs do); where the hard limit is lower, the connection cap is
  lowered to fit and a warning says so.

Every refusal is the documented JSON error, with `Connection: close` where the connection ends.
uvicorn's own pure-Python HTTP/1.1 protocol (h11) is extended rather than replaced.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import resource
from typing import Any

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from honeycomb_evaluator.answers import error_response
from honeycomb_evaluator.errors import (
    BadHttpRequest,
    EvaluatorError,
    HeadersTooLarge,
    Overloaded,
    RequestTimeout,
)
from honeycomb_evaluator.settings import ServerSettings

CLOSE = (b"connection", b"close")
# The request line and headers. h11 only limits what it holds between reads (16 KiB), and one
# read can bring 256 KiB; a bearer token or JWT fits many times over in this.
MAX_HEADER_BYTES = 32 * 1024
# Probes and scrapes answer whatever the load: a busy pod is neither restarted nor taken out of
# the Service for being busy, and its metrics show the load.
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
# After the body timeout the app, if it is reading the body, answers 408 itself; this long after
# that the connection is closed whatever the app is doing with it.
BODY_GRACE_SECONDS = 2.0
# Descriptors the process needs besides its clients' connections: Honeycomb's connection pool
# (100), the state store's, logs, the interpreter's own files.
OTHER_DESCRIPTORS = 160

log = logging.getLogger(__name__)


def with_descriptors(limits: ServerSettings) -> ServerSettings:
    """`limits` this process can keep: its open-file limit raised for `max_connections` (up to the
    hard limit), or, if the hard limit is lower, the connection cap lowered to fit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = limits.max_connections + OTHER_DESCRIPTORS
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return limits
    raised = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if raised > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
    if raised >= wanted:
        return limits
    fits = max(1, raised - OTHER_DESCRIPTORS)
    log.warning(
        "EVALUATOR_MAX_CONNECTIONS=%d needs %d open files, and this process may open %d: "
        "serving at most %d connections",
        limits.max_connections, wanted, raised, fits,
    )  # fmt: skip
    return dataclasses.replace(limits, max_connections=fits)


def raw_error(error: EvaluatorError) -> bytes:
    """A complete HTTP/1.1 error answer with `Connection: close`, for when no request was parsed."""
    response = error_response(error)
    head = [
        f"HTTP/1.1 {response.status_code} {h11_reason(response.status_code)}",
        *(
            f"{name.decode()}: {value.decode()}"
            for name, value in response.raw_headers
            if name != b"connection"
        ),
        "connection: close",
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + response.body


def h11_reason(status: int) -> str:
    return {408: "Request Timeout", 503: "Service Unavailable"}.get(status, "Error")


class LimitedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with header/body read timeouts, a connection cap and a request cap
    per connection. `limits` is set on the class by `protocol_for` (uvicorn builds instances)."""

    limits: ServerSettings = ServerSettings()

    def __init__(
        self, config: Config, server_state: ServerState, app_state: dict[str, Any], **kw: Any
    ) -> None:
        super().__init__(config, server_state, app_state, **kw)
        self._read_timer: asyncio.TimerHandle | None = None
        self._reading_body = False
        self._requests = 0
        self._counted_cycle: object = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections and not self._close_an_idle_connection():
            self._refuse(Overloaded("too many open connections; retry shortly", retry_after_seconds=1))
            return
        self._arm(self.limits.header_timeout_seconds, self._headers_too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE and self._headers_too_large(data):
            self._refuse(HeadersTooLarge(f"the request headers are over {MAX_HEADER_BYTES} bytes"))
            return
        super().data_received(data)
        self._follow_request_state()

    def _headers_too_large(self, data: bytes) -> bool:
        buffered = self.conn.trailing_data[0]
        if len(buffered) + len(data) <= MAX_HEADER_BYTES:
            return False
        end = (buffered + data).find(b"\r\n\r\n")
        return end == -1 or end > MAX_HEADER_BYTES

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow_request_state()

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not None and self.cycle is not self._counted_cycle:
            self._counted_cycle = self.cycle
            self._requests += 1
            if self._requests >= self.limits.keepalive_max_requests:
                # uvicorn answers `Connection: close` to a request that carries it, then closes.
                self.headers.append(CLOSE)
                self.cycle.keep_alive = False

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a request h11 cannot parse, as our JSON error instead of plain text."""
        self._refuse(BadHttpRequest(f"not a valid HTTP/1.1 request: {msg}"))

    def _follow_request_state(self) -> None:
        """Arm the timer that fits where the client is in its request."""
        if self.transport.is_closing():
            return
        state = self.conn.their_state
        if state is h11.IDLE:
            # Waiting for a request: uvicorn's keep-alive timer covers an idle connection; once a
            # byte of the next request arrives (which cancels that timer), the headers must follow.
            self._reading_body = False
            if (
                self.timeout_keep_alive_task is None
                and self._read_timer is None
                and self._has_partial_request()
            ):
                self._arm(self.limits.header_timeout_seconds, self._headers_too_slow)
        elif state is h11.SEND_BODY:
            if not self._reading_body:
                self._reading_body = True
                self._arm(self.limits.body_timeout_seconds, self._body_too_slow)
        else:
            self._reading_body = False
            self._disarm()

    def _has_partial_request(self) -> bool:
        return bool(self.conn.trailing_data[0])

    def _arm(self, seconds: float, handler: Any) -> None:
        self._disarm()
        self._read_timer = self.loop.call_later(seconds, handler)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _headers_too_slow(self) -> None:
        self._read_timer = None
        if not self._has_partial_request():
            # Nothing sent: close quietly. An unasked-for 408 could be read by a client as the
            # answer to a request it sends later on this connection.
            self._close()
            return
        seconds = self.limits.header_timeout_seconds
        self._refuse(RequestTimeout(f"the request headers did not arrive within {seconds:g} s"))

    def _body_too_slow(self) -> None:
        self._read_timer = None
        if self.cycle is not None and not self.cycle.response_started:
            # The app reads the body under the same timeout and answers 408 as JSON; give it time.
            self._read_timer = self.loop.call_later(BODY_GRACE_SECONDS, self._close)
            return
        self._close()

    def _refuse(self, error: EvaluatorError) -> None:
        if not self.transport.is_closing():
            self.transport.write(raw_error(error))
            self._close()

    def _close(self) -> None:
        self._read_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def _close_an_idle_connection(self) -> bool:
        """Make room by closing a keep-alive connection waiting for its next request (as nginx does)."""
        for other in list(self.connections):
            if (
                other is not self
                and isinstance(other, H11Protocol)
                and other.timeout_keep_alive_task is not None
            ):
                other.timeout_keep_alive_handler()
                self.connections.discard(other)
                return True
        return False


def protocol_for(limits: ServerSettings) -> type[LimitedH11Protocol]:
    """The protocol class uvicorn instantiates per connection, bound to these limits."""
    return type("ConfiguredH11Protocol", (LimitedH11Protocol,), {"limits": limits})


class ConcurrencyLimit:
    """ASGI wrapper: at most `limit` requests in progress; past it a JSON 503 `overloaded`."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.active = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        if self.active >= self.limit:
            overloaded = Overloaded("too many requests in progress; retry shortly", retry_after_seconds=1)
            await error_response(overloaded)(scope, receive, send)
            return
        self.active += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1
