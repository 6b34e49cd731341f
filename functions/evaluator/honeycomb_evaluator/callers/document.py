"""The caller registry's JSON document, validated strictly so a typo cannot widen access.

Apart from registry.py so that importing the app does not load pydantic's model machinery: the
registry is parsed on the first request that needs it (`CallerRegistry.from_json`).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Caller names end up as log keys and metric dimensions, so keep them short and plain.
CALLER_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"


class CallerEntry(BaseModel):
    """One entry of the registry JSON, validated strictly so a typo cannot widen access."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    name: Annotated[str, Field(pattern=CALLER_NAME_PATTERN)]
    token_sha256: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$")] | None = None
    iam_principal: Annotated[str, Field(pattern=r"^arn:[\w-]+:(iam|sts)::\d{12}:.+$")] | None = None
    jwt_client_id: Annotated[str, Field(min_length=1, max_length=256)] | None = None
    datasets: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)] = ["*"]
    environments: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)] = ["*"]
    budget_share: Annotated[float, Field(gt=0, le=1)] | None = None

    @field_validator("token_sha256")
    @classmethod
    def _lowercase_digest(cls, value: str | None) -> str | None:
        return value.lower() if value is not None else None

    @model_validator(mode="after")
    def _has_identity(self) -> CallerEntry:
        if not (self.token_sha256 or self.iam_principal or self.jwt_client_id):
            raise ValueError("a caller needs token_sha256, iam_principal or jwt_client_id")
        return self


class RegistryDocument(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    callers: list[CallerEntry]

    @model_validator(mode="after")
    def _unique(self) -> RegistryDocument:
        for attribute in ("name", "token_sha256", "iam_principal", "jwt_client_id"):
            values = [getattr(c, attribute) for c in self.callers if getattr(c, attribute) is not None]
            duplicates = sorted({v for v in values if values.count(v) > 1})
            if duplicates:
                shown = duplicates if attribute != "token_sha256" else ["<digest>"]
                raise ValueError(f"duplicate {attribute}: {', '.join(shown)}")
        return self
