"""`POST /v1/evaluate` answer and the error body (used for the OpenAPI document)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class WindowOut(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    start: str = Field(description="RFC 3339 UTC start of the window Honeycomb ran.")
    end: str = Field(description="RFC 3339 UTC end of the window Honeycomb ran.")
    start_time: int = Field(description="Unix seconds.")
    end_time: int = Field(description="Unix seconds.")


class SeriesPoint(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    time: Any = Field(description="The bucket's time as Honeycomb sent it (usually RFC 3339).")
    data: dict[str, Any]


class GroupOut(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    key: str | int | bool = Field(description="The group's value of `compare.column`.")
    value: float | None = Field(description="The group's number for the calculation; null without data.")
    count: int = Field(description="The group's events in the window.")


class ComparisonOut(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    column: str
    value: Literal["ratio", "difference", "percent_change"] = Field(description="Which measure `value` is.")
    ratio: float | None = Field(
        description="canary / baseline; null when the baseline is 0 and the canary not."
    )
    difference: float | None = Field(description="canary - baseline.")
    percent_change: float | None = Field(description="(canary - baseline) / |baseline| x 100; null as ratio.")


VerdictOut = Literal["pass", "high", "low", "inconclusive", "nodata"]
TestOut = Literal["paired", "proportions"]


class EvidenceOut(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    buckets: int = Field(description="Time buckets the test used (from every look so far).")
    buckets_seen: int = Field(description="Buckets in the comparison's history.")
    new_buckets: int = Field(description="Buckets this look added to the history.")
    skipped_buckets: int = Field(description="Buckets left out of this metric's test.")
    why_skipped: str | None
    sampling: str | None = Field(description="How stored events were counted.")
    dispersion: float | None = Field(description="Over-dispersion divided out (sampling not stated).")
    needed: str | None = Field(description="With `nodata`: roughly what a regression would need to show.")
    history_full: bool


class MetricOut(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: str
    calculation: str
    critical: bool = Field(description="Whether the metric can decide the scorecard.")
    verdict: VerdictOut
    reason: str
    canary: GroupOut
    baseline: GroupOut
    adjusted_p_value: float | None = Field(description="Holm's adjusted p-value (critical metrics).")
    test: TestOut | None
    p_value: float | None
    estimate: float | None
    ratio_ci: list[float | None] | None
    confidence: float | None
    mde: float | None
    evidence: EvidenceOut | None


class SliceGroupOut(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    value: float | None
    count: int


class SliceOut(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    slice: dict[str, Any] = Field(description="The slice's dimensions and values ({} for an error type).")
    error_type: str | None = Field(description="The error type, for a new-error-type hypothesis.")
    label: str = Field(description="`user.plan=enterprise, http.route=/api/billing`, or the error type.")
    metric: str
    calculation: str
    verdict: VerdictOut
    reason: str
    canary: SliceGroupOut
    baseline: SliceGroupOut
    estimate: float | None
    ratio_ci: list[float | None]
    q_value: float = Field(description="e-BH's adjusted p-value over the family of slices.")
    p_value: float
    mde: float | None
    buckets: int


class NewErrorOut(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    type: str
    canary_count: float
    baseline_count: float
    critical: bool = Field(description="Seen `critical_count` times in the canary and never in the baseline.")
    verdict: VerdictOut
    q_value: float | None


class CoverageOut(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    groups: int = Field(description="Groups (version x cell) Honeycomb returned.")
    limit: int = Field(description="Honeycomb's most groups a result with series.")
    truncated: bool = Field(description="Honeycomb had more groups than the limit.")
    events_beyond_limit: float | None = Field(description="Events in the groups beyond it: not judged.")
    one_sided_cells: int = Field(description="Cells left out because the cut kept them for one version only.")


class SlicesOut(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    dimensions: list[str]
    depth: int
    significance: float = Field(description="q: the false discovery rate over the slices.")
    family: int = Field(description="Hypotheses the q-values are corrected for.")
    seen: int = Field(description="Slices in this look's window.")
    judged: int = Field(description="Slices admitted to the family (kept across looks).")
    too_small: int = Field(description="Slices with fewer than min_count events in a version.")
    beyond_max_slices: int
    regressed: int
    buckets_seen: int
    top: list[SliceOut] = Field(description="The regressed slices, else the most significant (at most 10).")
    new_errors: list[NewErrorOut]
    coverage: CoverageOut


class EvaluateResponse(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    value: float | None = Field(description="The selected number, or null when there was no data.")
    calculation: str = Field(description="The result key the value was read from.")
    rows: list[dict[str, Any]] = Field(description="The result rows (calculations and breakdown values).")
    series: list[SeriesPoint] | None = Field(description="Time buckets, when `include_series` was set.")
    query_url: str | None = Field(description="Honeycomb UI link to this result.")
    query_id: str
    query_result_id: str
    window: WindowOut
    cached: bool = Field(description="True when no new Honeycomb query run was started for this answer.")
    elapsed_ms: float
    # Only with `compare` (docs/canary-judgement.md); `value` is then the comparison.
    verdict: VerdictOut | None = Field(
        default=None, description="With `judge` or `scorecard`: the verdict on the canary."
    )
    critical: bool | None = Field(
        default=None, description="With `judge`: the estimate is above `critical_increase`."
    )
    reason: str | None = Field(default=None, description="With `compare`: one sentence saying why.")
    canary: GroupOut | None = None
    baseline: GroupOut | None = None
    comparison: ComparisonOut | None = None
    test: TestOut | None = Field(default=None, description="The statistical test that ran, if any.")
    p_value: float | None = Field(
        default=None,
        description='Anytime-valid one-sided p-value of "no regression beyond the allowed band" over every '
        "look at this comparison; null if no test ran.",
    )
    estimate: float | None = Field(
        default=None, description="The decision statistic: canary / baseline, from the buckets the test used."
    )
    ratio_ci: list[float | None] | None = Field(
        default=None,
        description="[low, high] confidence-sequence bounds on `estimate` (null for an unbounded side).",
    )
    confidence: float | None = Field(default=None, description="The interval's coverage, e.g. 0.96.")
    mde: float | None = Field(
        default=None,
        description="Minimum detectable effect: the ratio beyond the allowed band caught 80 % of the time "
        "with these counts; null when none could be.",
    )
    evidence: EvidenceOut | None = Field(default=None, description="What the test used and left out.")
    deciding_metric: str | None = Field(
        default=None, description="With `scorecard`: the metric that decided."
    )
    metrics: list[MetricOut] | None = Field(
        default=None, description="With `scorecard`: every metric judged."
    )
    deciding_slice: str | None = Field(
        default=None, description="With `slices`: the slice (or new error type) that failed the canary."
    )
    slices: SlicesOut | None = Field(default=None, description="With `slices`: where the canary regressed.")


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    code: str = Field(description="Stable error code, e.g. `invalid_request`, `rate_limited`, `timeout`.")
    message: str
    field: str | None = Field(default=None, description="The request field at fault, dotted.")
    retry_after_seconds: float | None = None
    budget: Literal["evaluator", "honeycomb"] | None = Field(
        default=None, description="On `rate_limited`: whose query budget refused (ours, or Honeycomb's 429)."
    )


class ErrorResponse(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    error: ErrorDetail


class Health(BaseModel):
    ok: bool
    version: str
