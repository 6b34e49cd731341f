"""Honeycomb markers for canary judgements: when a canary is first judged, and when a verdict fails it.

Optional: a request's `markers` (`{"write": true, "dataset": "__all__"}`), else the deployment's
EVALUATOR_MARKERS (and EVALUATOR_MARKERS_DATASET). Only judged comparisons (`judge` or
`scorecard`) have events:

- `canary-judged`: the first verdict of any kind for a canary (`compare.column` = `compare.canary`
  in a dataset): a point at the moment the gate first looked at it, the start of its analysis;
- `canary-failed`: the first `high` or `low` (the verdicts that fail a canary), a range over the
  window that was judged.

Each carries the reason and the query link. Once per event across every instance: the event is
claimed in the state store (`claim_once`, by a digest of the key id, dataset, environment,
column, canary and event) before its marker is written. When Honeycomb refuses the marker (a 4xx
answer, e.g. a key without "Manage Markers", or 429: nothing was made) the claim is released, so
a later evaluation writes it; when the outcome is unknown (a 5xx, which a proxy may send after
Honeycomb made it, a timeout, a dropped connection) the claim stays, so there is never a second
marker for one event, at the price of perhaps none.

A marker never changes an answer: every failure is logged and counted, never raised, and the
write is bounded by the request's deadline (and MAX_WRITE_SECONDS).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from honeycomb_evaluator.digest import digest
from honeycomb_evaluator.honeycomb.client import HoneycombClient, Scope
from honeycomb_evaluator.honeycomb.errors import HoneycombError, HoneycombTimeout
from honeycomb_evaluator.observability import logger
from honeycomb_evaluator.settings import TelemetrySettings
from honeycomb_evaluator.state.base import StateStore
from honeycomb_evaluator.target import HoneycombTarget

if TYPE_CHECKING:
    from honeycomb_evaluator.models.request import EvaluateRequest

JUDGED, FAILED = "canary-judged", "canary-failed"
FAILING_VERDICTS = ("high", "low")
CLAIM_TTL_SECONDS = 7 * 24 * 3600.0  # a rollout is over long before; a hash seen later is new
MAX_WRITE_SECONDS = 3.0
MIN_WRITE_SECONDS = 0.2  # less time than this left: leave the event to a later evaluation

# How a marker event ended, for the record's log line and metrics.
WRITTEN, DUPLICATE, FAILED_WRITE, POSTPONED = "written", "duplicate", "failed", "postponed"
MARKER_OUTCOMES = (WRITTEN, DUPLICATE, FAILED_WRITE, POSTPONED)


@dataclass(frozen=True)
class MarkerEvent:
    kind: str  # JUDGED or FAILED
    dataset: str  # where the marker goes (a slug or __all__)
    claim: str  # the once-only name in the state store
    body: dict[str, Any]  # the Marker body Honeycomb takes


def events_for(
    request: EvaluateRequest, target: HoneycombTarget, answer: dict[str, Any], default_dataset: str | None
) -> list[MarkerEvent]:
    """The marker events this judged answer may carry (pure: whether each is new is the store's)."""
    verdict, compare = answer.get("verdict"), request.compare
    if compare is None or not isinstance(verdict, str):
        return []
    dataset = (request.markers.dataset if request.markers else None) or default_dataset or request.dataset
    canary = f"{compare.column}={compare.canary}"
    link, reason = answer.get("query_url"), answer.get("reason") or ""
    window = answer.get("window") or {}

    def event(kind: str, body: dict[str, Any]) -> MarkerEvent:
        name = digest(target.key_id, dataset, request.dataset, request.environment, canary, kind)
        body = {"type": kind, **body, **({"url": link} if isinstance(link, str) else {})}
        return MarkerEvent(kind, dataset, f"marker#{name}", body)

    events = [event(JUDGED, {"message": f"canary {canary} first judged {verdict}: {reason}"[:1000]})]
    if verdict in FAILING_VERDICTS:
        failed = {"message": f"canary {canary} failed ({verdict}): {reason}"[:1000]}
        if isinstance(window.get("start_time"), int) and isinstance(window.get("end_time"), int):
            failed |= {"start_time": window["start_time"], "end_time": window["end_time"]}
        events.append(event(FAILED, failed))
    return events


class MarkerWriter:
    def __init__(self, client: HoneycombClient, store: StateStore, settings: TelemetrySettings) -> None:
        self.client = client
        self.store = store
        self.settings = settings

    def wanted(self, request: EvaluateRequest) -> bool:
        return request.markers.write if request.markers is not None else self.settings.markers

    async def after_judgement(
        self, request: EvaluateRequest, target: HoneycombTarget, answer: dict[str, Any], deadline: float
    ) -> dict[str, str]:
        """Write the markers this answer calls for; what became of each event (never raises)."""
        outcomes: dict[str, str] = {}
        if not self.wanted(request):
            return outcomes
        for event in events_for(request, target, answer, self.settings.markers_dataset):
            try:
                outcomes[event.kind] = await self._write_once(event, target, deadline)
            except Exception as e:  # a marker must never change the answer
                logger.warning("marker not written", extra={"marker": event.kind, "error": type(e).__name__})
                outcomes[event.kind] = FAILED_WRITE
        return outcomes

    async def _write_once(self, event: MarkerEvent, target: HoneycombTarget, deadline: float) -> str:
        budget = min(MAX_WRITE_SECONDS, deadline - time.monotonic())
        if budget < MIN_WRITE_SECONDS:
            return POSTPONED
        if not await self.store.claim_once(event.claim, CLAIM_TTL_SECONDS):
            return DUPLICATE
        scope = Scope(target, event.dataset, time.monotonic() + budget)
        try:
            async with asyncio.timeout(budget):
                marker = await self.client.create_marker(scope, event.body)
        except (HoneycombTimeout, TimeoutError) as e:
            # It may have been made: keep the claim (never two markers for one event).
            logger.warning("marker outcome unknown", extra={"marker": event.kind, "error": type(e).__name__})
            return FAILED_WRITE
        except HoneycombError as e:
            if e.status is not None and 400 <= e.status < 500:  # refused: nothing was made
                await self.store.release_once(event.claim)
            logger.warning(
                "marker refused", extra={"marker": event.kind, "error": type(e).__name__, "status": e.status}
            )
            return FAILED_WRITE
        logger.info("marker written", extra={"marker": event.kind, "marker_id": marker.get("id")})
        return WRITTEN
