"""The rate budget: never more than N grants in any window, fair share, 503 instead of waiting in vain."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from honeycomb_evaluator.budget import Bucket, RateBudget, permit, uses_relational_fields
from honeycomb_evaluator.callers.registry import Caller
from honeycomb_evaluator.errors import RateLimited, answer_for
from honeycomb_evaluator.settings import BudgetSettings
from honeycomb_evaluator.state.base import Slot
from honeycomb_evaluator.state.memory import MemoryStore

LIFETIME = 62.0


def slots(*grants: tuple[float, str]) -> list[Slot]:
    return [Slot(index=i, granted_at=t, caller=c) for i, (t, c) in enumerate(grants)]


def test_empty_bucket_grants() -> None:
    d = permit([], Bucket(9, LIFETIME), caller="a", share=None, now=1000.0)
    assert d.granted and 0 <= d.index < 9 and d.seen_granted_at == 0.0


def test_full_bucket_waits_for_the_first_token_back() -> None:
    full = slots(*[(1000.0 + i, "b") for i in range(3)])
    d = permit(full, Bucket(3, LIFETIME), caller="a", share=None, now=1010.0)
    assert not d.granted and d.wait_seconds == pytest.approx(52.0)


def test_a_caller_alone_may_use_the_whole_bucket() -> None:
    eight = slots(*[(1000.0, "busy")] * 8)
    assert permit(eight, Bucket(9, LIFETIME), caller="busy", share=None, now=1001.0).granted


def test_a_busy_caller_leaves_a_fair_share_for_each_other_active_caller() -> None:
    # Active: busy, q1, q2 → a fair share is ceil(9 / 3) = 3. busy holds 4; 3 tokens are free,
    # and it must leave min(a third of the bucket, a share for each other) = 3: it may not take one.
    bucket = slots(*[(1000.0, "busy")] * 4, (1000.0, "q1"), (1000.0, "q2"))
    busy = permit(bucket, Bucket(9, LIFETIME), caller="busy", share=None, now=1001.0)
    assert not busy.granted
    assert busy.wait_seconds == pytest.approx(61.0)
    # The others are below their share and take any free token.
    quiet = permit(bucket, Bucket(9, LIFETIME), caller="q1", share=None, now=1001.0)
    assert quiet.granted and quiet.index >= 6
    # A registry share above the fair share raises the caller's own quota.
    assert permit(bucket, Bucket(9, LIFETIME), caller="busy", share=0.6, now=1001.0).granted


def test_callers_served_by_a_shared_token_count_as_active() -> None:
    # One token paid for a query 8 other clusters waited for: 10 active callers, a fair share of
    # ceil(9 / 10) = 1. The busy caller holds 6 and, with 2 free (fewer than the reserve of 3),
    # may not take another; a caller that only waited so far may.
    shared = Slot(index=0, granted_at=1000.0, caller="q0", wanted_by=tuple(f"q{i}" for i in range(1, 9)))
    bucket = [shared, *(Slot(index=i, granted_at=1000.0, caller="busy") for i in range(1, 7))]
    assert not permit(bucket, Bucket(9, LIFETIME), caller="busy", share=None, now=1001.0).granted
    assert permit(bucket, Bucket(9, LIFETIME), caller="q5", share=None, now=1001.0).granted


def test_callers_idle_for_two_lifetimes_no_longer_count() -> None:
    bucket = slots(*[(1000.0, "busy")] * 3, (1000.0 - 2 * LIFETIME - 1, "gone"))
    assert permit(bucket, Bucket(9, LIFETIME), caller="busy", share=None, now=1001.0).granted


def test_expired_tokens_are_free_again() -> None:
    old = slots(*[(900.0, "a")] * 3)
    d = permit(old, Bucket(3, LIFETIME), caller="a", share=None, now=1000.0)
    assert d.granted and d.seen_granted_at == 900.0


def test_relational_columns() -> None:
    assert uses_relational_fields(["name", "root.service.name"])
    assert not uses_relational_fields(["name", "rooted"])


class FakeTime:
    """Wall and monotonic clocks that only move when the budget sleeps."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def wall(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def budget_with(fake: FakeTime, settings: BudgetSettings) -> tuple[RateBudget, Any]:
    store = MemoryStore(clock=fake.wall)
    budget = RateBudget(store, settings, wall_clock=fake.wall, monotonic=fake.monotonic, sleep=fake.sleep)
    return budget, store


def test_grants_never_exceed_the_limit_in_any_window() -> None:
    fake = FakeTime()
    settings = BudgetSettings(per_window=10, window_seconds=60, headroom=1, margin_seconds=2)
    budget, _ = budget_with(fake, settings)
    callers = [Caller(name=f"c{i}", via="token") for i in range(5)]
    granted: list[float] = []
    rng = random.Random(7)

    async def main() -> None:
        for _ in range(200):
            fake.now += rng.uniform(0, 6)
            caller = rng.choice(callers)
            try:
                await budget.acquire("key", caller, relational=False, deadline=fake.now + rng.uniform(0, 30))
                granted.append(fake.now)
            except RateLimited as e:
                assert e.status == 503 and e.code == "rate_limited" and e.retry_after_seconds is not None

    asyncio.run(main())
    assert len(granted) > 50
    for t in granted:
        assert sum(1 for u in granted if t <= u < t + 60) <= 9


def test_rate_limited_carries_retry_after() -> None:
    fake = FakeTime()
    budget, _ = budget_with(
        fake, BudgetSettings(per_window=2, window_seconds=60, headroom=0, margin_seconds=0)
    )
    caller = Caller(name="a", via="token", budget_share=1.0)

    async def main() -> None:
        await budget.acquire("key", caller, relational=False, deadline=fake.now + 1)
        await budget.acquire("key", caller, relational=False, deadline=fake.now + 1)
        fake.now += 10
        with pytest.raises(RateLimited) as raised:
            await budget.acquire("key", caller, relational=False, deadline=fake.now + 1)
        assert raised.value.retry_after_seconds == 50
        assert answer_for(raised.value).headers() == {"Retry-After": "50"}
        # Other keys have their own bucket.
        await budget.acquire("other-key", caller, relational=False, deadline=fake.now + 1)

    asyncio.run(main())


def test_relational_budget_is_one_token() -> None:
    fake = FakeTime()
    budget, _ = budget_with(fake, BudgetSettings(per_window=10, window_seconds=60, margin_seconds=0))
    caller = Caller(name="a", via="token")

    async def main() -> None:
        await budget.acquire("key", caller, relational=True, deadline=fake.now + 1)
        with pytest.raises(RateLimited):
            await budget.acquire("key", caller, relational=True, deadline=fake.now + 1)
        await budget.acquire("key", caller, relational=False, deadline=fake.now + 1)

    asyncio.run(main())


def test_noisy_caller_cannot_starve_a_quiet_one() -> None:
    fake = FakeTime()
    budget, _ = budget_with(
        fake, BudgetSettings(per_window=10, window_seconds=60, headroom=1, margin_seconds=2)
    )
    noisy, quiet = Caller(name="noisy", via="token"), Caller(name="quiet", via="token")

    async def try_take(caller: Caller) -> bool:
        try:
            await budget.acquire("key", caller, relational=False, deadline=fake.now)
            return True
        except RateLimited:
            return False

    async def main() -> None:
        # Alone, the noisy cluster may use every token.
        assert [await try_take(noisy) for _ in range(10)] == [True] * 9 + [False]
        fake.now += 1
        assert not await try_take(quiet)  # nothing is free right now
        fake.now += 62  # the first tokens come back
        # With two active callers a fair share is ceil(9 / 2) = 5. The quiet cluster gets a token;
        # the noisy one takes its 5 and must then leave the rest to the quiet one.
        assert await try_take(quiet)
        assert sum([await try_take(noisy) for _ in range(10)]) == 5
        assert [await try_take(quiet) for _ in range(4)] == [True, True, True, False]

    asyncio.run(main())


def test_exhaust_spends_every_free_token() -> None:
    fake = FakeTime()
    budget, _ = budget_with(fake, BudgetSettings(per_window=3, headroom=0))
    caller = Caller(name="a", via="token", budget_share=1.0)

    async def main() -> None:
        await budget.exhaust("key", relational=False)
        with pytest.raises(RateLimited):
            await budget.acquire("key", caller, relational=False, deadline=fake.now + 1)

    asyncio.run(main())


def test_a_shared_execution_is_charged_to_a_waiting_caller_with_room() -> None:
    fake = FakeTime()
    budget, _ = budget_with(fake, BudgetSettings(per_window=4, headroom=0, margin_seconds=0))
    a, b, c = (Caller(name=n, via="token") for n in "abc")

    async def main() -> None:
        # a and b are active; a holds its fair share (ceil(4 / 2) = 2) and may not take more.
        await budget.acquire("key", a, relational=False, deadline=fake.now)
        await budget.acquire("key", a, relational=False, deadline=fake.now)
        await budget.acquire("key", b, relational=False, deadline=fake.now)
        with pytest.raises(RateLimited):
            await budget.acquire("key", a, relational=False, deadline=fake.now)
        # The same execution is also wanted by c, which holds nothing: c pays for it.
        charged = await budget.acquire("key", lambda: [a, c], relational=False, deadline=fake.now)
        assert charged.caller == c

    asyncio.run(main())


@pytest.mark.parametrize("taken", [0, 3, 8, 100, 398])
def test_a_granted_token_is_a_free_slot_and_every_free_slot_gets_chosen(taken: int) -> None:
    """Free slots are found without listing the whole bucket when most are free; either way the
    choice is one of the free slots (never a token still out), and spread over all of them."""
    capacity, now = 400, 10_000.0
    rng = random.Random(taken)
    out = rng.sample(range(capacity), taken)
    expired = [i for i in range(capacity) if i not in out][:5]
    bucket = [Slot(index=i, granted_at=now - 1.0, caller="anyone") for i in out] + [
        Slot(index=i, granted_at=now - 10 * LIFETIME, caller="old") for i in expired
    ]
    free = set(range(capacity)) - set(out)
    chosen = set()
    for _ in range(4000 if len(free) < 50 else 20 * len(free)):
        d = permit(bucket, Bucket(capacity, LIFETIME), caller="anyone", share=1.0, now=now)
        assert d.granted and d.index in free
        chosen.add(d.index)
        if d.index in expired:
            assert d.seen_granted_at == now - 10 * LIFETIME  # the conditional write's expectation
    assert chosen == free


def test_a_bucket_seen_full_refuses_at_once_until_its_first_token_comes_back() -> None:
    """Issue 12: a burst of new queries on a spent bucket is refused before any work is done."""
    fake = FakeTime()
    budget, _ = budget_with(
        fake, BudgetSettings(per_window=2, window_seconds=60, headroom=0, margin_seconds=0)
    )
    caller = Caller(name="a", via="token")

    async def main() -> None:
        budget.refuse_if_full("key", relational=False, deadline=fake.now)  # never seen: no opinion
        await budget.acquire("key", caller, relational=False, deadline=fake.now)
        fake.now += 10
        await budget.acquire("key", caller, relational=False, deadline=fake.now)
        with pytest.raises(RateLimited):
            await budget.acquire("key", caller, relational=False, deadline=fake.now + 1)
        with pytest.raises(RateLimited) as refused:
            budget.refuse_if_full("key", relational=False, deadline=fake.now + 30)
        assert refused.value.retry_after_seconds == 50
        budget.refuse_if_full("key", relational=False, deadline=fake.now + 55)  # would get one in time
        fake.now += 50
        budget.refuse_if_full("key", relational=False, deadline=fake.now)  # the token is back

    asyncio.run(main())


def test_a_lower_priority_query_leaves_tokens_free() -> None:
    """Issue 12: a first check (not fused yet) takes a token only while `leave` others stay free."""
    fake = FakeTime()
    budget, _ = budget_with(
        fake, BudgetSettings(per_window=7, window_seconds=60, headroom=0, margin_seconds=0)
    )
    caller = Caller(name="a", via="token")

    async def main() -> None:
        for _ in range(4):
            await budget.acquire("key", caller, relational=False, deadline=fake.now, leave=3)
            fake.now += 1
        with pytest.raises(RateLimited) as refused:  # 3 free: taking one would leave 2
            await budget.acquire("key", caller, relational=False, deadline=fake.now, leave=3)
        assert refused.value.retry_after_seconds == 56  # the first token back makes 4 free
        for _ in range(3):  # the queries it leaves room for take them
            await budget.acquire("key", caller, relational=False, deadline=fake.now)
        # A small bucket leaves at most half of the rest: with 3 tokens, 1.
        small, _ = budget_with(fake, BudgetSettings(per_window=3, headroom=0))
        await small.acquire("key", caller, relational=False, deadline=fake.now, leave=3)
        await small.acquire("key", caller, relational=False, deadline=fake.now, leave=3)

    asyncio.run(main())
