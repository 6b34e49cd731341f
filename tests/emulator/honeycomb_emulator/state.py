"""Everything one emulator process holds: settings, the event store, keys and registries."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .auth import KeyRing
from .config import Settings
from .engine import Store
from .faults import FaultBook
from .ratelimit import RateLimiter
from .stats import Stats
from .timefmt import rfc3339

MAX_RESULTS = 2_000  # oldest query results are forgotten beyond this (Honeycomb's retention is undocumented)


@dataclass
class QueryRecord:
    id: str
    dataset: str
    spec: dict[str, Any]  # as Honeycomb echoes it, without the id

    def echo(self) -> dict[str, Any]:
        return {"id": self.id, **self.spec}


@dataclass
class ResultRecord:
    id: str
    dataset: str
    query_id: str
    query: dict[str, Any]  # the query echoed inside the result
    created_at: float  # wall clock, unix seconds
    ready_at: float  # monotonic clock: not complete before this
    never_complete: bool = False
    data: dict[str, Any] | None = None  # the run's QueryResultDetails ``data``
    completed_at: float | None = None  # wall clock of completion, for Last-Modified


@dataclass
class DerivedColumn:
    id: str
    dataset: str  # a slug or "__all__"
    alias: str
    expression: str
    description: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass
class BurnAlert:
    id: str
    slo_id: str
    alert_type: str  # exhaustion_time | budget_rate
    description: str = ""
    exhaustion_minutes: int | None = None
    budget_rate_window_minutes: int | None = None
    budget_rate_decrease_threshold_per_million: int | None = None
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass
class SloRecord:
    id: str
    name: str
    sli_alias: str
    time_period_days: int
    target_per_million: int
    dataset_slugs: list[str]
    description: str = ""
    tags: list[dict[str, str]] = field(default_factory=list)
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass
class MarkerRecord:
    id: str
    dataset: str  # a slug, or "__all__" for an environment marker
    fields: dict[str, Any]  # start_time, end_time, message, type, url as given (markers.py)
    created_at: float
    updated_at: float

    def as_json(self) -> dict[str, Any]:
        return {
            **self.fields,
            "id": self.id,
            "created_at": rfc3339(self.created_at),
            "updated_at": rfc3339(self.updated_at),
        }


class EmulatorState:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.keys = KeyRing(settings.keys)
        self.limiter = RateLimiter(
            settings.rate_limit_per_minute,
            settings.relational_rate_limit_per_minute,
            window_seconds=settings.rate_limit_window_seconds,
        )
        self.stats = Stats()
        self.faults = FaultBook()
        self.lock = threading.Lock()
        self.queries: dict[str, QueryRecord] = {}
        self.results: OrderedDict[str, ResultRecord] = OrderedDict()
        self.derived_columns: dict[str, DerivedColumn] = {}
        self.slos: dict[str, SloRecord] = {}
        self.burn_alerts: dict[str, BurnAlert] = {}
        self.markers: dict[str, MarkerRecord] = {}
        # Brings generated data (the demo's) up to now before a query runs; nothing without it.
        self.catch_up: Callable[[], None] = lambda: None

    def remember_result(self, record: ResultRecord) -> None:
        with self.lock:
            self.results[record.id] = record
            while len(self.results) > MAX_RESULTS:
                self.results.popitem(last=False)

    def reset_controls(self) -> None:
        """``POST /_emulator/reset``: stats, faults and rate-limit windows (events stay)."""
        self.stats.reset()
        self.faults.clear()
        self.limiter.reset()
