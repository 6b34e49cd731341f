"""`make run` without a terminal: shows the demo evaluations and a curl command, then stops."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_demo(*flags: str, **settings: str) -> str:
    """make run's script without a terminal, against the emulator (no key of the caller's)."""
    env = {k: v for k, v in os.environ.items() if k not in ("HONEYCOMB_API_KEY", "HONEYCOMB_API_URL")}
    done = subprocess.run(
        [sys.executable, str(REPO / "tests" / "support" / "run_demo.py"), *flags],
        cwd=REPO,
        env=env | settings,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.servers
def test_make_run_script_finishes_without_a_terminal() -> None:
    out = run_demo()
    assert "bad canary (v1.5.0)" in out and "8.00%" in out, out
    assert "stable (v1.4.2)" in out and "0.50%" in out, out
    assert "curl -s -X POST http://127.0.0.1:" in out
    assert '"value": 0.08' in out
    assert "stopping the servers" in out
    # Each canary judged against stable with the canary-vs-stable scorecard template's request.
    bad, good, idle = out.split(" vs stable:")[1:4]
    assert "high         → Argo: Failed" in bad and bad.count("above the allowed") == 2
    assert "pass         → Argo: Successful" in good and good.count("shown below the harmful") == 2
    assert "nodata       → Argo: Inconclusive look" in idle and "no data" in idle
    # Slice by slice with the slices template: the canary regressed in one slice fails, and the
    # slice is named; the new exception type is named.
    regressed, new_type = out.split("Where the canary regressed")[1].split(" vs stable:")[1:3]
    assert "high         → Argo: Failed" in regressed
    assert "decided by slice http.route=/checkout/payment, user.plan=enterprise" in regressed
    assert "new error type NullPointerException: " in new_type and " 0 in stable" in new_type


@pytest.mark.servers
def test_make_run_waits_for_a_token_when_the_budget_is_spent() -> None:
    # A budget of 6 runs in 25 s (headroom 1; longer than a request waits for a token) cannot hold
    # the demo's 6-7 runs at once: the demo is told to come back (as in a run that starts just
    # before a minute boundary) and waits, instead of printing a 503 where a verdict belongs.
    out = run_demo("--once", EVALUATOR_RATE_LIMIT_PER_MINUTE="6", EVALUATOR_RATE_WINDOW_SECONDS="25")
    assert "query runs a minute are spent: waiting" in out, out
    assert "HTTP 503" not in out, out
    assert "new error type NullPointerException: " in out, out
