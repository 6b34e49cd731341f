"""``--demo``: the ``checkout`` dataset of docs/design.md "Demo data", kept current while running.

Five versions run side by side, 600 spans per minute each, over the last 3 hours up to now:

| role                   | service.version | rollouts_pod_template_hash | error rate | p99 duration_ms |
|------------------------|-----------------|----------------------------|------------|-----------------|
| stable                 | v1.4.2          | 6f8d9c7b5                  | 0.5 %      | 300             |
| bad canary             | v1.5.0          | 7d9f8b6c5                  | 8 %        | 1200            |
| good canary            | v1.5.1          | 5b7c6d8e9                  | 0.4 %      | 280             |
| slice-regressed canary | v1.5.2          | 2e4f6a8c0                  | 0.2 % (*)  | 280 (*)         |
| new-exception canary   | v1.5.3          | 3f5b7d9e1                  | 0.5 %      | 290             |

(*) outside its regressed slice, below.

Every span has an `http.route` (its name without the method: /checkout 60 %, /checkout/cart and
/checkout/payment 20 % each) and a `user.plan` (free 65 %, pro 30 %, enterprise 5 %); a failed
span has an `exception.type` (CardDeclinedError or UpstreamTimeoutError); each route's spans get
the plans in their exact shares. The slice-regressed canary fails less elsewhere (0.2 %) but for
enterprise users on /checkout/payment (about 1 % of its traffic) it is 3x slower and 60 % of those
requests fail (its whole error rate, 0.8 %, is not shown above stable's). The new-exception canary throws a
NullPointerException for half of its errors, a type no other version throws. Those columns come
from a random stream of their own, so the first three versions' other columns are as before.

Each minute's events are a pure function of (seed, version, minute), so data is deterministic
and a background task can keep appending minutes as time passes (``make emulator`` stays
useful for hours). Two choices keep short windows close to the targets rather than merely
random: durations are log-normal drawn from *stratified* quantiles (each minute has exactly one
draw in every 1/n of the distribution, offset by a low-discrepancy sequence across minutes), and
errors are spread by a carry so that any window holds the rate's share of errors to within one
event.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any

import anyio.to_thread
import numpy as np

from .engine import ColumnType, Event, Store

log = logging.getLogger("honeycomb_emulator")

DATASET = "checkout"
SERVICE = "checkout"
SEED = 20261125
EVENTS_PER_MINUTE = 600  # 10 a second: enough for a P99 per minute (100 events) and a tenth of it
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
    slice_regression: bool = False  # slower and failing for enterprise users on /checkout/payment
    new_exception: str | None = None  # thrown for half of its errors, by no other version


VARIANTS = (
    Variant("v1.4.2", "6f8d9c7b5", 0.005, 300.0),
    Variant("v1.5.0", "7d9f8b6c5", 0.08, 1200.0),
    Variant("v1.5.1", "5b7c6d8e9", 0.004, 280.0),
    # Fewer errors elsewhere, so that its slice's (0.6 % of its traffic) do not show as a whole.
    Variant("v1.5.2", "2e4f6a8c0", 0.002, 280.0, slice_regression=True),
    Variant("v1.5.3", "3f5b7d9e1", 0.005, 290.0, new_exception="NullPointerException"),
)
PLANS = ("free", "pro", "enterprise")
PLAN_SHARES = (0.65, 0.30, 0.05)
EXCEPTION_TYPES = ("CardDeclinedError", "UpstreamTimeoutError")
REGRESSED_SLICE = {"user.plan": "enterprise", "http.route": "/checkout/payment"}
SLICE_SLOWDOWN = 3.0
SLICE_ERROR_RATE = 0.6
# The demo's pod-template hashes by role, and one that has no events: the one spelling of them
# that Python code (tests, benchmarks, `make run`) uses.
DEMO_HASHES = {
    "stable": VARIANTS[0].pod_template_hash,
    "bad": VARIANTS[1].pod_template_hash,
    "good": VARIANTS[2].pod_template_hash,
    "slice": VARIANTS[3].pod_template_hash,
    "new_exception": VARIANTS[4].pod_template_hash,
    "none": "0000000000",
}


# Per-minute traffic moves around EVENTS_PER_MINUTE (as real traffic does: counts that are all
# equal read as one sampled event each) but any 5 consecutive minutes add up to exactly 5 times it.
_WOBBLE = (-13, -7, 0, 7, 13)


def events_in_minute(minute: int) -> int:
    return EVENTS_PER_MINUTE + _WOBBLE[minute % len(_WOBBLE)] * EVENTS_PER_MINUTE // 600


def _errors_in_minute(minute: int, rate: float) -> int:
    """How many of this minute's events fail: the carry of rate * events over minutes."""
    per_minute = rate * EVENTS_PER_MINUTE
    return math.floor((minute + 1) * per_minute + 0.5) - math.floor(minute * per_minute + 0.5)


COLUMN_TYPES: dict[str, ColumnType] = {
    "name": "string",
    "service.name": "string",
    "service.version": "string",
    "rollouts_pod_template_hash": "string",
    "duration_ms": "float",
    "http.response.status_code": "integer",
    "error": "boolean",
    "status_code": "integer",
    "trace.trace_id": "string",
    "trace.span_id": "string",
    "trace.parent_id": "string",
    "http.route": "string",
    "user.plan": "string",
    "exception.type": "string",
}


# Wichura's AS241 (as statistics.NormalDist.inv_cdf), vectorised: the central and the tail
# rational approximations, numerator and denominator coefficients from the highest power down.
_CENTRAL = (
    (
        2509.0809287301226727,
        33430.575583588128105,
        67265.770927008700853,
        45921.953931549871457,
        13731.693765509461125,
        1971.5909503065514427,
        133.14166789178437745,
        3.387132872796366608,
    ),
    (
        5226.495278852854561,
        28729.085735721942674,
        39307.89580009271061,
        21213.794301586595867,
        5394.1960214247511077,
        687.1870074920579083,
        42.313330701600911252,
        1.0,
    ),
)
_NEAR = (
    (
        7.7454501427834140764e-4,
        0.0227238449892691845833,
        0.24178072517745061177,
        1.27045825245236838258,
        3.64784832476320460504,
        5.7694972214606914055,
        4.6303378461565452959,
        1.42343711074968357734,
    ),
    (
        1.05075007164441684324e-9,
        5.475938084995344946e-4,
        0.0151986665636164571966,
        0.14810397642748007459,
        0.68976733498510000455,
        1.6763848301838038494,
        2.05319162663775882187,
        1.0,
    ),
)
_FAR = (
    (
        2.01033439929228813265e-7,
        2.71155556874348757815e-5,
        0.0012426609473880784386,
        0.026532189526576123093,
        0.29656057182850489123,
        1.7848265399172913358,
        5.4637849111641143699,
        6.6579046435011037772,
    ),
    (
        2.04426310338993978564e-15,
        1.4215117583164458887e-7,
        1.8463183175100546818e-5,
        7.868691311456132591e-4,
        0.0148753612908506148525,
        0.13692988092273580531,
        0.59983220655588793769,
        1.0,
    ),
)


def _ratio(coefficients: tuple[tuple[float, ...], tuple[float, ...]], r: np.ndarray) -> np.ndarray:
    num, den = np.zeros_like(r), np.zeros_like(r)
    for a, b in zip(*coefficients, strict=True):
        num, den = num * r + a, den * r + b
    ratio: np.ndarray = num / den
    return ratio


def normal_quantiles(p: np.ndarray) -> np.ndarray:
    """The standard normal's inverse CDF at each p in (0, 1)."""
    q = p - 0.5
    central = np.abs(q) <= 0.425
    out = np.empty_like(p)
    r = 0.180625 - q[central] ** 2
    out[central] = q[central] * _ratio(_CENTRAL, r)
    tail = ~central
    r = np.sqrt(-np.log(np.where(q[tail] <= 0, p[tail], 1 - p[tail])))
    x = np.where(r <= 5.0, _ratio(_NEAR, r - 1.6), _ratio(_FAR, r - 5.0))
    out[tail] = np.where(q[tail] < 0, -x, x)
    return out


def _hex_ids(rng: np.random.Generator, n: int, digits: int) -> list[str]:
    text = rng.bytes(n * digits // 2).hex()
    return [text[i : i + digits] for i in range(0, n * digits, digits)]


def minute_columns(variant: Variant, minute: int) -> tuple[list[float], dict[str, list[Any]]]:
    """The events of one version in the unix minute ``minute`` (deterministic), column by column."""
    rng = np.random.default_rng([SEED, int(variant.pod_template_hash, 16), minute])
    n = events_in_minute(minute)
    # One draw in each 1/n of the distribution, all shifted by a golden-ratio offset that moves
    # evenly from minute to minute: any run of consecutive minutes covers the tail (where the
    # p99 lives) almost uniformly, which independent random offsets would not.
    offset = min(max((minute * GOLDEN + variant.error_rate * 10) % 1.0, 1e-9), 1 - 1e-9)
    quantiles = rng.permutation((np.arange(n) + offset) / n)
    median = variant.p99_ms / math.exp(SIGMA * Z99)
    durations = np.round(median * np.exp(SIGMA * normal_quantiles(quantiles)), 3).tolist()
    failed = np.zeros(n, dtype=bool)
    failed[rng.choice(n, _errors_in_minute(minute, variant.error_rate), replace=False)] = True
    names = np.array(SPAN_NAMES, dtype=object)[rng.integers(0, len(SPAN_NAMES), n)].tolist()
    times = (minute * 60 + rng.random(n) * 60).tolist()
    durations, failed, extra = _slices(variant, minute, names, durations, failed)
    columns: dict[str, list[Any]] = {
        "name": names,
        "service.name": [SERVICE] * n,
        "service.version": [variant.version] * n,
        "rollouts_pod_template_hash": [variant.pod_template_hash] * n,
        "duration_ms": durations,
        "http.response.status_code": np.where(failed, 500, 200).tolist(),
        "error": failed.tolist(),
        "status_code": np.where(failed, 2, 0).tolist(),  # OTel STATUS_CODE_ERROR / UNSET
        "trace.trace_id": _hex_ids(rng, n, 32),
        "trace.span_id": _hex_ids(rng, n, 16),
        "trace.parent_id": _hex_ids(rng, n, 16),  # the caller's (frontend) span
        **extra,
    }
    return times, columns


def _plans(routes: list[str], rng: np.random.Generator) -> list[str]:
    """Each route's spans get the plans in their exact shares (in a random order), so a slice's
    traffic per minute moves only with its route's: the demo's 1 % slice holds 6 spans or so in
    every minute, not anywhere from 1 to 12."""
    plans = np.empty(len(routes), dtype=object)
    by_route: dict[str, list[int]] = {}
    for i, route in enumerate(routes):
        by_route.setdefault(route, []).append(i)
    for indices in by_route.values():
        counts = [round(share * len(indices)) for share in PLAN_SHARES[1:]]
        labels = [PLANS[0]] * (len(indices) - sum(counts))
        for plan, count in zip(PLANS[1:], counts, strict=True):
            labels += [plan] * count
        plans[indices] = rng.permutation(np.array(labels, dtype=object))
    return [str(p) for p in plans]


def _slices(
    variant: Variant, minute: int, names: list[str], durations: list[float], failed: np.ndarray
) -> tuple[list[float], np.ndarray, dict[str, list[Any]]]:
    """Route, plan and exception type of each span (their own random stream), and the slice
    regression of the slice-regressed canary: (durations, failed, the new columns)."""
    rng = np.random.default_rng([SEED, int(variant.pod_template_hash, 16), minute, 1])
    n = len(names)
    routes = [name.split(" ", 1)[1] for name in names]
    plans = _plans(routes, rng)
    if variant.slice_regression:
        hit = np.flatnonzero(
            [
                p == REGRESSED_SLICE["user.plan"] and r == REGRESSED_SLICE["http.route"]
                for p, r in zip(plans, routes, strict=True)
            ]
        )
        slowed = np.array(durations)
        slowed[hit] *= SLICE_SLOWDOWN
        durations = np.round(slowed, 3).tolist()
        failed = failed.copy()
        failed[hit] = False
        failed[rng.choice(hit, round(SLICE_ERROR_RATE * len(hit)), replace=False)] = True
    kinds = np.array(EXCEPTION_TYPES, dtype=object)[rng.integers(0, len(EXCEPTION_TYPES), n)]
    if variant.new_exception is not None:
        kinds = np.where(rng.random(n) < 0.5, variant.new_exception, kinds)
    exceptions = [str(k) if f else None for k, f in zip(kinds, failed, strict=True)]
    columns: dict[str, list[Any]] = {
        "http.route": routes,
        "user.plan": plans,
        "exception.type": exceptions,
    }
    return durations, failed, columns


def minute_events(variant: Variant, minute: int) -> list[Event]:
    """The same minute as events (tests read them one by one)."""
    times, columns = minute_columns(variant, minute)
    return [Event(time=t, data={k: v[i] for k, v in columns.items()}) for i, t in enumerate(times)]


def columns_between(start: float, end: float) -> tuple[list[float], dict[str, list[Any]]]:
    """Every demo event with start < time <= end, oldest minute first, column by column."""
    times: list[float] = []
    out: dict[str, list[Any]] = {key: [] for key in COLUMN_TYPES}
    for minute in range(math.floor(start / 60), math.floor(end / 60) + 1):
        for variant in VARIANTS:
            minute_times, columns = minute_columns(variant, minute)
            keep = [i for i, t in enumerate(minute_times) if start < t <= end]
            if len(keep) == len(minute_times):
                times.extend(minute_times)
                for key, values in columns.items():
                    out[key].extend(values)
                continue
            times.extend(minute_times[i] for i in keep)
            for key, values in columns.items():
                out[key].extend(values[i] for i in keep)
    return times, out


def events_between(start: float, end: float) -> list[Event]:
    """Every demo event with start < time <= end, oldest minute first."""
    times, columns = columns_between(start, end)
    return [Event(time=t, data={k: v[i] for k, v in columns.items()}) for i, t in enumerate(times)]


class DemoFeeder:
    """Seeds the last 3 hours, then appends new events every few seconds."""

    def __init__(self, store: Store, data_dir: Path | None) -> None:
        self.store = store
        self.state_path = data_dir / STATE_FILE if data_dir else None
        self.generated_until = 0.0
        # Fed from the ticker's thread and from query runs' threads (catch_up): one at a time.
        self._feeding = threading.Lock()

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
        with self._feeding:
            return self._feed(time.time() if now is None else now)

    def catch_up(self) -> None:
        """Events up to this moment, before a query runs.

        Without it a query created a few seconds after a minute boundary misses up to a tick
        (5 s) of the minute before: the demo's 8 % error rate then read 7.99 % in a test that
        happened to run at such a moment.
        """
        self.feed()

    def _feed(self, now: float) -> int:
        start = self.generated_until or self._load_progress(now)
        if now <= start:
            return 0
        times, columns = columns_between(start, now)
        if times or not self.store.has_dataset(DATASET):
            typed = {key: (columns[key], typ) for key, typ in COLUMN_TYPES.items()}
            self.store.add_columns(DATASET, times, typed)
        self.generated_until = now
        self._save_progress()
        return len(times)

    async def run_forever(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            try:
                await anyio.to_thread.run_sync(self.feed)
            except Exception:  # keep feeding; a failed tick is retried with the next one
                log.exception("demo feed failed")
