"""Configuration from environment variables (docs/design.md "Configuration").

A plain dataclass rather than pydantic-settings: it is read once per process and keeps the
Lambda's import graph small. Secrets are held as `Secret` so a repr never shows them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from honeycomb_evaluator.secret import Secret

MAX_BODY_BYTES = 64 * 1024


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None


@dataclass(frozen=True)
class Settings:
    api_key: Secret | None = field(default=None, repr=False)
    api_url: str | None = None
    api_key_file: str | None = None
    secret_id: str | None = None
    secret_max_age_seconds: float = 300.0
    allow_anonymous: bool = False
    max_body_bytes: int = MAX_BODY_BYTES

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        key = env.get("HONEYCOMB_API_KEY", "").strip()
        return cls(
            api_key=Secret(key) if key else None,
            api_url=env.get("HONEYCOMB_API_URL", "").strip() or None,
            api_key_file=env.get("HONEYCOMB_API_KEY_FILE", "").strip() or None,
            secret_id=env.get("HONEYCOMB_SECRET_ID", "").strip() or None,
            secret_max_age_seconds=_float(env, "HONEYCOMB_SECRET_MAX_AGE", 300.0),
            allow_anonymous=_truthy(env.get("EVALUATOR_ALLOW_ANONYMOUS")),
        )
