"""Serving the SLO gate: Honeycomb's SLO report, fetched once per reporting period and shared.

Honeycomb refreshes SLO reporting every 5 minutes, so a report is served from this process's
cache, then from the state store (another instance's fetch, the way query results are shared),
for `REPORTING_PERIOD_SECONDS`; only then is Honeycomb asked again, once per process however many
callers ask at the same moment (single-flight). The reads spend no query-result budget and take
no rate-limit token. The store holds the report as a blob (sharing/codec.py's JSON), named by a
digest of the key id, URL, dataset and SLO id, never the key. The key is resolved and, when
Honeycomb rejects it, reread once exactly as for evaluations (keys.py `with_current_key`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from honeycomb_evaluator.cache import BoundedCache
from honeycomb_evaluator.digest import digest
from honeycomb_evaluator.errors import DeadlineExceeded, InvalidRequest, SloNotFound
from honeycomb_evaluator.gates.slo import (
    REPORTING_PERIOD_SECONDS,
    MalformedSloAnswer,
    SloNameError,
    SloReport,
    answer_body,
    find_by_name,
    read_report,
    slo_ui_url,
)
from honeycomb_evaluator.honeycomb.client import HoneycombClient, Scope
from honeycomb_evaluator.honeycomb.errors import HoneycombError, HoneycombUnavailable
from honeycomb_evaluator.honeycomb.slos import detailed_slo_and_alerts, list_slos, team_and_environment
from honeycomb_evaluator.keys import KeySource, with_current_key
from honeycomb_evaluator.observability import logger
from honeycomb_evaluator.sharing.codec import decode_json, encode_json
from honeycomb_evaluator.sharing.execution import Served
from honeycomb_evaluator.sharing.singleflight import FlightTimeout, SingleFlight
from honeycomb_evaluator.state.base import StateStore
from honeycomb_evaluator.target import HoneycombTarget

if TYPE_CHECKING:
    from honeycomb_evaluator.models.slo_request import SloRequest
    from honeycomb_evaluator.record import EvaluationRecord

# The stored report outlives its use a little, so a late reader still finds it to compare ages.
STORE_TTL_SECONDS = 2 * REPORTING_PERIOD_SECONDS


@dataclass
class SloService:
    client: HoneycombClient
    keys: KeySource
    store: StateStore
    wall: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        period = REPORTING_PERIOD_SECONDS
        self.reports: BoundedCache[SloReport] = BoundedCache(1024, retention_seconds=period, clock=self.wall)
        self.ids: BoundedCache[str] = BoundedCache(1024, retention_seconds=period, clock=self.wall)
        # Team and environment slugs per key: they change only with the key.
        self.links: BoundedCache[tuple[str, str] | None] = BoundedCache(64)
        self.flights: SingleFlight[SloReport] = SingleFlight()

    async def answer(self, request: SloRequest, record: EvaluationRecord) -> dict[str, Any]:
        record.dataset, record.environment = request.dataset, request.environment
        deadline = time.monotonic() + float(request.timeout_seconds)

        async def report_for(target: HoneycombTarget) -> dict[str, Any]:
            record.target = target
            return await self._answer(request, Scope(target, request.dataset, deadline, record.stats), record)

        return await with_current_key(self.keys, request.environment, deadline, report_for)

    async def _answer(self, request: SloRequest, scope: Scope, record: EvaluationRecord) -> dict[str, Any]:
        slo_id = request.slo_id or await self._id_by_name(scope, request.slo_name or "")
        report, record.served = await self._report(scope, slo_id)
        body = answer_body(report, request.figure, await self._link(scope, slo_id))
        body["reported_at"] = datetime.fromtimestamp(report.reported_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body["cached"] = record.served is not None
        body["elapsed_ms"] = round(record.elapsed_ms, 1)
        return body

    async def _id_by_name(self, scope: Scope, name: str) -> str:
        key = digest("slo-name", scope.target.key_id, scope.target.api_url, scope.dataset, name)
        known = self.ids.value(key)
        if known is not None:
            return known
        try:
            slo_id = find_by_name(await list_slos(self.client, scope), name)
        except MalformedSloAnswer as e:
            raise HoneycombUnavailable(f"unexpected SLO list ({e})") from None
        except SloNameError as e:
            if e.status == 404:
                raise SloNotFound(e.message, field="slo_name") from None
            raise InvalidRequest(e.message, field="slo_name") from None
        self.ids.put(key, slo_id)
        return slo_id

    async def _report(self, scope: Scope, slo_id: str) -> tuple[SloReport, Served | None]:
        """The report and how it was served (None: fetched from Honeycomb for this request)."""
        key = digest("slo-report", scope.target.key_id, scope.target.api_url, scope.dataset, slo_id)
        hit = self.reports.get(key, REPORTING_PERIOD_SECONDS)
        if hit is not None:
            return hit.value, Served.MEMORY_CACHE
        shared = await self._shared(key)
        if shared is not None:
            self.reports.put(key, shared, stored_at=shared.reported_at)
            return shared, Served.STORE_CACHE
        try:
            report, joined = await self.flights.do(
                key, lambda _: self._fetch(scope, slo_id, key), deadline=scope.deadline
            )
        except FlightTimeout:
            raise DeadlineExceeded("Honeycomb did not send the SLO report before the deadline") from None
        return report, Served.JOINED if joined else None

    async def _shared(self, key: str) -> SloReport | None:
        """Another instance's report of this period, if the store has one."""
        blob = await self.store.read_blob(key)
        if blob is None:
            return None
        report = SloReport.from_json(decode_json(blob)[0])
        return report if self.wall() - report.reported_at < REPORTING_PERIOD_SECONDS else None

    async def _fetch(self, scope: Scope, slo_id: str, key: str) -> SloReport:
        detailed, alerts = await detailed_slo_and_alerts(self.client, scope, slo_id)
        try:
            report = read_report(detailed, alerts, self.wall())
        except MalformedSloAnswer as e:
            raise HoneycombUnavailable(f"unexpected SLO answer ({e})") from None
        self.reports.put(key, report, stored_at=report.reported_at)
        await self.store.write_blob(key, encode_json(report.as_json()).blob, STORE_TTL_SECONDS)
        return report

    async def _link(self, scope: Scope, slo_id: str) -> str | None:
        """The SLO's UI link; an answer without it beats no answer, so a failure only logs."""
        key = f"{scope.target.key_id}:{scope.target.api_url}"
        entry = self.links.get(key)
        if entry is None:
            try:
                slugs = await team_and_environment(self.client, scope)
            except HoneycombError as e:
                logger.warning("no SLO link: GET /1/auth failed", extra={"error": type(e).__name__})
                return None
            self.links.put(key, slugs)
        else:
            slugs = entry.value
        if slugs is None:
            return None
        return slo_ui_url(scope.target.api_url, slugs[0], slugs[1], scope.dataset, slo_id)
