"""Where the caller registry comes from: a local file, or a Secrets Manager secret on Lambda.

Both reload without a restart so a cluster can be added by editing the registry: the file when
it changes (files.py: modification time, inode or size), the secret after `max_age` seconds, or
sooner (at most every `miss_refresh_seconds`) when a credential matches nobody, which is what a
just-added cluster looks like.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from honeycomb_evaluator.aws_secrets import SecretReader, SecretUnavailable

from .registry import CallerRegistry, RegistryError

if TYPE_CHECKING:
    from honeycomb_evaluator.files import FileVersion

log = logging.getLogger(__name__)


def _last_good(loaded: CallerRegistry | None, problem: str) -> CallerRegistry:
    """An invalid edit or a failed read keeps the registry that last worked; without one, nobody."""
    if loaded is None:
        raise RegistryError(problem)
    log.error("keeping the last good caller registry: %s", problem)
    return loaded


class RegistrySource(Protocol):
    async def registry(self, *, after_miss: bool = False) -> CallerRegistry:
        """The current registry; `after_miss` asks for a fresh copy if one is allowed now."""
        ...


class FileRegistrySource:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = Path(path)
        self._loaded: tuple[FileVersion, CallerRegistry] | None = None

    async def registry(self, *, after_miss: bool = False) -> CallerRegistry:
        from honeycomb_evaluator.files import file_version  # only where a registry file is used

        try:
            version = file_version(self._path)
        except OSError as e:
            return self._last_good_or_raise(f"caller registry file {self._path}: {e.strerror}")
        if self._loaded is None or self._loaded[0] != version:
            try:
                self._loaded = (version, CallerRegistry.from_json(self._path.read_bytes()))
            except (OSError, RegistryError) as e:
                return self._last_good_or_raise(f"{self._path}: {e}")
        return self._loaded[1]

    def _last_good_or_raise(self, problem: str) -> CallerRegistry:
        return _last_good(self._loaded[1] if self._loaded else None, problem)


class SecretRegistrySource:
    """Reads the registry JSON from a Secrets Manager secret (the one `SecretReader`)."""

    def __init__(
        self,
        secret_id: str,
        *,
        max_age_seconds: float = 300.0,
        miss_refresh_seconds: float = 30.0,
        client_factory: Callable[[], Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._reader = SecretReader(secret_id, client_factory=client_factory, clock=clock)
        self._max_age = max_age_seconds
        self._miss_refresh = miss_refresh_seconds
        self._loaded: tuple[str, CallerRegistry] | None = None

    async def registry(self, *, after_miss: bool = False) -> CallerRegistry:
        secret = self._reader.secret_id
        try:
            text = await self._reader.read(self._miss_refresh if after_miss else self._max_age)
            if self._loaded is None or self._loaded[0] != text:
                self._loaded = (text, CallerRegistry.from_json(text))
        except RegistryError as e:
            return self._last_good_or_raise(f"secret {secret}: {e}")
        except SecretUnavailable as e:
            return self._last_good_or_raise(str(e))
        return self._loaded[1]

    def _last_good_or_raise(self, problem: str) -> CallerRegistry:
        return _last_good(self._loaded[1] if self._loaded else None, problem)
