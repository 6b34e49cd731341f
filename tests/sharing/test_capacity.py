"""Fleet capacity (issue 12): 100 canaries x 2 metrics a minute on one key at 10 runs a minute.

4 evaluators on one DynamoDB table (moto), 20 clusters, the emulator enforcing 10 creations per
(compressed) minute; see tests/sharing/capacity.py. The first minute is the fleet's cold start:
no canary was checked before, so each check is a query of its own and most are refused (503 with
Retry-After, which Argo retries). From then on each metric's checks are answered by one fused
query: every check gets a value, and Honeycomb never answers 429.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sharing.capacity import Plan, simulate


@pytest.mark.slow
@pytest.mark.servers
def test_a_hundred_canaries_on_one_key_are_all_answered_once_the_fleet_is_warm(tmp_path: Path) -> None:
    report = simulate(tmp_path, Plan(canaries=100, minutes=3))
    print("\n".join(report.lines()))
    for minute in report.minutes:
        assert minute.asked == 200
        # The emulator refuses an 11th creation in any rolling minute: no 429, never more than 10.
        # (A minute's `runs` also counts its stragglers, finished after the next minute began.)
        assert minute.honeycomb_429 == 0, report.lines()
    warm = report.minutes[-1]
    assert warm.valued == warm.asked, report.lines()
    assert warm.runs <= 4, report.lines()  # two metrics: one fused query each (and a straggler)


@pytest.mark.slow
@pytest.mark.servers
def test_a_hundred_sliced_comparisons_share_a_few_queries_once_the_fleet_is_warm(tmp_path: Path) -> None:
    """With slices on: each canary's comparison against its own stable version, sliced by route and
    plan (hash x dimensions), once a minute; 25 canaries' comparisons share one fused query."""
    report = simulate(tmp_path, Plan(canaries=100, minutes=3, sliced=True))
    print("\n".join(report.lines()))
    for minute in report.minutes:
        assert minute.asked == 100 and minute.honeycomb_429 == 0, report.lines()
    warm = report.minutes[-1]
    assert warm.answered == warm.asked, report.lines()
    assert warm.runs <= 5, report.lines()  # 100 / 25 fused queries (and a straggler)
