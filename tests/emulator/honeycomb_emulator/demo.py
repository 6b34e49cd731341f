"""``--demo``: the ``checkout`` dataset of docs/design.md "Demo data", kept current while running.

Three versions run side by side, 40 spans per minute each, over the last 3 hours up to now:

| role        | service.version | rollouts_pod_template_hash | error rate | p99 duration_ms |
|-------------|-----------------|----------------------------|------------|-----------------|
| stable      | v1.4.2          | 6f8d9c7b5                  | 0.5 %      | 300             |
| bad canary  | v1.5.0          | 7d9f8b6c5                  | 8 %        | 1200            |
| good canary | v1.5.1          | 5b7c6d8e9                  | 0.4 %      | 280             |

Each minute's events are a pure function of (seed, version, minute), so data is deterministic
and a background task can keep appending minutes as time passes (``make emulator`` stays
useful for hours). Two choices keep short windows close to the targets rather than merely
random: durations are log-normal drawn from *stratified* quantiles (each minute has exactly one
draw in every 1/40 of the distribution, offset by a low-discrepancy sequence across minutes), and
errors are spread by a carry so that any window holds the rate's share of errors to within one
event.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

import anyio.to_thread

from .engine import Event, Store

log = logging.getLogger("honeycomb_emulator")

DATASET = "checkout"
SERVICE = "checkout"
SEED = 20261125
EVENTS_PER_MINUTE = 40
HISTORY_SECONDS = 3 * 3600
SIGMA = 0.45  # log-normal shape: p99 is ~2.85x the median
Z99 = NormalDist().inv_cdf(0.99)
GOLDEN = (math.sqrt(5) - 1) / 2
SPAN_NAMES = (
    "POST /checkout",
    "POST /checkout",
    "POST /checkout",
    "GET /checkout/cart",
    "POST /checkout/payment",
)
STATE_FILE = "demo_state.json"
TICK_SECONDS = 5.0


@dataclass(frozen=True)
class Variant:
    version: str
    pod_template_hash: str
    error_rate: float
    p99_ms: float


VARIANTS = (
    Variant("v1.4.2", "6f8d9c7b5", 0.005, 300.0),
    Variant("v1.5.0", "7d9f8b6c5", 0.08, 1200.0),
    Variant("v1.5.1", "5b7c6d8e9", 0.004, 280.0),
)
# The demo's pod-template hashes by role, and one that has no events: the one spelling of them
# that Python code (tests, benchmarks, `make run`) uses.
DEMO_HASHES = {
    "stable": VARIANTS[0].pod_template_hash,
    "bad": VARIANTS[1].pod_template_hash,
    "good": VARIANTS[2].pod_template_hash,
    "none": "0000000000",
}

_NORMAL = NormalDist()


def _errors_in_minute(minute: int, rate: float) -> int:
    """How many of this minute's events fail: the carry of rate * events over minutes."""
    per_minute = rate * EVENTS_PER_MINUTE
    return math.floor((minute + 1) * per_minute + 0.5) - math.floor(minute * per_minute + 0.5)


def minute_events(variant: Variant, minute: int) -> list[Event]:
    """The events of one version in the unix minute ``minute`` (deterministic)."""
    rng = random.Random(f"{SEED}:{variant.pod_template_hash}:{minute}")
    n = EVENTS_PER_MINUTE
    # One draw in each 1/n of the distribution, all shifted by a golden-ratio offset that moves
    # evenly from minute to minute: any run of consecutive minutes covers the tail (where the
    # p99 lives) almost uniformly, which independent random offsets would not.
    offset = min(max((minute * GOLDEN + variant.error_rate * 10) % 1.0, 1e-9), 1 - 1e-9)
    quantiles = [(i + offset) / n for i in range(n)]
    rng.shuffle(quantiles)
    median = variant.p99_ms / math.exp(SIGMA * Z99)
    failing = set(rng.sample(range(n), _errors_in_minute(minute, variant.error_rate)))
    events = []
    for i, q in enumerate(quantiles):
        failed = i in failing
        data = {
            "name": rng.choice(SPAN_NAMES),
            "service.name": SERVICE,
            "service.version": variant.version,
            "rollouts_pod_template_hash": variant.pod_template_hash,
            "duration_ms": round(median * math.exp(SIGMA * _NORMAL.inv_cdf(q)), 3),
            "http.response.status_code": 500 if failed else 200,
            "error": failed,
            "status_code": 2 if failed else 0,  # OTel STATUS_CODE_ERROR / UNSET
            "trace.trace_id": f"{rng.getrandbits(128):032x}",
            "trace.span_id": f"{rng.getrandbits(64):016x}",
            "trace.parent_id": f"{rng.getrandbits(64):016x}",  # the caller's (frontend) span
        }
        events.append(Event(time=minute * 60 + rng.random() * 60, data=data))
    return events


def events_between(start: float, end: float) -> list[Event]:
    """Every demo event with start < time <= end, oldest minute first."""
    out: list[Event] = []
    for minute in range(math.floor(start / 60), math.floor(end / 60) + 1):
        for variant in VARIANTS:
            out.extend(e for e in minute_events(variant, minute) if start < e.time <= end)
    return out


class DemoFeeder:
    """Seeds the last 3 hours, then appends new events every few seconds."""

    def __init__(self, store: Store, data_dir: Path | None) -> None:
        self.store = store
        self.state_path = data_dir / STATE_FILE if data_dir else None
        self.generated_until = 0.0

    def _load_progress(self, now: float) -> float:
        start = now - HISTORY_SECONDS
        if self.state_path and self.state_path.exists():
            try:
                saved = float(json.loads(self.state_path.read_text())["generated_until"])
                start = max(start, saved)
            except (ValueError, KeyError, TypeError):
                log.warning("ignoring unreadable %s", self.state_path)
        return start

    def _save_progress(self) -> None:
        if self.state_path:
            self.state_path.write_text(json.dumps({"generated_until": self.generated_until}))

    def feed(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        start = self.generated_until or self._load_progress(now)
        if now <= start:
            return 0
        events = events_between(start, now)
        if events or not self.store.has_dataset(DATASET):
            self.store.add_events(DATASET, events)
        self.generated_until = now
        self._save_progress()
        return len(events)

    async def run_forever(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            try:
                await anyio.to_thread.run_sync(self.feed)
            except Exception:  # keep feeding; a failed tick is retried with the next one
                log.exception("demo feed failed")
