"""Fleet simulation: 4 evaluators on one shared state (a DynamoDB table, or Redis), 20 clusters x 5
rollouts, for about two minutes each.

The emulator enforces Honeycomb's 10 query results per minute. The evaluators must never let it
answer 429, lose no evaluation (each gets a value, or a clean 503 `rate_limited` with
Retry-After that Argo retries) and create at most one query result per distinct (spec, window).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sharing.fleet import simulate
from tests.support.shared_state import SHARED_BACKENDS


@pytest.mark.slow
@pytest.mark.servers
@pytest.mark.parametrize("backend", SHARED_BACKENDS)
def test_fleet_shares_results_and_never_exceeds_the_budget(tmp_path: Path, backend: str) -> None:
    report = simulate(
        tmp_path, instances=4, clusters=20, rollouts=5, intervals=9, every_s=15, backend=backend
    )
    print("\n".join(report.lines()))
    assert report.requests == 9 * 20 * 5 * 2
    assert report.transport_errors == 0
    assert report.honeycomb_429 == 0
    assert set(report.statuses) <= {200, 503}, report.lines()
    assert set(report.codes) <= {"rate_limited"}
    assert report.missing_retry_after == 0
    assert report.created <= len(report.pairs)
    assert report.quiet_ok > 0 and report.noisy_ok > 0
