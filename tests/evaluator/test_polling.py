"""The poll schedule, simulated: GET counts and detection latency, cold and warm."""

from __future__ import annotations

import pytest
from honeycomb_emulator.demo import DEMO_HASHES
from honeycomb_evaluator.honeycomb.polling import PollSchedule, PollTracker, query_shape
from hypothesis import given, settings
from hypothesis import strategies as st

SCHEDULE = PollSchedule()


def simulate(run_time: float, expected: float | None = None, rtt: float = 0.002) -> tuple[int, float, float]:
    """(GETs, detection latency, last 'still running' time) for a result completing at run_time."""
    waited, gets, still_running = 0.0, 0, 0.0
    while True:
        waited += SCHEDULE.delay(waited, expected) + rtt
        gets += 1
        if waited >= run_time:
            return gets, waited - run_time, still_running
        still_running = waited


def test_cold_two_second_query_takes_at_most_eight_gets() -> None:
    gets, latency, _ = simulate(2.0)
    assert gets <= 8
    assert latency <= 0.5 * 2.0


@settings(max_examples=200, deadline=None)
@given(st.floats(0.05, 10.0))
def test_cold_latency_is_a_bounded_fraction_of_the_run_time(run_time: float) -> None:
    _, latency, _ = simulate(run_time)
    assert latency <= max(SCHEDULE.initial, SCHEDULE.fraction * (run_time + 0.2), 0) + 0.1
    assert latency <= SCHEDULE.maximum + 0.1


@pytest.mark.parametrize("run_time", [0.3, 0.5, 2.0, 5.0])
def test_warm_schedule_detects_within_one_dense_step_with_few_gets(run_time: float) -> None:
    # Learn like the tracker does: the midpoint between the last "running" poll and detection.
    gets, latency, still_running = simulate(run_time)
    estimate = (still_running + run_time + latency) / 2
    for _ in range(4):
        gets, latency, still_running = simulate(run_time, expected=estimate)
        estimate += PollTracker.SMOOTHING * ((still_running + run_time + latency) / 2 - estimate)
    assert latency <= SCHEDULE.dense_step + 0.01
    assert gets <= 3


@settings(max_examples=200, deadline=None)
@given(st.floats(0.05, 8.0), st.floats(0.05, 8.0))
def test_a_wrong_expectation_never_stalls_polling(run_time: float, expected: float) -> None:
    gets, latency, _ = simulate(run_time, expected=expected)
    # Worst case: the expectation was far too early and the cold schedule took over afterwards.
    assert latency <= max(SCHEDULE.maximum, expected) + 0.1
    assert gets <= 60


def test_shapes_ignore_the_window() -> None:
    a = query_shape("k", "checkout", {"calculations": [{"op": "COUNT"}], "start_time": 1, "end_time": 61})
    b = query_shape("k", "checkout", {"calculations": [{"op": "COUNT"}], "start_time": 61, "end_time": 121})
    assert a == b
    assert a.exact != query_shape("k2", "checkout", {"calculations": [{"op": "COUNT"}]}).exact
    assert (
        a.exact
        != query_shape("k", "checkout", {"calculations": [{"op": "COUNT"}], "breakdowns": ["x"]}).exact
    )


def canary(pod_hash: str, op: str = "=") -> dict[str, object]:
    return {
        "calculations": [{"op": "P99", "column": "duration_ms"}],
        "filters": [{"column": "rollouts_pod_template_hash", "op": op, "value": pod_hash}],
    }


def test_a_new_rollouts_query_is_a_new_shape_of_the_same_family() -> None:
    old, new = query_shape("k", "d", canary(DEMO_HASHES["bad"])), query_shape("k", "d", canary("5c6b8f9d7"))
    assert old.exact != new.exact and old.family == new.family
    # A different check (another filter op, column or calculation) is another family.
    assert query_shape("k", "d", canary(DEMO_HASHES["bad"], op="!=")).family != old.family
    assert old.family != query_shape("k2", "d", canary(DEMO_HASHES["bad"])).family


def run_once(
    tracker: PollTracker, clock: list[float], query_id: str, spec: dict[str, object], run: float
) -> None:
    """One execution that the tracker sees still running at `run - 0.25` s and complete at `run + 0.25` s."""
    tracker.query_created(query_id, query_shape("k", "d", spec))
    tracker.result_created(query_id, "r-" + query_id)
    clock[0] += run - 0.25
    tracker.polled("r-" + query_id, complete=False)
    clock[0] += 0.5
    tracker.polled("r-" + query_id, complete=True)


def test_tracker_learns_per_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr("honeycomb_evaluator.honeycomb.polling.time.monotonic", lambda: clock[0])
    tracker = PollTracker()
    tracker.query_created("q1", query_shape("k", "d", canary("a")))
    tracker.result_created("q1", "r1")
    assert tracker.expected("r1") is None
    clock[0] += 1.5
    tracker.polled("r1", complete=False)
    clock[0] += 0.5
    tracker.polled("r1", complete=True)
    tracker.query_created("q2", query_shape("k", "d", canary("a")))  # next minute: new query id, same shape
    tracker.result_created("q2", "r2")
    assert tracker.expected("r2") == pytest.approx(1.75)
    assert tracker.expected("unknown") is None


def test_a_new_shape_is_predicted_by_its_family_until_it_has_run_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [100.0]
    monkeypatch.setattr("honeycomb_evaluator.honeycomb.polling.time.monotonic", lambda: clock[0])
    tracker = PollTracker()
    run_once(tracker, clock, "q1", canary("old-rollout"), run=2.0)  # the last rollout's check took 2 s
    tracker.query_created("q2", query_shape("k", "d", canary("new-rollout")))
    tracker.result_created("q2", "r2")
    assert tracker.expected("r2") == pytest.approx(2.0)  # the family's run time
    tracker.query_created("q3", query_shape("k", "d", {"calculations": [{"op": "COUNT"}]}))
    tracker.result_created("q3", "r3")
    assert tracker.expected("r3") is None  # another family: cold
    run_once(tracker, clock, "q4", canary("new-rollout"), run=1.0)
    tracker.query_created("q5", query_shape("k", "d", canary("new-rollout")))
    tracker.result_created("q5", "r5")
    assert tracker.expected("r5") == pytest.approx(1.0)  # its own runs win over the family's
