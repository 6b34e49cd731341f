"""Settings of the shared service, from environment variables (see docs/operations.md)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from .ratelimit import BudgetSettings

Backend = Literal["memory", "dynamodb"]


class ConfigError(ValueError):
    """A sharing setting is unusable; the message names the variable."""


def _number(env: Mapping[str, str], name: str, default: float, *, minimum: float, maximum: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name} must be between {minimum:g} and {maximum:g}, got {raw}")
    return value


@dataclass(frozen=True)
class SharingConfig:
    backend: Backend = "memory"
    table_name: str | None = None
    budget: BudgetSettings = field(default_factory=BudgetSettings)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SharingConfig:
        env = os.environ if env is None else env
        backend = env.get("EVALUATOR_STATE_BACKEND", "").strip().lower() or "memory"
        if backend not in ("memory", "dynamodb"):
            raise ConfigError(f"EVALUATOR_STATE_BACKEND must be memory or dynamodb, got {backend!r}")
        table = env.get("EVALUATOR_TABLE_NAME", "").strip() or None
        if backend == "dynamodb" and table is None:
            raise ConfigError("EVALUATOR_STATE_BACKEND=dynamodb needs EVALUATOR_TABLE_NAME")
        per_window = int(_number(env, "EVALUATOR_RATE_LIMIT_PER_MINUTE", 10, minimum=1, maximum=10_000))
        budget = BudgetSettings(
            per_window=per_window,
            window_seconds=_number(env, "EVALUATOR_RATE_WINDOW_SECONDS", 60, minimum=1, maximum=3600),
            headroom=int(_number(env, "EVALUATOR_RATE_HEADROOM", 1, minimum=0, maximum=per_window - 1)),
            margin_seconds=_number(env, "EVALUATOR_RATE_MARGIN_SECONDS", 2, minimum=0, maximum=60),
            relational_per_window=int(
                _number(env, "EVALUATOR_RATE_LIMIT_RELATIONAL_PER_MINUTE", 1, minimum=1, maximum=10_000)
            ),
        )
        return cls(backend=backend, table_name=table, budget=budget)  # type: ignore[arg-type]
