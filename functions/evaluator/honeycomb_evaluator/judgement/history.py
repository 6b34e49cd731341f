"""Every time bucket a comparison has been judged on, kept in the state store across looks.

An AnalysisRun asks about the same comparison every minute over a 10-minute window, so each
look shares nine buckets with the one before. The anytime-valid tests must see each bucket
once: the buckets a look brings are added to a set kept per (caller, environment, dataset,
comparison query, canary, baseline, sampling), and the evidence is the whole set. A bucket
counts as seen when its time span overlaps one already kept, so a bucket is recorded as first
seen and never revised (late events change nothing already judged), and windows whose buckets
do not line up (a 5-minute granularity moved on by 1 minute) are never counted twice.

The set is a roster of the StateStore protocol (one atomic union per look, then one read), so
the memory, DynamoDB and Redis backends keep it unchanged, with a TTL pushed on every look.
It works for Argo's plain `web` metric, which keeps no state itself.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from honeycomb_evaluator.digest import digest
from honeycomb_evaluator.judgement.buckets import Bucket, Side

if TYPE_CHECKING:
    from honeycomb_evaluator.state.base import StateStore

HISTORY_TTL_SECONDS = 24 * 3600  # a rollout's steps may pause for hours between analyses
MAX_BUCKETS = 720  # 12 hours of minutes: the roster stays well under DynamoDB's 400 KB item


class Span(Protocol):
    """Anything kept per time bucket (a Bucket, or a bucket of every slice)."""

    @property
    def start(self) -> int: ...

    @property
    def end(self) -> int: ...


S = TypeVar("S", bound=Span)


@dataclass(frozen=True)
class Recorded:
    buckets: tuple[Bucket, ...]  # every bucket judged so far, oldest first
    new: int  # how many this look added
    full: bool  # the history reached MAX_BUCKETS and takes no more


def history_key(parts: dict[str, Any]) -> str:
    return "judgement:" + digest(parts)


def encode(bucket: Bucket, keys: Sequence[str]) -> str:
    def side(s: Side) -> list[Any]:
        return [s.count, *(s.values.get(k) for k in keys)]

    return json.dumps(
        [bucket.start, bucket.end, side(bucket.canary), side(bucket.baseline)], separators=(",", ":")
    )


def decode(text: str, keys: Sequence[str]) -> Bucket | None:
    """A stored bucket, or None for one written with other keys (never the case for one key)."""
    try:
        start, end, canary, baseline = json.loads(text)
        sides = [Side(float(s[0]), dict(zip(keys, s[1:], strict=True))) for s in (canary, baseline)]
    except (ValueError, TypeError):
        return None
    return Bucket(int(start), int(end), sides[0], sides[1])


class _Spans:
    """Non-overlapping time spans, sorted, with an overlap check by bisection."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []

    def overlaps(self, bucket: Span) -> bool:
        i = bisect.bisect_left(self.starts, bucket.end)  # spans starting before this one ends
        return i > 0 and self.ends[i - 1] > bucket.start

    def add(self, bucket: Span) -> None:
        i = bisect.bisect_left(self.starts, bucket.start)
        self.starts.insert(i, bucket.start)
        self.ends.insert(i, bucket.end)


def merge(kept: Sequence[S], current: Sequence[S], room: int = MAX_BUCKETS) -> tuple[list[S], list[S]]:
    """(all buckets oldest first, the new ones): current buckets overlapping none kept, in time
    order, while there is room. Of two records of one span (two looks racing) the first in a
    fixed order wins, so every instance reads the same history."""
    spans = _Spans()
    merged: list[S] = []
    # Sorted by span; of records of the same span the smallest by their text comes first.
    ordered = sorted(kept, key=lambda b: (b.start, b.end))
    for i in range(len(ordered) - 1):
        if (ordered[i].start, ordered[i].end) == (ordered[i + 1].start, ordered[i + 1].end):
            ordered.sort(key=lambda b: (b.start, b.end, repr(b)))
            break
    for bucket in ordered:
        if not spans.overlaps(bucket):
            spans.add(bucket)
            merged.append(bucket)
    new: list[S] = []
    for bucket in sorted(current, key=lambda b: b.start):
        if len(merged) + len(new) >= room:
            break
        if not spans.overlaps(bucket):
            spans.add(bucket)
            new.append(bucket)
    return sorted([*merged, *new], key=lambda b: b.start), new


async def record(store: StateStore, key: str, keys: Sequence[str], current: Sequence[Bucket]) -> Recorded:
    """Add this look's unseen buckets to the comparison's history; the history after it."""
    roster = await store.read_roster(key)
    kept = [b for b in (decode(text, keys) for text in roster) if b is not None]
    merged, new = merge(kept, current)
    if new:
        await store.add_to_roster(key, [encode(b, keys) for b in new], HISTORY_TTL_SECONDS)
        # Another look may have added the same spans meanwhile: read back what everyone sees
        # (and keep this look's own, should the read not show them yet).
        roster = await store.read_roster(key)
        kept = [b for b in (decode(text, keys) for text in roster) if b is not None]
        merged, _ = merge(kept, new)
    return Recorded(tuple(merged), len(new), len(merged) >= MAX_BUCKETS)
