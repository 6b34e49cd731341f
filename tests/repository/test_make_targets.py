"""The Makefile as a newcomer meets it: `make help` lists every target, and `make serve` answers
the README's request against `make emulator` with no variables set.

Both servers are started through make itself, on free ports (EMULATOR_PORT, SERVE_PORT), in a
process group of their own so that stopping them also stops the server make started.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import pytest
from honeycomb_emulator.demo import DEMO_HASHES

from tests.support import servers
from tests.support.servers import free_port

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
# What a user who configured nothing has: none of the variables that choose a key or callers.
CONFIGURATION = re.compile(r"^(HONEYCOMB_|EVALUATOR_|MAKEFLAGS$|MFLAGS$|MAKELEVEL$)")


def phony_targets() -> list[str]:
    makefile = (REPOSITORY_ROOT / "Makefile").read_text().replace("\\\n", " ")
    match = re.search(r"^\.PHONY:(.*)$", makefile, re.MULTILINE)
    assert match, "Makefile has no .PHONY line"
    return match.group(1).split()


def test_make_help_lists_every_target() -> None:
    shown = subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=REPOSITORY_ROOT,
        env=unconfigured_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    listed = {line.split()[1] for line in shown.splitlines() if line.startswith("make ")}
    assert set(phony_targets()) <= listed, f"missing from make help: {set(phony_targets()) - listed}"


def unconfigured_env() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if not CONFIGURATION.match(name)}


@contextlib.contextmanager
def make_server(target: str, variables: Mapping[str, str], health_url: str) -> Iterator[Path]:
    """`make target VAR=...` until the block exits; yields the file its output goes to."""
    servers.refuse_unless_marked()
    argv = ["make", "--no-print-directory", target, *(f"{k}={v}" for k, v in variables.items())]
    log = Path(tempfile.mkstemp(prefix=f"make-{target}-", suffix=".log")[1])
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv,
            cwd=REPOSITORY_ROOT,
            env=unconfigured_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"make {target} exited:\n{log.read_text()}"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(health_url, timeout=1).status_code < 500:
                    break
            assert time.monotonic() < deadline, f"make {target} not ready:\n{log.read_text()}"
            time.sleep(0.1)
        yield log
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


README_REQUEST = {
    "dataset": "checkout",
    "query": {
        "calculations": [{"op": "AVG", "column": "is_error"}],
        "calculated_fields": [{"name": "is_error", "expression": "IF($error, 1, 0)"}],
        "filters": [{"column": "rollouts_pod_template_hash", "op": "=", "value": DEMO_HASHES["bad"]}],
        "time_range": 600,
    },
}


@pytest.mark.servers
def test_make_serve_answers_against_make_emulator_with_nothing_configured() -> None:
    ports = {"EMULATOR_PORT": str(free_port()), "SERVE_PORT": str(free_port())}
    emulator_url = f"http://127.0.0.1:{ports['EMULATOR_PORT']}"
    evaluator_url = f"http://127.0.0.1:{ports['SERVE_PORT']}"
    with (
        make_server("emulator", ports, f"{emulator_url}/_emulator/health"),
        make_server("serve", ports, f"{evaluator_url}/healthz") as serve_log,
    ):
        answer = httpx.post(f"{evaluator_url}/v1/evaluate", json=README_REQUEST, timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json()["value"] == 0.08  # the demo's bad canary
        assert f"querying the emulator at {emulator_url}" in serve_log.read_text()
