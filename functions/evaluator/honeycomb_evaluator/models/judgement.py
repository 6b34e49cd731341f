"""`compare`, `judge` and `scorecard` of `POST /v1/evaluate`: canary against baseline in one query.

Cross-field rules are field validators on the later field, so a 422 names the exact field
(`compare.baseline`, `judge.harmful_increase`); field validators run only for values the caller
set, which is what "this option does not apply" needs. The statistics behind the fields are in
docs/canary-judgement.md.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from honeycomb_evaluator.models.query import STRICT, ColumnName

GroupValue = Annotated[StrictStr, Field(min_length=1, max_length=1024)] | StrictInt | StrictBool
Increase = Annotated[StrictInt | StrictFloat, Field(ge=1, le=1_000_000)]
Decrease = Annotated[StrictInt | StrictFloat, Field(gt=0, le=1)]
Significance = Annotated[StrictFloat, Field(gt=0, lt=0.5)]
MAX_SCORECARD_METRICS = 10


class SamplingSpec(BaseModel):
    """How the events were sampled, so the tests count stored events, not weighted ones."""

    model_config = STRICT

    rate: Annotated[StrictInt | StrictFloat, Field(ge=1, le=1_000_000)] | None = Field(
        default=None, description="Every event was kept with probability 1/rate (Honeycomb's SampleRate)."
    )
    column: ColumnName | None = Field(
        default=None,
        description="The column holding each event's sample rate (e.g. `SampleRate`); the query then "
        "also asks SUM(column) to count the events behind the weighted COUNT.",
    )

    @model_validator(mode="after")
    def _one_way(self) -> SamplingSpec:
        if (self.rate is None) == (self.column is None):
            raise ValueError('set exactly one of "rate" or "column"')
        return self


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
    sampling: SamplingSpec | None = Field(
        default=None,
        description="How the events were sampled; unset: the rate is read off the counts where it is "
        "constant, and the counts test divides out the over-dispersion the buckets show.",
    )

    @field_validator("baseline")
    @classmethod
    def _distinct_groups(cls, baseline: str | int | bool, info: ValidationInfo) -> str | int | bool:
        canary = info.data.get("canary")
        if canary is not None and str(canary) == str(baseline):
            raise ValueError(f"baseline must differ from canary (both are {baseline!r})")
        return baseline


class JudgeRules(BaseModel):
    """The band and the test for one metric (shared by `judge` and each scorecard metric)."""

    model_config = STRICT

    direction: Literal["increase", "decrease", "either"] = Field(
        default="increase",
        description="Which change is bad: `increase` (latency, errors), `decrease`, `either`.",
    )
    allowed_increase: Increase = Field(
        default=1.0,
        description="Largest canary/baseline ratio that must not fail, e.g. 1.05: `high` needs the whole "
        "confidence interval above it.",
    )
    harmful_increase: Increase | None = Field(
        default=None,
        description="Smallest ratio that must not pass (at least allowed_increase, default equal to it): "
        "`pass` needs the whole interval below it.",
    )
    allowed_decrease: Decrease = Field(
        default=1.0, description="Smallest ratio that must not fail (`low`), e.g. 0.95; with decrease/either."
    )
    harmful_decrease: Decrease | None = Field(
        default=None, description="Largest ratio that must not pass; at most allowed_decrease."
    )
    critical_increase: Increase | None = Field(
        default=None,
        description="A ratio above which the estimate alone gives `high` and `critical`, evidence or not "
        "(outside the stated error rates).",
    )
    tolerance: Annotated[StrictInt | StrictFloat, Field(ge=0)] = Field(
        default=0,
        description="An absolute change in the calculation's unit that never counts: a floor under the "
        "band's width (e.g. 0.001 for a tenth of a percentage point of errors).",
    )
    min_count: Annotated[StrictInt, Field(ge=1)] = Field(
        default=1, description="Fewest events each group needs in the window; fewer gives `nodata`."
    )
    test: Literal["auto", "paired", "proportions", "none"] = Field(
        default="auto",
        description="`paired`: the calculation per time bucket, canary over baseline, paired by time; "
        "`proportions`: events of interest among all events (an AVG of a 0/1 column, e.g. errors); "
        "`none`: compare the window's values with the band, no statistics. `auto`: paired.",
    )

    @field_validator("test", mode="before")
    @classmethod
    def _renamed_test(cls, value: Any) -> Any:
        if value == "mann_whitney":
            raise ValueError(
                '"mann_whitney" was replaced by "paired": time buckets paired by time, with error rates '
                "that hold across repeated looks (docs/canary-judgement.md)"
            )
        return value

    @field_validator("allowed_increase", "harmful_increase", "critical_increase")
    @classmethod
    def _increase_applies(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is not None and info.data.get("direction") == "decrease":
            raise ValueError(f'{info.field_name} does not apply with direction "decrease"')
        return value

    @field_validator("harmful_increase", "critical_increase")
    @classmethod
    def _above_allowed(cls, value: float | None, info: ValidationInfo) -> float | None:
        allowed = info.data.get("allowed_increase", 1.0)
        if value is not None and value < allowed:
            raise ValueError(f"{info.field_name} ({value}) must be at least allowed_increase ({allowed})")
        return value

    @field_validator("allowed_decrease", "harmful_decrease")
    @classmethod
    def _decrease_applies(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is not None and info.data.get("direction", "increase") == "increase":
            raise ValueError(f'{info.field_name} needs direction "decrease" or "either"')
        return value

    @field_validator("harmful_decrease")
    @classmethod
    def _below_allowed(cls, value: float | None, info: ValidationInfo) -> float | None:
        allowed = info.data.get("allowed_decrease", 1.0)
        if value is not None and value > allowed:
            raise ValueError(f"harmful_decrease ({value}) must be at most allowed_decrease ({allowed})")
        return value


class Judge(JudgeRules):
    """A verdict on the comparison (`pass`, `high`, `low`, `inconclusive`, `nodata`)."""

    significance: Significance = Field(
        default=0.05,
        description="alpha: over every look at this comparison together, a canary inside the band is "
        "failed, and one beyond the harmful bound passed, with probability at most this.",
    )


class ScorecardMetric(JudgeRules):
    """One metric of a scorecard: a calculation of the query and its band."""

    calculation: Annotated[StrictStr, Field(min_length=1)] = Field(
        description="A result key of the query, e.g. `P99(duration_ms)` or `AVG(is_error)`."
    )
    name: Annotated[StrictStr, Field(min_length=1, max_length=64)] | None = Field(
        default=None, description="How the answer names the metric; default the calculation."
    )
    critical: StrictBool = Field(
        default=True, description="A critical metric can fail the scorecard; the others are only shown."
    )

    @property
    def label(self) -> str:
        return self.name or self.calculation


class Scorecard(BaseModel):
    """Several metrics of the one comparison query, judged together into one verdict."""

    model_config = STRICT

    metrics: Annotated[list[ScorecardMetric], Field(min_length=1, max_length=MAX_SCORECARD_METRICS)]
    significance: Significance = Field(
        default=0.05,
        description="alpha for the whole scorecard: Holm's procedure over the critical metrics keeps the "
        "chance that any of them inside its band fails the canary, at any look, at most alpha.",
    )

    @field_validator("metrics")
    @classmethod
    def _named_once_and_critical(cls, metrics: list[ScorecardMetric]) -> list[ScorecardMetric]:
        labels = [m.label for m in metrics]
        repeated = sorted({label for label in labels if labels.count(label) > 1})
        if repeated:
            raise ValueError(f"each metric needs its own name; {repeated} appear more than once")
        if not any(m.critical for m in metrics):
            raise ValueError("at least one metric must be critical (critical: true, the default)")
        return metrics
