"""Every time bucket of every judged slice, kept in the state store across looks.

The whole comparison's history (history.py) keeps each bucket once so the anytime-valid tests
hold over every look; slices need the same, per slice. One roster per comparison holds one
member per time bucket with the sides of every *admitted* slice in it (compressed JSON), so a
look costs the same store calls as the whole comparison's history: one read, one union, one
read back.

Admission fixes the family: the slices judged are the first `max_slices` ever admitted (the
largest first), and a slice once admitted stays, so the set of slices any look of the run
judged never exceeds the family the tests are corrected for (docs/canary-judgement.md "Slices").
A slice admitted at a later look is judged on the buckets from then on.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from honeycomb_evaluator.judgement.buckets import Side
from honeycomb_evaluator.judgement.history import HISTORY_TTL_SECONDS, merge

if TYPE_CHECKING:
    from honeycomb_evaluator.state.base import StateStore

MAX_SLICE_BUCKETS = 60  # an hour of minutes: a background analysis of 50 looks after a 10-minute window
ROSTER_BUDGET_BYTES = 300_000  # under DynamoDB's 400 KB item, with room for the item's own fields


@dataclass(frozen=True)
class SlicedBucket:
    start: int
    end: int
    sides: Mapping[str, tuple[Side, Side]]  # slice id -> (canary, baseline)


@dataclass(frozen=True)
class SliceHistory:
    buckets: tuple[SlicedBucket, ...]  # oldest first
    admitted: frozenset[str]  # every slice id judged so far (the family's members)
    new_starts: frozenset[int]  # the buckets this look added
    full: bool  # the history takes no more buckets

    def buckets_of(self, slice_id: str) -> list[tuple[int, int, Side, Side]]:
        return [(b.start, b.end, *b.sides[slice_id]) for b in self.buckets if slice_id in b.sides]


def encode(bucket: SlicedBucket, keys: Sequence[str]) -> str:
    def side(s: Side) -> list[Any]:
        return [s.count, *(s.values.get(k) for k in keys)]

    sides = {i: [side(c), side(b)] for i, (c, b) in sorted(bucket.sides.items())}
    text = json.dumps([bucket.start, bucket.end, sides], separators=(",", ":"))
    return base64.b64encode(zlib.compress(text.encode(), 9)).decode("ascii")


def decode(text: str, keys: Sequence[str]) -> SlicedBucket | None:
    """A stored bucket, or None for one that cannot be read (written with other keys)."""
    try:
        start, end, raw = json.loads(zlib.decompress(base64.b64decode(text)))
        sides = {
            i: tuple(Side(float(s[0]), dict(zip(keys, s[1:], strict=True))) for s in pair)
            for i, pair in raw.items()
        }
    except (ValueError, TypeError, zlib.error):
        return None
    return SlicedBucket(int(start), int(end), {i: (p[0], p[1]) for i, p in sides.items()})


def _read(roster: frozenset[str], keys: Sequence[str]) -> list[SlicedBucket]:
    return [b for b in (decode(text, keys) for text in roster) if b is not None]


def _admitted(buckets: Sequence[SlicedBucket]) -> frozenset[str]:
    return frozenset(i for b in buckets for i in b.sides)


def _only(bucket: SlicedBucket, admitted: frozenset[str]) -> SlicedBucket:
    return SlicedBucket(bucket.start, bucket.end, {i: s for i, s in bucket.sides.items() if i in admitted})


def _room(encoded: Sequence[str]) -> int:
    largest = max((len(e) for e in encoded), default=1)
    return max(1, min(MAX_SLICE_BUCKETS, ROSTER_BUDGET_BYTES // largest))


@dataclass(frozen=True)
class SliceRecording:
    """What a look brings: its buckets with every candidate slice, and the admission rule."""

    keys: Sequence[str]  # the calculations kept per side
    admit: Callable[[frozenset[str]], frozenset[str]]  # admitted before -> admitted now
    buckets: Callable[[frozenset[str]], Sequence[SlicedBucket]]  # this look's, of the admitted ids


def extend(
    kept: Sequence[SlicedBucket], look: SliceRecording
) -> tuple[list[SlicedBucket], list[SlicedBucket], frozenset[str], int]:
    """(all buckets, this look's new ones, admitted ids, room): the pure part of `record`."""
    admitted = look.admit(_admitted(kept))
    current = [_only(b, admitted) for b in look.buckets(admitted)]
    room = _room([encode(b, look.keys) for b in current]) if current else MAX_SLICE_BUCKETS
    merged, new = merge(kept, current, room)
    return merged, new, admitted, room


def history_of(
    merged: Sequence[SlicedBucket], new: Sequence[SlicedBucket], admitted: frozenset[str], room: int
) -> SliceHistory:
    return SliceHistory(tuple(merged), admitted, frozenset(b.start for b in new), len(merged) >= room)


async def record(store: StateStore | None, key: str, look: SliceRecording) -> SliceHistory:
    """Add this look's unseen buckets (admitted slices only) to the history; the history after it."""
    kept = _read(await store.read_roster(key), look.keys) if store is not None else []
    merged, new, admitted, room = extend(kept, look)
    if new and store is not None:
        await store.add_to_roster(key, [encode(b, look.keys) for b in new], HISTORY_TTL_SECONDS)
        # Another look may have added the same spans meanwhile: read back what everyone sees.
        kept = _read(await store.read_roster(key), look.keys)
        merged, _ = merge(kept, new, room)
        admitted = admitted | _admitted(kept)
    return history_of(merged, new, admitted, room)
