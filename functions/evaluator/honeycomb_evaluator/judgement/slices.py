"""Slices judged: each admitted slice (and error type) with the comparison's own statistic, the
family controlled by e-BH, the new error types named, and what that means for the verdict.

Every hypothesis "this slice's metric is inside its band" (and "this error type is at most
`ratio` times as frequent in the canary") gets its anytime-valid p-value from the same evidence,
`run_tests` and band as the whole comparison (measure.py, classify.py). The family's q-values are
Benjamini-Hochberg's over those p-values with the family's full size (`max_slices` x metrics, plus
`max_types`): e-BH, valid under any dependence. A slice regressed when its q-value is at most the
slices' significance q; the first such slice needs p <= q / family, so over every look of a run
the chance that a canary is failed for a slice inside its band is at most q (Ville's inequality
for each slice, a union over the family). The whole comparison keeps significance - q, so the
run's false-abort rate stays at most the significance (docs/canary-judgement.md "Slices").

Slices can fail a canary, never hold a pass back: quiet slices would keep any canary from
passing. Run the sliced template as a background analysis so that it watches the whole rollout.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from honeycomb_evaluator.judgement.buckets import Bucket, Sampling
from honeycomb_evaluator.judgement.classify import Rule, Tests, Verdict, run_tests
from honeycomb_evaluator.judgement.evidence import CountEvidence, PairedEvidence
from honeycomb_evaluator.judgement.measure import counts, divided, inferred_rate, paired
from honeycomb_evaluator.judgement.outcome import Notes
from honeycomb_evaluator.judgement.query import Judged
from honeycomb_evaluator.judgement.scorecard import ebh_adjusted
from honeycomb_evaluator.judgement.slice_history import SliceHistory
from honeycomb_evaluator.judgement.slicing import (
    SHARE,
    SliceData,
    error_candidates,
    pairs_of,
    slice_candidates,
)

if TYPE_CHECKING:
    from honeycomb_evaluator.models.slices import ErrorTypes, Slices

# A slice's AVG in a bucket needs this many stored events per version: the log of a mean of few
# events sits below the log of the true mean (Jensen), more so for the version with fewer.
SLICE_FEWEST_EVENTS = 5


@dataclass(frozen=True)
class Hypothesis:
    identity: str  # slice or error type id (slicing.py)
    judged: Judged  # the metric (for an error type: its share of the version's events)
    evidence: PairedEvidence | CountEvidence
    tests: Tests
    notes: Notes


@dataclass(frozen=True)
class SliceVerdict:
    hypothesis: Hypothesis
    q_value: float  # e-BH's adjusted p-value over the family
    verdict: Verdict

    @property
    def regressed(self) -> bool:
        return self.verdict in ("high", "low")


@dataclass(frozen=True)
class NamedError:
    identity: str
    canary_count: float
    baseline_count: float
    critical: bool  # seen critical_count times in the canary and never in the baseline


@dataclass(frozen=True)
class SlicesJudged:
    verdicts: tuple[SliceVerdict, ...]  # every hypothesis judged: regressed (largest first), then by q
    family: int
    q: float
    named_errors: tuple[NamedError, ...]
    candidates: int  # slices with min_count events in both versions this look
    history: SliceHistory

    @property
    def regressed(self) -> list[SliceVerdict]:
        return [v for v in self.verdicts if v.regressed]

    @property
    def critical(self) -> list[NamedError]:
        return [e for e in self.named_errors if e.critical]


def slice_sampling(stated: Sampling, whole: Sequence[Bucket]) -> tuple[Sampling, str]:
    """How slices count stored events, and how the answer says it: as stated, or at the rate the
    whole comparison's buckets show (a slice's few counts share factors by chance, so they are not
    read on their own)."""
    if stated.stated:
        return stated, stated.describe()
    rate = inferred_rate([s.count for b in whole for s in (b.canary, b.baseline)])
    note = f"sample rate {rate} read off the whole comparison's counts" if rate > 1 else stated.describe()
    return Sampling(rate=float(rate)), note


def family_size(spec: Slices, metrics: int) -> int:
    return spec.max_slices * metrics * (1 if spec.dimensions else 0) + (
        spec.errors.max_types if spec.errors is not None else 0
    )


def admission(spec: Slices, data: SliceData, sampling: Sampling) -> tuple[list[str], list[str]]:
    """(slice ids, error ids) a look may admit, in the order it admits them."""
    slices = [c.identity for c in slice_candidates(data, sampling, spec.min_count)]
    errors = [c.identity for c in error_candidates(data)] if spec.errors is not None else []
    return slices, errors


def admit(spec: Slices, offered: tuple[list[str], list[str]], before: frozenset[str]) -> frozenset[str]:
    """The admitted ids after this look: all before, then the offered ones while there is room."""
    slices, errors = offered
    out = set(before)
    for ids, prefix, room in (
        (slices, "s:", spec.max_slices),
        (errors, "e:", spec.errors.max_types if spec.errors is not None else 0),
    ):
        taken = sum(1 for i in out if i.startswith(prefix))
        for identity in ids:
            if taken >= room:
                break
            if identity not in out:
                out.add(identity)
                taken += 1
    return frozenset(out)


def _error_metric(errors: ErrorTypes) -> Judged:
    from honeycomb_evaluator.models.judgement import JudgeRules

    # "More frequent in the canary than in the baseline", shown at the family's q: a type the
    # baseline never threw needs only enough events in the canary to be shown.
    rules = JudgeRules(test="proportions")
    return Judged("new type", SHARE, rules, "proportions", True, "slices.errors")


def _hypothesis(identity: str, judged: Judged, look: SliceLook) -> Hypothesis:
    history = look.history
    buckets = [Bucket(*b) for b in history.buckets_of(identity)]
    measured = (
        counts(buckets, judged.calculation, look.sampling, ("canary", "baseline"))
        if judged.test == "proportions"
        else paired(buckets, judged.calculation, look.sampling, SLICE_FEWEST_EVENTS)
    )
    evidence = measured.evidence
    if isinstance(evidence, CountEvidence):
        evidence = divided(evidence, look.dispersion.get(judged.calculation, 1.0))
    notes = Notes(
        buckets_seen=len(buckets),
        new_buckets=sum(1 for b in buckets if b.start in history.new_starts),
        skipped=measured.skipped,
        why_skipped=measured.why_skipped,
        sampling=look.sampling_note,
        dispersion=look.dispersion.get(judged.calculation),
        history_full=history.full,
    )
    # critical_increase (the estimate alone fails) is outside the error rates: not for slices.
    rule = dataclasses.replace(Rule.of(judged.rules), critical_increase=None)
    return Hypothesis(identity, judged, evidence, run_tests(evidence, rule, look.alpha), notes)


def _named(spec: ErrorTypes, data: SliceData) -> list[NamedError]:
    """Error types in the window at least `min_count` times in the canary and absent from the
    baseline, or `ratio` times rarer there (shares of each version's events)."""
    totals = data.totals.sides(())
    canary_total = totals["canary"].count if "canary" in totals else 0.0
    baseline_total = totals["baseline"].count if "baseline" in totals else 0.0
    out = []
    for identity, sums in data.errors.window.items():
        canary = sums["canary"].count if "canary" in sums else 0.0
        baseline = sums["baseline"].count if "baseline" in sums else 0.0
        if canary < spec.min_count or canary_total <= 0:
            continue
        rarer = baseline == 0 or (
            baseline_total > 0 and canary / canary_total >= spec.ratio * baseline / baseline_total
        )
        if rarer:
            critical = spec.critical_count is not None and baseline == 0 and canary >= spec.critical_count
            out.append(NamedError(str(identity), canary, baseline, critical))
    return sorted(out, key=lambda e: (-e.canary_count, e.identity))


@dataclass(frozen=True)
class SliceLook:
    """What judging a look's slices needs besides the spec."""

    data: SliceData
    history: SliceHistory
    metrics: Sequence[Judged]  # the critical, tested metrics of the comparison
    sampling: Sampling  # as the whole comparison counted stored events (stated, or a rate read off)
    alpha: float  # the verdict's significance (passes and reachability are at it)
    sampling_note: str | None = None
    # The over-dispersion the whole comparison divided out, per calculation (sampling unstated).
    dispersion: Mapping[str, float] = dataclasses.field(default_factory=dict)


def _shown_beyond(verdict: SliceVerdict) -> float:
    """How far beyond 1 the regression is shown: the log of the interval's near bound."""
    tests = verdict.hypothesis.tests
    low, high = verdict.hypothesis.evidence.log_bounds(tests.side_alpha)
    return low if verdict.verdict == "high" else -high


def _rank(verdict: SliceVerdict) -> tuple[bool, int, float, float, float, str]:
    """Regressed slices first: the most specific (a pair of values before a value: the pair
    inside a regressed value's slice is where it regressed), then the one shown largest; then
    the rest, the most significant first."""
    h = verdict.hypothesis
    if not verdict.regressed:
        return (True, 0, 0.0, verdict.q_value, h.tests.p_value, h.identity)
    return (
        False,
        -len(pairs_of(h.identity)),
        -_shown_beyond(verdict),
        verdict.q_value,
        h.tests.p_value,
        h.identity,
    )


def judge_slices(spec: Slices, look: SliceLook, q: float) -> SlicesJudged:
    hypotheses = []
    for identity in sorted(look.history.admitted):
        if identity.startswith("e:"):
            assert spec.errors is not None
            hypotheses.append(_hypothesis(identity, _error_metric(spec.errors), look))
            continue
        hypotheses += [_hypothesis(identity, m, look) for m in look.metrics]
    family = family_size(spec, len(look.metrics))
    adjusted = ebh_adjusted([h.tests.p_value for h in hypotheses], family)
    verdicts = [
        SliceVerdict(h, q_value, h.tests.verdict_given(regressed=q_value <= q * (1 + 1e-12)))
        for h, q_value in zip(hypotheses, adjusted, strict=True)
    ]
    verdicts.sort(key=_rank)
    named = _named(spec.errors, look.data) if spec.errors is not None else []
    candidates = len(slice_candidates(look.data, look.sampling, spec.min_count))
    return SlicesJudged(tuple(verdicts), family, q, tuple(named), candidates, look.history)
