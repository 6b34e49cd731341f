"""Every state backend keeps the same contract: conditional claims, generations, slots, rosters, blobs.

DynamoDB runs on a moto server, Redis on a real redis-server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from honeycomb_evaluator.state.base import Slot, SlotGrant, StateStore
from honeycomb_evaluator.state.dynamodb import DynamoDBStore
from honeycomb_evaluator.state.memory import MemoryStore
from honeycomb_evaluator.state.redis import RedisStore

from tests.support.aws import create_state_table, dynamodb_client
from tests.support.servers import aws_env, start_moto, start_redis


@pytest.fixture(scope="module")
def moto_env() -> Iterator[dict[str, str]]:
    with start_moto() as moto:
        yield aws_env(moto.url)


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with start_redis() as redis:
        yield redis.url


@pytest.fixture(
    params=[
        "memory",
        pytest.param("dynamodb", marks=pytest.mark.servers),
        pytest.param("redis", marks=pytest.mark.servers),
    ]
)
def store(request: pytest.FixtureRequest) -> StateStore:
    if request.param == "memory":
        return MemoryStore()
    if request.param == "redis":
        url: str = request.getfixturevalue("redis_url")
        return RedisStore(url, prefix=f"test-{uuid.uuid4().hex[:8]}:")
    env: dict[str, str] = request.getfixturevalue("moto_env")
    table = f"state-{uuid.uuid4().hex[:8]}"
    create_state_table(env, table)
    return DynamoDBStore(table, client=dynamodb_client(env))


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_query_ids(store: StateStore) -> None:
    assert run(store.get_query_id("spec")) is None
    run(store.put_query_id("spec", "q1", 3600))
    assert run(store.get_query_id("spec")) == "q1"


def test_only_one_claim_wins_and_generations_advance(store: StateStore) -> None:
    first = run(store.claim("x", seen=None, owner="a", lease_until=2000.0, ttl_seconds=60))
    assert first is not None and first.generation == 1 and first.state == "claimed"
    assert run(store.claim("x", seen=None, owner="b", lease_until=2000.0, ttl_seconds=60)) is None
    assert run(store.get_execution("x")) == first
    # Pending: only the owner of this generation may record the result id.
    assert not run(store.set_pending("x", first.__class__(**{**first.__dict__, "owner": "b"}), query_id="q",
                                     result_id="r", created_at=1.0))  # fmt: skip
    assert run(store.set_pending("x", first, query_id="q", result_id="r1", created_at=1000.0))
    pending = run(store.get_execution("x"))
    assert pending.state == "pending" and pending.result_id == "r1" and pending.query_id == "q"
    assert pending.created_at == 1000.0
    # Completing needs the same generation and result id; anyone may do it.
    assert run(store.set_complete("x", pending, completed_at=1005.5, result=b"\x00zip", ttl_seconds=60))
    assert not run(store.set_complete("x", pending, completed_at=1006.0, result=None, ttl_seconds=60))
    complete = run(store.get_execution("x"))
    assert complete.state == "complete" and complete.completed_at == 1005.5 and complete.result == b"\x00zip"
    # A stale view cannot start the next generation; the current one can.
    assert run(store.claim("x", seen=pending, owner="c", lease_until=3000.0, ttl_seconds=60)) is None
    second = run(store.claim("x", seen=complete, owner="c", lease_until=3000.0, ttl_seconds=60))
    assert second is not None and second.generation == 2
    assert run(store.get_execution("x")) == second  # nothing of the previous generation is left
    # The old generation's writers are now locked out.
    assert not run(store.set_complete("x", pending, completed_at=1.0, result=None, ttl_seconds=60))


def test_released_claim_can_be_taken_over(store: StateStore) -> None:
    claim = run(store.claim("y", seen=None, owner="a", lease_until=2000.0, ttl_seconds=60))
    run(store.release("y", claim))
    released = run(store.get_execution("y"))
    assert released.state == "claimed" and released.lease_until == 0.0
    assert not run(store.set_pending("y", claim, query_id="q", result_id="r", created_at=1.0))
    taken = run(store.claim("y", seen=released, owner="b", lease_until=2000.0, ttl_seconds=60))
    assert taken is not None and taken.owner == "b" and taken.generation == 2


def test_slots_are_taken_once_per_grant(store: StateStore) -> None:
    assert run(store.read_slots("b")) == []
    assert run(store.take_slot("b", SlotGrant(3, 0.0, "c1", 100.25, 60)))
    assert not run(store.take_slot("b", SlotGrant(3, 0.0, "c2", 100.5, 60)))
    assert run(store.take_slot("b", SlotGrant(0, 0.0, "c2", 100.5, 60)))
    slots = sorted(run(store.read_slots("b")), key=lambda s: s.index)
    assert [(s.index, s.granted_at, s.caller) for s in slots] == [(0, 100.5, "c2"), (3, 100.25, "c1")]
    assert not run(store.take_slot("b", SlotGrant(3, 99.0, "c2", 200.0, 60)))
    assert run(store.take_slot("b", SlotGrant(3, 100.25, "c2", 200.0, 60)))
    assert run(store.read_slots("other")) == []
    # Who else waited for what a token paid for is kept with it.
    assert run(store.take_slot("w", SlotGrant(2, 0.0, "a", 1.0, 60, ("b", "c"))))
    assert run(store.read_slots("w")) == [Slot(index=2, granted_at=1.0, caller="a", wanted_by=("b", "c"))]


def test_concurrent_takers_of_one_slot_have_one_winner(store: StateStore) -> None:
    async def race() -> list[bool]:
        return list(
            await asyncio.gather(
                *(store.take_slot("race", SlotGrant(1, 0.0, f"c{i}", 50.0, 60)) for i in range(8))
            )
        )

    assert sum(run(race())) == 1


def test_a_token_given_back_frees_its_slot_on_every_backend(store: StateStore) -> None:
    """RateBudget.give_back restores what the slot held; a slot never used becomes free and reusable."""
    from honeycomb_evaluator.budget import RateBudget
    from honeycomb_evaluator.callers.registry import Caller
    from honeycomb_evaluator.settings import BudgetSettings

    now = [1_000_000.0]
    budget = RateBudget(store, BudgetSettings(per_window=1, headroom=0), wall_clock=lambda: now[0])
    caller = Caller(name="a", via="token")

    async def main() -> None:
        for _ in range(3):  # take, give back, take again: the one slot serves every round
            token = await budget.acquire("key", caller, relational=False, deadline=float("inf"))
            assert await budget.give_back(token)
            now[0] += 1
        kept = await budget.acquire("key", caller, relational=False, deadline=float("inf"))
        assert kept.previous is not None and kept.previous.granted_at < now[0] - 60
        from honeycomb_evaluator.errors import RateLimited

        with pytest.raises(RateLimited):  # a token not given back stays spent
            await budget.acquire("key", caller, relational=False, deadline=0.0)

    run(main())


def test_a_token_answered_late_is_dated_from_the_answer_on_every_backend(store: StateStore) -> None:
    """RateBudget.restamp: a creation answered after half the margin keeps its slot out from then."""
    from honeycomb_evaluator.budget import RateBudget
    from honeycomb_evaluator.callers.registry import Caller
    from honeycomb_evaluator.errors import RateLimited
    from honeycomb_evaluator.settings import BudgetSettings

    now = [2_000_000.0]
    settings = BudgetSettings(per_window=1, headroom=0)  # one token, out for 62 s
    budget = RateBudget(store, settings, wall_clock=lambda: now[0])
    caller = Caller(name="a", via="token")

    async def main() -> None:
        token = await budget.acquire("key", caller, relational=False, deadline=float("inf"))
        now[0] += 0.5  # answered quickly: nothing to do
        await budget.restamp(token)
        now[0] += 4.5  # ... or 5 s after the token was taken (a slow store, a busy process)
        await budget.restamp(token)
        now[0] = token.granted_at + settings.token_lifetime + 1  # free by the first date
        with pytest.raises(RateLimited):  # but still out: it counts from the answer
            await budget.acquire("key", caller, relational=False, deadline=0.0)
        now[0] = token.granted_at + 5 + settings.token_lifetime
        again = await budget.acquire("key", caller, relational=False, deadline=0.0)
        assert again.previous is not None and again.previous.granted_at == token.granted_at + 5

    run(main())


def test_rosters_are_sets_that_grow_and_expire(store: StateStore) -> None:
    async def main() -> None:
        assert await store.read_roster("family#60") == frozenset()
        await store.add_to_roster("family#60", ["b", "a"], 600)
        await asyncio.gather(*(store.add_to_roster("family#60", [v, "a"], 600) for v in "cdef"))
        assert await store.read_roster("family#60") == frozenset("abcdef")
        assert await store.read_roster("family#120") == frozenset()
        await store.add_to_roster("gone", ["x"], -1)  # already expired
        assert await store.read_roster("gone") == frozenset()

    run(main())


def test_blobs_are_replaced_by_the_last_writer_and_expire(store: StateStore) -> None:
    async def main() -> None:
        assert await store.read_blob("report") is None
        await store.write_blob("report", b"\x00first", 600)
        assert await store.read_blob("report") == b"\x00first"
        await store.write_blob("report", b"second", 600)
        assert await store.read_blob("report") == b"second"
        assert await store.read_blob("other") is None
        await store.write_blob("gone", b"x", -1)  # already expired
        assert await store.read_blob("gone") is None

    run(main())


def test_a_judgement_history_is_kept_by_every_backend(store: StateStore) -> None:
    """judgement/history.py on the roster operations: each look adds only unseen buckets, a full
    day of minutes fits (DynamoDB's item limit), and a second record of a span resolves alike."""
    from honeycomb_evaluator.judgement.buckets import Bucket, Side
    from honeycomb_evaluator.judgement.history import MAX_BUCKETS, record

    keys = ["P99(duration_ms)", "AVG(is_error)"]

    def minute(m: int, p99: float = 300.0) -> Bucket:
        values = {keys[0]: p99, keys[1]: 0.005}
        return Bucket(60 * m, 60 * m + 60, Side(600.0, values), Side(5400.0, values))

    first = run(record(store, "judgement:test", keys, [minute(m) for m in range(10)]))
    assert (first.new, len(first.buckets)) == (10, 10)
    later = run(record(store, "judgement:test", keys, [minute(m, 999.0) for m in range(1, 11)]))
    assert later.new == 1 and [b.start for b in later.buckets] == [60 * m for m in range(11)]
    assert later.buckets[1].canary.values[keys[0]] == 300.0  # as first seen
    full = run(record(store, "judgement:test", keys, [minute(m) for m in range(MAX_BUCKETS + 5)]))
    assert len(full.buckets) == MAX_BUCKETS and full.full


def test_once_only_claims_have_one_winner_and_can_be_released(store: StateStore) -> None:
    async def race() -> list[bool]:
        return list(await asyncio.gather(*(store.claim_once("marker#a", 3600) for _ in range(20))))

    assert sorted(run(race())) == [False] * 19 + [True]
    assert run(store.claim_once("marker#b", 3600)) is True  # another name is another event
    run(store.release_once("marker#a"))  # the event did not happen: a later claim may win
    assert run(store.claim_once("marker#a", 3600)) is True
    assert run(store.claim_once("marker#a", 3600)) is False


def test_ping_answers_when_the_store_does(store: StateStore) -> None:
    run(store.ping())


def test_ping_of_an_unreachable_redis_names_redis() -> None:
    from honeycomb_evaluator.errors import StateUnavailable

    from tests.support.servers import free_port

    with pytest.raises(StateUnavailable, match=r"Redis ping at 127\.0\.0\.1"):
        run(RedisStore(f"redis://127.0.0.1:{free_port()}/0").ping())
