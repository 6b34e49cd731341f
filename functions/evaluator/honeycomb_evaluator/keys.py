"""Where the Honeycomb key comes from: Secrets Manager, a file, or the environment.

A key source holds either one plain key (the `default` environment) or JSON mapping
environment → {"api_key", "api_url"}. `resolve(environment, refresh=True)` rereads the source,
which is how a rotated key is picked up after Honeycomb answers 401/403.

boto3 and the Powertools parameters utility are imported only by the Secrets Manager source:
they are the slowest imports in the package and local runs never need them.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Protocol

from honeycomb_evaluator.errors import ApiError, not_configured
from honeycomb_evaluator.settings import Settings
from honeycomb_evaluator.target import HoneycombTarget

DEFAULT_ENVIRONMENT = "default"


class KeySource(Protocol):
    async def resolve(self, environment: str, *, refresh: bool = False) -> HoneycombTarget: ...


def parse_key_document(text: str, default_url: str | None) -> dict[str, HoneycombTarget]:
    """A plain key, or JSON `{"<environment>": {"api_key": ..., "api_url": ...}}`."""
    stripped = text.strip()
    if not stripped:
        return {}
    if not stripped.startswith("{"):
        return {DEFAULT_ENVIRONMENT: HoneycombTarget.build(stripped, default_url, DEFAULT_ENVIRONMENT)}
    try:
        document: Any = json.loads(stripped)
    except ValueError:
        # Never echo the text: it is (or contains) the key.
        message = "the Honeycomb key secret is neither a key nor valid JSON"
        raise ApiError(500, "not_configured", message) from None
    if not isinstance(document, dict):
        raise ApiError(500, "not_configured", "the Honeycomb key secret JSON must be an object")
    targets: dict[str, HoneycombTarget] = {}
    for environment, entry in document.items():
        if isinstance(entry, str):
            entry = {"api_key": entry}
        if not isinstance(entry, dict) or not isinstance(entry.get("api_key"), str) or not entry["api_key"]:
            raise ApiError(
                500, "not_configured", f"the Honeycomb key secret entry {environment!r} has no api_key string"
            )
        url = entry.get("api_url") if isinstance(entry.get("api_url"), str) else default_url
        targets[str(environment)] = HoneycombTarget.build(entry["api_key"], url, str(environment))
    return targets


def _pick(targets: dict[str, HoneycombTarget], environment: str) -> HoneycombTarget:
    target = targets.get(environment)
    if target is None:
        raise not_configured(environment)
    return target


class StaticKeys:
    """HONEYCOMB_API_KEY / HONEYCOMB_API_URL: one key for the `default` environment."""

    def __init__(self, text: str, api_url: str | None) -> None:
        self._targets = parse_key_document(text, api_url)

    async def resolve(self, environment: str, *, refresh: bool = False) -> HoneycombTarget:
        return _pick(self._targets, environment)


class FileKeys:
    """HONEYCOMB_API_KEY_FILE: reread on refresh, so replacing the file rotates the key."""

    def __init__(self, path: str, api_url: str | None) -> None:
        self._path = Path(path)
        self._api_url = api_url
        self._targets: dict[str, HoneycombTarget] | None = None

    async def resolve(self, environment: str, *, refresh: bool = False) -> HoneycombTarget:
        if self._targets is None or refresh:
            try:
                text = self._path.read_text()
            except OSError as e:
                raise ApiError(
                    500, "not_configured", f"cannot read HONEYCOMB_API_KEY_FILE ({e.strerror})"
                ) from None
            self._targets = parse_key_document(text, self._api_url)
        return _pick(self._targets, environment)


class SecretsManagerKeys:
    """HONEYCOMB_SECRET_ID through Powertools Parameters (cached for `max_age` seconds)."""

    def __init__(self, secret_id: str, api_url: str | None, max_age: float) -> None:
        self._secret_id = secret_id
        self._api_url = api_url
        self._max_age = max(0, int(max_age))

    def _fetch(self, refresh: bool) -> str:
        from aws_lambda_powertools.utilities import parameters

        try:
            value = parameters.get_secret(self._secret_id, max_age=self._max_age, force_fetch=refresh)
        except parameters.exceptions.GetParameterError as e:
            # The message names the secret and the AWS error code, never the value.
            raise ApiError(
                500, "not_configured", f"cannot read the Honeycomb key secret {self._secret_id!r}: {e}"
            ) from None
        if isinstance(value, bytes):
            return value.decode()
        return str(value)

    async def resolve(self, environment: str, *, refresh: bool = False) -> HoneycombTarget:
        # boto3 is synchronous; a thread keeps the event loop serving other evaluations.
        text = await asyncio.to_thread(self._fetch, refresh)
        return _pick(parse_key_document(text, self._api_url), environment)


class NoKeys:
    async def resolve(self, environment: str, *, refresh: bool = False) -> HoneycombTarget:
        raise not_configured(environment)


def key_source(settings: Settings) -> KeySource:
    """Secrets Manager wins over a file, which wins over the plain environment variable."""
    if settings.secret_id:
        return SecretsManagerKeys(settings.secret_id, settings.api_url, settings.secret_max_age_seconds)
    if settings.api_key_file:
        return FileKeys(settings.api_key_file, settings.api_url)
    if settings.api_key is not None:
        return StaticKeys(settings.api_key.get_secret_value(), settings.api_url)
    return NoKeys()
