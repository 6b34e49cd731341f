"""Where the caller registry comes from: a local file, or a Secrets Manager secret on Lambda.

Both reload without a restart so a cluster can be added by editing the registry: the file when
its modification time changes, the secret after `max_age` seconds, or sooner (at most every
`miss_refresh_seconds`) when a credential matches nobody, which is what a just-added cluster
looks like.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from .callers import CallerRegistry, RegistryError

log = logging.getLogger(__name__)


class RegistrySource(Protocol):
    async def registry(self, *, after_miss: bool = False) -> CallerRegistry:
        """The current registry; `after_miss` asks for a fresh copy if one is allowed now."""
        ...


class FileRegistrySource:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = Path(path)
        self._loaded: tuple[float, CallerRegistry] | None = None

    async def registry(self, *, after_miss: bool = False) -> CallerRegistry:
        try:
            mtime = self._path.stat().st_mtime
        except OSError as e:
            return self._last_good_or_raise(f"caller registry file {self._path}: {e.strerror}")
        if self._loaded is None or self._loaded[0] != mtime:
            try:
                self._loaded = (mtime, CallerRegistry.from_json(self._path.read_bytes()))
            except (OSError, RegistryError) as e:
                return self._last_good_or_raise(f"{self._path}: {e}")
        return self._loaded[1]

    def _last_good_or_raise(self, problem: str) -> CallerRegistry:
        if self._loaded is None:
            raise RegistryError(problem)
        log.error("keeping the last good caller registry: %s", problem)
        return self._loaded[1]


class SecretRegistrySource:
    """Reads the registry JSON from Secrets Manager with one lazily created boto3 client."""

    def __init__(
        self,
        secret_id: str,
        *,
        max_age_seconds: float = 300.0,
        miss_refresh_seconds: float = 30.0,
        client_factory: Callable[[], Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._secret_id = secret_id
        self._max_age = max_age_seconds
        self._miss_refresh = miss_refresh_seconds
        self._client_factory = client_factory or _secretsmanager_client
        self._client: Any = None
        self._clock = clock
        self._loaded: tuple[float, CallerRegistry] | None = None
        self._lock = asyncio.Lock()

    async def registry(self, *, after_miss: bool = False) -> CallerRegistry:
        if self._fresh(after_miss) and self._loaded is not None:
            return self._loaded[1]
        async with self._lock:
            if self._fresh(after_miss) and self._loaded is not None:
                return self._loaded[1]
            fetched_at = self._clock()
            try:
                text = await asyncio.to_thread(self._fetch)
                self._loaded = (fetched_at, CallerRegistry.from_json(text))
            except RegistryError as e:
                return self._last_good_or_raise(fetched_at, f"secret {self._secret_id}: {e}")
            except Exception as e:  # botocore raises many types; none may leak a secret value
                return self._last_good_or_raise(fetched_at, f"secret {self._secret_id}: {type(e).__name__}")
            return self._loaded[1]

    def _fresh(self, after_miss: bool) -> bool:
        if self._loaded is None:
            return False
        age = self._clock() - self._loaded[0]
        return age < (self._miss_refresh if after_miss else self._max_age)

    def _fetch(self) -> str:
        if self._client is None:
            self._client = self._client_factory()
        answer = self._client.get_secret_value(SecretId=self._secret_id)
        if "SecretString" in answer:
            return str(answer["SecretString"])
        return bytes(answer["SecretBinary"]).decode("utf-8")

    def _last_good_or_raise(self, fetched_at: float, problem: str) -> CallerRegistry:
        if self._loaded is None:
            raise RegistryError(problem)
        log.error("keeping the last good caller registry: %s", problem)
        # Count the failed attempt as a fetch so a broken secret is not re-read on every request.
        self._loaded = (fetched_at, self._loaded[1])
        return self._loaded[1]


def _secretsmanager_client() -> Any:
    import boto3  # imported lazily: the local file path must not pay for boto3

    return boto3.client("secretsmanager")
