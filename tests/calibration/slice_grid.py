"""The slices' calibration grid: identical versions with 4 dimensions of 20 values each, and the
seeded slice regressions the issue names, each through whole AnalysisRuns of the sliced template.

Power is simulated with 2 dimensions of 20 values: their 400 combinations fit Honeycomb's 1,000
groups a result (per version 500), so every slice is what Honeycomb answers. 4 dimensions of 20
values have 160,000 combinations: Honeycomb returns the largest 1,000 groups (about 30 % of the
events here), and the evaluator judges those and reports the rest; the simulation sums every
event into its slices instead, which gives the tests MORE to go on, the worst case for false
aborts. Errors 3x at the calibration's usual 0.5 % error rate leave a 5 % slice about 10 stable
errors in 40 minutes, a 1 % slice 2: no test controlling the family can catch that (the report
prints the power of an oracle, a fixed-sample exact test at the last look); the grid also runs
them at the error rates where there are enough errors to tell.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.calibration.slice_traffic import SliceTraffic

NULL_RUNS = 500  # no failure in 500 runs puts a false-abort rate above 0.6 % out of 95 % bounds
POWER_RUNS = 300


@dataclass(frozen=True)
class SliceScenario:
    name: str
    traffic: SliceTraffic
    runs: int

    @property
    def label(self) -> str:
        t = self.traffic
        where = "" if t.seeded_share is None else f" in {t.seeded_share:.0%} of the traffic"
        load = "swinging" if t.swings else "steady"
        return (
            f"{self.name}{where} | {t.dimensions} dimensions x 20 values | {t.per_minute:,.0f}/min per "
            f"version | stable error rate {t.error_rate:.1%} | {load}"
        )


def identical() -> list[SliceScenario]:
    return [
        SliceScenario("identical", SliceTraffic(), NULL_RUNS),
        SliceScenario("identical", SliceTraffic(swings=True), NULL_RUNS // 2),
        SliceScenario("identical", SliceTraffic(per_minute=200), NULL_RUNS // 2),
        SliceScenario("identical", SliceTraffic(error_rate=0.05), NULL_RUNS // 2),
        SliceScenario("identical", SliceTraffic(dimensions=2), NULL_RUNS // 2),
    ]


def regressions() -> list[SliceScenario]:
    out = []
    for share in (0.05, 0.01):
        out.append(
            SliceScenario(
                "latency 1.4x", SliceTraffic(dimensions=2, seeded_share=share, latency_ratio=1.4), POWER_RUNS
            )
        )
    for share, rates in ((0.05, (0.005, 0.02)), (0.01, (0.005, 0.05, 0.1))):
        for rate in rates:
            traffic = SliceTraffic(dimensions=2, seeded_share=share, error_ratio=3.0, error_rate=rate)
            out.append(SliceScenario("errors 3x", traffic, POWER_RUNS))
    return out


def quick() -> list[SliceScenario]:
    """What make test checks (tests/calibration/test_calibration.py)."""
    return [
        SliceScenario("identical", SliceTraffic(), 30),
        SliceScenario("latency 1.4x", SliceTraffic(dimensions=2, seeded_share=0.05, latency_ratio=1.4), 30),
    ]
