"""All configuration, read from the environment once per process (docs/design.md "Configuration").

`Settings.from_env()` is called once, by whoever builds the app (the Lambda handler, `serve`,
the one-shot CLI), and the parts are handed to what needs them. One set of parsing rules for
every variable: numbers are checked against their range, flags accept 1/true/yes/on and
0/false/no/off, and a bad value is a `ConfigError` naming the variable.

Plain dataclasses rather than pydantic-settings: this runs on every cold start and keeps the
Lambda's import graph small. The Honeycomb key is held as a `Secret`, so no repr shows it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from honeycomb_evaluator.secret import Secret

StateBackend = Literal["memory", "dynamodb", "redis"]
STATE_BACKENDS: tuple[StateBackend, ...] = ("memory", "dynamodb", "redis")
MAX_BODY_BYTES = 64 * 1024
# Measured as the results' JSON; parsed, a result takes about 4x that in memory (docs/performance.md),
# so the default keeps the cache near 130 MB, well inside a 512 MB Lambda function.
RESULT_CACHE_BYTES = 32 * 1024 * 1024
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


class ConfigError(ValueError):
    """A setting is unusable; the message names the variable (never a secret value)."""


@dataclass(frozen=True)
class HoneycombSettings:
    """Where the Honeycomb key comes from (keys.py): a secret, a file, or the variable."""

    api_key: Secret | None = field(default=None, repr=False)
    api_url: str | None = None
    api_key_file: str | None = None
    secret_id: str | None = None
    secret_max_age_seconds: float = 300.0


@dataclass(frozen=True)
class CallerSettings:
    """Who may call (callers/): a registry file or secret, and whether anonymous calls are allowed."""

    registry_file: str | None = None
    registry_secret_id: str | None = None
    registry_max_age_seconds: float = 300.0
    allow_anonymous: bool = False


@dataclass(frozen=True)
class BudgetSettings:
    """Honeycomb's query-result budget per key, and how much of it the evaluator spends."""

    per_window: int = 10
    window_seconds: float = 60.0
    headroom: int = 1  # tokens never spent: room for other users of the key
    margin_seconds: float = 2.0  # clock skew between instances, latency to Honeycomb
    relational_per_window: int = 1

    def capacity(self, relational: bool) -> int:
        limit = self.relational_per_window if relational else self.per_window
        # Headroom applies to the 10/min budget only; the relational budget is a single token.
        return max(1, limit - (0 if relational else self.headroom))

    @property
    def token_lifetime(self) -> float:
        return self.window_seconds + self.margin_seconds


@dataclass(frozen=True)
class StateSettings:
    """Where instances share executions, caches and the budget (state/)."""

    backend: StateBackend = "memory"
    table_name: str | None = None
    redis_url: str | None = field(default=None, repr=False)  # may carry a password


@dataclass(frozen=True)
class ServerSettings:
    """Limits of `honeycomb-evaluator serve`, for a container with no gateway in front (serving.py).

    A client that sends nothing or trickles its request is cut off, idle connections are closed,
    and past the caps new work gets a JSON 503 instead of starving everyone (docs/operations.md).
    """

    header_timeout_seconds: float = 10.0  # from the first byte of a request to its last header
    body_timeout_seconds: float = 10.0  # from the last header to the last byte of the body
    keepalive_timeout_seconds: float = 120.0  # an idle connection between requests
    keepalive_max_requests: int = 1000  # then the connection is closed (Connection: close)
    # A request waiting on an execution another request started costs memory only (~30 KiB:
    # docs/operations.md "Admission"); these bound that memory. Work is bounded per execution.
    max_connections: int = 4096
    max_concurrent_requests: int = 2048
    max_concurrent_executions: int = 64  # flights doing Honeycomb work (sharing/executor.py)


@dataclass(frozen=True)
class TelemetrySettings:
    """What the evaluator tells about itself (docs/operations.md): metrics and traces in `serve`,
    and Honeycomb markers anywhere."""

    metrics: bool = True  # GET /metrics in `serve` (EVALUATOR_METRICS)
    # OTLP/HTTP traces in `serve`, decided from OpenTelemetry's own variables (otlp_traces_wanted).
    otlp_traces: bool = False
    markers: bool = False  # EVALUATOR_MARKERS: the default of a request's `markers.write`
    markers_dataset: str | None = None  # EVALUATOR_MARKERS_DATASET; None: the evaluated dataset


@dataclass(frozen=True)
class Settings:
    honeycomb: HoneycombSettings = field(default_factory=HoneycombSettings)
    callers: CallerSettings = field(default_factory=CallerSettings)
    state: StateSettings = field(default_factory=StateSettings)
    budget: BudgetSettings = field(default_factory=BudgetSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    telemetry: TelemetrySettings = field(default_factory=TelemetrySettings)
    max_body_bytes: int = MAX_BODY_BYTES
    # Completed results this process keeps (sharing/executor.py), measured as their JSON size.
    result_cache_bytes: int = RESULT_CACHE_BYTES

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        read = _Reader(os.environ if env is None else env)
        return cls(
            honeycomb=_honeycomb(read),
            callers=_callers(read),
            state=_state(read),
            budget=_budget(read),
            server=_server(read),
            telemetry=_telemetry(read),
            result_cache_bytes=int(
                read.number("EVALUATOR_RESULT_CACHE_BYTES", RESULT_CACHE_BYTES, minimum=0, maximum=2**40)
            ),
        )


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def text(self, name: str) -> str | None:
        return self._env.get(name, "").strip() or None

    def number(self, name: str, default: float, *, minimum: float, maximum: float) -> float:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {raw!r}") from None
        if not minimum <= value <= maximum:
            raise ConfigError(f"{name} must be between {minimum:g} and {maximum:g}, got {raw}")
        return value

    def flag(self, name: str, *, default: bool = False) -> bool:
        raw = (self.text(name) or "").lower()
        if not raw:
            return default
        if raw in _TRUE:
            return True
        if raw in _FALSE:
            return False
        raise ConfigError(f"{name} must be true or false (1/0, yes/no, on/off), got {raw!r}")


def _honeycomb(read: _Reader) -> HoneycombSettings:
    key = read.text("HONEYCOMB_API_KEY")
    return HoneycombSettings(
        api_key=Secret(key) if key else None,
        api_url=read.text("HONEYCOMB_API_URL"),
        api_key_file=read.text("HONEYCOMB_API_KEY_FILE"),
        secret_id=read.text("HONEYCOMB_SECRET_ID"),
        secret_max_age_seconds=read.number("HONEYCOMB_SECRET_MAX_AGE", 300, minimum=0, maximum=86400),
    )


def _callers(read: _Reader) -> CallerSettings:
    return CallerSettings(
        registry_file=read.text("EVALUATOR_CALLERS_FILE"),
        registry_secret_id=read.text("EVALUATOR_CALLERS_SECRET_ID"),
        registry_max_age_seconds=read.number("EVALUATOR_CALLERS_MAX_AGE", 300, minimum=0, maximum=86400),
        allow_anonymous=read.flag("EVALUATOR_ALLOW_ANONYMOUS"),
    )


def _state(read: _Reader) -> StateSettings:
    backend = (read.text("EVALUATOR_STATE_BACKEND") or "memory").lower()
    if backend not in STATE_BACKENDS:
        raise ConfigError(
            f"EVALUATOR_STATE_BACKEND must be one of {', '.join(STATE_BACKENDS)}, got {backend!r}"
        )
    table = read.text("EVALUATOR_TABLE_NAME")
    if backend == "dynamodb" and table is None:
        raise ConfigError("EVALUATOR_STATE_BACKEND=dynamodb needs EVALUATOR_TABLE_NAME")
    redis_url = read.text("EVALUATOR_REDIS_URL")
    if backend == "redis" and redis_url is None:
        raise ConfigError("EVALUATOR_STATE_BACKEND=redis needs EVALUATOR_REDIS_URL")
    return StateSettings(backend=backend, table_name=table, redis_url=redis_url)  # type: ignore[arg-type,unused-ignore]


def _budget(read: _Reader) -> BudgetSettings:
    per_window = int(read.number("EVALUATOR_RATE_LIMIT_PER_MINUTE", 10, minimum=1, maximum=10_000))
    return BudgetSettings(
        per_window=per_window,
        window_seconds=read.number("EVALUATOR_RATE_WINDOW_SECONDS", 60, minimum=1, maximum=3600),
        headroom=int(read.number("EVALUATOR_RATE_HEADROOM", 1, minimum=0, maximum=per_window - 1)),
        margin_seconds=read.number("EVALUATOR_RATE_MARGIN_SECONDS", 2, minimum=0, maximum=60),
        relational_per_window=int(
            read.number("EVALUATOR_RATE_LIMIT_RELATIONAL_PER_MINUTE", 1, minimum=1, maximum=10_000)
        ),
    )


def _server(read: _Reader) -> ServerSettings:
    def seconds(name: str, default: float) -> float:
        return read.number(name, default, minimum=0.1, maximum=3600)

    def count(name: str, default: int) -> int:
        return int(read.number(name, default, minimum=1, maximum=1_000_000))

    return ServerSettings(
        header_timeout_seconds=seconds("EVALUATOR_HEADER_TIMEOUT_SECONDS", 10),
        body_timeout_seconds=seconds("EVALUATOR_BODY_TIMEOUT_SECONDS", 10),
        keepalive_timeout_seconds=seconds("EVALUATOR_KEEPALIVE_TIMEOUT_SECONDS", 120),
        keepalive_max_requests=count("EVALUATOR_KEEPALIVE_MAX_REQUESTS", 1000),
        max_connections=count("EVALUATOR_MAX_CONNECTIONS", 4096),
        max_concurrent_requests=count("EVALUATOR_MAX_CONCURRENT_REQUESTS", 2048),
        max_concurrent_executions=count("EVALUATOR_MAX_CONCURRENT_EXECUTIONS", 64),
    )


OTEL_TRACE_ENDPOINTS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


def otlp_traces_wanted(read: _Reader) -> bool:
    """OpenTelemetry's own switches: on when an OTLP endpoint is set (or OTEL_TRACES_EXPORTER says
    otlp), off with OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none. Only OTLP is exported."""
    if read.flag("OTEL_SDK_DISABLED"):
        return False
    exporters = {e.strip().lower() for e in (read.text("OTEL_TRACES_EXPORTER") or "").split(",") if e.strip()}
    unknown = exporters - {"otlp", "none"}
    if unknown:
        raise ConfigError(
            f"OTEL_TRACES_EXPORTER: only otlp (or none) is supported, got {', '.join(sorted(unknown))}"
        )
    if exporters == {"none"}:
        return False
    return "otlp" in exporters or any(read.text(name) for name in OTEL_TRACE_ENDPOINTS)


def _telemetry(read: _Reader) -> TelemetrySettings:
    return TelemetrySettings(
        metrics=read.flag("EVALUATOR_METRICS", default=True),
        otlp_traces=otlp_traces_wanted(read),
        markers=read.flag("EVALUATOR_MARKERS"),
        markers_dataset=read.text("EVALUATOR_MARKERS_DATASET"),
    )
