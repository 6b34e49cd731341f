"""A comparison judged: window values, the history of buckets, each metric's verdict, the answer.

The one place that does I/O in the judgement (the history in the state store); everything it
calls is pure. `judge_comparison` is what evaluate.py calls once the query result is in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from honeycomb_evaluator.honeycomb.results import QueryResult
from honeycomb_evaluator.judgement import history
from honeycomb_evaluator.judgement.answer import comparison_fields, judgement_fields, scorecard_fields
from honeycomb_evaluator.judgement.buckets import Bucket, Sampling
from honeycomb_evaluator.judgement.classify import (
    Rule,
    Tests,
    Verdict,
    describe,
    describe_threshold,
    run_tests,
    threshold_tests,
)
from honeycomb_evaluator.judgement.comparison import compare as compare_values
from honeycomb_evaluator.judgement.evidence import CountEvidence, PairedEvidence
from honeycomb_evaluator.judgement.groups import Group, read_buckets, read_groups
from honeycomb_evaluator.judgement.measure import Measured, counts, paired
from honeycomb_evaluator.judgement.outcome import MetricOutcome, Notes
from honeycomb_evaluator.judgement.query import COUNT, ComparisonPlan, Judged
from honeycomb_evaluator.judgement.scorecard import score

if TYPE_CHECKING:
    from honeycomb_evaluator.models.request import EvaluateRequest
    from honeycomb_evaluator.state.base import StateStore
    from honeycomb_evaluator.window import Window


@dataclass(frozen=True)
class HistoryScope:
    """Where a comparison's history lives and whose it is (no store: this look only)."""

    store: StateStore | None
    caller: str
    environment: str
    dataset: str


def _kept_keys(plan: ComparisonPlan) -> list[str]:
    return [k for k in plan.query.calculation_keys if k != COUNT and not k.startswith("HEATMAP(")]


async def _history(
    request: EvaluateRequest, plan: ComparisonPlan, result: QueryResult, window: Window, scope: HistoryScope
) -> history.Recorded:
    compare = request.compare
    assert compare is not None and plan.query.granularity is not None
    keys = _kept_keys(plan)
    current = read_buckets(result, compare, keys, plan.query.granularity, window.end_time)
    if scope.store is None:
        merged, new = history.merge([], current)
        return history.Recorded(tuple(merged), len(new), False)
    spec = plan.query.model_dump(
        mode="json", exclude={"time_range", "start_time", "end_time"}, exclude_none=True
    )
    key = history.history_key(
        {
            "caller": scope.caller,
            "environment": scope.environment,
            "dataset": scope.dataset,
            "query": spec,
            "sampling": compare.sampling.model_dump(mode="json") if compare.sampling is not None else None,
        }
    )
    return await history.record(scope.store, key, keys, current)


@dataclass(frozen=True)
class _Context:
    sampling: Sampling
    alpha: float
    recorded: history.Recorded | None


@dataclass(frozen=True)
class _Judging:
    judged: Judged
    groups: tuple[Group, Group]
    tests: Tests
    evidence: PairedEvidence | CountEvidence | None  # None: `test: none`
    notes: Notes


def _short_of(minimum: int, groups: tuple[Group, Group], sampling: Sampling) -> bool:
    """A version has fewer events than min_count in the window (stored ones when sampling is stated)."""

    def events(group: Group) -> float:
        if group.side is None:
            return 0.0
        return sampling.stored(group.side) if sampling.stated else group.count

    return any(events(g) < minimum for g in groups)


def _measure(
    judged: Judged, buckets: Sequence[Bucket], sampling: Sampling, keys: tuple[object, object]
) -> Measured:
    if judged.test == "proportions":
        return counts(buckets, judged.calculation, sampling, keys)
    return paired(buckets, judged.calculation, sampling)


def _judge_one(judged: Judged, groups: tuple[Group, Group], context: _Context) -> _Judging:
    rule = Rule.of(judged.rules)
    canary, baseline = groups
    recorded = context.recorded
    if judged.test is None or recorded is None:
        if (
            canary.value is None
            or baseline.value is None
            or _short_of(judged.rules.min_count, groups, context.sampling)
        ):
            tests = run_tests(PairedEvidence((), ()), rule, context.alpha)
        else:
            tests = threshold_tests(rule, canary.value, baseline.value)
        return _Judging(judged, groups, tests, None, Notes())
    measured = _measure(judged, recorded.buckets, context.sampling, (canary.key, baseline.key))
    short = _short_of(judged.rules.min_count, groups, context.sampling)
    evidence = measured.evidence
    if short:
        evidence = CountEvidence(()) if judged.test == "proportions" else PairedEvidence((), ())
    inferred = (
        f"sample rate {measured.inferred_rate:g} read off the counts" if measured.inferred_rate else None
    )
    notes = Notes(
        buckets_seen=len(recorded.buckets),
        new_buckets=recorded.new,
        skipped=measured.skipped,
        why_skipped=measured.why_skipped,
        sampling=inferred or context.sampling.describe(),
        dispersion=measured.dispersion,
        min_count=judged.rules.min_count if short else None,
        history_full=recorded.full,
    )
    return _Judging(judged, groups, run_tests(evidence, rule, context.alpha), evidence, notes)


def _outcome(judging: _Judging, verdict: Verdict, adjusted: float | None) -> MetricOutcome:
    canary, baseline = judging.groups
    if judging.evidence is None:
        ratio = compare_values(canary.value, baseline.value).ratio
        classification = describe_threshold(judging.tests, verdict, ratio)
    else:
        classification = describe(judging.evidence, Rule.of(judging.judged.rules), judging.tests, verdict)
    judged = judging.judged
    return MetricOutcome(
        judged.label,
        judged.calculation,
        judged.critical,
        canary,
        baseline,
        classification,
        verdict,
        adjusted,
        judging.notes,
    )


async def judge_comparison(
    request: EvaluateRequest, plan: ComparisonPlan, result: QueryResult, window: Window, scope: HistoryScope
) -> dict[str, Any]:
    """The answer's comparison fields, and with judge/scorecard the verdict and its evidence."""
    compare = request.compare
    assert compare is not None
    if not plan.judged:
        return comparison_fields(request, plan.calculation, *read_groups(request, result, plan.calculation))
    recorded = await _history(request, plan, result, window, scope) if plan.tested else None
    judging_of = request.scorecard or request.judge
    assert judging_of is not None
    context = _Context(Sampling.of(compare.sampling), judging_of.significance, recorded)
    judgings = [_judge_one(j, read_groups(request, result, j.calculation), context) for j in plan.judged]
    if request.scorecard is None:
        only = judgings[0]
        return judgement_fields(request, _outcome(only, only.tests.verdict(context.alpha), None))
    overall = score([j.tests for j in judgings], [j.judged.critical for j in judgings], context.alpha)
    outcomes = [
        _outcome(j, s.verdict, s.adjusted_p_value if j.judged.critical else None)
        for j, s in zip(judgings, overall.metrics, strict=True)
    ]
    return scorecard_fields(request, overall.verdict, outcomes[overall.deciding], outcomes)
