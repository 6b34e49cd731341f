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
