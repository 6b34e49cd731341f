"""`POST /v1/evaluate` request body (unknown fields rejected at every level)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationInfo,
    field_validator,
)

from honeycomb_evaluator.models.judgement import Compare, Judge, Scorecard
from honeycomb_evaluator.models.query import STRICT, QuerySpec
from honeycomb_evaluator.models.slices import Slices

MAX_TIMEOUT_SECONDS = 25.0
DEFAULT_TIMEOUT_SECONDS = 8.0


# Dataset slugs are lower-case words with dashes (Honeycomb derives them from names); `__all__`
# queries the whole environment. `.` and `..` would change the route the slug is put in.
def _not_a_path_step(slug: str) -> str:
    if slug in (".", ".."):
        raise ValueError(f"{slug!r} is not a dataset slug")
    return slug


DatasetSlug = Annotated[
    StrictStr,
    Field(min_length=1, max_length=255, pattern=r"^(__all__|[A-Za-z0-9._-]+)$"),
    AfterValidator(_not_a_path_step),
]
Reduction = Literal["first", "last", "min", "max", "sum", "avg"]
MatchValue = StrictBool | StrictInt | StrictFloat | StrictStr


class Select(BaseModel):
    """Which single number to return from a result."""

    model_config = STRICT

    calculation: Annotated[StrictStr, Field(min_length=1)] | None = Field(
        default=None, description="Result key such as `P99(duration_ms)` or `COUNT`."
    )
    match: dict[StrictStr, MatchValue] = Field(
        default_factory=dict, description="Breakdown column → value that a row must have."
    )
    reduce: Reduction = Field(default="first", description="How to combine the matching rows or buckets.")
    over: Literal["results", "series"] = Field(
        default="results", description="`results` (the summary rows) or `series` (the time buckets)."
    )


class Markers(BaseModel):
    """Honeycomb markers for this canary (docs/operations.md "Markers"); needs `judge` or `scorecard`."""

    model_config = STRICT

    write: StrictBool = Field(
        default=True, description="Write them (the deployment's EVALUATOR_MARKERS when `markers` is absent)."
    )
    dataset: DatasetSlug | None = Field(
        default=None,
        description="Where: a dataset slug, `__all__` (the environment), default the evaluated dataset.",
    )


class EvaluateRequest(BaseModel):
    model_config = STRICT

    dataset: DatasetSlug = Field(description="Dataset slug or `__all__`.")
    environment: Annotated[StrictStr, Field(min_length=1, max_length=128)] = Field(
        default="default", description="Which configured Honeycomb key/region."
    )
    query: QuerySpec = Field(description="A Honeycomb query specification.")
    select: Select | None = None
    empty: Literal["null", "zero", "error"] = Field(
        default="null", description="What no data means: `value: null`, `value: 0`, or 422 `no_data`."
    )
    timeout_seconds: Annotated[StrictInt | StrictFloat, Field(gt=0, le=MAX_TIMEOUT_SECONDS)] = Field(
        default=DEFAULT_TIMEOUT_SECONDS, description="Deadline for the whole evaluation."
    )
    max_age_seconds: Annotated[StrictInt | StrictFloat, Field(ge=0, le=86400)] = Field(
        default=0, description="Accept a cached completed result up to this old."
    )
    include_series: StrictBool = Field(default=False, description="Return `series` too.")
    compare: Compare | None = Field(
        default=None, description="Canary against baseline in one query; `value` becomes the comparison."
    )
    judge: Judge | None = Field(default=None, description="A verdict on the comparison (needs `compare`).")
    scorecard: Scorecard | None = Field(
        default=None,
        description="Several calculations of the query judged together into one verdict (needs `compare`; "
        "instead of `judge`).",
    )
    slices: Slices | None = Field(
        default=None,
        description="Judge every slice of the traffic too (needs `judge` or `scorecard`): a verdict per "
        "value of each dimension, the false discoveries controlled, and new error types.",
    )
    markers: Markers | None = Field(
        default=None,
        description="Honeycomb markers when the canary is first judged and when a verdict fails it "
        "(needs `judge` or `scorecard`).",
    )

    @property
    def over_series(self) -> bool:
        """The number is picked out of the time buckets (`select.over: series`), not the summary rows."""
        return self.select is not None and self.select.over == "series"

    @field_validator("judge", "scorecard")
    @classmethod
    def _judging_needs_compare(cls, judging: Judge | Scorecard | None, info: ValidationInfo) -> object:
        # A compare that failed its own validation is absent from info.data and already reported.
        if judging is not None and "compare" in info.data and info.data["compare"] is None:
            raise ValueError(
                f'{info.field_name} needs "compare" (the column and the canary and baseline values)'
            )
        if judging is not None and info.field_name == "scorecard" and info.data.get("judge") is not None:
            raise ValueError("use judge (one metric) or scorecard (several), not both")
        return judging

    @field_validator("slices")
    @classmethod
    def _slices_need_a_verdict(cls, slices: Slices | None, info: ValidationInfo) -> Slices | None:
        if slices is None:
            return None
        judging = info.data.get("judge") or info.data.get("scorecard")
        if judging is None:
            if "judge" in info.data and "scorecard" in info.data:
                raise ValueError('slices need "judge" or "scorecard": a slice is judged like the whole')
            return slices  # judge/scorecard failed their own validation and are reported
        if slices.significance is not None and slices.significance >= judging.significance:
            raise ValueError(
                f"slices.significance ({slices.significance}) must be below the verdict's significance "
                f"({judging.significance}): the slices take their share out of it"
            )
        return slices

    @field_validator("markers")
    @classmethod
    def _markers_need_a_verdict(cls, markers: Markers | None, info: ValidationInfo) -> Markers | None:
        if markers is None or not markers.write:
            return markers
        # A judge or scorecard that failed its own validation is absent from info.data and reported.
        judged = info.data.get("judge") is not None or info.data.get("scorecard") is not None
        if {"judge", "scorecard"} <= info.data.keys() and not judged:
            raise ValueError('markers need "judge" or "scorecard": they mark when a canary is judged')
        return markers
