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
    verdict: Literal["pass", "high", "low", "nodata"] | None = Field(
        default=None, description="With `judge`: the verdict on the canary."
    )
    critical: bool | None = Field(default=None, description="With `judge`: the critical bound was exceeded.")
    reason: str | None = Field(default=None, description="With `compare`: one sentence saying why.")
    canary: GroupOut | None = None
    baseline: GroupOut | None = None
    comparison: ComparisonOut | None = None
    test: Literal["mann_whitney", "proportions"] | None = Field(
        default=None, description="The statistical test that ran, if any."
    )
    p_value: float | None = Field(
        default=None, description="Two-sided p-value of the test; null if none ran."
    )
    effect_size: float | None = Field(
        default=None,
        description="Mann-Whitney: rank-biserial correlation (-1..1, > 0 when the canary is larger); "
        "proportions: Cohen's h. Null if no test ran.",
    )


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
