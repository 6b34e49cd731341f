"""SLO arithmetic from stored events: good/bad counts, compliance, budget, burn rate, alerts.

Definitions (Honeycomb's, as its docs describe them; the exact alert models are the emulator's):

* an event is *good* when the SLI is true, *bad* when false; null SLI values are not counted;
* ``compliance`` = 100 x good / (good + bad) over the SLO's period;
* allowed failure fraction = 1 - target_per_million / 1e6;
* ``budget_remaining`` = 100 x (1 - bad fraction / allowed fraction), negative when overspent;
* ``burn_rate`` = bad fraction over the last 4 hours / allowed fraction (1.0 burns exactly on budget);
* an ``exhaustion_time`` alert triggers when the budget is spent, or when the bad events of the
  last quarter of ``exhaustion_minutes`` (at least 10 minutes), kept up, would spend the rest
  within ``exhaustion_minutes``;
* a ``budget_rate`` alert triggers when the bad events of the last ``budget_rate_window_minutes``
  used at least ``budget_rate_decrease_threshold_per_million`` of the whole budget.

The query engine only reaches 7 days back (Honeycomb's Query Data window), so periods longer
than that are computed over the last 7 days.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .engine import Store, normalize_query, run_query
from .state import BurnAlert, EmulatorState, SloRecord

MAX_LOOKBACK = 7 * 86400 - 3600  # stay inside the engine's 7-day window after truncation
BURN_RATE_WINDOW = 4 * 3600


@dataclass(frozen=True)
class Counts:
    good: float
    bad: float

    @property
    def total(self) -> float:
        return self.good + self.bad


@dataclass(frozen=True)
class SliSource:
    """How to evaluate an SLI: a derived column's expression, or a boolean column by name."""

    alias: str
    expression: str | None


def _truthy(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def count(
    store: Store, datasets: list[str], source: SliSource, start: float, end: float, now: float
) -> Counts:
    """Good and bad events with start <= time < end (clamped to the engine's window)."""
    start = max(start, now - MAX_LOOKBACK)
    if end - start < 1:
        return Counts(0, 0)
    spec: dict[str, Any] = {
        "calculations": [{"op": "COUNT"}],
        "breakdowns": [source.alias],
        "start_time": int(start),
        "end_time": int(end),
        "limit": 1000,
    }
    if source.expression is not None:
        spec["calculated_fields"] = [{"name": source.alias, "expression": source.expression}]
    spec = normalize_query(spec)
    good = bad = 0.0
    for dataset in datasets:
        result = run_query(store, dataset, spec, now, disable_series=True)
        for row in result.get("results", []):
            data = row.get("data", {})
            verdict = _truthy(data.get(source.alias))
            if verdict is True:
                good += float(data.get("COUNT", 0))
            elif verdict is False:
                bad += float(data.get("COUNT", 0))
    return Counts(good, bad)


def allowed_fraction(slo: SloRecord) -> float:
    return max(1e-6, 1 - slo.target_per_million / 1_000_000)


@dataclass(frozen=True)
class Report:
    compliance: float
    budget_remaining: float
    burn_rate: float
    period: Counts
    has_events: bool


def report(state: EmulatorState, slo: SloRecord, source: SliSource, now: float) -> Report:
    period = count(state.store, slo.dataset_slugs, source, now - slo.time_period_days * 86400, now, now)
    recent = count(state.store, slo.dataset_slugs, source, now - BURN_RATE_WINDOW, now, now)
    allowed = allowed_fraction(slo)
    if period.total == 0:
        return Report(100.0, 100.0, 0.0, period, False)
    bad_fraction = period.bad / period.total
    burn = (recent.bad / recent.total) / allowed if recent.total else 0.0
    return Report(
        compliance=round(100 * period.good / period.total, 4),
        budget_remaining=round(100 * (1 - bad_fraction / allowed), 4),
        burn_rate=round(burn, 4),
        period=period,
        has_events=True,
    )


def alert_triggered(
    state: EmulatorState, slo: SloRecord, source: SliSource, alert: BurnAlert, rep: Report, now: float
) -> bool:
    if not rep.has_events:
        return False
    budget_events = allowed_fraction(slo) * rep.period.total
    if alert.alert_type == "budget_rate":
        window = (alert.budget_rate_window_minutes or 60) * 60
        recent = count(state.store, slo.dataset_slugs, source, now - window, now, now)
        used = recent.bad / budget_events if budget_events else 0.0
        return used * 1_000_000 >= (alert.budget_rate_decrease_threshold_per_million or 1)
    horizon = (alert.exhaustion_minutes or 0) * 60
    remaining = budget_events - rep.period.bad
    if remaining <= 0:
        return True
    lookback = max(600, horizon // 4)
    recent = count(state.store, slo.dataset_slugs, source, now - lookback, now, now)
    projected = recent.bad * horizon / lookback
    return projected >= remaining


def history_point(
    state: EmulatorState, slo: SloRecord, source: SliSource, at: float, now: float
) -> dict[str, Any]:
    period = count(state.store, slo.dataset_slugs, source, at - slo.time_period_days * 86400, at, now)
    if period.total == 0:
        return {}
    bad_fraction = period.bad / period.total
    return {
        "timestamp": int(at),
        "compliance": round(100 * period.good / period.total, 4),
        "budget_remaining": round(100 * (1 - bad_fraction / allowed_fraction(slo)), 4),
    }
