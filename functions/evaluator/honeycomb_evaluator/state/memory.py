"""The in-process backend: one evaluator process (local runs, a container). No I/O, no locks.

All methods run on the event loop without awaiting in between reads and writes, so each one
is atomic with respect to other coroutines, exactly like a DynamoDB conditional write.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence

from honeycomb_evaluator.cache import BoundedCache
from honeycomb_evaluator.settings import RESULT_CACHE_BYTES

from .base import ExecutionRecord, Slot, SlotGrant

MAX_EXECUTIONS = 10_000
MAX_QUERY_IDS = 10_000
MAX_BLOBS = 1024
MAX_BLOB_BYTES = 8 * 1024 * 1024  # a blob is an SLO report (about 1 KB): far more than enough


class MemoryStore:
    name = "memory"

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        retention_seconds: float = 24 * 3600,
        max_result_bytes: int = RESULT_CACHE_BYTES,
    ) -> None:
        self._clock = clock
        self._query_ids: BoundedCache[str] = BoundedCache(
            MAX_QUERY_IDS, retention_seconds=retention_seconds, clock=clock
        )
        # The compressed results complete records carry (up to 300 KB each) are bounded in bytes
        # too (EVALUATOR_RESULT_CACHE_BYTES): 10,000 records could hold gigabytes. A record whose
        # result does not fit is kept without it (a complete result can be read again for free).
        self._executions: BoundedCache[ExecutionRecord] = BoundedCache(
            MAX_EXECUTIONS, retention_seconds=retention_seconds, max_bytes=max_result_bytes, clock=clock
        )
        self._slots: dict[str, dict[int, Slot]] = {}
        self._rosters: dict[str, tuple[frozenset[str], float]] = {}  # roster → (values, expires at)
        self._blobs: BoundedCache[tuple[bytes, float]] = BoundedCache(  # name → (blob, expires at)
            MAX_BLOBS, retention_seconds=retention_seconds, max_bytes=MAX_BLOB_BYTES, clock=clock
        )
        self._once: BoundedCache[float] = BoundedCache(  # name → when the claim expires
            MAX_EXECUTIONS, retention_seconds=retention_seconds, clock=clock
        )

    async def get_query_id(self, spec_key: str) -> str | None:
        entry = self._query_ids.get(spec_key)
        return entry.value if entry else None

    async def put_query_id(self, spec_key: str, query_id: str, ttl_seconds: float) -> None:
        self._query_ids.put(spec_key, query_id)

    async def get_execution(self, execution_key: str) -> ExecutionRecord | None:
        entry = self._executions.get(execution_key)
        return entry.value if entry else None

    async def claim(
        self,
        execution_key: str,
        *,
        seen: ExecutionRecord | None,
        owner: str,
        lease_until: float,
        ttl_seconds: float,
    ) -> ExecutionRecord | None:
        current = await self.get_execution(execution_key)
        if current != seen:
            return None
        generation = (current.generation if current else 0) + 1
        record = ExecutionRecord(state="claimed", generation=generation, owner=owner, lease_until=lease_until)
        self._executions.put(execution_key, record)
        return record

    async def release(self, execution_key: str, claim: ExecutionRecord) -> None:
        current = await self.get_execution(execution_key)
        if current == claim:
            self._executions.put(execution_key, dataclasses.replace(claim, lease_until=0.0))

    async def set_pending(
        self, execution_key: str, claim: ExecutionRecord, *, query_id: str, result_id: str, created_at: float
    ) -> bool:
        current = await self.get_execution(execution_key)
        if current != claim:  # released, expired and taken over, or never ours
            return False
        assert current is not None
        pending = dataclasses.replace(
            current, state="pending", query_id=query_id, result_id=result_id, created_at=created_at
        )
        self._executions.put(execution_key, pending)
        return True

    async def set_complete(
        self,
        execution_key: str,
        pending: ExecutionRecord,
        *,
        completed_at: float,
        result: bytes | None,
        ttl_seconds: float,
    ) -> bool:
        current = await self.get_execution(execution_key)
        if (
            current is None
            or current.state != "pending"
            or current.generation != pending.generation
            or current.result_id != pending.result_id
        ):
            return False
        complete = dataclasses.replace(current, state="complete", completed_at=completed_at, result=result)
        if not self._executions.put(execution_key, complete, size=len(result or b"")):
            self._executions.put(execution_key, dataclasses.replace(complete, result=None))
        return True

    async def read_slots(self, bucket: str) -> list[Slot]:
        return list(self._slots.get(bucket, {}).values())

    async def take_slot(self, bucket: str, grant: SlotGrant) -> bool:
        slots = self._slots.setdefault(bucket, {})
        current = slots.get(grant.index)
        if (current.granted_at if current else 0.0) != grant.seen_granted_at:
            return False
        slots[grant.index] = Slot(grant.index, grant.now, grant.caller, grant.wanted_by)
        return True

    async def add_to_roster(self, roster: str, values: Sequence[str], ttl_seconds: float) -> None:
        now = self._clock()
        held = await self.read_roster(roster)
        self._rosters[roster] = (held | frozenset(values), now + ttl_seconds)
        if len(self._rosters) > MAX_EXECUTIONS:  # drop the expired ones now and then
            self._rosters = {k: v for k, v in self._rosters.items() if v[1] > now}

    async def read_roster(self, roster: str) -> frozenset[str]:
        entry = self._rosters.get(roster)
        if entry is None or entry[1] <= self._clock():
            return frozenset()
        return entry[0]

    async def write_blob(self, name: str, blob: bytes, ttl_seconds: float) -> None:
        self._blobs.put(name, (blob, self._clock() + ttl_seconds), size=len(blob))

    async def read_blob(self, name: str) -> bytes | None:
        entry = self._blobs.value(name)
        return entry[0] if entry is not None and entry[1] > self._clock() else None

    async def claim_once(self, name: str, ttl_seconds: float) -> bool:
        expires = self._once.value(name)
        if expires is not None and expires > self._clock():
            return False
        self._once.put(name, self._clock() + ttl_seconds)
        return True

    async def release_once(self, name: str) -> None:
        self._once.pop(name)

    async def ping(self) -> None:
        return None
