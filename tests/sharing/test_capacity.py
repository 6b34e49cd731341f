"""Fleet capacity (issues 12, 21, 24): 100 canaries on one key, in real-time minutes.

4 evaluators on one DynamoDB table (moto), 20 clusters, the emulator holding the key to 10
creations in any 60 s, three real-time minutes; see tests/sharing/capacity.py. With 2 metrics a
canary, the first minute is the fleet's start (no canary checked before): its checks are fused
too (the family's open query), so every check of every minute is answered, a value or null for
the silent canaries, and Honeycomb never answers 429. With a sliced comparison a canary (issue
21), comparisons are fused on their pairs of versions once a settled step lists them: every
comparison is answered from the third minute. `make bench` runs
100 and 1,000 canaries on every backend.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.sharing.capacity import Plan, simulate
from tests.support.aws import json_objects


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


@pytest.mark.slow
@pytest.mark.servers
def test_a_hundred_sliced_comparisons_share_a_few_queries_from_their_third_minute(tmp_path: Path) -> None:
    """With slices on: each canary's comparison against its own stable version, sliced by route and
    plan (hash x dimensions), once a minute; 25 canaries' comparisons share one fused query. No
    upstream 429 in any minute; every comparison answered from the third (`Report.problems`)."""
    report = simulate(tmp_path, Plan(canaries=100, backend="dynamodb", minutes=3, sliced=True))
    print("\n".join(report.lines()))
    assert report.problems() == [], report.lines()
    warm = report.minutes[-1]
    # 100 / 25 fused queries a window step, and a minute at its own seconds spans two steps.
    assert warm.runs <= 8, report.lines()


def test_moto_recording_is_read_whole_when_concurrent_calls_share_a_line() -> None:
    # moto writes a call over its 8 KiB buffer before that call's newline: two calls recorded at
    # once come out as "big" + "small\n" + "\n" (a full make bench failed on it: JSONDecodeError).
    big = {"headers": {"X-Amz-Target": "DynamoDB_20120810.UpdateItem"}, "body": "x" * 9000}
    small = {"headers": {"X-Amz-Target": "DynamoDB_20120810.GetItem"}}
    text = json.dumps(big) + json.dumps(small) + "\n\n" + json.dumps(small) + "\n"
    assert list(json_objects(text)) == [big, small, small]
    assert list(json_objects("")) == []
