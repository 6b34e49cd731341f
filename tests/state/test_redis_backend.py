"""What only the Redis backend has to prove (the shared contract is in test_backends.py): a TTL on
every key, and a clear error instead of a hang when Redis is unreachable or silent, without ever
showing the password of the URL."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from honeycomb_evaluator.errors import StateUnavailable
from honeycomb_evaluator.service import build_store
from honeycomb_evaluator.settings import ConfigError, Settings
from honeycomb_evaluator.state.base import SlotGrant
from honeycomb_evaluator.state.redis import RedisStore

from tests.support.evaluations import evaluation, write_registry
from tests.support.servers import free_port, start_emulator, start_evaluator, start_redis

PASSWORD = "s3cret-redis-password"
# A hang would be caught here, far beyond the backend's own timeouts (connect 1 s, read 2 s, one retry).
HANG = 30.0


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with start_redis() as server:
        yield server.url


def run(coro: Any) -> Any:
    async def guarded() -> Any:
        async with asyncio.timeout(HANG):
            return await coro

    return asyncio.run(guarded())


@pytest.mark.servers
def test_every_key_has_a_ttl(redis_url: str) -> None:
    prefix = f"ttl-{uuid.uuid4().hex[:8]}:"
    store = RedisStore(redis_url, prefix=prefix)

    async def use_every_kind_of_key() -> None:
        await store.put_query_id("spec", "q1", 3600)
        claim = await store.claim("done", seen=None, owner="a", lease_until=2000.0, ttl_seconds=120)
        assert claim is not None
        assert await store.set_pending("done", claim, query_id="q1", result_id="r1", created_at=1.0)
        pending = await store.get_execution("done")
        assert pending is not None
        assert await store.set_complete("done", pending, completed_at=2.0, result=b"x", ttl_seconds=90)
        released = await store.claim("released", seen=None, owner="a", lease_until=2000.0, ttl_seconds=120)
        assert released is not None
        await store.release("released", released)
        assert await store.take_slot("bucket", SlotGrant(0, 0.0, "c", 1.0, 60))

    run(use_every_kind_of_key())
    client = redis.Redis.from_url(redis_url)
    ttls = {key.decode().removeprefix(prefix): client.pttl(key) for key in client.scan_iter(f"{prefix}*")}
    assert set(ttls) == {"query:spec", "exec:done", "exec:released", "rate:bucket"}
    assert 3_500_000 < ttls["query:spec"] <= 3_600_000
    assert 0 < ttls["exec:done"] <= 90_000  # completion renews it with the result's TTL
    assert 0 < ttls["exec:released"] <= 120_000
    assert 0 < ttls["rate:bucket"] <= 60_000


def _every_operation(store: RedisStore) -> list[tuple[str, Any]]:
    claim = SlotGrant(0, 0.0, "c", 1.0, 60)
    return [
        ("get_query_id", store.get_query_id("spec")),
        ("put_query_id", store.put_query_id("spec", "q", 60)),
        ("get_execution", store.get_execution("x")),
        ("claim", store.claim("x", seen=None, owner="a", lease_until=1.0, ttl_seconds=60)),
        ("read_slots", store.read_slots("b")),
        ("take_slot", store.take_slot("b", claim)),
    ]


def _assert_clear_error(url: str, operations: set[str] | None = None) -> None:
    store = RedisStore(url)

    async def each() -> None:
        for operation, call in _every_operation(store):
            if operations is not None and operation not in operations:
                call.close()
                continue
            with pytest.raises(StateUnavailable) as raised:
                async with asyncio.timeout(HANG):
                    await call
            message = raised.value.message
            assert "Redis" in message and operation in message and "127.0.0.1" in message, message
            assert PASSWORD not in message and PASSWORD not in repr(raised.value)
            assert raised.value.__cause__ is None and raised.value.__suppress_context__

    asyncio.run(each())


@pytest.mark.servers
def test_unreachable_redis_is_a_clear_error(redis_url: str) -> None:
    _assert_clear_error(f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0")


@pytest.mark.servers
def test_a_redis_that_never_answers_is_a_clear_error_not_a_hang() -> None:
    # Accepts connections (the kernel completes them) and never says a word.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        # A plain command and a script (each waits out the read timeout twice: one retry).
        url = f"redis://user:{PASSWORD}@127.0.0.1:{silent.getsockname()[1]}/0"
        _assert_clear_error(url, {"get_execution", "claim"})


@pytest.mark.servers
def test_unreachable_redis_is_answered_502_naming_redis(tmp_path: Path) -> None:
    registry = tmp_path / "callers.json"
    tokens = write_registry(registry, ["cluster-a"])
    with start_emulator("--demo") as emulator:
        env = {
            "HONEYCOMB_API_KEY": emulator.extra["api_key"],
            "HONEYCOMB_API_URL": emulator.url,
            "EVALUATOR_CALLERS_FILE": str(registry),
            "EVALUATOR_STATE_BACKEND": "redis",
            "EVALUATOR_REDIS_URL": f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0",
        }
        with start_evaluator(env) as evaluator:
            answer = httpx.post(
                evaluator.url + "/v1/evaluate",
                json=evaluation(timeout_seconds=20),
                headers={"Authorization": f"Bearer {tokens['cluster-a']}"},
                timeout=HANG,
            )
            output = evaluator.output()
    # A failure, not a wait until the caller's deadline (that would be 504).
    assert answer.status_code == 502, answer.text
    error = answer.json()["error"]
    assert error["code"] == "upstream_error" and "Redis" in error["message"], error
    assert PASSWORD not in answer.text and PASSWORD not in output


@pytest.mark.parametrize(
    "url", [f"http://:{PASSWORD}@cache:6379", f"redis://:{PASSWORD}@cache:port/0", f"redis://:{PASSWORD}@/0"]
)
def test_a_url_that_is_not_redis_is_a_config_error_without_the_password(url: str) -> None:
    with pytest.raises(ConfigError) as raised:
        RedisStore(url)
    assert "EVALUATOR_REDIS_URL" in str(raised.value) and PASSWORD not in str(raised.value)


def test_the_settings_build_a_redis_store_that_never_shows_the_password() -> None:
    url = f"redis://:{PASSWORD}@cache.internal:6380/2"
    settings = Settings.from_env({"EVALUATOR_STATE_BACKEND": "redis", "EVALUATOR_REDIS_URL": url})
    store = build_store(settings.state)
    assert isinstance(store, RedisStore) and store.name == "redis"
    assert repr(store) == "RedisStore(cache.internal:6380)"
    assert PASSWORD not in repr(settings)


@pytest.mark.servers
def test_a_retried_write_that_already_took_effect_reports_success(redis_url: str) -> None:
    # The client retries once when a reply is lost; the retry finds its own values in place.
    store = RedisStore(redis_url, prefix=f"retry-{uuid.uuid4().hex[:8]}:")
    grant = SlotGrant(2, 0.0, "a", 100.25, 60)

    async def twice() -> None:
        assert await store.take_slot("b", grant)
        assert await store.take_slot("b", grant)
        assert not await store.take_slot("b", SlotGrant(2, 0.0, "other", 100.5, 60))
        claim = await store.claim("x", seen=None, owner="a:1", lease_until=2000.0, ttl_seconds=60)
        again = await store.claim("x", seen=None, owner="a:1", lease_until=2000.0, ttl_seconds=60)
        assert claim is not None and again == claim
        assert await store.claim("x", seen=None, owner="b:1", lease_until=2000.0, ttl_seconds=60) is None
        assert await store.get_execution("x") == claim

    run(twice())
