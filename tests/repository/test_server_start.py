"""The test harness's server start: a port already answered by another process is refused."""

from __future__ import annotations

import http.server
import sys

import pytest

from tests.support.servers import free_port, serve_in_thread, start_process

pytestmark = pytest.mark.servers


class _Healthy(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_health_answer_from_another_process_is_not_taken_for_the_new_server() -> None:
    # A stranger already listens on the port: the new server cannot bind and exits, but the
    # stranger answers the health URL first. The start must fail, naming the cause, instead of
    # letting the test talk to the stranger (how `make run`'s test once got another's answers).
    stranger = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Healthy)
    with serve_in_thread(stranger) as url:
        port = int(url.rsplit(":", 1)[1])
        argv = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)]
        refused = pytest.raises(RuntimeError, match=r"server exited|another process")
        with refused, start_process(argv, port, "/", timeout=10):
            pass


def test_a_server_that_owns_its_port_starts() -> None:
    port = free_port()
    argv = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)]
    with start_process(argv, port, "/", timeout=30) as server:
        assert server.process.poll() is None
