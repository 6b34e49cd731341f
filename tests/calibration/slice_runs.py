"""Whole AnalysisRuns of the sliced template, judged by the evaluator's own judgement code.

A run as Argo runs `analysistemplate-canary-slices.yaml` as a background analysis: after the
Rollout's pause, a look every minute over the template's window, `count` looks; the first look
answering `high` or `low` fails the run (failureLimit 0); a run that reaches `count` without one
ends Successful (a background analysis never needs a pass). Each look does what the evaluator
does with one sliced result: the whole comparison's buckets into its history (history.merge) and
its tests at significance - q (Holm over the metrics); the slices admitted and their buckets
kept (slice_history.extend), each slice judged, e-BH over the family at q (slices.judge_slices).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from honeycomb_evaluator.judgement.buckets import Bucket, Sampling, Side
from honeycomb_evaluator.judgement.cells import Sum, Tally
from honeycomb_evaluator.judgement.history import merge
from honeycomb_evaluator.judgement.measure import counts
from honeycomb_evaluator.judgement.query import COUNT, Judged
from honeycomb_evaluator.judgement.scorecard import score
from honeycomb_evaluator.judgement.slice_history import SlicedBucket, SliceRecording, extend, history_of
from honeycomb_evaluator.judgement.slices import SliceLook, admission, admit, judge_slices, slice_sampling
from honeycomb_evaluator.judgement.slicing import SliceData, label_of, slice_id
from honeycomb_evaluator.models.slices import Slices

from tests.calibration.runs import Look, Template
from tests.calibration.slice_traffic import AVG_LATENCY, ERRORS, VALUES, Minutes, SliceTraffic, simulate_run

# The template states no sampling: the evaluator reads a rate off the whole comparison's counts
# and divides out the over-dispersion its buckets show, and so does this mirror.
UNSTATED = Sampling()
KEYS = (AVG_LATENCY, ERRORS)


@dataclass(frozen=True)
class SliceTemplate:
    card: Template  # the whole comparison: metrics, significance, count, window
    judged: tuple[Judged, ...]  # the same metrics as the evaluator plans them (for the slices)
    spec: Slices

    @property
    def q(self) -> float:
        return self.spec.significance if self.spec.significance is not None else self.card.alpha / 2


def slice_name(index: int) -> str:
    """The simulated slice's id: dimension d, value v."""
    dimension, value = divmod(index, VALUES)
    return slice_id(((f"dim{dimension}", f"v{value}"),))


NAMES = [slice_name(i) for i in range(8 * VALUES)]  # up to 8 simulated dimensions


def _side(count: float, latency: float, errors: float) -> Side:
    return Side(count, {COUNT: count, AVG_LATENCY: latency / count, ERRORS: errors / count})


@dataclass
class SliceTally:
    runs: int = 0
    failed_at: list[int] = field(default_factory=list)  # the look of each Failed run
    named: list[str] = field(default_factory=list)  # the slice that decided each Failed run ("" the whole)

    def failed(self) -> float:
        return len(self.failed_at) / self.runs if self.runs else 0.0

    def named_share(self, label: str) -> float:
        """Of the Failed runs, the share decided by the slice `label`."""
        return self.named.count(label) / len(self.named) if self.named else 0.0


def _whole_buckets(data: Minutes, minutes: range) -> list[Bucket]:
    out = []
    for m in minutes:
        if data.count[0, m] > 0 and data.count[1, m] > 0:
            sides = [_side(data.count[v, m], data.latency_sum[v, m], data.errors[v, m]) for v in (0, 1)]
            out.append(Bucket(m * 60, m * 60 + 60, sides[0], sides[1]))
    return out


def _window(data: Minutes, minutes: range) -> SliceData:
    counts = data.slice_count[:, minutes.start : minutes.stop].sum(axis=1)
    window: dict[object, dict[str, Sum]] = {}
    for i, name in enumerate(NAMES[: counts.shape[1]]):
        if counts[0, i] > 0 or counts[1, i] > 0:
            window[name] = {"canary": Sum(float(counts[0, i])), "baseline": Sum(float(counts[1, i]))}
    return SliceData(Tally(window=window), Tally(), Tally())


def _slice_buckets(data: Minutes, minutes: range, admitted: frozenset[str]) -> list[SlicedBucket]:
    wanted = [i for i, name in enumerate(NAMES[: data.slice_count.shape[2]]) if name in admitted]
    out = []
    for m in minutes:
        sides = {}
        for i in wanted:
            c, b = data.slice_count[0, m, i], data.slice_count[1, m, i]
            if c > 0 and b > 0:
                sides[NAMES[i]] = tuple(
                    _side(
                        data.slice_count[v, m, i], data.slice_latency_sum[v, m, i], data.slice_errors[v, m, i]
                    )
                    for v in (0, 1)
                )
        out.append(SlicedBucket(m * 60, m * 60 + 60, sides))  # type: ignore[arg-type]
    return out


def _dispersion(kept: list[Bucket], metrics: list[Judged]) -> dict[str, float]:
    """The over-dispersion the whole comparison divides out of each counts metric (as judge.py)."""
    out = {}
    for metric in metrics:
        if metric.test == "proportions":
            measured = counts(kept, metric.calculation, UNSTATED, ("canary", "baseline"))
            if measured.dispersion:
                out[metric.calculation] = measured.dispersion
    return out


def _recording(
    spec: Slices, offered: tuple[list[str], list[str]], data: Minutes, fresh: range
) -> SliceRecording:
    return SliceRecording(
        KEYS,
        lambda before: admit(spec, offered, before),
        lambda admitted: _slice_buckets(data, fresh, admitted),
    )


def look_verdicts(template: SliceTemplate, data: Minutes, pause: int) -> Iterator[tuple[str, str]]:
    """Each look's verdict as the evaluator answers it, and the slice that decided it ("" none)."""
    card, spec = template.card, template.spec
    kept: list[Bucket] = []
    kept_slices: list[SlicedBucket] = []
    metrics = [j for j in template.judged if j.critical and j.test is not None]
    for look in range(card.count):
        now = pause + look
        window = range(now - card.window_minutes, now)
        kept, _ = merge(kept, _whole_buckets(data, window))
        seen = Look(kept, UNSTATED)
        tests = [seen.tests(m, card.alpha) for m in card.metrics]
        whole = score(tests, [m.critical for m in card.metrics], card.alpha - template.q).verdict
        sampling, _ = slice_sampling(UNSTATED, kept)
        totals = _window(data, window)
        fresh = window if look == 0 else range(now - 1, now)  # the other minutes are kept already
        recording = _recording(spec, admission(spec, totals, sampling), data, fresh)
        merged, new, admitted, room = extend(kept_slices, recording)
        kept_slices = merged
        history = history_of(merged, new, admitted, room)
        slice_look = SliceLook(
            totals, history, metrics, sampling, card.alpha, None, _dispersion(kept, metrics)
        )
        judged = judge_slices(spec, slice_look, template.q)
        if whole not in ("high", "low") and judged.regressed:
            first = judged.regressed[0]
            yield first.verdict, label_of(first.hypothesis.identity)
        else:
            yield whole, ""


def run_one(template: SliceTemplate, data: Minutes, pause: int) -> tuple[str, int, str]:
    """(outcome, looks taken, the deciding slice's label or "" for the whole comparison)."""
    for look, (verdict, named) in enumerate(look_verdicts(template, data, pause)):
        if verdict in ("high", "low"):
            return "Failed", look + 1, named
    return "Successful", template.card.count, ""


def calibrate_slices(
    template: SliceTemplate, traffic: SliceTraffic, runs: int, seed: int, pause: int = 10
) -> SliceTally:
    rng = np.random.default_rng(seed)
    tally = SliceTally()
    for _ in range(runs):
        data = simulate_run(traffic, pause + template.card.count, rng)
        outcome, looks, named = run_one(template, data, pause)
        tally.runs += 1
        if outcome == "Failed":
            tally.failed_at.append(looks)
            tally.named.append(named)
    return tally


def seeded_label(traffic: SliceTraffic) -> str:
    value = traffic.seeded_value
    return "" if value is None else label_of(NAMES[value])
