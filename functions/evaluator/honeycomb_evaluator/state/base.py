"""What every state backend stores, and the few atomic operations the evaluator needs.

Six kinds of records, all keyed by digests (sharing/fingerprint.py) and non-secret key ids:

- query ids: spec key → Honeycomb query id (kept long; a query never changes);
- executions: execution key → one generation of "a query result for this": `claimed` (an
  instance is about to create it), `pending` (created, result id known) or `complete`
  (finished, with the encoded result when it fits);
- rate slots: per Honeycomb key, N slots each holding when its token was last spent (budget.py);
- rosters: per query family and window, the set of filter values checked (sharing/fusion.py);
- blobs: a name → bytes kept for a while, last writer wins (a cached SLO report).
- once-only claims: names of events that must happen once across instances (markers.py).

Every change to an execution or a slot is conditional on what the writer last read (the
generation and owner, the previous grant time), so instances never overwrite each other.
Times are wall-clock seconds (shared between instances); nothing here holds the API key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

State = Literal["claimed", "pending", "complete"]


@dataclass(frozen=True)
class ExecutionRecord:
    state: State
    generation: int
    owner: str
    lease_until: float  # a claim older than this is abandoned and may be taken over
    query_id: str | None = None
    result_id: str | None = None
    created_at: float | None = None  # when the query result was created
    completed_at: float | None = None
    result: bytes | None = None  # encoded completed result; None when too large to share


@dataclass(frozen=True)
class Slot:
    index: int
    granted_at: float  # 0 for a slot never used
    caller: str  # who was charged
    wanted_by: tuple[str, ...] = ()  # every caller waiting for what the token paid for


@dataclass(frozen=True)
class SlotGrant:
    """Spend slot `index` of a bucket, if it still holds `seen_granted_at` (0 = never used)."""

    index: int
    seen_granted_at: float
    caller: str  # who is charged
    now: float
    ttl_seconds: float
    wanted_by: tuple[str, ...] = ()


class StateStore(Protocol):
    name: str

    async def get_query_id(self, spec_key: str) -> str | None: ...

    async def put_query_id(self, spec_key: str, query_id: str, ttl_seconds: float) -> None: ...

    async def get_execution(self, execution_key: str) -> ExecutionRecord | None: ...

    async def claim(
        self,
        execution_key: str,
        *,
        seen: ExecutionRecord | None,
        owner: str,
        lease_until: float,
        ttl_seconds: float,
    ) -> ExecutionRecord | None:
        """Start a new generation if the record is still `seen`; the new record, or None if beaten."""
        ...

    async def release(self, execution_key: str, claim: ExecutionRecord) -> None:
        """Give up a claim (no token in time): others may claim at once."""
        ...

    async def set_pending(
        self, execution_key: str, claim: ExecutionRecord, *, query_id: str, result_id: str, created_at: float
    ) -> bool: ...

    async def set_complete(
        self,
        execution_key: str,
        pending: ExecutionRecord,
        *,
        completed_at: float,
        result: bytes | None,
        ttl_seconds: float,
    ) -> bool:
        """Record the result of `pending`'s generation; anyone who polled it may do this."""
        ...

    async def read_slots(self, bucket: str) -> list[Slot]:
        """Slots that were ever used; absent indexes are free."""
        ...

    async def take_slot(self, bucket: str, grant: SlotGrant) -> bool:
        """Spend the slot if it is still as the grant saw it; False if another taker was first."""
        ...

    async def add_to_roster(self, roster: str, values: Sequence[str], ttl_seconds: float) -> None:
        """Add `values` to the set named `roster` (created empty if absent), atomically.

        A set union: adding a value already there changes nothing, concurrent adders never lose
        each other's values, order is not kept. The roster expires `ttl_seconds` after its last
        addition (each call pushes the expiry; expiry may be lazy, as DynamoDB's TTL is).
        """
        ...

    async def read_roster(self, roster: str) -> frozenset[str]:
        """Every value ever added to `roster` and not expired; empty if there is none."""
        ...

    async def write_blob(self, name: str, blob: bytes, ttl_seconds: float) -> None:
        """Keep `blob` under `name` for `ttl_seconds`, replacing what was there (at most 300 KB)."""
        ...

    async def read_blob(self, name: str) -> bytes | None:
        """What was last written under `name`, unless it expired; None if nothing."""
        ...

    async def claim_once(self, name: str, ttl_seconds: float) -> bool:
        """True for the first caller to claim `name` (until it expires or is released), else False."""
        ...

    async def release_once(self, name: str) -> None:
        """Undo a `claim_once` whose event did not happen, so a later claim may succeed."""
        ...

    async def ping(self) -> None:
        """Return if the store answers (GET /readyz); raise `StateUnavailable` otherwise."""
        ...
