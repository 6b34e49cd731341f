"""Start the real servers tests talk to (emulator, moto, redis-server, evaluator) on free loopback ports.

Each server is a separate process, exactly as a user would run it, so tests exercise the
real HTTP stack. A server is ready when its health URL answers; it is stopped (and its output
kept for failure messages) when the context manager exits.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

VENV_BIN = Path(sys.executable).parent
DEFAULT_EMULATOR_KEY = "emulator-key"
# The test pytest is running (tests/conftest.py sets it): one that starts a server must be marked
# `servers`. None outside pytest (`make run`, the benchmarks).
running_test: Any = None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    extra: dict[str, str] = field(default_factory=dict)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _listening_inodes(port: int) -> set[str]:
    """Inodes of the loopback/any IPv4 sockets listening on `port` (Linux's /proc/net/tcp)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
            inodes.add(inode)
    return inodes


def _process_tree(pid: int) -> set[int]:
    """`pid` and its descendants (a server may run under a wrapper: the image test's unshare)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            after_name = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(after_name[1])
    tree, grew = {pid}, True
    while grew:
        grew = False
        for child, parent in parents.items():
            if parent in tree and child not in tree:
                tree.add(child)
                grew = True
    return tree


def _owns_port(pid: int, port: int) -> bool:
    """Whether process `pid` (or a descendant) holds the socket listening on `port`.

    A health answer alone can come from another server that took the port between free_port()
    and the bind (or from a user's own server on 8080): the new process then fails to bind and
    exits a moment later, after the test has started talking to a stranger. Where /proc is not
    there (macOS, for `make run`) the answer is taken on trust.
    """
    if not Path("/proc/net/tcp").exists():
        return True
    inodes = _listening_inodes(port)
    for member in _process_tree(pid):
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{member}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd).removeprefix("socket:[").removesuffix("]") in inodes:
                        return True
    return False


def _wait_ready(server: Server, health_path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last_error = ""
    port = int(server.url.rsplit(":", 1)[1])
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited with {server.process.returncode}:\n{server.output()}")
        try:
            r = httpx.get(server.url + health_path, timeout=1.0)
            if r.status_code < 500 and _owns_port(server.process.pid, port):
                return
            held = f"port {port} answered, but by another process"
            last_error = f"HTTP {r.status_code}" if r.status_code >= 500 else held
        except httpx.HTTPError as e:
            last_error = repr(e)
        time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"server not ready after {timeout}s ({last_error}):\n{server.output()}")


def refuse_unless_marked() -> None:
    if running_test is not None and running_test.get_closest_marker("servers") is None:
        mark = "pytestmark = pytest.mark.servers"
        raise RuntimeError(f"{running_test.nodeid} starts a server: mark it ({mark})")


@contextlib.contextmanager
def start_process(
    argv: Sequence[str],
    port: int,
    health_path: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> Iterator[Server]:
    """Run argv (which must listen on 127.0.0.1:port) until the block exits."""
    refuse_unless_marked()
    full_env = {**os.environ, **(env or {})}
    with tempfile.NamedTemporaryFile(prefix="server-", suffix=".log", delete=False) as log:
        log_path = Path(log.name)
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(list(argv), env=full_env, stdout=log_file, stderr=subprocess.STDOUT)
    server = Server(url=f"http://127.0.0.1:{port}", process=proc, log_path=log_path)
    try:
        _wait_ready(server, health_path, timeout)
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def start_emulator(*flags: str, env: Mapping[str, str] | None = None) -> Iterator[Server]:
    """The Honeycomb emulator, e.g. start_emulator("--demo", "--result-delay-ms", "200")."""
    port = free_port()
    argv = [str(VENV_BIN / "honeycomb-emulator"), "--host", "127.0.0.1", "--port", str(port), *flags]
    with start_process(argv, port, "/_emulator/health", env=env) as server:
        server.extra["api_key"] = DEFAULT_EMULATOR_KEY
        yield server


@contextlib.contextmanager
def start_moto(env: Mapping[str, str] | None = None) -> Iterator[Server]:
    """moto in server mode: a real HTTP endpoint for Secrets Manager and DynamoDB."""
    port = free_port()
    argv = [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    with start_process(argv, port, "/moto-api/", env=env, timeout=60.0) as server:
        yield server


def aws_env(moto_url: str) -> dict[str, str]:
    """Environment that points boto3 (and so Powertools) at a moto server."""
    return {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }


@contextlib.contextmanager
def start_evaluator(env: Mapping[str, str], *flags: str) -> Iterator[Server]:
    """The evaluator as `honeycomb-evaluator serve`, configured only through env."""
    port = free_port()
    argv = [str(VENV_BIN / "honeycomb-evaluator"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    argv += flags
    with start_process(argv, port, "/healthz", env=env) as server:
        yield server


def _redis_ping(port: int) -> bool:
    """One PING in the Redis protocol: True when the server answers PONG."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@contextlib.contextmanager
def start_redis(databases: int = 16, timeout: float = 15.0) -> Iterator[Server]:
    """redis-server (Debian package `redis-server`) on a free port: no persistence, no config file.

    `server.url` is its `redis://` URL (database 0); `extra["port"]` its port.
    """
    refuse_unless_marked()
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed: `make redis-server` (Debian package redis-server)")
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="redis-"))
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    argv += ["--dir", str(workdir), "--databases", str(databases), "--daemonize", "no"]
    log_path = workdir / "redis.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(argv, stdout=log_file, stderr=subprocess.STDOUT)
    server = Server(url=f"redis://127.0.0.1:{port}/0", process=proc, log_path=log_path)
    server.extra["port"] = str(port)
    try:
        deadline = time.monotonic() + timeout
        while not _redis_ping(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"redis-server not ready on port {port}:\n{server.output()}")
            time.sleep(0.02)
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def serve_in_thread(server: socketserver.BaseServer) -> Iterator[str]:
    """An in-process HTTP server bound to loopback, served from a thread until the block exits.

    Yields its base URL, `http://127.0.0.1:PORT`."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[index]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
