"""The SLO gate's answer, built from Honeycomb's (the request is models/slo_request.py).

Honeycomb serves an SLO's reporting figures from `GET /1/slos/{dataset}/{id}?detailed`
(`compliance`, `budget_remaining`, `burn_rate` over the last 4 h, `status`) and its burn alerts,
each with `triggered`, from `GET /1/burn_alerts/{dataset}?slo_id=`. Neither spends the 10 query
runs a minute, and the reporting data is refreshed only every 5 minutes, so an answer is kept for
`REPORTING_PERIOD_SECONDS` (../shared/reference/honeycomb-api.md §4).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

REPORTING_PERIOD_SECONDS = 300.0
FIGURE_UNITS: dict[str, str] = {"budget_remaining": " %", "compliance": " %", "burn_rate": "x"}


class MalformedSloAnswer(ValueError):
    """Honeycomb's SLO answer lacks what the gate reads (an upstream problem, not the caller's)."""


class SloNameError(LookupError):
    """No SLO, or several, carry the requested name; `status` is 404 or 422."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class BurnAlert:
    id: str
    alert_type: str
    description: str
    threshold: str  # e.g. "exhaustion in 240 min" or "1% of the budget in 60 min"

    def as_json(self) -> dict[str, str]:
        return {
            "id": self.id,
            "alert_type": self.alert_type,
            "description": self.description,
            "threshold": self.threshold,
        }


@dataclass(frozen=True)
class SloReport:
    """What Honeycomb reported about one SLO at one time: the thing that is cached and shared."""

    id: str
    name: str
    dataset_slugs: tuple[str, ...]
    target_per_million: int
    time_period_days: int
    compliance: float | None
    budget_remaining: float | None
    burn_rate: float | None
    status: str
    triggered: tuple[BurnAlert, ...]
    reported_at: float  # unix seconds when Honeycomb answered

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "dataset_slugs": list(self.dataset_slugs),
            "target_per_million": self.target_per_million,
            "time_period_days": self.time_period_days,
            "compliance": self.compliance,
            "budget_remaining": self.budget_remaining,
            "burn_rate": self.burn_rate,
            "status": self.status,
            "triggered": [a.as_json() for a in self.triggered],
            "reported_at": self.reported_at,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SloReport:
        """The inverse of `as_json`, for a report read back from the shared state store."""
        return cls(
            id=data["id"],
            name=data["name"],
            dataset_slugs=tuple(data["dataset_slugs"]),
            target_per_million=data["target_per_million"],
            time_period_days=data["time_period_days"],
            compliance=data["compliance"],
            budget_remaining=data["budget_remaining"],
            burn_rate=data["burn_rate"],
            status=data["status"],
            triggered=tuple(BurnAlert(**a) for a in data["triggered"]),
            reported_at=data["reported_at"],
        )


def find_by_name(slos: Any, name: str) -> str:
    """The id of the one SLO in Honeycomb's `GET /1/slos/{dataset}` list that has this name."""
    if not isinstance(slos, list):
        raise MalformedSloAnswer("the SLO list is not a JSON array")
    ids = [s.get("id") for s in slos if isinstance(s, dict) and s.get("name") == name]
    if not ids:
        raise SloNameError(404, f"no SLO named {name!r} in this dataset")
    if len(ids) > 1:
        raise SloNameError(
            422, f"{len(ids)} SLOs are named {name!r}; name one by slo_id ({', '.join(map(str, ids))})"
        )
    if not isinstance(ids[0], str):
        raise MalformedSloAnswer("an SLO in the list has no id")
    return ids[0]


def read_report(detailed: Any, burn_alerts: Any, reported_at: float) -> SloReport:
    """An `SloReport` from Honeycomb's detailed SLO and its burn alerts."""
    if not isinstance(detailed, dict) or not isinstance(detailed.get("id"), str):
        raise MalformedSloAnswer("the SLO answer has no id")
    slugs = detailed.get("dataset_slugs") or []
    return SloReport(
        id=detailed["id"],
        name=str(detailed.get("name", "")),
        dataset_slugs=tuple(str(s) for s in slugs),
        target_per_million=_int(detailed, "target_per_million"),
        time_period_days=_int(detailed, "time_period_days"),
        compliance=_figure(detailed, "compliance"),
        budget_remaining=_figure(detailed, "budget_remaining"),
        burn_rate=_figure(detailed, "burn_rate"),
        status=str(detailed.get("status") or "unknown"),
        triggered=_triggered(burn_alerts),
        reported_at=reported_at,
    )


def _int(data: dict[str, Any], key: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedSloAnswer(f"the SLO answer has no integer {key}")
    return value


def _figure(data: dict[str, Any], key: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedSloAnswer(f"the SLO answer's {key} is not a number")
    return float(value)


def _triggered(burn_alerts: Any) -> tuple[BurnAlert, ...]:
    if not isinstance(burn_alerts, list):
        raise MalformedSloAnswer("the burn alert list is not a JSON array")
    return tuple(
        BurnAlert(
            id=str(a.get("id", "")),
            alert_type=str(a.get("alert_type", "")),
            description=str(a.get("description") or ""),
            threshold=_threshold(a),
        )
        for a in burn_alerts
        if isinstance(a, dict) and a.get("triggered") is True
    )


def _threshold(alert: dict[str, Any]) -> str:
    if alert.get("alert_type") == "budget_rate":
        share = alert.get("budget_rate_decrease_threshold_per_million", 0) / 10_000
        return f"{share:g}% of the budget in {alert.get('budget_rate_window_minutes')} min"
    return f"budget exhausted within {alert.get('exhaustion_minutes')} min"


def slo_ui_url(api_url: str, team: str, environment: str, dataset: str, slo_id: str) -> str:
    """The SLO's page in Honeycomb's UI (`ui.` beside `api.`), or under `/ui` of any other host.

    Honeycomb's API does not return this link; the other host is the emulator, whose result
    links live under `/ui/{team}/...` of its own address.
    """
    parts = urlsplit(api_url)
    host = parts.netloc
    path = "/".join(quote(p, safe="") for p in (team, "environments", environment, "datasets", dataset))
    if host.startswith("api.") or host.startswith("api-"):
        return f"{parts.scheme}://ui.{host.removeprefix('api.').removeprefix('api-')}/{path}/slos/{slo_id}"
    return f"{api_url.rstrip('/')}/ui/{path}/slos/{slo_id}"


def answer_body(report: SloReport, figure: str, url: str | None) -> dict[str, Any]:
    """`value` is the chosen figure, null when the SLO counted no events (no data)."""
    value = None if report.status == "no_events" else getattr(report, figure)
    return {
        "value": value,
        "figure": figure,
        "reason": reason(report, figure, value),
        "slo_url": url,
        "slo": {
            "id": report.id,
            "name": report.name,
            "dataset_slugs": list(report.dataset_slugs),
            "target_per_million": report.target_per_million,
            "time_period_days": report.time_period_days,
        },
        "compliance": report.compliance,
        "budget_remaining": report.budget_remaining,
        "burn_rate": report.burn_rate,
        "status": report.status,
        "triggered_burn_alerts": [a.as_json() for a in report.triggered],
    }


def reason(report: SloReport, figure: str, value: float | None) -> str:
    """One sentence for `kubectl argo rollouts get` or Flagger's log."""
    target = f"{report.target_per_million / 10_000:g}% over {report.time_period_days} d"
    if value is None:
        return f"SLO {report.name!r} ({target}) counted no events: no {figure}"
    text = f"SLO {report.name!r} ({target}): {figure} {value:.6g}{FIGURE_UNITS[figure]}"
    others = [f for f in ("budget_remaining", "compliance", "burn_rate") if f != figure]
    text += "".join(f", {f} {_shown(getattr(report, f))}{FIGURE_UNITS[f]}" for f in others)
    if report.triggered:
        alerts = "; ".join(f"{a.alert_type} ({a.threshold})" for a in report.triggered)
        return f"{text}; burn alerts triggered: {alerts}"
    return f"{text}; no burn alert triggered"


def _shown(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.6g}"
