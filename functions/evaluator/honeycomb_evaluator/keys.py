"""Where the Honeycomb key comes from: Secrets Manager, a file, or the environment.

A key source holds either one plain key (the `default` environment) or JSON mapping
environment → {"api_key", "api_url"}. `resolve(environment, refresh=True)` rereads the source,
which is how a rotated key is picked up after Honeycomb answers 401/403; a key file is also
reread whenever it changes (a Kubernetes Secret mounted as a file is replaced on rotation).
Both gates run their Honeycomb calls through `with_current_key`: the key read under the caller's
deadline, and read again once (and the calls retried) when Honeycomb rejects it.

An environment the configuration does not name is the caller's mistake (422 on `environment`);
no key at all, or a key document that cannot be read, is ours (500 `not_configured`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from honeycomb_evaluator.aws_secrets import SecretReader, SecretUnavailable
from honeycomb_evaluator.errors import DeadlineExceeded, InvalidRequest, NotConfigured
from honeycomb_evaluator.honeycomb.errors import HoneycombAuthRejected
from honeycomb_evaluator.observability import logger
from honeycomb_evaluator.settings import HoneycombSettings
from honeycomb_evaluator.target import HoneycombTarget

if TYPE_CHECKING:
    from honeycomb_evaluator.files import FileVersion

DEFAULT_ENVIRONMENT = "default"
T = TypeVar("T")


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
        self._loaded: tuple[FileVersion, dict[str, HoneycombTarget]] | None = None

    async def resolve(self, environment: str, *, refresh: bool = False) -> HoneycombTarget:
        from honeycomb_evaluator.files import file_version  # only where a key file is used

        try:
            version = file_version(self._path)
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


async def resolve_before(
    keys: KeySource, environment: str, deadline: float, *, refresh: bool = False
) -> HoneycombTarget:
    """The key, read before `deadline` (monotonic) or 504: Secrets Manager is a network call too."""
    # asyncio.timeout, not wait_for: wait_for runs the coroutine as a task of its own, a
    # measurable part of every evaluation when the key is already cached (nearly always).
    try:
        async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
            return await keys.resolve(environment, refresh=refresh)
    except TimeoutError:
        raise DeadlineExceeded("the Honeycomb key could not be read before the deadline") from None


async def with_current_key(
    keys: KeySource, environment: str, deadline: float, calls: Callable[[HoneycombTarget], Awaitable[T]]
) -> T:
    """`calls` with the environment's key; if Honeycomb rejects it, once more with a key read anew.

    The key may have been rotated since it was cached: it is read again, and the calls retried
    only if it changed (a key that is simply wrong is not tried twice).
    """
    target = await resolve_before(keys, environment, deadline)
    try:
        return await calls(target)
    except HoneycombAuthRejected:
        fresh = await resolve_before(keys, environment, deadline, refresh=True)
        if (fresh.key_id, fresh.api_url) == (target.key_id, target.api_url):
            raise
        logger.info("honeycomb key refetched after auth failure", extra={"key_id": fresh.key_id})
        return await calls(fresh)
