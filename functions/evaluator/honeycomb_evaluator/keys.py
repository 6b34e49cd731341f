"""Where the Honeycomb key comes from: Secrets Manager, a file, or the environment.

A key source holds either one plain key (the `default` environment) or JSON mapping
environment → {"api_key", "api_url"}. `resolve(environment, refresh=True)` rereads the source,
which is how a rotated key is picked up after Honeycomb answers 401/403; a key file is also
reread whenever it changes (a Kubernetes Secret mounted as a file is replaced on rotation).

An environment the configuration does not name is the caller's mistake (422 on `environment`);
no key at all, or a key document that cannot be read, is ours (500 `not_configured`).
"""

from __future__ import annotations

import json
import os
from typing import Any, Protocol

from honeycomb_evaluator.aws_secrets import SecretReader, SecretUnavailable
from honeycomb_evaluator.errors import InvalidRequest, NotConfigured
from honeycomb_evaluator.settings import HoneycombSettings
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
        raise NotConfigured("the Honeycomb key secret is neither a key nor valid JSON") from None
    if not isinstance(document, dict):
        raise NotConfigured("the Honeycomb key secret JSON must be an object")
    targets: dict[str, HoneycombTarget] = {}
    for environment, entry in document.items():
        if isinstance(entry, str):
            entry = {"api_key": entry}
        if not isinstance(entry, dict) or not isinstance(entry.get("api_key"), str) or not entry["api_key"]:
            raise NotConfigured(f"the Honeycomb key secret entry {environment!r} has no api_key string")
        url = entry.get("api_url") if isinstance(entry.get("api_url"), str) else default_url
        targets[str(environment)] = HoneycombTarget.build(entry["api_key"], url, str(environment))
    return targets


def _pick(targets: dict[str, HoneycombTarget], environment: str) -> HoneycombTarget:
    target = targets.get(environment)
    if target is not None:
        return target
    if not targets:
        raise NotConfigured(
            f"no Honeycomb API key is configured for environment {environment!r}", field="environment"
        )
    known = ", ".join(repr(name) for name in sorted(targets))
    raise InvalidRequest(
        f"environment {environment!r} is not configured here; configured: {known}", field="environment"
    )


class StaticKeys:
    """HONEYCOMB_API_KEY / HONEYCOMB_API_URL: one key for the `default` environment."""

    def __init__(self, text: str, api_url: str | None) -> None:
        self._targets = parse_key_document(text, api_url)

    async def resolve(self, environment: str, *, refresh: bool = False) -> HoneycombTarget:
        return _pick(self._targets, environment)


class FileKeys:
    """HONEYCOMB_API_KEY_FILE: reread when the file changes, and on refresh."""

    def __init__(self, path: str, api_url: str | None) -> None:
        self._path = path
        self._api_url = api_url
        self._loaded: tuple[tuple[float, int, int], dict[str, HoneycombTarget]] | None = None

    async def resolve(self, environment: str, *, refresh: bool = False) -> HoneycombTarget:
        try:
            # A mounted Secret is replaced by a new symlink target: (mtime, inode, size) all move.
            stat = os.stat(self._path)
            version = (stat.st_mtime, stat.st_ino, stat.st_size)
            if self._loaded is None or refresh or self._loaded[0] != version:
                with open(self._path, encoding="utf-8") as key_file:
                    self._loaded = (version, parse_key_document(key_file.read(), self._api_url))
        except (OSError, UnicodeDecodeError) as e:
            reason = e.strerror if isinstance(e, OSError) else "not UTF-8 text"
            raise NotConfigured(f"cannot read HONEYCOMB_API_KEY_FILE ({reason})") from None
        return _pick(self._loaded[1], environment)


class SecretsManagerKeys:
    """HONEYCOMB_SECRET_ID, kept for `max_age` seconds between reads."""

    def __init__(self, secret_id: str, api_url: str | None, max_age: float) -> None:
        self._reader = SecretReader(secret_id)
        self._api_url = api_url
        self._max_age = max_age

    async def resolve(self, environment: str, *, refresh: bool = False) -> HoneycombTarget:
        try:
            text = await self._reader.read(self._max_age, refresh=refresh)
        except SecretUnavailable as e:
            raise NotConfigured(f"Honeycomb key: {e}") from None
        return _pick(parse_key_document(text, self._api_url), environment)


class NoKeys:
    async def resolve(self, environment: str, *, refresh: bool = False) -> HoneycombTarget:
        return _pick({}, environment)


def key_source(settings: HoneycombSettings) -> KeySource:
    """Secrets Manager wins over a file, which wins over the plain environment variable."""
    if settings.secret_id:
        return SecretsManagerKeys(settings.secret_id, settings.api_url, settings.secret_max_age_seconds)
    if settings.api_key_file:
        return FileKeys(settings.api_key_file, settings.api_url)
    if settings.api_key is not None:
        return StaticKeys(settings.api_key.get_secret_value(), settings.api_url)
    return NoKeys()
