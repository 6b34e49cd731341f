"""`honeycomb-evaluator serve` without a gateway in front: read timeouts, caps and keep-alive limits.

Real sockets against a started server (issue 14: 300 clients that sent nothing, or trickled
their body at 1 byte/s, stopped a server with 256 descriptors from answering anyone).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from honeycomb_emulator.demo import DEMO_HASHES
from honeycomb_evaluator.models.response import ErrorResponse
from honeycomb_evaluator.settings import ConfigError, Settings

from tests.evaluator.conftest import PRIMARY_KEY, canary_body, evaluator_env
from tests.support.servers import Server, start_evaluator

LIMITS = {
    "EVALUATOR_HEADER_TIMEOUT_SECONDS": "1",
    "EVALUATOR_BODY_TIMEOUT_SECONDS": "2",
    "EVALUATOR_KEEPALIVE_TIMEOUT_SECONDS": "2",
    "EVALUATOR_KEEPALIVE_MAX_REQUESTS": "3",
    "EVALUATOR_MAX_CONNECTIONS": "8",
    "EVALUATOR_MAX_CONCURRENT_REQUESTS": "2",
}


@pytest.fixture(scope="module")
def limited(emulator: Server) -> Iterator[Server]:
    with start_evaluator(evaluator_env(emulator, HONEYCOMB_API_KEY=PRIMARY_KEY, **LIMITS)) as server:
        yield server


def connect(server: Server) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def read_all(sock: socket.socket, timeout: float = 10) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and how long that took."""
    started = time.monotonic()
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data, time.monotonic() - started


def json_error(raw: bytes, status: int, code: str) -> dict[str, Any]:
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode()), raw[:300]
    assert b"content-type: application/json" in head.lower(), head
    error: dict[str, Any] = ErrorResponse.model_validate(json.loads(body)).error.model_dump()
    assert error["code"] == code, error
    return error


def request_head(path: str = "/v1/evaluate", length: int = 0, extra: str = "") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n{extra}\r\n"
    ).encode()


@pytest.mark.servers
def test_a_client_that_sends_nothing_is_disconnected(limited: Server) -> None:
    with connect(limited) as sock:
        data, took = read_all(sock)
    assert data == b"" and 0.8 < took < 5


@pytest.mark.servers
def test_headers_trickled_byte_by_byte_get_a_408(limited: Server) -> None:
    with connect(limited) as sock:
        started = time.monotonic()
        with pytest.raises(OSError):  # the server closes while we are still sending
            for byte in request_head():
                sock.sendall(bytes([byte]))
                time.sleep(0.2)
                assert time.monotonic() - started < 5
        data, _ = read_all(sock)
    if data:  # the 408 can be lost in the reset of a socket closed with unread input
        json_error(data, 408, "request_timeout")
    assert time.monotonic() - started < 5


@pytest.mark.servers
def test_a_body_trickled_byte_by_byte_gets_a_json_408(limited: Server) -> None:
    body = json.dumps(canary_body(DEMO_HASHES["bad"])).encode()
    with connect(limited) as sock:
        sock.sendall(request_head(length=len(body)) + body[:5])
        started = time.monotonic()
        data = b""
        sock.settimeout(10)
        for byte in body[5:40]:
            try:
                sock.sendall(bytes([byte]))
                time.sleep(0.2)
            except OSError:
                break
            sock.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                data += sock.recv(65536)
            sock.setblocking(True)
            if data:
                break
        rest, _ = read_all(sock)
    error = json_error(data + rest, 408, "request_timeout")
    assert "body" in error["message"]
    assert b"connection: close" in (data + rest).lower()
    assert time.monotonic() - started < 7


@pytest.mark.servers
@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
        b"POST /v1/evaluate HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    ],
)
def test_a_malformed_http_request_gets_the_json_400(limited: Server, request_bytes: bytes) -> None:
    with connect(limited) as sock:
        sock.sendall(request_bytes)
        data, _ = read_all(sock)
    json_error(data, 400, "bad_request")


@pytest.mark.servers
@pytest.mark.parametrize("size", [20_000, 40_000, 200_000])
def test_headers_over_32_kib_get_a_json_431(limited: Server, size: int) -> None:
    with connect(limited) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * size + b"\r\n\r\n")
        data, _ = read_all(sock)
    if size < 32 * 1024:
        assert data.startswith(b"HTTP/1.1 200 ")
    else:
        json_error(data, 431, "headers_too_large")


@pytest.mark.servers
def test_idle_keep_alive_connections_are_closed(limited: Server) -> None:
    with connect(limited) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        data, took = read_all(sock)
    assert data.startswith(b"HTTP/1.1 200") and 1.5 < took < 6


@pytest.mark.servers
def test_a_connection_serves_at_most_keepalive_max_requests(limited: Server) -> None:
    with httpx.Client(base_url=limited.url, timeout=10) as client:
        answers = [client.get("/healthz") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert "connection" not in answers[0].headers
    assert answers[2].headers["connection"] == "close"


@pytest.mark.servers
def test_past_the_connection_cap_idle_connections_make_room_then_a_503(limited: Server) -> None:
    idle = []
    for _ in range(8):  # keep-alive connections waiting for their next request
        sock = connect(limited)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while not answer.endswith(b"}"):
            answer += sock.recv(65536)
        idle.append(sock)
    silent = [connect(limited) for _ in range(8)]  # replace the idle ones, one by one
    time.sleep(0.2)
    with connect(limited) as extra:  # no idle connection left: refused at once
        data, took = read_all(extra, timeout=5)
    assert took < 0.8  # well before the 1 s header timeout would have closed it
    json_error(data, 503, "overloaded")
    for sock in idle:
        assert read_all(sock, timeout=5)[0] == b""  # closed to make room
    for sock in silent:
        sock.close()
    time.sleep(0.3)
    assert httpx.get(f"{limited.url}/healthz", timeout=5).status_code == 200


@pytest.mark.servers
def test_past_the_request_cap_a_json_503_overloaded(limited: Server) -> None:
    # Slow bodies hold request slots: the app is reading them when the third request arrives.
    body = json.dumps(canary_body(DEMO_HASHES["bad"])).encode()
    holders = [connect(limited) for _ in range(2)]
    for sock in holders:
        sock.sendall(request_head(length=len(body)) + body[:10])
    time.sleep(0.3)
    response = httpx.post(f"{limited.url}/v1/evaluate", json=canary_body(DEMO_HASHES["bad"]), timeout=10)
    assert response.status_code == 503
    assert ErrorResponse.model_validate(response.json()).error.code == "overloaded"
    assert response.headers["retry-after"] == "1"
    assert httpx.get(f"{limited.url}/healthz", timeout=5).status_code == 200  # probes are exempt
    for sock in holders:
        sock.close()  # mid-body: answered 400 client_closed to nobody, logged without a traceback
    time.sleep(0.5)
    assert "Traceback" not in limited.output(), limited.output()[-3000:]


@pytest.mark.servers
def test_many_silent_clients_do_not_stop_the_server_answering(limited: Server) -> None:
    silent = [connect(limited) for _ in range(30)]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: _healthz_after_timeouts(limited), range(4)))
    assert all(answers), answers
    for sock in silent:
        sock.close()


def _healthz_after_timeouts(server: Server) -> bool:
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{server.url}/healthz", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


def test_limits_are_read_with_the_settings_rules() -> None:
    server = Settings.from_env(LIMITS).server
    assert server.header_timeout_seconds == 1 and server.max_concurrent_requests == 2
    defaults = Settings.from_env({}).server
    assert (defaults.max_connections, defaults.max_concurrent_requests) == (4096, 2048)
    assert defaults.max_concurrent_executions == 64
    assert (
        Settings.from_env({"EVALUATOR_MAX_CONCURRENT_EXECUTIONS": "3"}).server.max_concurrent_executions == 3
    )
    assert Settings.from_env({"EVALUATOR_RESULT_CACHE_BYTES": "1048576"}).result_cache_bytes == 2**20
    with pytest.raises(ConfigError, match="EVALUATOR_MAX_CONNECTIONS"):
        Settings.from_env({"EVALUATOR_MAX_CONNECTIONS": "0"})
    with pytest.raises(ConfigError, match="EVALUATOR_BODY_TIMEOUT_SECONDS"):
        Settings.from_env({"EVALUATOR_BODY_TIMEOUT_SECONDS": "soon"})


DESCRIPTORS_CHECK = """
import resource, sys
from honeycomb_evaluator.serving import OTHER_DESCRIPTORS, with_descriptors
from honeycomb_evaluator.settings import ServerSettings
soft, hard = (int(n) for n in sys.argv[1:])
resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
kept = with_descriptors(ServerSettings(max_connections=1000))
print(kept.max_connections, resource.getrlimit(resource.RLIMIT_NOFILE)[0], OTHER_DESCRIPTORS)
"""


@pytest.mark.parametrize(("soft", "hard"), [(256, 4096), (256, 600)])
def test_serve_raises_its_open_file_limit_or_serves_fewer_connections(soft: int, hard: int) -> None:
    if resource.getrlimit(resource.RLIMIT_NOFILE)[1] < hard:
        pytest.skip(f"this machine's hard open-file limit is below {hard}")
    ran = subprocess.run(
        [sys.executable, "-c", DESCRIPTORS_CHECK, str(soft), str(hard)],
        capture_output=True,
        text=True,
        check=True,
    )
    connections, limit, other = (int(n) for n in ran.stdout.split())
    if hard >= 1000 + other:
        assert (connections, limit) == (1000, 1000 + other)  # raised: every connection fits
        assert ran.stderr == ""
    else:
        assert (connections, limit) == (hard - other, hard)  # as many as the hard limit allows
        assert "EVALUATOR_MAX_CONNECTIONS=1000 needs" in ran.stderr
