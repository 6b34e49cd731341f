"""The calibration grid: which traffic the shipped templates are simulated on, and how often.

Identical versions: the canary's traffic from 10 to 10,000 events a minute, canary weight 10 %
and 50 % (the stable version gets the rest: 10 % at 10 a minute is the issue's quiet service,
10 against 90), sample rates 1, 5, 20 and 100 (stated in the request, and not stated), steady
load and load swinging 0.4x-1.6x within minutes for both versions: every combination.
Regressions: P99 1.1x, 1.3x, 2x and error rate 2x, 4x over the same traffic and weights,
steady and swinging, unsampled; and at sample rate 5 and 20 where the traffic leaves stored
events to judge.

Runs per scenario: 2,000 for identical versions (the Monte-Carlo standard error of a 2 % rate
is 0.31 points, so +-0.6 at two standard errors), 500 for regressions (+-2.7 points at 90 %).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from tests.calibration.traffic import Traffic

CANARY_PER_MINUTE = (10, 50, 200, 500, 2000, 10_000)
WEIGHTS = (0.1, 0.5)
SAMPLE_RATES = (1, 5, 20, 100)
NULL_RUNS = 2000
POWER_RUNS = 500
EFFECTS = (
    ("P99 1.1x", 1.1, 1.0),
    ("P99 1.3x", 1.3, 1.0),
    ("P99 2x", 2.0, 1.0),
    ("errors 2x", 1.0, 2.0),
    ("errors 4x", 1.0, 4.0),
)


@dataclass(frozen=True)
class Scenario:
    traffic: Traffic
    stated: bool  # the request states the sample rate
    runs: int
    effect: str  # "identical" or the regression's name

    @property
    def label(self) -> str:
        t = self.traffic
        sampled = (
            f"1/{t.sample_rate} {'stated' if self.stated else 'not stated'}" if t.sample_rate > 1 else "none"
        )
        return (
            f"{self.effect} | {t.canary_per_minute:g} vs {t.baseline_per_minute:g}/min | "
            f"sampling {sampled} | {'swinging' if t.swings else 'steady'}"
        )


def identical(runs: int = NULL_RUNS) -> Iterator[Scenario]:
    for canary in CANARY_PER_MINUTE:
        for weight in WEIGHTS:
            for swings in (False, True):
                for rate in SAMPLE_RATES:
                    for stated in (True, False) if rate > 1 else (True,):
                        yield Scenario(Traffic(canary, weight, rate, swings), stated, runs, "identical")


def regressions(runs: int = POWER_RUNS) -> Iterator[Scenario]:
    for name, latency, errors in EFFECTS:
        for canary in CANARY_PER_MINUTE:
            for weight in WEIGHTS:
                for swings in (False, True):
                    traffic = Traffic(canary, weight, 1, swings, latency, errors)
                    yield Scenario(traffic, True, runs, name)
                if canary >= 2000:
                    for rate in (5, 20):
                        traffic = Traffic(canary, weight, rate, False, latency, errors)
                        yield Scenario(traffic, False, runs, name)


def quick() -> list[Scenario]:
    """The few scenarios `make test` checks (tests/calibration/test_calibration.py)."""
    return [
        Scenario(Traffic(10, 0.1), True, 600, "identical"),
        Scenario(Traffic(200, 0.5, 20), False, 600, "identical"),
        Scenario(Traffic(200, 0.5, swings=True), True, 600, "identical"),
        Scenario(Traffic(200, 0.5, latency_ratio=1.3), True, 200, "P99 1.3x"),
        Scenario(Traffic(500, 0.5, error_ratio=2.0), True, 200, "errors 2x"),
    ]
