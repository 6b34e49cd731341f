"""A small in-process cache: bounded (least recently used goes first) and aware of entry age.

Ages are wall-clock seconds because the same timestamps are shared with other instances
through DynamoDB; a caller's `max_age_seconds` is compared with them.
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


class AgeCache(Generic[V]):
    def __init__(
        self, max_entries: int, retention_seconds: float, clock: Callable[[], float] = time.time
    ) -> None:
        self._entries: OrderedDict[str, Entry[V]] = OrderedDict()
        self._max_entries = max_entries
        self._retention = retention_seconds
        self._clock = clock

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str, max_age_seconds: float = float("inf")) -> Entry[V] | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        age = self._clock() - entry.stored_at
        if age > self._retention:
            del self._entries[key]
            return None
        if age > max_age_seconds:
            return None
        self._entries.move_to_end(key)
        return entry

    def put(self, key: str, value: V, stored_at: float | None = None) -> None:
        entry = Entry(value, self._clock() if stored_at is None else stored_at)
        current = self._entries.get(key)
        if current is not None and current.stored_at > entry.stored_at:
            return  # never replace a fresher value with an older one
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()
