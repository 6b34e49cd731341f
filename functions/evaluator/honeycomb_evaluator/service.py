"""Everything a request needs, built once per process from the settings: wiring only.

The app, the Lambda handler and the one-shot CLI all build a `Service`; they differ only in
the state backend (the CLI always runs on the in-process memory backend: one request per
process, nothing to share) and in who reads the settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from honeycomb_evaluator.budget import RateBudget
from honeycomb_evaluator.callers.auth import Authenticator
from honeycomb_evaluator.evaluate import Evaluator
from honeycomb_evaluator.honeycomb.client import HoneycombClient
from honeycomb_evaluator.keys import key_source
from honeycomb_evaluator.markers import MarkerWriter
from honeycomb_evaluator.settings import RESULT_CACHE_BYTES, Settings, StateSettings
from honeycomb_evaluator.sharing.executor import SharedExecutor
from honeycomb_evaluator.sharing.local import LocalState
from honeycomb_evaluator.state.base import StateStore
from honeycomb_evaluator.state.memory import MemoryStore

if TYPE_CHECKING:
    from honeycomb_evaluator.gates.slo_service import SloService
    from honeycomb_evaluator.models.request import EvaluateRequest
    from honeycomb_evaluator.models.slo_request import SloRequest
    from honeycomb_evaluator.record import EvaluationRecord, Observer


@dataclass
class Service:
    """The gates a request can reach (`evaluate`, `slo`; the Flagger route runs either)."""

    settings: Settings
    authenticator: Authenticator
    evaluator: Evaluator
    store: StateStore
    local: LocalState
    # Told of every finished request (record.py): serve's Prometheus metrics and trace spans.
    observers: list[Observer] = field(default_factory=list)
    _slo: SloService | None = field(default=None, repr=False)

    async def evaluate(self, request: EvaluateRequest, record: EvaluationRecord) -> dict[str, Any]:
        return await self.evaluator.evaluate(request, record)

    async def slo(self, request: SloRequest, record: EvaluationRecord) -> dict[str, Any]:
        if self._slo is None:
            # Built on its first request: most deployments never load the SLO gate.
            from honeycomb_evaluator.gates.slo_service import SloService

            evaluator = self.evaluator
            self._slo = SloService(client=evaluator.client, keys=evaluator.keys, store=self.store)
        return await self._slo.answer(request, record)

    @property
    def budget(self) -> RateBudget:
        """The shared query budget every execution of this process spends from."""
        return self.evaluator.executor.machinery.budget

    @property
    def result_cache_bytes(self) -> int:
        """What this process's cache of completed results holds now (for the metrics)."""
        return self.local.results.bytes

    @property
    def executions_in_progress(self) -> int:
        """Executions running in this process now (for the metrics)."""
        return self.evaluator.executor.executions_in_progress


def build_store(state: StateSettings, result_cache_bytes: int = RESULT_CACHE_BYTES) -> StateStore:
    """The configured state backend; each is imported only where it is used (boto3, redis)."""
    if state.backend == "dynamodb":
        from honeycomb_evaluator.state.dynamodb import DynamoDBStore

        assert state.table_name is not None
        return DynamoDBStore(state.table_name)
    if state.backend == "redis":
        from honeycomb_evaluator.state.redis import RedisStore

        assert state.redis_url is not None
        store: StateStore = RedisStore(state.redis_url)
        return store
    # In one process the store's compressed results sit beside the executor's parsed ones.
    return MemoryStore(max_result_bytes=result_cache_bytes)


def build_service(
    settings: Settings, *, client: HoneycombClient | None = None, store: StateStore | None = None
) -> Service:
    store = store or build_store(settings.state, settings.result_cache_bytes)
    client = client or HoneycombClient()
    local = LocalState(
        result_cache_bytes=settings.result_cache_bytes,
        max_executions=settings.server.max_concurrent_executions,
    )
    executor = SharedExecutor(client, store, RateBudget(store, settings.budget), local)
    keys = key_source(settings.honeycomb)
    markers = MarkerWriter(client, store, settings.telemetry)
    evaluator = Evaluator(client=client, keys=keys, executor=executor, history=store, markers=markers)
    return Service(settings, Authenticator.from_settings(settings.callers), evaluator, store, local)
