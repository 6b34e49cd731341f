"""Simulated traffic with dimensions: every event has a value of each of 2 or 4 dimensions (20
values each), and a seeded slice (a value of the first dimension holding 1 % or 5 % of the
traffic) may be slower or fail more in the canary only.

Per minute and version: a Poisson number of events around the rate (times the load swing both
versions share, in the swinging scenarios); each event's value of each dimension drawn from
`SHARES` independently; durations log-normal (shape 0.5, as traffic.py), errors Bernoulli. What
the comparison query answers per bucket is computed as Honeycomb computes it from the events:
per slice (a value of a dimension) the COUNT, AVG(duration_ms) and AVG(is_error) of its events,
and the same for each version as a whole. Every number the judgement reads is a sum over events,
so no cell of the joint breakdown needs to exist here: the evaluator sums cells into the same
per-slice numbers (judgement/cells.py, checked against the emulator in over_http_slices.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tests.calibration.traffic import BASELINE_MEDIAN_MS, SIGMA, SWING, SWING_PERIOD_MINUTES

AVG_LATENCY = "AVG(duration_ms)"
ERRORS = "AVG(is_error)"
VALUES = 20
SEEDED = {0.05: 3, 0.01: 12}  # the value of the first dimension that holds this share


def shares() -> np.ndarray:
    """20 shares falling off like real traffic (Zipf-like), with exactly 5 % at value 3 and 1 % at
    value 12 (the seeded slices); the others scaled to add up to 1."""
    weights = 1 / np.arange(1, VALUES + 1) ** 1.1
    fixed = {index: share for share, index in SEEDED.items()}
    free = [i for i in range(VALUES) if i not in fixed]
    out = np.zeros(VALUES)
    out[free] = weights[free] / weights[free].sum() * (1 - sum(fixed.values()))
    for index, share in fixed.items():
        out[index] = share
    return out


SHARES = shares()


@dataclass(frozen=True)
class SliceTraffic:
    per_minute: float = 1000.0  # each version: 10,000 events per 10-minute window
    dimensions: int = 4
    seeded_share: float | None = None  # 0.05 or 0.01: the seeded slice regresses in the canary
    latency_ratio: float = 1.0  # canary / stable in the seeded slice
    error_ratio: float = 1.0
    error_rate: float = 0.005  # every slice's error rate in the stable version
    swings: bool = False

    @property
    def seeded_value(self) -> int | None:
        return None if self.seeded_share is None else SEEDED[self.seeded_share]


@dataclass(frozen=True)
class Minutes:
    """One run's minutes per version: events, duration sums and errors, whole and per slice
    (slice index = dimension * VALUES + value)."""

    # (versions, minutes) and (versions, minutes, dimensions * VALUES):

    count: np.ndarray
    latency_sum: np.ndarray
    errors: np.ndarray
    slice_count: np.ndarray
    slice_latency_sum: np.ndarray
    slice_errors: np.ndarray


def simulate_run(traffic: SliceTraffic, minutes: int, rng: np.random.Generator) -> Minutes:
    if traffic.swings:
        phase = rng.uniform(0, 2 * math.pi)
        load = 1 + SWING * np.sin(2 * math.pi * np.arange(minutes) / SWING_PERIOD_MINUTES + phase)
    else:
        load = np.ones(minutes)
    dimensions = traffic.dimensions
    slices = dimensions * VALUES
    shape = (2, minutes)
    out = [np.zeros(shape) for _ in range(3)] + [np.zeros((*shape, slices)) for _ in range(3)]
    for version in range(2):  # 0: canary, 1: baseline
        per_minute = rng.poisson(traffic.per_minute * load)
        minute = np.repeat(np.arange(minutes), per_minute)
        n = minute.size
        values = rng.choice(VALUES, size=(dimensions, n), p=SHARES)
        scale = BASELINE_MEDIAN_MS * load[minute] ** 0.3
        durations = scale * np.exp(SIGMA * rng.standard_normal(n))
        error_rate = np.full(n, traffic.error_rate) * load[minute] ** 0.5
        if version == 0 and traffic.seeded_value is not None:
            seeded = values[0] == traffic.seeded_value
            durations = np.where(seeded, durations * traffic.latency_ratio, durations)
            error_rate = np.where(seeded, error_rate * traffic.error_ratio, error_rate)
        failed = rng.random(n) < np.minimum(error_rate, 1.0)
        out[0][version] = np.bincount(minute, minlength=minutes)
        out[1][version] = np.bincount(minute, durations, minlength=minutes)
        out[2][version] = np.bincount(minute, failed, minlength=minutes)
        for dimension in range(dimensions):
            index = minute * slices + dimension * VALUES + values[dimension]
            size = minutes * slices
            out[3][version] += np.bincount(index, minlength=size).reshape(minutes, slices)
            out[4][version] += np.bincount(index, durations, minlength=size).reshape(minutes, slices)
            out[5][version] += np.bincount(index, failed, minlength=size).reshape(minutes, slices)
    return Minutes(*out)
