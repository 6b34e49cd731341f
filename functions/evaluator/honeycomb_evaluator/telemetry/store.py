"""A state store that counts its failures by operation (the `state_store_errors` metric)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from honeycomb_evaluator.errors import StateUnavailable
from honeycomb_evaluator.state.base import StateStore


class CountingStore:
    """Every operation of `store`, unchanged, with each `StateUnavailable` counted first.

    It wraps the store rather than living in each backend: whatever calls the store (the
    executor, the budget, fusion, markers, the readiness check, a background poll) is counted.
    """

    def __init__(self, store: StateStore, count: Callable[[str, str], None]) -> None:
        self._store = store
        self._count = count
        self.name = store.name
        self._wrapped: dict[str, Any] = {}

    def __getattr__(self, operation: str) -> Any:
        wrapped = self._wrapped.get(operation)
        if wrapped is not None:
            return wrapped
        method = getattr(self._store, operation)
        if not inspect.iscoroutinefunction(method):
            return method

        async def counted(*args: Any, **kwargs: Any) -> Any:
            try:
                return await method(*args, **kwargs)
            except StateUnavailable:
                self._count(self.name, operation)
                raise

        self._wrapped[operation] = counted
        return counted
