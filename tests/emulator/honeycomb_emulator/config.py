"""Settings of one emulator process (from the command line)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .auth import ApiKey


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8081
    keys: tuple[ApiKey, ...] = ()
    demo: bool = False
    data_dir: Path | None = None
    result_delay_ms: int = 500
    rate_limit_per_minute: int = 10
    relational_rate_limit_per_minute: int = 1
    rate_limit_window_seconds: float = 60.0
    slos_file: Path | None = None
    team_slug: str = "emulator"
    team_name: str = "Honeycomb Emulator"
    environment_slug: str = "emulator"
    environment_name: str = "Emulator"
