"""The rate budget: never more than N grants in any window, fair share, 503 instead of waiting in vain."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from honeycomb_evaluator.sharing.backends.base import Slot
from honeycomb_evaluator.sharing.backends.memory import MemoryStore
from honeycomb_evaluator.sharing.callers import Caller
from honeycomb_evaluator.sharing.errors import RateLimited
from honeycomb_evaluator.sharing.ratelimit import BudgetSettings, RateBudget, decide, uses_relational_fields

LIFETIME = 62.0


def slots(*grants: tuple[float, str]) -> list[Slot]:
    return [Slot(index=i, granted_at=t, caller=c) for i, (t, c) in enumerate(grants)]


def test_empty_bucket_grants() -> None:
    d = decide([], capacity=9, lifetime=LIFETIME, caller="a", share=0.25, reserve=2, now=1000.0)
    assert d.granted and 0 <= d.index < 9 and d.seen_granted_at == 0.0


def test_full_bucket_waits_for_the_first_token_back() -> None:
    full = slots(*[(1000.0 + i, "b") for i in range(3)])
    d = decide(full, capacity=3, lifetime=LIFETIME, caller="a", share=0.5, reserve=1, now=1010.0)
    assert not d.granted and d.wait_seconds == pytest.approx(52.0)


def test_caller_above_its_share_leaves_the_reserve_to_others() -> None:
    # "noisy" holds 5 of 8 tokens; 3 are free and the reserve is 3: it may not take one.
    bucket = slots(*[(1000.0, "noisy")] * 5)
    noisy = decide(bucket, capacity=8, lifetime=LIFETIME, caller="noisy", share=0.25, reserve=3, now=1001.0)
    assert not noisy.granted
    assert noisy.wait_seconds == pytest.approx(61.0)
    quiet = decide(bucket, capacity=8, lifetime=LIFETIME, caller="quiet", share=0.25, reserve=3, now=1001.0)
    assert quiet.granted and quiet.index >= 5
    # With more free tokens than the reserve, the busy caller may borrow (work-conserving).
    two = slots(*[(1000.0, "noisy")] * 2)
    assert decide(
        two, capacity=8, lifetime=LIFETIME, caller="noisy", share=0.25, reserve=3, now=1001.0
    ).granted


def test_expired_tokens_are_free_again() -> None:
    old = slots(*[(900.0, "a")] * 3)
    d = decide(old, capacity=3, lifetime=LIFETIME, caller="a", share=0.1, reserve=1, now=1000.0)
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
        assert raised.value.headers() == {"Retry-After": "50"}
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

    async def main() -> int:
        noisy_grants = 0
        for _ in range(30):  # the noisy cluster asks as fast as it can, without waiting
            try:
                await budget.acquire("key", noisy, relational=False, deadline=fake.now)
                noisy_grants += 1
            except RateLimited:
                pass
        # The quiet cluster still gets a token at once.
        await budget.acquire("key", quiet, relational=False, deadline=fake.now)
        return noisy_grants

    assert asyncio.run(main()) == 9 - 3  # the reserve of ceil(0.3 * 9) = 3 is left to others


def test_exhaust_spends_every_free_token() -> None:
    fake = FakeTime()
    budget, _ = budget_with(fake, BudgetSettings(per_window=3, headroom=0))
    caller = Caller(name="a", via="token", budget_share=1.0)

    async def main() -> None:
        await budget.exhaust("key", relational=False)
        with pytest.raises(RateLimited):
            await budget.acquire("key", caller, relational=False, deadline=fake.now + 1)

    asyncio.run(main())
