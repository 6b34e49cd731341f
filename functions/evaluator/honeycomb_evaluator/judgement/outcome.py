"""One judged metric as the answer and the reason need it: the numbers, the verdict, the notes."""

from __future__ import annotations

from dataclasses import dataclass

from honeycomb_evaluator.judgement.classify import Classification, Verdict
from honeycomb_evaluator.judgement.groups import Group


@dataclass(frozen=True)
class Notes:
    """What the evidence left out or assumed, for the answer's `evidence` and the reason."""

    buckets_seen: int = 0  # in the comparison's history (all looks)
    new_buckets: int = 0  # added by this look
    skipped: int = 0  # buckets left out of this metric's test
    why_skipped: str | None = None
    sampling: str | None = None  # how stored events were counted
    dispersion: float | None = None  # over-dispersion divided out (sampling not stated)
    min_count: int | None = None  # set when a version had fewer events than min_count
    history_full: bool = False


@dataclass(frozen=True)
class MetricOutcome:
    label: str
    calculation: str
    critical_metric: bool  # a scorecard metric that can decide (always true for `judge`)
    canary: Group  # the window's values
    baseline: Group
    classification: Classification
    verdict: Verdict  # final: under Holm for a scorecard
    adjusted_p_value: float | None  # Holm's, for a scorecard's critical metrics; a slice's q-value
    notes: Notes
    adjusted_name: str = "p"  # how the reason names it ("q" for a slice's e-BH q-value)

    @property
    def p_value(self) -> float:
        return self.classification.p_value if self.adjusted_p_value is None else self.adjusted_p_value
