"""Fleet capacity (issues 12, 24): 100 canaries x 2 metrics a minute on one key, from the first minute.

4 evaluators on one DynamoDB table (moto), 20 clusters, the emulator holding the key to 10
creations in any 60 s, three real-time minutes; see tests/sharing/capacity.py. The first minute is
the fleet's start (no canary checked before): its checks are fused too (the family's open query),
so every check of every minute is answered, a value or null for the silent canaries, and
Honeycomb never answers 429. `make bench` runs 100 and 1,000 canaries on every backend.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sharing.capacity import Plan, simulate


@pytest.mark.slow
@pytest.mark.servers
def test_a_hundred_canaries_on_one_key_are_all_answered_from_the_first_minute(tmp_path: Path) -> None:
    report = simulate(tmp_path, Plan(canaries=100, backend="dynamodb", minutes=3))
    print("\n".join(report.lines()))
    assert report.problems() == [], report.lines()
    assert all(m.empty == 10 for m in report.minutes), report.lines()  # the 5 silent canaries' checks
    assert max(m.runs for m in report.minutes[1:]) <= 4, (
        report.lines()
    )  # one query per metric (+ a new window)
