"""The buckets a comparison was judged on, across looks; and how each metric reads them."""

from __future__ import annotations

import asyncio

import pytest
from honeycomb_evaluator.errors import EvaluatorError
from honeycomb_evaluator.judgement.buckets import Bucket, Sampling, Side
from honeycomb_evaluator.judgement.history import MAX_BUCKETS, decode, encode, merge, record
from honeycomb_evaluator.judgement.measure import counts, dispersion, fewest_events, inferred_rate, paired
from honeycomb_evaluator.judgement.sequential import CountBucket
from honeycomb_evaluator.state.memory import MemoryStore

P99, ERRORS, RATES = "P99(duration_ms)", "AVG(is_error)", "SUM(SampleRate)"
KEYS = [P99, ERRORS]


def bucket(
    start: int, length: int = 60, canary: float = 300.0, count: float = 600, errors: float = 0.005
) -> Bucket:
    return Bucket(
        start,
        start + length,
        Side(count, {P99: canary, ERRORS: errors}),
        Side(count, {P99: 300.0, ERRORS: 0.005}),
    )


def test_each_look_adds_only_the_buckets_it_has_not_seen() -> None:
    first = [bucket(60 * m) for m in range(10)]
    kept, new = merge([], first)
    assert (len(kept), len(new)) == (10, 10)
    second = [bucket(60 * m, canary=999.0) for m in range(1, 11)]  # 9 seen, with later (revised) values
    kept, new = merge(kept, second)
    assert [b.start for b in new] == [600] and len(kept) == 11
    assert all(b.canary.values[P99] == 300.0 for b in kept[:10])  # a bucket is recorded as first seen


def test_buckets_that_do_not_line_up_are_never_counted_twice() -> None:
    five_minutes = [bucket(300 * m, length=300) for m in range(2)]
    kept, _ = merge([], five_minutes)
    moved = [bucket(60 + 300 * m, length=300) for m in range(2)]  # the window moved on by a minute
    kept, new = merge(kept, moved)
    assert new == [] and len(kept) == 2
    kept, new = merge(kept, [bucket(600, length=300)])
    assert len(new) == 1 and len(kept) == 3


def test_two_records_of_one_span_resolve_the_same_way_everywhere() -> None:
    a, b = bucket(0, canary=310.0), bucket(0, canary=290.0)
    assert merge([a, b], [])[0] == merge([b, a], [])[0]


def test_the_history_is_bounded() -> None:
    kept, new = merge(
        [bucket(60 * m) for m in range(MAX_BUCKETS - 1)], [bucket(60 * (MAX_BUCKETS + m)) for m in range(3)]
    )
    assert len(new) == 1 and len(kept) == MAX_BUCKETS


def test_a_bucket_survives_its_text_form() -> None:
    original = bucket(120)
    assert decode(encode(original, KEYS), KEYS) == original
    assert decode("not json", KEYS) is None


def test_looks_share_one_history_in_the_state_store() -> None:
    async def looks() -> tuple[int, int, int, int]:
        store = MemoryStore()
        first = await record(store, "judgement:x", KEYS, [bucket(60 * m) for m in range(10)])
        again = await record(store, "judgement:x", KEYS, [bucket(60 * m) for m in range(10)])
        later = await record(store, "judgement:x", KEYS, [bucket(60 * m) for m in range(1, 11)])
        other = await record(store, "judgement:y", KEYS, [bucket(0)])
        return first.new, again.new, len(later.buckets), len(other.buckets)

    assert asyncio.run(looks()) == (10, 0, 11, 1)


def test_a_percentile_needs_enough_stored_events_to_be_more_than_an_extreme() -> None:
    assert [fewest_events(k) for k in ("P99(d)", "P95(d)", "P50(d)", "P999(d)", "P001(d)", "AVG(d)")] == [
        100, 20, 2, 1000, 1000, 1,
    ]  # fmt: skip
    buckets = [bucket(0, count=99), bucket(60, count=100), bucket(120, canary=0.0)]
    measured = paired(buckets, P99, Sampling())
    assert measured.evidence.size == 1 and measured.skipped == 2
    assert measured.why_skipped == (
        "1 with fewer than 100 stored events in a version; 1 without a positive P99(duration_ms) in both"
    )
    # At sample rate 5, 400 weighted events are 80 stored ones: too few for a P99.
    assert paired([bucket(0, count=400)], P99, Sampling(rate=5.0)).evidence.size == 0


def test_sampling_stated_by_rate_or_column_counts_stored_events() -> None:
    side = Side(200.0, {RATES: 200.0 * 20})  # 10 events at rate 20: sum of squared rates 4000
    assert Sampling(rate=20.0).stored(side) == 10
    assert Sampling(column="SampleRate").stored(side) == 10
    assert Sampling().stored(side) == 200


def test_an_unstated_constant_rate_is_read_off_the_counts() -> None:
    assert inferred_rate([20, 40, 0, 180, 20 * 0.05 * 40]) == 20
    assert inferred_rate([20, 41, 60]) == 1 and inferred_rate([20.5, 40, 60]) == 1
    assert inferred_rate([600, 600]) == 600  # as likely one event at rate 600 as 600 events
    sampled = [
        Bucket(60 * m, 60 * m + 60, Side(n, {ERRORS: 20 / n if m == 0 else 0.0}), Side(200, {ERRORS: 0.0}))
        for m, n in enumerate([200, 180, 240])
    ]
    measured = counts(sampled, ERRORS, Sampling(), ("canary", "baseline"))
    # One stored error of weight 20 is one event, not twenty.
    assert measured.inferred_rate == 20 and sum(b.canary_events for b in measured.evidence.buckets) == 1


def test_over_dispersion_shows_as_buckets_varying_more_than_events_do() -> None:
    steady = [CountBucket(5, 1000, 5, 1000)] * 10
    assert dispersion(steady) == 1.0
    bursty = [CountBucket(x, 1000, y, 1000) for x, y in [(20, 0), (0, 20), (20, 0), (0, 20), (20, 20)]]
    assert dispersion(bursty) > 10


def test_the_proportions_test_refuses_a_share_outside_zero_to_one() -> None:
    with pytest.raises(EvaluatorError) as e:
        counts([bucket(0, errors=3.0)], ERRORS, Sampling(), ("a", "b"))
    assert e.value.field == "judge.test"
