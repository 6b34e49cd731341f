"""Whole AnalysisRuns of the shipped templates, judged by the evaluator's own judgement code.

A run as Argo runs the shipped templates after the Rollout's pause (docs/canary-judgement.md):
the canary has served for `pause` minutes when the first look comes; every `interval` (1 min)
a look asks about the last `window` minutes; the comparison's history (judgement/history.py)
keeps each bucket once; the metric's verdict is `failureCondition`/`successCondition` of the
template: `high`/`low` fails the run at once (failureLimit 0), `pass` ends it Successful
(consecutiveSuccessLimit 1), anything else is an Inconclusive measurement, and a run that
reaches `count` looks without either ends Inconclusive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from honeycomb_evaluator.judgement.buckets import Bucket, Sampling
from honeycomb_evaluator.judgement.classify import Rule, Tests, run_tests
from honeycomb_evaluator.judgement.history import merge
from honeycomb_evaluator.judgement.measure import counts, paired
from honeycomb_evaluator.judgement.scorecard import score

from tests.calibration.traffic import ERRORS, P99, Traffic, buckets_of, simulate


@dataclass(frozen=True)
class Metric:
    calculation: str
    test: str  # "paired" or "proportions"
    rule: Rule
    critical: bool = True


@dataclass(frozen=True)
class Template:
    """What the calibration needs of a shipped AnalysisTemplate (templates.py reads them)."""

    name: str
    metrics: tuple[Metric, ...]
    alpha: float
    count: int  # looks
    window_minutes: int


@dataclass
class Tally:
    """Outcomes of one template's runs in one scenario, with the look that decided each."""

    runs: int = 0
    failed_at: list[int] = field(default_factory=list)  # the look of each Failed run
    passed_at: list[int] = field(default_factory=list)  # the look of each Successful run

    def add(self, outcome: str, looks: int) -> None:
        self.runs += 1
        if outcome == "Failed":
            self.failed_at.append(looks)
        elif outcome == "Successful":
            self.passed_at.append(looks)

    def failed(self, within: int | None = None) -> float:
        """Share of runs that ended Failed (within the first `within` looks: a shorter `count`)."""
        hits = [k for k in self.failed_at if within is None or k <= within]
        return len(hits) / self.runs if self.runs else 0.0

    def passed(self, within: int | None = None) -> float:
        hits = [k for k in self.passed_at if within is None or k <= within]
        return len(hits) / self.runs if self.runs else 0.0


def _tests(metric: Metric, history: Sequence[Bucket], sampling: Sampling, alpha: float) -> Tests:
    if metric.test == "proportions":
        measured = counts(history, metric.calculation, sampling, ("canary", "baseline"))
    else:
        measured = paired(history, metric.calculation, sampling)
    return run_tests(measured.evidence, metric.rule, alpha)


class Look:
    """One look's history; each metric's tests are run once however many templates use it."""

    def __init__(self, history: Sequence[Bucket], sampling: Sampling) -> None:
        self.history, self.sampling = history, sampling
        self.cache: dict[tuple[Metric, float], Tests] = {}

    def tests(self, metric: Metric, alpha: float) -> Tests:
        key = (metric, alpha)
        if key not in self.cache:
            self.cache[key] = _tests(metric, self.history, self.sampling, alpha)
        return self.cache[key]

    def verdict(self, template: Template) -> str:
        """The verdict the template's metric answers (a scorecard's overall verdict)."""
        tests = [self.tests(m, template.alpha) for m in template.metrics]
        if len(tests) == 1:
            return tests[0].verdict(template.alpha)
        return score(tests, [m.critical for m in template.metrics], template.alpha).verdict


def outcome_of(verdict: str) -> str | None:
    if verdict in ("high", "low"):
        return "Failed"
    if verdict == "pass":
        return "Successful"
    return None


def run_all(
    templates: Sequence[Template], buckets: Sequence[Bucket], sampling: Sampling, pause: int
) -> dict[str, tuple[str, int]]:
    """(outcome, looks taken) per template, of one AnalysisRun each over one run's buckets
    (minute 0 is the canary's start; all templates look at the same minutes)."""
    results: dict[str, tuple[str, int]] = {}
    kept: list[Bucket] = []
    window = max(t.window_minutes for t in templates)
    for look in range(max(t.count for t in templates)):
        running = [t for t in templates if t.name not in results and look < t.count]
        if not running:
            break
        now = pause + look  # minutes since the canary started, at this look
        current = [b for b in buckets if now - window <= b.start // 60 < now]
        kept, _ = merge(kept, current)
        seen = Look(kept, sampling)
        for template in running:
            outcome = outcome_of(seen.verdict(template))
            if outcome is not None:
                results[template.name] = (outcome, look + 1)
            elif look + 1 == template.count:
                results[template.name] = ("Inconclusive", template.count)
    return results


def calibrate(
    templates: Sequence[Template], traffic: Traffic, runs: int, stated: bool, seed: int, pause: int = 10
) -> dict[str, Tally]:
    """Tallies per template for `runs` simulated AnalysisRuns of one scenario."""
    rng = np.random.default_rng(seed)
    minutes = pause + max(t.count for t in templates)
    data = simulate(traffic, runs, minutes, rng)
    sampling = Sampling(rate=float(traffic.sample_rate)) if stated else Sampling()
    tallies = {t.name: Tally() for t in templates}
    for run in range(runs):
        for name, (outcome, looks) in run_all(templates, buckets_of(data, run), sampling, pause).items():
            tallies[name].add(outcome, looks)
    return tallies


__all__ = ["ERRORS", "P99", "Metric", "Tally", "Template", "calibrate"]
