"""In-process single-flight: one run per key, per-caller deadlines, cancellation when abandoned."""

from __future__ import annotations

import asyncio
import time

import pytest
from honeycomb_evaluator.cache import BoundedCache
from honeycomb_evaluator.sharing.singleflight import Flight, FlightTimeout, SingleFlight


def test_concurrent_callers_share_one_run() -> None:
    runs = 0

    async def work(flight: Flight) -> str:
        nonlocal runs
        runs += 1
        await asyncio.sleep(0.05)
        return "value"

    async def main() -> list[tuple[str, bool]]:
        flights: SingleFlight[str] = SingleFlight()
        deadline = time.monotonic() + 5
        return await asyncio.gather(*(flights.do("k", work, deadline=deadline) for _ in range(50)))

    answers = asyncio.run(main())
    assert runs == 1
    assert {value for value, _ in answers} == {"value"}
    assert sum(joined for _, joined in answers) == 49


def test_errors_reach_every_waiter_and_the_next_call_runs_again() -> None:
    runs = 0

    async def failing(flight: Flight) -> str:
        nonlocal runs
        runs += 1
        await asyncio.sleep(0.01)
        raise ValueError("boom")

    async def main() -> None:
        flights: SingleFlight[str] = SingleFlight()
        deadline = time.monotonic() + 5
        results = await asyncio.gather(
            *(flights.do("k", failing, deadline=deadline) for _ in range(3)), return_exceptions=True
        )
        assert all(isinstance(r, ValueError) for r in results)
        with pytest.raises(ValueError):
            await flights.do("k", failing, deadline=deadline)

    asyncio.run(main())
    assert runs == 2


def test_an_early_deadline_leaves_the_work_to_the_others() -> None:
    async def slow(flight: Flight) -> float:
        await asyncio.sleep(0.2)
        return flight.deadline

    async def main() -> None:
        flights: SingleFlight[float] = SingleFlight()
        now = time.monotonic()
        early = asyncio.ensure_future(flights.do("k", slow, deadline=now + 0.05))
        await asyncio.sleep(0)
        late = asyncio.ensure_future(flights.do("k", slow, deadline=now + 5))
        with pytest.raises(FlightTimeout):
            await early
        value, joined = await late
        assert joined and value == pytest.approx(now + 5)  # the work saw the later deadline

    asyncio.run(main())


def test_work_is_cancelled_when_nobody_waits() -> None:
    cancelled = asyncio.Event

    async def main() -> None:
        seen = cancelled()

        async def endless(flight: Flight) -> None:
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                seen.set()
                raise

        flights: SingleFlight[None] = SingleFlight()
        with pytest.raises(FlightTimeout):
            await flights.do("k", endless, deadline=time.monotonic() + 0.02)
        await asyncio.wait_for(seen.wait(), 1)
        assert "k" not in flights._running

    asyncio.run(main())


def test_age_cache_respects_max_age_retention_and_size() -> None:
    now = [1000.0]
    cache: BoundedCache[str] = BoundedCache(2, retention_seconds=100, clock=lambda: now[0])
    cache.put("a", "A", stored_at=990.0)
    assert cache.get("a", max_age_seconds=5) is None
    entry = cache.get("a", max_age_seconds=60)
    assert entry is not None and entry.value == "A"
    cache.put("a", "old", stored_at=900.0)  # older than what is there: ignored
    assert cache.get("a") is not None and cache.get("a").value == "A"  # type: ignore[union-attr]
    cache.put("b", "B")
    cache.put("c", "C")  # evicts the least recently used
    assert cache.get("a") is None and len(cache) == 2
    now[0] += 101
    assert cache.get("b") is None
