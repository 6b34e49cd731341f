"""`slices` of `POST /v1/evaluate`: where the canary regressed, from the same comparison query.

The dimensions join the comparison's one breakdown (version x dimensions); each value of a
dimension (and with `depth: 2` each pair of values) is a slice judged canary against baseline
with the comparison's own statistic, the family of slices controlled by Benjamini-Hochberg on
e-values at `significance`. The statistics are argued in docs/canary-judgement.md "Slices".
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictFloat, StrictInt, field_validator, model_validator

from honeycomb_evaluator.models.judgement import Significance
from honeycomb_evaluator.models.query import STRICT, ColumnName

MAX_DIMENSIONS = 6
MAX_SLICES = 500
MAX_ERROR_TYPES = 100


class ErrorTypes(BaseModel):
    """New error types: values of an error column the canary shows and the baseline does not."""

    model_config = STRICT

    column: ColumnName = Field(
        description="The column naming an event's error type (e.g. `exception.type`); events without "
        "it are not errors of any type."
    )
    min_count: Annotated[StrictInt, Field(ge=1, le=1_000_000)] = Field(
        default=5,
        description="Events of a type the canary needs in the window for the type to be named when "
        "the baseline has none (or is `ratio` times rarer).",
    )
    ratio: Annotated[StrictInt | StrictFloat, Field(ge=1, le=1_000_000)] = Field(
        default=10.0,
        description="A type is named as new when its share of the canary's events is at least this "
        "many times its share of the baseline's (or the baseline has none). It fails the verdict when "
        "shown more frequent in the canary at the slices' q.",
    )
    max_types: Annotated[StrictInt, Field(ge=1, le=MAX_ERROR_TYPES)] = Field(
        default=20, description="Error types judged at most (the most frequent in the canary first)."
    )
    critical_count: Annotated[StrictInt, Field(ge=1, le=1_000_000)] | None = Field(
        default=None,
        description="A new type seen at least this many times in the canary, and never in the baseline, "
        "fails the verdict outright (`critical`), evidence or not: outside the stated error rates.",
    )


class Slices(BaseModel):
    """Judge the comparison per slice of the traffic too (needs `judge` or `scorecard`)."""

    model_config = STRICT

    dimensions: Annotated[list[ColumnName], Field(max_length=MAX_DIMENSIONS)] = Field(
        default_factory=list,
        description="Columns to slice by, e.g. `http.route`, `user.plan`, `region` (at most 6).",
    )
    depth: Literal[1, 2] = Field(
        default=1,
        description="1: each value of each dimension is a slice; 2: each pair of values of two "
        "dimensions too (user.plan=enterprise, http.route=/api/billing).",
    )
    significance: Significance | None = Field(
        default=None,
        description="q: the false discovery rate over the slices (Benjamini-Hochberg on e-values), "
        "taken out of the verdict's significance (the whole comparison keeps the rest). Default: half "
        "of it.",
    )
    max_slices: Annotated[StrictInt, Field(ge=1, le=MAX_SLICES)] = Field(
        default=100,
        description="The family: at most this many slices are judged (the largest first), and each "
        "slice's test is as strict as this many need. Set it near the number of slices you expect.",
    )
    min_count: Annotated[StrictInt, Field(ge=1)] = Field(
        default=50, description="Events each version needs in a slice over the window for it to be judged."
    )
    errors: ErrorTypes | None = Field(
        default=None, description="Name the error types new in the canary (and judge them)."
    )

    @field_validator("dimensions")
    @classmethod
    def _distinct(cls, dimensions: list[str]) -> list[str]:
        repeated = sorted({d for d in dimensions if dimensions.count(d) > 1})
        if repeated:
            raise ValueError(f"each dimension once; {repeated} appear more than once")
        return dimensions

    @model_validator(mode="after")
    def _something_to_slice(self) -> Slices:
        if not self.dimensions and self.errors is None:
            raise ValueError('name at least one of "dimensions" or "errors"')
        if self.errors is not None and self.errors.column in self.dimensions:
            raise ValueError(f"{self.errors.column!r} is a dimension already; name the error column once")
        return self

    def columns(self) -> list[str]:
        """The breakdown columns slices add after the comparison's column."""
        return [*self.dimensions, *([self.errors.column] if self.errors is not None else [])]
