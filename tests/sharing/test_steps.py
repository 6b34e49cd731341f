"""The executor's state machine (`classify`), row by row, on a fake clock.

Each row is one execution record as a flight sees it at `NOW`, and the step the flight must
take: use it, poll it, re-read it, or claim a new generation (sharing/steps.py says why).
"""

from __future__ import annotations

from typing import Any

import pytest
from honeycomb_evaluator.sharing.reuse import Reuse
from honeycomb_evaluator.sharing.steps import PENDING_GIVE_UP_SECONDS, Sighting, Step, classify
from honeycomb_evaluator.state.base import ExecutionRecord

NOW = 1_800_000_000.0
# A request that arrived now, accepting results of its window (which ended 30 s ago, one step
# of 60 s) completed after the window closed, or completed in the last 10 s.
REUSE = Reuse(arrived=NOW, max_age_seconds=10.0, window_end=NOW - 30, current_until=NOW + 30)


def record(state: str, **fields: Any) -> ExecutionRecord:
    defaults: dict[str, Any] = {"generation": 3, "owner": "other:1", "lease_until": NOW + 5}
    if state != "claimed":
        defaults.update(query_id="q", result_id="r", created_at=NOW - 2)
    if state == "complete":
        defaults["completed_at"] = NOW - 1
    return ExecutionRecord(state=state, **{**defaults, **fields})  # type: ignore[arg-type]


ROWS = [
    ("nothing recorded yet", Sighting(None, NOW), Step.CLAIM),
    # complete
    ("complete within max_age", Sighting(record("complete"), NOW), Step.DONE),
    (
        "complete after the window closed, window still current",
        Sighting(record("complete", completed_at=NOW - 25), NOW),
        Step.DONE,
    ),
    (
        "complete before the window closed",
        Sighting(record("complete", completed_at=NOW - 35), NOW),
        Step.CLAIM,
    ),
    (
        "complete before the window closed, but this flight saw it running",
        Sighting(record("complete", completed_at=NOW - 35), NOW, seen_running=True),
        Step.DONE,
    ),
    (
        "complete, accepted, but its result was lost",
        Sighting(record("complete"), NOW, lost=True),
        Step.CLAIM,
    ),
    # pending
    ("pending, another live instance polls it", Sighting(record("pending"), NOW), Step.WAIT),
    ("pending, this process polls it", Sighting(record("pending"), NOW, ours=True), Step.POLL),
    (
        "pending, its owner's lease is over",
        Sighting(record("pending", lease_until=NOW - 0.001), NOW),
        Step.POLL,
    ),
    (
        "pending, lease ends right now",
        Sighting(record("pending", lease_until=NOW), NOW),
        Step.POLL,
    ),
    (
        "pending for longer than Honeycomb runs a query",
        Sighting(record("pending", created_at=NOW - PENDING_GIVE_UP_SECONDS - 1), NOW),
        Step.CLAIM,
    ),
    (
        "pending exactly as long as the give-up time",
        Sighting(record("pending", created_at=NOW - PENDING_GIVE_UP_SECONDS, lease_until=0.0), NOW),
        Step.POLL,
    ),
    ("pending, Honeycomb lost its result", Sighting(record("pending"), NOW, lost=True), Step.CLAIM),
    # claimed
    ("claimed, its owner is alive", Sighting(record("claimed"), NOW), Step.WAIT),
    ("claimed by this process, lease alive", Sighting(record("claimed"), NOW, ours=True), Step.WAIT),
    ("claimed, lease over (owner gone)", Sighting(record("claimed", lease_until=NOW - 1), NOW), Step.CLAIM),
    ("claimed, then released (lease 0)", Sighting(record("claimed", lease_until=0.0), NOW), Step.CLAIM),
]


@pytest.mark.parametrize(("case", "sighting", "step"), ROWS, ids=[row[0] for row in ROWS])
def test_classify(case: str, sighting: Sighting, step: Step) -> None:
    assert classify(sighting, REUSE) is step, case


def test_the_same_record_changes_step_as_the_clock_moves() -> None:
    pending = record("pending", lease_until=NOW + 5, created_at=NOW)
    steps = [classify(Sighting(pending, NOW + t), REUSE) for t in (0, 5, 6, PENDING_GIVE_UP_SECONDS + 1)]
    assert steps == [Step.WAIT, Step.POLL, Step.POLL, Step.CLAIM]
    # A complete result stops being reused once its window is no longer current.
    done = record("complete", completed_at=NOW - 25)
    later = Reuse(arrived=NOW + 31, max_age_seconds=10.0, window_end=NOW - 30, current_until=NOW + 30)
    assert [classify(Sighting(done, NOW), r) for r in (REUSE, later)] == [Step.DONE, Step.CLAIM]
