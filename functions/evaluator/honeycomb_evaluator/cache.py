"""The one bounded in-process cache: least recently used goes first, entries know their age.

Bounded by entry count and, where entries vary in size (query results), by bytes: the size of
each entry is given when it is stored, and one too large for the bound is not stored at all.
Ages are wall-clock seconds because the same timestamps are shared with other instances
through the state store; a caller's `max_age_seconds` is compared with them.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

V = TypeVar("V")


@dataclass(frozen=True)
class Entry(Generic[V]):
    value: V
    stored_at: float  # wall-clock seconds: when the value was produced
    size: int = 0  # bytes, as the caller measured them


class BoundedCache(Generic[V]):
    def __init__(
        self,
        max_entries: int,
        *,
        retention_seconds: float = float("inf"),
        max_bytes: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._entries: OrderedDict[str, Entry[V]] = OrderedDict()
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._retention = retention_seconds
        self._clock = clock
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        """A live entry is held for `key` (one not past its retention)."""
        return isinstance(key, str) and self.get(key) is not None

    @property
    def bytes(self) -> int:
        return self._bytes

    def get(self, key: str, max_age_seconds: float = float("inf")) -> Entry[V] | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        age = self._clock() - entry.stored_at
        if age > self._retention:
            self.pop(key)
            return None
        if age > max_age_seconds:
            return None
        self._entries.move_to_end(key)
        return entry

    def value(self, key: str) -> V | None:
        entry = self.get(key)
        return None if entry is None else entry.value

    def put(self, key: str, value: V, *, stored_at: float | None = None, size: int = 0) -> bool:
        """Store `value`; False (nothing stored) when it alone is over the byte bound."""
        if self._max_bytes is not None and size > self._max_bytes:
            return False
        entry = Entry(value, self._clock() if stored_at is None else stored_at, size)
        current = self._entries.get(key)
        if current is not None:
            if current.stored_at > entry.stored_at:
                return True  # never replace a fresher value with an older one
            self._bytes -= current.size
        self._entries[key] = entry
        self._entries.move_to_end(key)
        self._bytes += size
        while len(self._entries) > self._max_entries or (
            self._max_bytes is not None and self._bytes > self._max_bytes
        ):
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= evicted.size
        return True

    def pop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry.size
