"""A comparison judged: window values, the history of buckets, each metric's verdict, the answer.

The one place that does I/O in the judgement (the history in the state store); everything it
calls is pure. `judge_comparison` is what evaluate.py calls once the query result is in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from honeycomb_evaluator.honeycomb.results import QueryResult
from honeycomb_evaluator.judgement import history, slice_history
from honeycomb_evaluator.judgement.answer import comparison_fields, judgement_fields, scorecard_fields
from honeycomb_evaluator.judgement.buckets import Bucket, Sampling
from honeycomb_evaluator.judgement.cells import Cells, read_cells, whole_result
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
from honeycomb_evaluator.judgement.slice_answer import sliced_fields
from honeycomb_evaluator.judgement.slice_history import SliceRecording
from honeycomb_evaluator.judgement.slices import (
    SliceLook,
    SlicesJudged,
    admission,
    admit,
    judge_slices,
    slice_sampling,
)
from honeycomb_evaluator.judgement.slicing import SHARE, SliceData, current_buckets, read_slices
from honeycomb_evaluator.models.limits import MAX_QUERY_LIMIT

if TYPE_CHECKING:
    from honeycomb_evaluator.models.request import EvaluateRequest
    from honeycomb_evaluator.models.slices import Slices
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


def _history_key(request: EvaluateRequest, plan: ComparisonPlan, scope: HistoryScope) -> str:
    compare = request.compare
    assert compare is not None
    spec = plan.query.model_dump(
        mode="json", exclude={"time_range", "start_time", "end_time"}, exclude_none=True
    )
    return history.history_key(
        {
            "caller": scope.caller,
            "environment": scope.environment,
            "dataset": scope.dataset,
            "query": spec,
            "sampling": compare.sampling.model_dump(mode="json") if compare.sampling is not None else None,
        }
    )


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
    return await history.record(scope.store, _history_key(request, plan, scope), keys, current)


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


def _whole_fields(request: EvaluateRequest, judgings: list[_Judging], alpha: float) -> dict[str, Any]:
    """The whole comparison's verdict (Holm over a scorecard's critical metrics) at `alpha`."""
    if request.scorecard is None:
        only = judgings[0]
        return judgement_fields(request, _outcome(only, only.tests.verdict(alpha), None))
    overall = score([j.tests for j in judgings], [j.judged.critical for j in judgings], alpha)
    outcomes = [
        _outcome(j, s.verdict, s.adjusted_p_value if j.judged.critical else None)
        for j, s in zip(judgings, overall.metrics, strict=True)
    ]
    return scorecard_fields(request, overall.verdict, outcomes[overall.deciding], outcomes)


@dataclass(frozen=True)
class _Look:
    request: EvaluateRequest
    plan: ComparisonPlan
    window: Window
    scope: HistoryScope


@dataclass(frozen=True)
class _Whole:
    judgings: list[_Judging]
    alpha: float  # the verdict's significance
    recorded: history.Recorded | None


async def _judge_slices(look: _Look, cells: Cells, whole: _Whole) -> tuple[SlicesJudged, SliceData]:
    request, plan = look.request, look.plan
    spec, compare = request.slices, request.compare
    assert spec is not None and compare is not None and plan.query.granularity is not None
    judgings, alpha = whole.judgings, whole.alpha
    whole_buckets = whole.recorded.buckets if whole.recorded is not None else ()
    sampling, note = slice_sampling(Sampling.of(compare.sampling), whole_buckets)
    data = read_slices(cells, spec, plan.query.calculation_keys)
    offered = admission(spec, data, sampling)
    granularity, end = plan.query.granularity, look.window.end_time
    recording = SliceRecording(
        [*_kept_keys(plan), SHARE],
        lambda before: admit(spec, offered, before),
        lambda admitted: current_buckets(data, granularity, end, sorted(admitted)),
    )
    key = _history_key(request, plan, look.scope) + "#slices"
    kept = await slice_history.record(look.scope.store, key, recording)
    metrics = [j.judged for j in judgings if j.judged.critical and j.judged.test is not None]
    dispersion = {j.judged.calculation: j.notes.dispersion for j in judgings if j.notes.dispersion}
    q = slice_significance(spec, alpha)
    return judge_slices(spec, SliceLook(data, kept, metrics, sampling, alpha, note, dispersion), q), data


def slice_significance(spec: Slices | None, alpha: float) -> float:
    """q, the slices' share of the verdict's significance (0 without slices)."""
    if spec is None:
        return 0.0
    return spec.significance if spec.significance is not None else alpha / 2


async def judge_comparison(
    request: EvaluateRequest, plan: ComparisonPlan, result: QueryResult, window: Window, scope: HistoryScope
) -> dict[str, Any]:
    """The answer's comparison fields, and with judge/scorecard the verdict and its evidence."""
    compare = request.compare
    assert compare is not None
    cells = None
    if request.slices is not None:
        groups = (compare.canary, compare.baseline)
        cells = read_cells(result, compare.column, groups, request.slices.columns(), MAX_QUERY_LIMIT)
        result = whole_result(result, cells, compare.column, groups, plan.query.calculation_keys)
    if not plan.judged:
        return comparison_fields(request, plan.calculation, *read_groups(request, result, plan.calculation))
    recorded = await _history(request, plan, result, window, scope) if plan.tested else None
    judging_of = request.scorecard or request.judge
    assert judging_of is not None
    alpha = judging_of.significance
    context = _Context(Sampling.of(compare.sampling), alpha, recorded)
    judgings = [_judge_one(j, read_groups(request, result, j.calculation), context) for j in plan.judged]
    q = slice_significance(request.slices, alpha)
    fields = _whole_fields(request, judgings, alpha - q)
    if cells is None or request.slices is None:
        return fields
    fields["rows"] = result.results  # one row per version, not the cells
    look = _Look(request, plan, window, scope)
    judged, data = await _judge_slices(look, cells, _Whole(judgings, alpha, recorded))
    return sliced_fields(request, fields, judged, data, cells.coverage)
