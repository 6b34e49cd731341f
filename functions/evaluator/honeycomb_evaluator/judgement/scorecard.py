"""Several metrics of one comparison, one overall verdict: the scorer (classify.py is per metric).

Aborts are the costly error, so the family of "this metric regressed" claims is controlled:
Holm's step-down over the critical metrics' anytime-valid p-values keeps the chance that any
critical metric within its band is called a regression, at any look, at or below alpha (Holm
needs no independence between the metrics, and anytime-valid p-values stay valid at whatever
look the run stops). A pass needs every critical metric shown inside its harmful bound, each at
alpha: "all are fine" is an intersection, so no correction is due (an intersection-union test).
Non-critical metrics are judged and shown at alpha but never decide.

Overall: `high`/`low` when a critical metric regressed (the one with the strongest evidence
decides); `pass` when all critical metrics passed (the closest to its bound is named);
`nodata` when none could show a regression yet; else `inconclusive`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from honeycomb_evaluator.judgement.classify import Tests, Verdict


def holm_adjusted(p_values: Sequence[float]) -> list[float]:
    """Holm's adjusted p-values, in the input's order: reject i at alpha iff adjusted[i] <= alpha."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def ebh_adjusted(p_values: Sequence[float], family: int) -> list[float]:
    """Benjamini-Hochberg's adjusted p-values (q-values) over a family of `family` hypotheses, of
    which these are the ones judged (the others count as p = 1), in the input's order.

    Applied to p = 1/e of e-values it is Wang and Ramdas' e-BH: the false discovery rate is at
    most q under ANY dependence between the hypotheses, where BH on ordinary p-values would need
    independence (or Benjamini-Yekutieli's log factor). Its first rejection needs p <= q / family,
    Bonferroni's bound: with anytime-valid p-values, the chance that any look rejects a true
    hypothesis at all is at most q (docs/canary-judgement.md "Slices").
    """
    m = max(family, len(p_values))
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [1.0] * len(p_values)
    running = 1.0
    for rank in reversed(range(len(order))):  # q_(r) = min over k >= r of m p_(k) / k
        i = order[rank]
        running = min(running, m * p_values[i] / (rank + 1))
        adjusted[i] = min(1.0, running)
    return adjusted


@dataclass(frozen=True)
class Scored:
    verdict: Verdict
    adjusted_p_value: float  # Holm's over the critical metrics; the metric's own when not critical


@dataclass(frozen=True)
class Overall:
    verdict: Verdict
    deciding: int  # index of the metric that decided it
    metrics: tuple[Scored, ...]


def _deciding(indexes: Sequence[int], key: Sequence[float]) -> int:
    return min(indexes, key=lambda i: key[i])


def score(tests: Sequence[Tests], critical: Sequence[bool], alpha: float) -> Overall:
    """Each metric's verdict under Holm, and the overall verdict (at least one critical metric)."""
    chosen = [i for i, c in enumerate(critical) if c]
    if not chosen:
        raise ValueError("a scorecard needs at least one critical metric")
    adjusted_critical = holm_adjusted([tests[i].p_value for i in chosen])
    adjusted = [t.p_value for t in tests]
    for i, p in zip(chosen, adjusted_critical, strict=True):
        adjusted[i] = p
    scored = tuple(
        Scored(t.verdict_given(regressed=p <= alpha * (1 + 1e-12)), p)
        for t, p in zip(tests, adjusted, strict=True)
    )
    verdicts = [s.verdict for s in scored]
    bad = [i for i in chosen if verdicts[i] in ("high", "low")]
    if bad:
        decider = _deciding(bad, adjusted)
        return Overall(verdicts[decider], decider, scored)
    if all(verdicts[i] == "pass" for i in chosen):
        # The pass that was hardest to show: the one whose regression p-value is smallest.
        return Overall("pass", _deciding(chosen, adjusted), scored)
    open_ = [i for i in chosen if verdicts[i] != "pass"]
    undecided = [i for i in open_ if verdicts[i] == "inconclusive"]
    if undecided:
        return Overall("inconclusive", _deciding(undecided, adjusted), scored)
    return Overall("nodata", open_[0], scored)
