"""`POST /v1/slo` request body (unknown fields rejected)."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import BaseModel, Field, StrictFloat, StrictInt, StrictStr, model_validator

from honeycomb_evaluator.models.query import STRICT
from honeycomb_evaluator.models.request import DEFAULT_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS, DatasetSlug

Figure = Literal["budget_remaining", "burn_rate", "compliance"]
SloId = Annotated[StrictStr, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class SloRequest(BaseModel):
    """`POST /v1/slo`: one figure of one SLO, by id or by name within the dataset."""

    model_config = STRICT

    dataset: DatasetSlug = Field(description="The SLO's dataset slug, or `__all__` for a multi-dataset SLO.")
    environment: Annotated[StrictStr, Field(min_length=1, max_length=128)] = Field(
        default="default", description="Which configured Honeycomb key/region."
    )
    slo_id: SloId | None = Field(default=None, description="The SLO's id (as in its Honeycomb URL).")
    slo_name: Annotated[StrictStr, Field(min_length=1, max_length=120)] | None = Field(
        default=None, description="The SLO's name, exactly; instead of `slo_id`."
    )
    figure: Figure = Field(
        default="budget_remaining",
        description="Which figure becomes `value`: `budget_remaining` and `compliance` in percent, "
        "`burn_rate` as a multiple of the sustainable rate (last 4 h).",
    )
    timeout_seconds: Annotated[StrictInt | StrictFloat, Field(gt=0, le=MAX_TIMEOUT_SECONDS)] = Field(
        default=DEFAULT_TIMEOUT_SECONDS, description="Deadline for the whole evaluation."
    )

    @model_validator(mode="after")
    def _one_way_to_name_the_slo(self) -> Self:
        if (self.slo_id is None) == (self.slo_name is None):
            raise ValueError("give exactly one of slo_id and slo_name")
        return self
