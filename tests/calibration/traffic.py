"""Simulated traffic of a canary and its stable version, as Honeycomb's 1-minute buckets show it.

Per minute and version: events arrive as a Poisson count around the version's rate (times a
load swing both versions share, when the scenario has one); each event is stored with
probability 1/sample_rate; a stored event fails with the version's error rate; durations are
log-normal (shape `SIGMA`, the demo data's 0.45 rounded up). What the query answers per bucket
is computed as Honeycomb computes it (weighted COUNT and AVG; the P99 as the nearest rank of
the stored events repeated sample-rate times, which is the ceil(0.99 n)-th stored event). The
P99 is drawn directly as that order statistic (a Beta variate through the log-normal's
quantile function), so 10,000 events a minute cost no more than 10.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from honeycomb_evaluator.judgement.buckets import Bucket, Side
from scipy.special import ndtri

SIGMA = 0.5
BASELINE_MEDIAN_MS = 100.0
BASELINE_ERROR_RATE = 0.005
P99 = "P99(duration_ms)"
ERRORS = "AVG(is_error)"
SWING = 0.6  # load swings between 0.4x and 1.6x within a few minutes, shared by both versions
SWING_PERIOD_MINUTES = 6


@dataclass(frozen=True)
class Traffic:
    canary_per_minute: float  # the canary's events per minute at normal load
    canary_weight: float  # the canary's share of the traffic: the stable version gets the rest
    sample_rate: int = 1
    swings: bool = False
    latency_ratio: float = 1.0  # canary P99 / stable P99 (the whole distribution is scaled)
    error_ratio: float = 1.0  # canary error rate / stable error rate

    @property
    def baseline_per_minute(self) -> float:
        return self.canary_per_minute * (1 - self.canary_weight) / self.canary_weight


def _p99(stored: np.ndarray, scale: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The nearest-rank P99 of `stored` log-normal events (nan where there are none)."""
    n = np.maximum(stored, 1)
    k = np.ceil(0.99 * n)
    u = rng.beta(k, n - k + 1)
    values = scale * np.exp(SIGMA * ndtri(u))
    return np.where(stored > 0, values, np.nan)


def simulate(traffic: Traffic, runs: int, minutes: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per run and minute, per version: weighted count, stored count, P99 and error share."""
    shape = (runs, minutes)
    if traffic.swings:
        phase = rng.uniform(0, 2 * math.pi, size=(runs, 1))
        load = 1 + SWING * np.sin(2 * math.pi * np.arange(minutes) / SWING_PERIOD_MINUTES + phase)
    else:
        load = np.ones(shape)
    out: dict[str, np.ndarray] = {}
    for role, rate, latency, errors in (
        ("canary", traffic.canary_per_minute, traffic.latency_ratio, traffic.error_ratio),
        ("baseline", traffic.baseline_per_minute, 1.0, 1.0),
    ):
        events = rng.poisson(rate * load)
        stored = rng.binomial(events, 1 / traffic.sample_rate) if traffic.sample_rate > 1 else events
        # Busier minutes are a little slower and fail a little more, for both versions alike.
        error_rate = np.minimum(1.0, BASELINE_ERROR_RATE * errors * load**0.5)
        failed = rng.binomial(stored, error_rate)
        out[f"{role}_count"] = stored * traffic.sample_rate
        out[f"{role}_stored"] = stored
        out[f"{role}_p99"] = _p99(stored, BASELINE_MEDIAN_MS * latency * load**0.3, rng)
        out[f"{role}_errors"] = np.where(stored > 0, failed / np.maximum(stored, 1), np.nan)
    return out


def buckets_of(data: dict[str, np.ndarray], run: int, minute_zero: int = 0) -> list[Bucket]:
    """One run's minutes as the comparison query's buckets (a minute without both versions has
    no bucket: Honeycomb leaves out a group's point where it has no events)."""
    out = []
    for minute in range(data["canary_count"].shape[1]):
        if data["canary_stored"][run, minute] == 0 or data["baseline_stored"][run, minute] == 0:
            continue
        start = (minute_zero + minute) * 60
        sides = [
            Side(
                float(data[f"{role}_count"][run, minute]),
                {
                    P99: float(data[f"{role}_p99"][run, minute]),
                    ERRORS: float(data[f"{role}_errors"][run, minute]),
                },
            )
            for role in ("canary", "baseline")
        ]
        out.append(Bucket(start, start + 60, sides[0], sides[1]))
    return out
