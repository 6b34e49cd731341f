"""`compare` and `judge` of `POST /v1/evaluate`: canary against baseline in one query.

Cross-field rules are field validators on the later field, so a 422 names the exact field
(`compare.baseline`, `judge.critical_increase`); field validators run only for values the caller
set, which is what "this option does not apply" needs.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationInfo,
    field_validator,
)

from honeycomb_evaluator.models.query import STRICT, ColumnName

GroupValue = Annotated[StrictStr, Field(min_length=1, max_length=1024)] | StrictInt | StrictBool


class Compare(BaseModel):
    """Which column tells the two groups apart, and each group's value of it."""

    model_config = STRICT

    column: ColumnName = Field(description="Column whose value tells the groups apart.")
    canary: GroupValue = Field(description="The canary's value of `column`, e.g. its pod template hash.")
    baseline: GroupValue = Field(description="The baseline's (stable) value of `column`.")
    value: Literal["ratio", "difference", "percent_change"] = Field(
        default="ratio",
        description="What `value` answers: canary/baseline, canary - baseline, or the change in percent.",
    )

    @field_validator("baseline")
    @classmethod
    def _distinct_groups(cls, baseline: str | int | bool, info: ValidationInfo) -> str | int | bool:
        canary = info.data.get("canary")
        if canary is not None and str(canary) == str(baseline):
            raise ValueError(f"baseline must differ from canary (both are {baseline!r})")
        return baseline


class Judge(BaseModel):
    """A Kayenta-style verdict on the comparison (`pass`, `high`, `low`, `nodata`)."""

    model_config = STRICT

    direction: Literal["increase", "decrease", "either"] = Field(
        default="increase",
        description="Which change is bad: `increase` (latency, errors), `decrease`, `either`.",
    )
    allowed_increase: Annotated[StrictInt | StrictFloat, Field(ge=1, le=1_000_000)] = Field(
        default=1.0, description="Highest canary/baseline ratio that passes, e.g. 1.2 for 20 % worse."
    )
    allowed_decrease: Annotated[StrictInt | StrictFloat, Field(gt=0, le=1)] = Field(
        default=1.0, description="Lowest canary/baseline ratio that passes, e.g. 0.8 for 20 % lower."
    )
    critical_increase: Annotated[StrictInt | StrictFloat, Field(ge=1, le=1_000_000)] | None = Field(
        default=None,
        description="A ratio above which the verdict is `high` and `critical` even when the test "
        "finds the difference not significant.",
    )
    tolerance: Annotated[StrictInt | StrictFloat, Field(ge=0)] = Field(
        default=0,
        description="Absolute slack in the calculation's unit, added to the allowed band; what decides "
        "when the baseline is 0 (e.g. 0.005 for half a percent of errors).",
    )
    min_count: Annotated[StrictInt, Field(ge=1)] = Field(
        default=1, description="Fewest events each group needs; fewer gives `nodata`."
    )
    test: Literal["auto", "mann_whitney", "proportions", "none"] = Field(
        default="auto",
        description="`mann_whitney` over the time buckets, `proportions` for an AVG of a 0/1 column "
        "(errors), `none`; `auto` runs Mann-Whitney when the query has time buckets "
        "(`select.over: series` or `granularity`), else none.",
    )
    significance: Annotated[StrictFloat, Field(gt=0, lt=1)] = Field(
        default=0.05, description="A breach counts only when the test's p-value is below this."
    )

    @field_validator("allowed_increase")
    @classmethod
    def _increase_applies(cls, value: float, info: ValidationInfo) -> float:
        if info.data.get("direction") == "decrease":
            raise ValueError('allowed_increase does not apply with direction "decrease"')
        return value

    @field_validator("allowed_decrease")
    @classmethod
    def _decrease_applies(cls, value: float, info: ValidationInfo) -> float:
        if info.data.get("direction", "increase") == "increase":
            raise ValueError('allowed_decrease needs direction "decrease" or "either"')
        return value

    @field_validator("critical_increase")
    @classmethod
    def _critical_above_allowed(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is None:
            return value
        if info.data.get("direction") == "decrease":
            raise ValueError('critical_increase does not apply with direction "decrease"')
        allowed = info.data.get("allowed_increase", 1.0)
        if value < allowed:
            raise ValueError(f"critical_increase ({value}) must be at least allowed_increase ({allowed})")
        return value
