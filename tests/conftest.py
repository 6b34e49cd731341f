"""What every test process checks: tests that start servers say so, and no process outlives the tests.

- `servers` marks a test that starts real servers (emulator, evaluator, moto, redis-server, the
  image; tests/support/servers.py), so `make unit` (`-m "not servers and not slow"`) runs in
  seconds. A test that starts a server without the mark fails at once, naming itself.
- Every process a test starts is gone when the tests end. Each test process makes itself the
  subreaper of what it starts (Linux), so a process whose parent died before it (a container
  left behind by a killed `unshare`) is adopted by the test process instead of the host's init.
  After the last test, any child still running is a leak: it is killed, and the run fails with
  its pid and command line.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import servers

PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h


def pytest_configure(config: pytest.Config) -> None:
    _become_subreaper()


def _become_subreaper() -> None:
    # Not Linux: orphans go to init, and are not seen.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    servers.running_test = item


def children() -> dict[int, tuple[str, str]]:
    """This process's children: pid → (state, command line)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue  # gone meanwhile
        # pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ")".
        state, ppid = text[text.rindex(")") + 2 :].split()[:2]
        if int(ppid) == os.getpid():
            found[int(stat.parent.name)] = (
                state,
                cmdline.replace(b"\0", b" ").decode(errors="replace").strip(),
            )
    return found


@pytest.fixture(scope="session", autouse=True)
def _no_process_outlives_the_tests() -> Iterator[None]:
    yield  # torn down last: after every other fixture (servers included) has stopped
    leaks = {}
    for pid, (state, command) in children().items():
        if state == "Z":  # ended, not yet reaped: gone
            os.waitpid(pid, os.WNOHANG)
            continue
        leaks[pid] = command
        os.kill(pid, signal.SIGKILL)
    assert not leaks, f"processes started by the tests are still running (now killed): {leaks}"
