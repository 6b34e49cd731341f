"""Answers of `POST /v1/slo` and `POST /v1/flagger` (used for the OpenAPI document)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from honeycomb_evaluator.models.response import ErrorDetail, WindowOut


class SloOut(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    id: str
    name: str
    dataset_slugs: list[str]
    target_per_million: int
    time_period_days: int


class BurnAlertOut(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    id: str
    alert_type: str = Field(description="`exhaustion_time` or `budget_rate`.")
    description: str
    threshold: str = Field(description="What the alert watches, in words.")


class SloResponse(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    value: float | None = Field(description="The chosen figure; null when the SLO counted no events.")
    figure: str
    reason: str = Field(description="One sentence: the figures and any triggered burn alert.")
    slo_url: str | None = Field(description="The SLO in Honeycomb's UI.")
    slo: SloOut
    compliance: float | None = Field(description="Percent of good events over the SLO's period.")
    budget_remaining: float | None = Field(description="Percent of the error budget left (negative: spent).")
    burn_rate: float | None = Field(description="Bad-event rate of the last 4 h over the sustainable rate.")
    status: str = Field(description="Honeycomb's `normal`, `triggered`, `no_alerts` or `no_events`.")
    triggered_burn_alerts: list[BurnAlertOut]
    reported_at: str = Field(description="When Honeycomb sent this report (reports refresh every 5 min).")
    cached: bool = Field(description="True when Honeycomb was not asked for this answer.")
    elapsed_ms: float


class FlaggerAnswer(BaseModel):
    """200: the check passed; 412: it failed (then `error` comes first, for Flagger's log)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    error: ErrorDetail | None = Field(
        default=None, description="On 412 only: `check_failed` or `no_data`, the reason as message."
    )
    passed: bool
    reason: str = Field(
        description="e.g. `shop/checkout (Progressing): AVG(is_error) = 0.08 is above max 0.02`"
    )
    value: float | None
    verdict: str | None = None
    query_url: str | None = None
    window: WindowOut | None = None
