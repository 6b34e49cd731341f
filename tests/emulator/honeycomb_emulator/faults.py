"""Fault injection for tests: ``POST /_emulator/faults`` arms rules, this middleware applies them.

A rule matches on method (optional) and path prefix; the next ``count`` matching calls
(``-1``: until cleared) get, after ``latency_ms``:

* ``status``: the given status with a JSON error body (429 uses Honeycomb's rate-limit problem);
* ``latency``: only the delay, then the normal answer;
* ``malformed``: the normal status and headers with a body that is not JSON;
* ``truncated``: the normal headers (full ``Content-Length``) and half the body, then the
  connection closes;
* ``never_complete``: query results created or polled through it stay ``complete: false``;
* ``drop``: the connection closes with no answer at all.

Test-control routes (``/_emulator/...``) are never faulted.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MODES = ("status", "latency", "malformed", "truncated", "never_complete", "drop")
CONTROL_PREFIX = "/_emulator"


class FaultSpecError(ValueError):
    pass


@dataclass
class Fault:
    path_prefix: str
    method: str | None = None
    count: int = 1
    status: int = 503
    latency_ms: int = 0
    mode: str = "status"

    def matches(self, method: str, path: str) -> bool:
        return path.startswith(self.path_prefix) and (self.method is None or self.method == method)


def _int(body: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise FaultSpecError(f"{name} must be an integer from {low} to {high}")
    return value


def parse_fault(body: Any) -> Fault:
    if not isinstance(body, dict):
        raise FaultSpecError("body must be a JSON object")
    unknown = set(body) - {"method", "path_prefix", "count", "status", "latency_ms", "mode"}
    if unknown:
        raise FaultSpecError(f"unknown field {sorted(unknown)[0]}")
    mode = body.get("mode", "status")
    if mode not in MODES:
        raise FaultSpecError(f"mode must be one of {', '.join(MODES)}")
    prefix = body.get("path_prefix", "/")
    if not isinstance(prefix, str) or not prefix.startswith("/"):
        raise FaultSpecError("path_prefix must be a string starting with /")
    method = body.get("method")
    if method is not None and (not isinstance(method, str) or not method.isalpha()):
        raise FaultSpecError("method must be an HTTP method such as POST")
    count = _int(body, "count", 1, -1, 1_000_000)
    if count == 0:
        raise FaultSpecError("count must be -1 (until cleared) or at least 1")
    return Fault(
        path_prefix=prefix,
        method=method.upper() if method else None,
        count=count,
        status=_int(body, "status", 503, 100, 599),
        latency_ms=_int(body, "latency_ms", 0, 0, 600_000),
        mode=mode,
    )


class FaultBook:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def active(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(f) for f in self._faults]

    def take(self, method: str, path: str) -> Fault | None:
        """The first armed rule matching this call, using up one of its count."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    if fault.count > 0:
                        fault.count -= 1
                        if fault.count == 0:
                            self._faults.remove(fault)
                    return fault
        return None


def _abort_connection(receive: Receive) -> bool:
    """Close the TCP connection under uvicorn (its receive is a method of the request cycle,
    which holds the transport). ASGI itself has no way to drop a connection."""
    cycle = getattr(receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        return False
    transport.abort()
    return True


async def _finish_quietly(send: Send) -> None:
    """Complete the ASGI exchange after the connection is gone, so uvicorn does not log an
    incomplete response; the aborted transport discards what is written."""
    await send({"type": "http.response.start", "status": 502, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def _status_body(status: int) -> tuple[bytes, bytes]:
    if status == 429:
        body = {
            "status": 429,
            "type": "https://api.honeycomb.io/problems/rate-limited",
            "title": "You have exceeded your rate limit.",
            "error": "You have exceeded your rate limit.",
        }
        return json.dumps(body).encode(), b"application/problem+json"
    return json.dumps({"error": f"injected fault: HTTP {status}"}).encode(), b"application/json"


class FaultMiddleware:
    def __init__(self, app: ASGIApp, book: FaultBook, on_applied: Any = None) -> None:
        self.app = app
        self.book = book
        self.on_applied = on_applied

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        fault = self.book.take(scope["method"], scope["path"])
        if fault is None:
            await self.app(scope, receive, send)
            return
        if self.on_applied is not None:
            self.on_applied()
        if fault.latency_ms:
            await asyncio.sleep(fault.latency_ms / 1000)
        if fault.mode == "latency":
            await self.app(scope, receive, send)
        elif fault.mode == "never_complete":
            scope.setdefault("state", {})["never_complete"] = True
            await self.app(scope, receive, send)
        elif fault.mode == "status":
            body, media = _status_body(fault.status)
            headers = [(b"content-type", media), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": fault.status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        elif fault.mode == "drop":
            if not _abort_connection(receive):
                raise ConnectionAbortedError("injected fault: drop")
            await _finish_quietly(send)
        else:
            await self._rewrite(fault.mode, scope, receive, send)

    async def _rewrite(self, mode: str, scope: Scope, receive: Receive, send: Send) -> None:
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        body = b"".join(chunks)
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        if mode == "malformed":
            broken = body[: len(body) // 2] + b"<<malformed>>" if body else b"{not json"
            headers.append((b"content-length", str(len(broken)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": broken})
            return
        # truncated: promise the whole body, deliver half, then hang up.
        headers.append((b"content-length", str(max(len(body), 2)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
        if not _abort_connection(receive):
            raise ConnectionAbortedError("injected fault: truncated")
        # Complete the exchange for uvicorn; the aborted transport discards these bytes.
        rest = body[len(body) // 2 :] or b"  "
        await send({"type": "http.response.body", "body": rest})
