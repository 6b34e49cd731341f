"""What a flight does with the execution record it read: the executor's state machine, pure.

A record is `claimed` (an instance is about to create the result), `pending` (created, its id
known) or `complete`. A result still running is never created again: the instance that created
it polls while its lease lasts, the others re-read the record; after the lease (its owner's
deadline passed) whoever asks next resumes polling. A live claim is waited for. Anything else
(no record, a result Honeycomb lost, a complete result the request does not accept, a pending
one too old to be running) is claimed anew.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from honeycomb_evaluator.state.base import ExecutionRecord

from .reuse import Reuse

PENDING_GIVE_UP_SECONDS = 120.0  # Honeycomb stops a query after 10 s; older pending means lost


class Step(Enum):
    DONE = "done"  # complete, and this flight accepts it: use it
    POLL = "poll"  # running in Honeycomb and nobody live polls it: poll it here
    WAIT = "wait"  # another live instance is creating or polling it: re-read the record
    CLAIM = "claim"  # nothing usable: claim a new generation and create a result


@dataclass(frozen=True)
class Sighting:
    """A record as one flight sees it at wall-clock `now`, with what the flight knows about it."""

    record: ExecutionRecord | None
    now: float
    lost: bool = False  # Honeycomb answered 404 for the record's result (to this process)
    seen_running: bool = False  # this flight saw the record's generation claimed or pending
    ours: bool = False  # the record's owner is this process


def classify(sighting: Sighting, reuse: Reuse) -> Step:
    """The step for `sighting`; `reuse`: which completed results the flight's request accepts."""
    record, now = sighting.record, sighting.now
    if record is None or sighting.lost:
        return Step.CLAIM
    if record.state == "complete":
        # Waited for (seen in flight), or a result the request accepts (reuse.py).
        accepted = sighting.seen_running or reuse.accepts(record.completed_at or 0.0)
        return Step.DONE if accepted else Step.CLAIM
    if record.state == "pending":
        if now - (record.created_at or 0.0) > PENDING_GIVE_UP_SECONDS:
            return Step.CLAIM
        # The owner's lease ends with its deadline; then whoever asks next resumes polling.
        owner_alive = record.lease_until > now and not sighting.ours
        return Step.WAIT if owner_alive else Step.POLL
    return Step.WAIT if record.lease_until > now else Step.CLAIM
