"""Issue 14: every bad input a documented 4xx, never a 500 with a traceback; nothing leaks the key.

Each test here failed before the fix it names (checked against the commit before the
consolidation refactor). They talk to `honeycomb-evaluator serve` over loopback where the
defect was visible from outside, and to the one function at fault where it was not.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from honeycomb_evaluator.cache import BoundedCache
from honeycomb_evaluator.callers.registry import hash_token
from honeycomb_evaluator.honeycomb.client import ResultOptions, redact
from honeycomb_evaluator.honeycomb.results import QueryResult
from honeycomb_evaluator.models.request import EvaluateRequest
from honeycomb_evaluator.sharing.fingerprint import fingerprint
from honeycomb_evaluator.state import memory
from honeycomb_evaluator.state.base import ExecutionRecord
from honeycomb_evaluator.target import HoneycombTarget
from pydantic import ValidationError

from tests.evaluator.conftest import PRIMARY_KEY, STABLE_HASH, Stack, canary_body, error, evaluator_env
from tests.support.servers import Server, start_evaluator


def post_raw(server: Server, content: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1/evaluate",
        content=content,
        headers={"content-type": "application/json", **(headers or {})},
        timeout=30,
    )


@pytest.mark.servers
def test_deep_nesting_is_malformed_json_without_a_traceback(stack: Stack) -> None:
    before = len(stack.evaluator.output())
    response = post_raw(stack.evaluator, b"[" * 2000 + b"]" * 2000)
    assert "nests too deeply" in error(response, 400, "malformed_json")["message"]
    nested_object = b'{"dataset": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5000 + b"}"
    error(post_raw(stack.evaluator, nested_object), 400, "malformed_json")
    logged = stack.evaluator.output()[before:]
    assert "Traceback" not in logged and "RecursionError" not in logged, logged


@pytest.mark.servers
def test_a_lone_surrogate_is_refused_naming_its_field(stack: Stack) -> None:
    body = canary_body(STABLE_HASH)
    body["query"]["filters"].append({"column": "name", "op": "!=", "value": "\ud800"})
    # json.dumps escapes it as \ud800, which is what a caller on the wire sends.
    response = post_raw(stack.evaluator, json.dumps(body).encode())
    assert error(response, 422, "invalid_request")["field"] == "query.filters.2.value"
    # A surrogate *pair* is one character and fine.
    body["query"]["filters"][2]["value"] = "\ud83d\ude00"
    assert post_raw(stack.evaluator, json.dumps(body).encode()).status_code == 200
    assert "Traceback" not in stack.evaluator.output()


def test_fingerprint_of_any_string_exists() -> None:
    filters = [{"column": "name", "op": "in", "value": ["\udfff", "\ud800", "\x00"]}]
    spec = {"filters": filters, "start_time": 0, "end_time": 60}
    target = HoneycombTarget.build(PRIMARY_KEY, None, "default")
    options = ResultOptions(disable_series=True)
    first = fingerprint(target, "checkout", spec, options)
    assert first == fingerprint(target, "checkout", spec, options)


@pytest.mark.servers
def test_unknown_environment_is_the_callers_mistake(stack: Stack) -> None:
    response = stack.evaluate({**canary_body(STABLE_HASH), "environment": "no-such-place"})
    body = error(response, 422, "invalid_request")
    assert body["field"] == "environment"
    assert "no-such-place" in body["message"]


@pytest.mark.servers
@pytest.mark.parametrize("dataset", [".", ".."])
def test_dot_datasets_never_reach_honeycomb(stack: Stack, dataset: str) -> None:
    with pytest.raises(ValidationError):
        EvaluateRequest.model_validate({**canary_body(STABLE_HASH), "dataset": dataset})
    routes_before = stack.stats()["requests"]
    body = error(stack.evaluate({**canary_body(STABLE_HASH), "dataset": dataset}), 422, "invalid_request")
    assert body["field"] == "dataset"
    assert stack.stats()["requests"] == routes_before


@pytest.mark.servers
def test_405_names_the_allowed_methods(stack: Stack) -> None:
    response = httpx.get(f"{stack.evaluator.url}/v1/evaluate", timeout=10)
    error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "POST"
    response = httpx.post(f"{stack.evaluator.url}/healthz", timeout=10)
    error(response, 405, "method_not_allowed")
    assert set(response.headers["allow"].replace(" ", "").split(",")) == {"GET", "HEAD"}


def test_only_web_links_are_passed_on_as_query_url() -> None:
    def url_of(link: Any) -> str | None:
        return QueryResult.from_json({"id": "r", "complete": True, "links": {"query_url": link}}).query_url

    assert (
        url_of("https://ui.honeycomb.io/t/datasets/d/result/r")
        == "https://ui.honeycomb.io/t/datasets/d/result/r"
    )
    assert url_of("HTTP://localhost:8081/x") == "HTTP://localhost:8081/x"
    for bad in (
        "javascript:alert(1)",
        "data:text/html,x",
        " javascript:x",
        "//evil",
        42,
        None,
        "https://" + "a" * 3000,
    ):
        assert url_of(bad) is None, bad


def test_the_key_is_redacted_in_any_case_and_quoting() -> None:
    key = "hcAbC/dEf+123="
    text = f"bad key {key} / {key.upper()} / {key.lower()} / hcAbC%2FdEf%2B123%3D / hcabc%2fdef%2b123%3d"
    redacted = redact(text, key)
    assert "[redacted]" in redacted
    for form in (key, key.upper(), key.lower(), "hcAbC%2FdEf%2B123%3D", "hcabc%2fdef%2b123%3d"):
        assert form.lower() not in redacted.lower(), redacted
    assert redact("nothing here", key) == "nothing here"
    assert redact("anything", "") == "anything"


REGISTRY = {"callers": [{"name": "cluster-a", "token_sha256": hash_token("token-a"), "datasets": ["*"]}]}


@pytest.fixture(scope="module")
def anonymous_with_registry(emulator: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    path: Path = tmp_path_factory.mktemp("callers") / "callers.json"
    path.write_text(json.dumps(REGISTRY))
    env = evaluator_env(emulator, HONEYCOMB_API_KEY=PRIMARY_KEY, EVALUATOR_CALLERS_FILE=str(path))
    with start_evaluator(env) as evaluator:
        yield evaluator


@pytest.mark.servers
@pytest.mark.parametrize(
    "authorization", ["", "Basic dXNlcjpwYXNz", "Bearer", "Digest abc", "token-a", "Bearer wrong"]
)
def test_unusable_authorization_is_401_even_when_anonymous_is_allowed(
    anonymous_with_registry: Server, authorization: str
) -> None:
    body = json.dumps(canary_body(STABLE_HASH)).encode()
    response = post_raw(anonymous_with_registry, body, {"Authorization": authorization})
    error(response, 401, "unauthenticated")


@pytest.mark.servers
def test_no_authorization_is_anonymous_and_a_token_its_caller(anonymous_with_registry: Server) -> None:
    body = json.dumps(canary_body(STABLE_HASH)).encode()
    assert post_raw(anonymous_with_registry, body).status_code == 200
    assert post_raw(anonymous_with_registry, body, {"Authorization": "Bearer token-a"}).status_code == 200


def test_result_cache_is_bounded_in_bytes() -> None:
    cache: BoundedCache[str] = BoundedCache(100, max_bytes=1000)
    assert cache.put("a", "a", size=400) and cache.put("b", "b", size=400)
    assert cache.put("c", "c", size=400)  # evicts the least recently used
    assert cache.value("a") is None and cache.bytes == 800
    assert not cache.put("huge", "x", size=1001)  # answered by the caller, not stored
    assert cache.value("huge") is None and cache.bytes == 800
    cache.put("b", "b2", size=100)
    assert cache.bytes == 500
    cache.pop("c")
    assert cache.bytes == 100 and len(cache) == 1


def test_memory_store_keeps_results_within_its_byte_bound() -> None:
    store = memory.MemoryStore(max_result_bytes=1000)

    async def complete(key: str, result: bytes) -> ExecutionRecord | None:
        claim = await store.claim(key, seen=None, owner="o", lease_until=1e12, ttl_seconds=60)
        assert claim is not None
        assert await store.set_pending(key, claim, query_id="q", result_id="r", created_at=1.0)
        pending = await store.get_execution(key)
        assert pending is not None
        await store.set_complete(key, pending, completed_at=2.0, result=result, ttl_seconds=60)
        return await store.get_execution(key)

    small = asyncio.run(complete("a", b"x" * 600))
    assert small is not None and small.result == b"x" * 600
    # Too large for the bound: complete, without the result (it is read again from Honeycomb).
    large = asyncio.run(complete("b", b"x" * 1001))
    assert large is not None and large.state == "complete" and large.result is None
    asyncio.run(complete("c", b"x" * 600))  # evicts the least recently used result
    assert asyncio.run(store.get_execution("a")) is None


def emf_documents(server: Server) -> list[dict[str, Any]]:
    documents = []
    for line in server.output().splitlines():
        if line.startswith("{") and '"_aws"' in line:
            documents.append(json.loads(line))
    return documents


@pytest.mark.servers
@pytest.mark.parametrize(("bound", "cached"), [("0", False), ("1048576", True)])
def test_result_cache_bytes_are_configurable_and_in_the_metrics(
    emulator: Server, bound: str, cached: bool
) -> None:
    env = evaluator_env(emulator, HONEYCOMB_API_KEY=PRIMARY_KEY, EVALUATOR_RESULT_CACHE_BYTES=bound)
    with start_evaluator(env) as evaluator:
        body = json.dumps(canary_body(STABLE_HASH, include_series=True)).encode()
        assert post_raw(evaluator, body).status_code == 200  # answered even when too large to keep
        gauges = [d["ResultCacheBytes"] for d in emf_documents(evaluator) if "ResultCacheBytes" in d]
    last = gauges[-1][-1] if gauges and isinstance(gauges[-1], list) else gauges[-1]
    assert (last > 0) is cached, gauges
