"""What the Honeycomb client puts on the wire, seen by a real HTTP server on loopback.

The client builds its requests itself (not through `AsyncClient.build_request`), so these pin
down what that must keep: the client's default headers and User-Agent, the key of the call's
own target, a JSON content type on bodies, the per-call timeout — and no cookies, which a pooled
client shared by many keys must never carry from one key's answers to another key's calls.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from honeycomb_evaluator.errors import answer_for
from honeycomb_evaluator.honeycomb.client import USER_AGENT, HoneycombClient, Scope
from honeycomb_evaluator.target import HoneycombTarget

from tests.support.servers import serve_in_thread


class _Recorder(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]] = []

    def _answer(self, body: dict[str, Any]) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.seen.append(
            {
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": self.rfile.read(length) if length else b"",
            }
        )
        payload = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Set-Cookie", "session=from-an-earlier-answer; Path=/")
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self) -> None:
        self._answer({"id": "q1", "complete": False})

    def do_GET(self) -> None:
        if self.path.endswith("/slow"):
            time.sleep(2)
        self._answer({"id": "r1", "complete": True, "data": {"results": [{"data": {"COUNT": 3}}]}})

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[str]:
    _Recorder.seen = []
    with serve_in_thread(ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)) as url:
        yield url


def test_requests_carry_defaults_and_their_own_key_but_never_cookies(recorder: str) -> None:
    first = HoneycombTarget.build("key-one-aaaaaaaaaaaaaaaaaaaaaaaa", recorder, "default")
    second = HoneycombTarget.build("key-two-bbbbbbbbbbbbbbbbbbbbbbbb", recorder, "other")

    async def run() -> None:
        client = HoneycombClient()
        deadline = time.monotonic() + 10
        try:
            await client.create_query(Scope(first, "checkout", deadline), {"calculations": [{"op": "COUNT"}]})
            await client.create_query(
                Scope(second, "checkout", deadline), {"calculations": [{"op": "COUNT"}]}
            )
            await client.get_query_result(Scope(first, "checkout", deadline), "r1")
        finally:
            await client.aclose()

    asyncio.run(run())
    posts = [r for r in _Recorder.seen if r["method"] == "POST"]
    (get,) = [r for r in _Recorder.seen if r["method"] == "GET"]
    assert [r["headers"]["x-honeycomb-team"] for r in posts] == [
        "key-one-aaaaaaaaaaaaaaaaaaaaaaaa",
        "key-two-bbbbbbbbbbbbbbbbbbbbbbbb",
    ]
    assert get["headers"]["x-honeycomb-team"] == "key-one-aaaaaaaaaaaaaaaaaaaaaaaa"
    for request in _Recorder.seen:
        assert request["headers"]["user-agent"] == USER_AGENT
        assert "cookie" not in request["headers"]
        assert request["headers"]["accept"] == "*/*"
    assert all(r["headers"]["content-type"] == "application/json" for r in posts)
    assert json.loads(posts[0]["body"]) == {"calculations": [{"op": "COUNT"}]}
    assert "content-type" not in get["headers"] and get["path"] == "/1/query_results/checkout/r1"


def test_the_callers_deadline_bounds_each_call(recorder: str) -> None:
    """The per-call timeout travels in the request itself: a slow answer ends in `timeout` at the
    deadline, and a deadline already spent sends nothing at all."""
    target = HoneycombTarget.build("key-one-aaaaaaaaaaaaaaaaaaaaaaaa", recorder, "default")

    async def code_of(result_id: str, seconds: float) -> str:
        client = HoneycombClient()
        try:
            await client.get_query_result(Scope(target, "checkout", time.monotonic() + seconds), result_id)
        except Exception as e:
            return answer_for(e).code
        finally:
            await client.aclose()
        return "no error"

    assert asyncio.run(code_of("r1", -1.0)) == "timeout"
    assert _Recorder.seen == []
    started = time.monotonic()
    assert asyncio.run(code_of("slow", 0.5)) == "timeout"
    assert time.monotonic() - started < 1.9  # not the server's 2 s
