"""Shared fixtures for the emulator's HTTP tests: a real emulator on loopback and a client that
validates every answer against Honeycomb's official OpenAPI spec.

The spec (3.1, ~9 000 lines) is parsed once per test process. Some operations leave out statuses
that Honeycomb (and the emulator) do answer (e.g. ``POST /1/queries`` lists no 401,
``POST /1/query_results`` no 413). For those, the spec's *own* shared response
(``#/components/responses/Unauthorized``, ``PayloadTooLarge``...) is attached to the operation
before validation, so every answer is still checked against official schemas; the list of such
additions is in ``SPEC_ADDITIONS`` and documented in docs/emulator.md. openapi-core is also told
that ``application/problem+json`` bodies are JSON (it only decodes ``application/json`` itself).

The spec is not part of the repository. It is read from ``$HONEYCOMB_OPENAPI_SPEC``, else from
``../shared/honeycomb/openapi.yaml`` beside the repository. Without it the answers are not
validated (the behavioural assertions still run) and test_api_spec.py reports one skip that
says how to enable the validation.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from tests.support.servers import Server, start_emulator

REPOSITORY_ROOT = Path(__file__).resolve().parents[3]
SPEC_VARIABLE = "HONEYCOMB_OPENAPI_SPEC"
DEFAULT_SPEC_PATH = REPOSITORY_ROOT.parent / "shared" / "honeycomb" / "openapi.yaml"
HOW_TO_ENABLE_SPEC = (
    f"Honeycomb's OpenAPI spec not found, answers not validated against it: set {SPEC_VARIABLE}="
    "path/to/openapi.yaml (default ../shared/honeycomb/openapi.yaml beside the repository)"
)
HTTP_METHODS = ("get", "post", "put", "delete", "patch")
SHARED_RESPONSES = {
    "400": "BadRequest",
    "401": "Unauthorized",
    "403": "Forbidden",
    "404": "NotFound",
    "413": "PayloadTooLarge",
    "422": "ValidationFailed",
    "429": "RateLimited",
}
SPEC_ADDITIONS: list[str] = []

FULL_KEY = "emulator-key"
QUERIES_ONLY_KEY = "queries-only-key"  # may run queries but not create them (no `columns`)
NO_SLO_KEY = "no-slo-key"
INGEST_KEY = "hcxik_emulatoringestkey0123456789"
EVENTS_ONLY_KEY = "events-only-key"  # may send events to existing datasets, not create new ones
KEY_FLAGS = (
    "--api-key",
    FULL_KEY,
    "--api-key",
    f"queries-only={QUERIES_ONLY_KEY}:queries",
    "--api-key",
    f"no-slo={NO_SLO_KEY}:queries,columns,events,createDatasets",
    "--api-key",
    f"ingest={INGEST_KEY}",
    "--api-key",
    f"events-only={EVENTS_ONLY_KEY}:events",
)


def spec_path() -> Path | None:
    """Where the official spec is, or None when this checkout has no copy of it."""
    configured = os.environ.get(SPEC_VARIABLE)
    if configured:
        # An explicit setting that points nowhere is a mistake worth failing on, not a skip.
        path = Path(configured).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"{SPEC_VARIABLE}={configured}: no such file")
        return path
    return DEFAULT_SPEC_PATH if DEFAULT_SPEC_PATH.is_file() else None


@functools.cache
def honeycomb_openapi() -> OpenAPI | None:
    """The official spec, parsed once per process; None when it is not available here."""
    spec_file = spec_path()
    if spec_file is None:
        return None
    raw = yaml.safe_load(spec_file.read_text())
    for path, item in raw["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for status, name in SHARED_RESPONSES.items():
                if status not in responses:
                    responses[status] = {"$ref": f"#/components/responses/{name}"}
                    SPEC_ADDITIONS.append(f"{method.upper()} {path} {status}")
    # openapi-core decodes only application/json by default; problem+json is JSON too (RFC 7807).
    config = Config(extra_media_type_deserializers={"application/problem+json": json.loads})
    return OpenAPI.from_dict(raw, config=config, base_uri=spec_file.resolve().as_uri())


def in_spec(path: str) -> bool:
    return path.startswith("/1/")


def validate(response: httpx.Response) -> None:
    """Raise if the answer does not match the official spec for its operation and status."""
    spec = honeycomb_openapi()
    request = response.request
    path = request.url.path
    if spec is None or not in_spec(path):
        return
    mock_request = MockRequest(
        "https://api.honeycomb.io",
        request.method.lower(),
        path,
        args=dict(request.url.params),
        headers=dict(request.headers),
    )
    content_type = response.headers.get("content-type", "application/json").split(";")[0]
    mock_response = MockResponse(
        response.content,
        status_code=response.status_code,
        headers=dict(response.headers),
        content_type=content_type,
    )
    spec.validate_response(mock_request, mock_response)


@dataclass
class Honeycomb:
    """A client for one emulator: every call's answer is validated against the spec."""

    server: Server
    client: httpx.Client

    @property
    def url(self) -> str:
        return self.server.url

    def call(
        self,
        method: str,
        path: str,
        *,
        key: str | None = FULL_KEY,
        expect: int | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        all_headers = dict(headers or {})
        if key is not None:
            all_headers["X-Honeycomb-Team"] = key
        if json_body is not None:
            content = json.dumps(json_body).encode()
            all_headers.setdefault("Content-Type", "application/json")
        response = self.client.request(method, path, content=content, headers=all_headers, params=params)
        if expect is not None:
            assert response.status_code == expect, f"{method} {path}: {response.status_code} {response.text}"
        validate(response)
        return response

    def control(self, method: str, path: str, body: Any = None) -> Any:
        response = self.client.request(method, path, json=body)
        assert response.status_code == 200, response.text
        return response.json()

    def create_query(self, dataset: str, spec: dict[str, Any], key: str = FULL_KEY) -> str:
        query_id: str = self.call(
            "POST", f"/1/queries/{dataset}", key=key, expect=200, json_body=spec
        ).json()["id"]
        return query_id

    def run(self, dataset: str, spec: dict[str, Any], **result_options: Any) -> dict[str, Any]:
        """Create the query and a result, then poll until complete; the completed body."""
        query_id = self.create_query(dataset, spec)
        created = self.call(
            "POST",
            f"/1/query_results/{dataset}",
            expect=201,
            json_body={"query_id": query_id, **result_options},
        ).json()
        return self.poll(dataset, created["id"])

    def poll(self, dataset: str, result_id: str, attempts: int = 200) -> dict[str, Any]:
        for _ in range(attempts):
            body: dict[str, Any] = self.call(
                "GET", f"/1/query_results/{dataset}/{result_id}", expect=200
            ).json()
            if body["complete"]:
                return body
            time.sleep(0.05)
        raise AssertionError(f"result {result_id} never completed")


@pytest.fixture(scope="session")
def openapi() -> OpenAPI | None:
    """The parsed spec (None without one): parsing it first keeps it out of the first test's time."""
    return honeycomb_openapi()


@pytest.fixture(scope="session")
def honeycomb(openapi: OpenAPI | None) -> Iterator[Honeycomb]:
    """One demo emulator per test process; tests that change global state use their own."""
    flags = ("--demo", "--result-delay-ms", "100", "--rate-limit-per-minute", "10000", *KEY_FLAGS)
    with start_emulator(*flags) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        yield Honeycomb(server, client)


@pytest.fixture
def fresh_emulator(openapi: OpenAPI | None, request: pytest.FixtureRequest) -> Iterator[Honeycomb]:
    """An emulator of its own, started with the flags of ``@pytest.mark.emulator_flags(...)``."""
    marker = request.node.get_closest_marker("emulator_flags")
    flags = tuple(marker.args) if marker else ()
    with (
        start_emulator(*flags, *KEY_FLAGS) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        yield Honeycomb(server, client)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "emulator_flags(*flags): command-line flags for fresh_emulator")
