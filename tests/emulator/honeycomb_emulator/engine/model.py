"""Plain data the store accepts and reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

ColumnType = Literal["string", "float", "integer", "boolean"]


@dataclass(frozen=True)
class Event:
    """One event: ``time`` in unix seconds, its fields, and how many events it stands for."""

    time: float
    data: dict[str, Any] = field(default_factory=dict)
    samplerate: int = 1


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    slug: str
    created_at: float
    last_written_at: float | None
    regular_columns_count: int


@dataclass(frozen=True)
class ColumnInfo:
    key_name: str
    type: ColumnType
    created_at: float
    updated_at: float
    last_written: float | None
