"""In-process coalescing: concurrent callers asking for the same key share one piece of work.

Each caller waits until its own deadline; a caller that gives up does not stop the work for
the others. The work sees the latest deadline of everyone still waiting (`Flight.deadline`),
and it is cancelled only when nobody waits for it any more.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass
class Flight:
    """What the work can read while it runs: how long anyone is still waiting for it."""

    key: str
    deadline: float
    waiters: int = 0
    members: list[Any] = field(default_factory=list)  # what each waiting caller brought (`member=`)
    # The work is waiting for a rate-limit token (here or in another instance): a caller leaving
    # at its deadline now was held back by the budget (503 rate_limited), not by a slow query (504).
    waiting_for_budget: bool = False
    budget_retry_after: float | None = None  # when a token frees up, if known


class FlightTimeout(Exception):
    """This caller's deadline passed while the shared work was still running."""

    def __init__(self, flight: Flight) -> None:
        super().__init__(flight.key)
        self.flight = flight


class SingleFlight(Generic[T]):
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._running: dict[str, tuple[Flight, asyncio.Task[T]]] = {}

    def __len__(self) -> int:
        """Pieces of work running now."""
        return len(self._running)

    def running(self, key: str) -> bool:
        return key in self._running

    async def do(
        self, key: str, work: Callable[[Flight], Awaitable[T]], *, deadline: float, member: Any = None
    ) -> tuple[T, bool]:
        """Run `work` once for everyone asking for `key` now; returns (value, joined_existing)."""
        entry = self._running.get(key)
        joined = entry is not None
        if entry is None:
            flight = Flight(key=key, deadline=deadline)
            task = asyncio.ensure_future(work(flight))
            entry = (flight, task)
            self._running[key] = entry
            task.add_done_callback(lambda done: self._finished(key, entry, done))
        flight, task = entry
        if joined:
            flight.deadline = max(flight.deadline, deadline)
        flight.waiters += 1
        if member is not None:
            flight.members.append(member)
        try:
            remaining = deadline - self._clock()
            try:
                # shield: this caller's timeout must not cancel the work others wait for.
                # asyncio.timeout rather than wait_for: one future less between the work's end
                # and this caller waking up.
                async with asyncio.timeout(max(0.0, remaining)):
                    return await asyncio.shield(task), joined
            except TimeoutError:
                if task.done():  # finished at the very moment the deadline passed
                    return task.result(), joined
                raise FlightTimeout(flight) from None
        finally:
            if member is not None:
                flight.members.remove(member)
            flight.waiters -= 1
            if flight.waiters == 0 and not task.done():
                task.cancel()
                self._forget(key, entry)

    def _finished(self, key: str, entry: tuple[Flight, asyncio.Task[T]], task: asyncio.Task[T]) -> None:
        self._forget(key, entry)
        if not task.cancelled():
            # Mark the exception as seen: every waiter may have left before it was raised.
            with contextlib.suppress(BaseException):
                task.exception()

    def _forget(self, key: str, entry: tuple[Flight, asyncio.Task[T]]) -> None:
        if self._running.get(key) is entry:
            del self._running[key]
