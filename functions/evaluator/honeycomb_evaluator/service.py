"""Everything a request needs, built once per process from the settings: wiring only.

The app, the Lambda handler and the one-shot CLI all build a `Service`; they differ only in
the state backend (the CLI always runs on the in-process memory backend: one request per
process, nothing to share) and in who reads the settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from honeycomb_evaluator.callers.auth import Authenticator
from honeycomb_evaluator.evaluate import Evaluator
from honeycomb_evaluator.honeycomb.client import HoneycombClient
from honeycomb_evaluator.keys import key_source
from honeycomb_evaluator.settings import Settings, StateSettings
from honeycomb_evaluator.sharing.backends.base import StateStore
from honeycomb_evaluator.sharing.backends.memory import MemoryStore
from honeycomb_evaluator.sharing.executor import SharedExecutor
from honeycomb_evaluator.sharing.ratelimit import RateBudget

if TYPE_CHECKING:
    from honeycomb_evaluator.gates.slo_service import SloService


@dataclass
class Service:
    settings: Settings
    authenticator: Authenticator
    evaluator: Evaluator
    store: StateStore
    _slo: SloService | None = field(default=None, repr=False)

    @property
    def slo(self) -> SloService:
        """The SLO gate, built on its first request: most deployments never load it."""
        if self._slo is None:
            from honeycomb_evaluator.gates.slo_service import SloService

            evaluator = self.evaluator
            self._slo = SloService(client=evaluator.client, keys=evaluator.keys, store=self.store)
        return self._slo


def build_store(state: StateSettings, result_cache_bytes: int | None = None) -> StateStore:
    """The configured state backend; each is imported only where it is used (boto3, redis)."""
    if state.backend == "dynamodb":
        from honeycomb_evaluator.sharing.backends.dynamodb import DynamoDBStore

        assert state.table_name is not None
        return DynamoDBStore(state.table_name)
    if state.backend == "redis":
        from honeycomb_evaluator.sharing.backends.redis import RedisStore

        assert state.redis_url is not None
        store: StateStore = RedisStore(state.redis_url)
        return store
    # In one process the store's compressed results sit beside the executor's parsed ones.
    return MemoryStore(max_result_bytes=result_cache_bytes)


def build_service(
    settings: Settings, *, client: HoneycombClient | None = None, store: StateStore | None = None
) -> Service:
    store = store or build_store(settings.state, settings.result_cache_bytes)
    executor = SharedExecutor(
        store, RateBudget(store, settings.budget), result_cache_bytes=settings.result_cache_bytes
    )
    client = client or HoneycombClient()
    keys = key_source(settings.honeycomb)
    evaluator = Evaluator(client=client, keys=keys, executor=executor, history=store)
    return Service(settings, Authenticator.from_settings(settings.callers), evaluator, store)
