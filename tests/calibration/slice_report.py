"""The slices' calibration table: failed runs, the slice named, and what an oracle could catch."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from tests.calibration.slice_grid import SliceScenario
from tests.calibration.slice_runs import SliceTally, SliceTemplate, seeded_label

START, END = "<!-- slices-calibration:start -->", "<!-- slices-calibration:end -->"
PAUSE = 10


@dataclass(frozen=True)
class SliceResult:
    scenario: SliceScenario
    tally: SliceTally
    oracle: float | None  # errors: the power of a fixed-sample exact test at the last look

    @property
    def named(self) -> float:
        return self.tally.named_share(seeded_label(self.scenario.traffic))

    def line(self) -> str:
        t = self.tally
        looks = sorted(t.failed_at)
        median = looks[len(looks) // 2] if looks else None
        named = (
            f", the seeded slice named in {self.named:.1%} of them"
            if self.scenario.traffic.seeded_share
            else ""
        )
        oracle = f"; oracle {self.oracle:.1%}" if self.oracle is not None else ""
        failed = f"failed {t.failed():.1%} of {t.runs} runs"
        return f"{self.scenario.label}: {failed}{named}, median look {median}{oracle}"


def oracle_power(
    scenario: SliceScenario, template: SliceTemplate, draws: int = 20_000, seed: int = 1
) -> float | None:
    """For an error-rate regression: the share of runs in which a one-sided exact binomial test of
    the seeded slice's errors over the whole run (every minute at once, looked at once, Bonferroni
    over the family at the slices' q) rejects. No test that looks every minute can do better."""
    traffic = scenario.traffic
    if traffic.seeded_share is None or traffic.error_ratio == 1.0:
        return None
    minutes = PAUSE + template.card.count
    expected = traffic.error_rate * traffic.seeded_share * traffic.per_minute * minutes
    rng = np.random.default_rng(seed)
    canary = rng.poisson(traffic.error_ratio * expected, draws)
    baseline = rng.poisson(expected, draws)
    family = template.spec.max_slices * 2  # two metrics judged per slice
    p = stats.binom.sf(canary - 1, canary + baseline, 0.5)
    return float(np.mean(p <= template.q / family))


def _row(result: SliceResult) -> str:
    t, s = result.tally, result.scenario.traffic
    looks = sorted(t.failed_at)
    cells = [
        result.scenario.name,
        "-" if s.seeded_share is None else f"{s.seeded_share:.0%}",
        f"{s.dimensions} x 20",
        f"{s.per_minute:,.0f}",
        f"{s.error_rate:.1%}",
        "swings" if s.swings else "steady",
        f"{t.runs:,}",
        f"{t.failed() * 100:.1f}",
        f"{result.named * 100:.1f}" if s.seeded_share and t.failed_at else "-",
        str(looks[len(looks) // 2]) if looks else "-",
        f"{result.oracle * 100:.1f}" if result.oracle is not None else "-",
    ]
    return "| " + " | ".join(cells) + " |"


HEADER = (
    "| scenario | seeded slice | dimensions | events a minute per version | stable error rate | load | "
    "runs | failed % | the seeded slice named % | median failing look | oracle % |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|"
)


def slice_tables(results: list[SliceResult], seed: int, seconds: float, template: SliceTemplate) -> str:
    null = [r for r in results if r.scenario.traffic.seeded_share is None]
    worst = max((r.tally.failed() for r in null), default=0.0)
    runs = min((r.tally.runs for r in null), default=0)
    margin = 2 * math.sqrt(0.02 * 0.98 / runs) * 100 if runs else 0.0
    lines = [
        f"Seed {seed}; the sliced template as shipped ({template.card.count} looks, significance "
        f"{template.card.alpha:g}, slices q = {template.q:g}), every value of each simulated dimension a "
        f"slice; {seconds / 60:.1f} minutes.",
        "",
        f"Highest false-abort rate with identical versions: {worst * 100:.1f} % (bound 2 %; two "
        f"Monte-Carlo standard errors at 2 % with {runs:,} runs: +-{margin:.1f} points).",
        "",
        HEADER,
        *(_row(r) for r in results),
    ]
    return "\n".join(lines)
