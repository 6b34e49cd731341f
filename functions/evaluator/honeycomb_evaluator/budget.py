"""Honeycomb's query-result budget, spent so that Honeycomb never has to refuse us.

Honeycomb allows each API key N query-result creations in any 60 s (10, or 1 for queries using
relational fields) and answers 429 beyond that. We keep a bucket of N tokens per key; a token
spent comes back one full window (plus a margin for clock skew and request latency) later. So
in any window at most N creations are sent, whatever the arrival pattern and however many
instances share the bucket: each token is a slot in the state store, taken with a conditional
write.

Fair share: the callers that took tokens in the last two token lifetimes, or waited for what
such a token paid for, are "active". Each
active caller's fair share is the bucket divided among them (at least one token; more if its
registry entry sets `budget_share`). Below its share a caller may take any free token. At or
above it, a caller may take one only while more tokens are free than one fair share for every
other active caller. A cluster alone uses the whole budget; with others around, a busy one
cannot take the tokens they will ask for. A token for an execution several callers wait for is
charged to the first of them the rule allows.

When no token can be had before the caller's deadline, the caller gets 503 `rate_limited` with
the time until one frees up, and Honeycomb is not called.

A token pays for a query result Honeycomb creates. When Honeycomb refuses the creation with a
4xx (a misspelt column, an unknown dataset or query) no result exists, so the token is given
back (`give_back`): the slot returns to what it held before, as if it had never been taken.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from honeycomb_evaluator.callers.registry import Caller
from honeycomb_evaluator.errors import RateLimited
from honeycomb_evaluator.settings import BudgetSettings
from honeycomb_evaluator.state.base import Slot, SlotGrant, StateStore

RELATIONAL_PREFIXES = ("root.", "parent.", "child.", "any.", "any2.", "any3.", "none.")
EXHAUSTED = "honeycomb-429"  # marks tokens spent because Honeycomb refused us anyway
MAX_WANTED_BY = 32  # callers recorded per token (keeps the bucket item small)
JOIN_RECHECK_SECONDS = 0.5
RESERVE_FRACTION = 1 / 3


@dataclass(frozen=True)
class Bucket:
    """One key's bucket as the fair-share rule sees it."""

    capacity: int  # tokens
    lifetime: float  # seconds a spent token stays out


NEVER_USED = 1.0  # what a given-back slot that was never used before holds (see give_back)


@dataclass(frozen=True)
class Token:
    """A token taken from a bucket: who was charged, and what the slot held before (to give it back)."""

    bucket: str
    caller: Caller
    index: int
    granted_at: float
    previous: Slot | None
    wanted_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class Permit:
    """Whether one caller may take a token now, which, and otherwise how long it must wait."""

    granted: bool
    wait_seconds: float  # if not granted: when this caller may take a token
    index: int = -1
    seen_granted_at: float = 0.0
    held_back: bool = False  # refused by the fair-share rule although tokens are free


def permit(slots: list[Slot], bucket: Bucket, *, caller: str, share: float | None, now: float) -> Permit:
    """The fair-share rule on one snapshot of a bucket (pure, so it is tested on its own)."""
    capacity, lifetime = bucket.capacity, bucket.lifetime
    by_index = {s.index: s for s in slots if s.index < capacity}
    # One pass over the tokens ever taken; never a pass over all `capacity` slots.
    busy: list[float] = []  # when each token still out comes back
    own: list[float] = []  # the same for this caller's tokens
    active: set[str] = set()  # callers that took, or waited for, a token in two lifetimes
    for slot in by_index.values():
        release = slot.granted_at + lifetime
        if release > now:
            busy.append(release)
            if slot.caller == caller:
                own.append(release)
        if slot.granted_at > now - 2 * lifetime:
            active.add(slot.caller)
            active.update(slot.wanted_by)
    busy.sort()
    own.sort()
    free = capacity - len(busy)
    active.discard(EXHAUSTED)
    others = len(active - {caller})
    # Rounded up, so callers that all hold their share hold the whole bucket (nothing is stranded).
    fair = math.ceil(capacity / (others + 1))
    quota = max(fair, math.floor(share * capacity)) if share else fair
    # Tokens a caller at its share must leave free: a fair share for each other active caller,
    # at most a third of the bucket (so callers holding one token each do not lock it up).
    reserve = min(math.ceil(capacity * RESERVE_FRACTION), others * fair, capacity - 1)
    under_share = len(own) < quota
    if free and (under_share or free > reserve):
        index = _random_free_index(by_index, bucket, now, free)
        previous = by_index.get(index)
        return Permit(True, 0.0, index, previous.granted_at if previous else 0.0)
    if under_share:
        return Permit(False, busy[0] - now)
    # Above its share the caller waits for more than `reserve` free tokens, or for enough of its
    # own tokens to come back that it is below its share again (one of them is then free).
    more_needed = reserve + 1 - free
    wait_for_reserve = busy[more_needed - 1] - now
    wait_for_own = own[len(own) - quota] - now
    return Permit(False, min(wait_for_reserve, wait_for_own), held_back=free > 0)


def _random_free_index(by_index: dict[int, Slot], bucket: Bucket, now: float, free: int) -> int:
    """A free slot chosen uniformly, so concurrent takers spread over the free slots."""
    capacity, lifetime = bucket.capacity, bucket.lifetime

    def is_free(index: int) -> bool:
        slot = by_index.get(index)
        return slot is None or slot.granted_at + lifetime <= now

    if free * 4 >= capacity:  # mostly free: a few random draws beat listing every slot
        while True:
            index = random.randrange(capacity)
            if is_free(index):
                return index
    return random.choice([i for i in range(capacity) if is_free(i)])


def _releases(slots: list[Slot], bucket: Bucket, now: float) -> list[float]:
    """When each token still out comes back, soonest first."""
    return sorted(
        s.granted_at + bucket.lifetime
        for s in slots
        if s.index < bucket.capacity and s.granted_at + bucket.lifetime > now
    )


def _full_until(slots: list[Slot], bucket: Bucket, now: float) -> float | None:
    """When the first token of a full bucket comes back; None when a token is free."""
    out = _releases(slots, bucket, now)
    return out[0] if len(out) >= bucket.capacity else None


def _wait_for_free(slots: list[Slot], bucket: Bucket, now: float, wanted: int) -> float:
    """Seconds until `wanted` (at most the capacity) tokens are free at once (0 if they are now)."""
    releases = _releases(slots, bucket, now)
    short = wanted - (bucket.capacity - len(releases))
    if short <= 0:
        return 0.0
    return releases[short - 1] - now


def uses_relational_fields(columns: list[str]) -> bool:
    return any(column.startswith(RELATIONAL_PREFIXES) for column in columns)


class RateBudget:
    def __init__(
        self,
        store: StateStore,
        settings: BudgetSettings | None = None,
        *,
        wall_clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._store = store
        self._sleep = sleep
        self.settings = settings or BudgetSettings()
        self._wall = wall_clock
        self._monotonic = monotonic
        # bucket → wall-clock instant its first token comes back, seen when it was full. Lets a
        # burst of queries that cannot get a token be refused at once, before any other work.
        self._full_until: dict[str, float] = {}
        # bucket → (capacity, instants its tokens out come back), as this process last read it:
        # the tokens left per key that /metrics shows (free_tokens).
        self._seen: dict[str, tuple[int, list[float]]] = {}

    @staticmethod
    def bucket(key_id: str, relational: bool) -> str:
        return f"{'relational' if relational else 'results'}#{key_id}"

    async def acquire(
        self,
        key_id: str,
        callers: Caller | Callable[[], Sequence[Caller]],
        *,
        relational: bool,
        deadline: float,
        leave: int = 0,
    ) -> Token:
        """Spend one token, waiting for one until `deadline` (monotonic); else 503 `rate_limited`.

        `leave`: tokens that must stay free after this one (a lower-priority query; fusion.py).

        `callers` is who the token is for: one caller, or (for an execution several callers are
        waiting for) a function listing them, read again on every look. The token is charged to
        the first of them the fair-share rule allows (the token's `caller`).
        """
        settings = self.settings
        rule = Bucket(settings.capacity(relational), settings.token_lifetime)
        bucket = self.bucket(key_id, relational)
        while True:
            now = self._wall()
            slots = await self._store.read_slots(bucket)
            self._full_until[bucket] = _full_until(slots, rule, now) or 0.0  # 0: had a free token
            self._seen[bucket] = (rule.capacity, _releases(slots, rule, now))
            candidates = [callers] if isinstance(callers, Caller) else list(dict.fromkeys(callers()))
            permits = [
                (
                    permit(slots, rule, caller=candidate.name, share=candidate.budget_share, now=now),
                    candidate,
                )
                for candidate in candidates
            ]
            granted = next(((p, c) for p, c in permits if p.granted), None)
            # A small bucket keeps room for the query itself: at most half of the rest is left free.
            kept_free = min(leave, (rule.capacity - 1) // 2)
            reserve_wait = _wait_for_free(slots, rule, now, 1 + kept_free) if kept_free else 0.0
            if granted is not None and reserve_wait <= 0:
                allowed, charged = granted
                grant = SlotGrant(
                    index=allowed.index,
                    seen_granted_at=allowed.seen_granted_at,
                    caller=charged.name,
                    now=now,
                    ttl_seconds=settings.token_lifetime * 2,
                    wanted_by=tuple(c.name for c in candidates if c != charged)[:MAX_WANTED_BY],
                )
                taken = await self._store.take_slot(bucket, grant)
                if taken:
                    previous = next((s for s in slots if s.index == allowed.index), None)
                    return Token(bucket, charged, allowed.index, now, previous, grant.wanted_by)
                continue  # another instance took that slot first: look again
            soonest = max(min(p.wait_seconds for p, _ in permits), reserve_wait)
            # A little jitter so the instances waiting for the same slot do not all wake at once.
            wait = soonest + random.uniform(0.0, 0.2)
            remaining = deadline - self._monotonic()
            held_back = all(p.held_back for p, _ in permits) and reserve_wait <= 0
            if callable(callers) and remaining > 0 and held_back:
                # Tokens are free, only not for these callers: another caller with room may still
                # join this execution and pay for it. Look again until the deadline.
                await self._sleep(min(wait, JOIN_RECHECK_SECONDS, remaining))
                continue
            if wait > remaining:
                raise RateLimited(
                    f"the Honeycomb query budget for this key is spent; a token frees up in {soonest:.0f} s",
                    retry_after_seconds=max(1.0, math.ceil(soonest)),
                )
            await self._sleep(wait)

    def free_tokens(self) -> dict[str, tuple[int, int]]:
        """bucket → (tokens free now, capacity), from this process's last read of each bucket."""
        now = self._wall()
        return {
            bucket: (capacity - sum(1 for release in releases if release > now), capacity)
            for bucket, (capacity, releases) in list(self._seen.items())
        }

    def full_for(self, key_id: str, *, relational: bool) -> float | None:
        """Seconds until the bucket's first token comes back, if this process last saw it full."""
        full_until = self._full_until.get(self.bucket(key_id, relational))
        wait = None if full_until is None else full_until - self._wall()
        return wait if wait is not None and wait > 0 else None

    def refuse_if_full(self, key_id: str, *, relational: bool, deadline: float) -> None:
        """503 `rate_limited` now if the bucket was last seen full until after `deadline`.

        Called before the work that precedes taking a token (creating the query, claiming the
        execution): when a hundred new queries arrive at once and the bucket is spent, each is
        refused at once instead of queueing that work and timing out. Only this process's last
        look: a token another instance gives back early is found by the next full look.
        """
        wait = self.full_for(key_id, relational=relational)
        if wait is not None and wait > deadline - self._monotonic():
            raise RateLimited(
                f"the Honeycomb query budget for this key is spent; a token frees up in {wait:.0f} s",
                retry_after_seconds=max(1.0, math.ceil(wait)),
            )

    async def restamp(self, token: Token) -> None:
        """Date a spent token from now, when Honeycomb has answered its creation, if that was late.

        A token's lifetime counts from when it was taken, but Honeycomb counts the creation when
        the request reaches it. When reading the bucket, taking the slot (a slow state store) and
        sending the request took longer than half the margin, the slot reused one lifetime later
        could be Honeycomb's 11th creation in its 60 s: the fleet simulation on DynamoDB once got
        that 429 under load. Dating the token from the answer bounds Honeycomb's count from above.
        """
        now = self._wall()
        if now - token.granted_at <= self.settings.margin_seconds / 2:
            return
        later = SlotGrant(
            index=token.index,
            seen_granted_at=token.granted_at,
            caller=token.caller.name,
            now=now,
            ttl_seconds=self.settings.token_lifetime * 2,
            wanted_by=token.wanted_by,
        )
        await self._store.take_slot(token.bucket, later)  # a slot changed meanwhile stays as it is

    async def give_back(self, token: Token) -> bool:
        """Undo `token` (Honeycomb created nothing with it); False if the slot changed meanwhile.

        The slot gets back its previous grant time and caller. A slot that was never used gets
        `NEVER_USED` (long past, so free) rather than 0: every backend can compare it, while
        "0 = absent" is how a backend may recognise a slot never written.
        """
        previous = token.previous
        restore = SlotGrant(
            index=token.index,
            seen_granted_at=token.granted_at,
            caller=previous.caller if previous else "",
            now=previous.granted_at if previous and previous.granted_at > 0 else NEVER_USED,
            ttl_seconds=self.settings.token_lifetime * 2,
            wanted_by=previous.wanted_by if previous else (),
        )
        return await self._store.take_slot(token.bucket, restore)

    async def exhaust(self, key_id: str, *, relational: bool) -> None:
        """Honeycomb said 429 anyway (another user of the key): spend every free token now."""
        now = self._wall()
        capacity = self.settings.capacity(relational)
        bucket = self.bucket(key_id, relational)
        lifetime = self.settings.token_lifetime
        by_index = {s.index: s for s in await self._store.read_slots(bucket)}
        for index in range(capacity):
            slot = by_index.get(index)
            if slot is None or slot.granted_at + lifetime <= now:
                seen = slot.granted_at if slot else 0.0
                await self._store.take_slot(bucket, SlotGrant(index, seen, EXHAUSTED, now, lifetime * 2))
