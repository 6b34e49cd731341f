"""API keys given on the command line, their permissions, and the ``X-Honeycomb-Team`` check.

Syntax of ``--api-key`` (repeatable): ``[NAME=]KEY[:PERM,PERM...]``.

* ``KEY`` alone has every permission.
* ``PERM`` is one of ``queries`` (run queries), ``columns`` (manage queries and columns), ``slos``,
  ``events`` (send events), ``createDatasets``, ``markers``, ``triggers``, ``boards``,
  ``recipients``, ``privateBoards``, or ``all``; ``ingest`` makes it an ingest key (events and
  createDatasets only). Keys starting with ``hcxik_``/``hcaik_`` are ingest keys as in Honeycomb.
* ``NAME`` labels the key in ``/_emulator/stats``; it defaults to the key's id (a hash, never the
  key itself), and to ``default`` for the built-in ``emulator-key``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from . import errors
from .ids import stable_id

DEFAULT_KEY = "emulator-key"

CONFIG_PERMISSIONS = (
    "events",
    "markers",
    "triggers",
    "boards",
    "queries",
    "columns",
    "createDatasets",
    "slos",
    "recipients",
    "privateBoards",
)
INGEST_PERMISSIONS = frozenset({"events", "createDatasets"})
INGEST_PREFIXES = ("hcxik_", "hcaik_")
_ALIASES = {
    "create_datasets": "createDatasets",
    "createdatasets": "createDatasets",
    "private_boards": "privateBoards",
}

# Human names of the permissions as Honeycomb's UI shows them, for 403 messages.
PERMISSION_TITLES = {
    "queries": "Run Queries",
    "columns": "Manage Queries and Columns",
    "slos": "Manage SLOs",
    "events": "Send Events",
    "createDatasets": "Create Datasets",
}


class KeySpecError(ValueError):
    pass


@dataclass(frozen=True)
class ApiKey:
    secret: str = field(repr=False)
    name: str
    id: str
    kind: str  # "configuration" or "ingest"
    permissions: frozenset[str]

    def allows(self, permission: str) -> bool:
        return permission in self.permissions

    def access(self) -> dict[str, bool]:
        """``api_key_access`` as ``GET /1/auth`` shows it (ingest keys: only createDatasets)."""
        if self.kind == "ingest":
            return {"createDatasets": "createDatasets" in self.permissions}
        return {p: p in self.permissions for p in CONFIG_PERMISSIONS}


def parse_key_spec(text: str) -> ApiKey:
    name = ""
    rest = text.strip()
    if "=" in rest:
        name, rest = rest.split("=", 1)
        name = name.strip()
        if not name:
            raise KeySpecError(f"--api-key {text!r}: empty name before '='")
    secret, _, perms_text = rest.partition(":")
    secret = secret.strip()
    if not secret:
        raise KeySpecError("--api-key: the key is empty")
    kind = "ingest" if secret.startswith(INGEST_PREFIXES) else "configuration"
    permissions: set[str] = set()
    if not perms_text.strip():
        permissions = set(INGEST_PERMISSIONS if kind == "ingest" else CONFIG_PERMISSIONS)
    for raw in filter(None, (p.strip() for p in perms_text.split(","))):
        perm = _ALIASES.get(raw, raw)
        if perm == "all":
            permissions.update(CONFIG_PERMISSIONS)
        elif perm == "ingest":
            kind = "ingest"
            permissions.update(INGEST_PERMISSIONS)
        elif perm in CONFIG_PERMISSIONS:
            permissions.add(perm)
        else:
            known = ", ".join((*CONFIG_PERMISSIONS, "all", "ingest"))
            raise KeySpecError(f"--api-key: unknown permission {raw!r} (known: {known})")
    if kind == "ingest":
        permissions &= INGEST_PERMISSIONS
    key_id = ("hcxik_" if kind == "ingest" else "") + stable_id("api-key", secret)
    if not name:
        name = "default" if secret == DEFAULT_KEY else key_id
    return ApiKey(secret=secret, name=name, id=key_id, kind=kind, permissions=frozenset(permissions))


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class KeyRing:
    """Looks keys up by the SHA-256 of the header, so lookup time says nothing about the secret."""

    def __init__(self, keys: Iterable[ApiKey]) -> None:
        self._by_digest = {_digest(k.secret): k for k in keys}
        if not self._by_digest:
            default = parse_key_spec(DEFAULT_KEY)
            self._by_digest = {_digest(default.secret): default}

    def identify(self, headers: Mapping[str, str]) -> ApiKey | None:
        secret = headers.get("x-honeycomb-team")
        if not secret:
            return None
        return self._by_digest.get(_digest(secret.strip()))

    def authenticate(self, headers: Mapping[str, str]) -> ApiKey:
        key = self.identify(headers)
        if key is None:
            raise errors.unauthorized()
        return key

    def require(self, headers: Mapping[str, str], *permissions: str) -> ApiKey:
        """The caller's key if it has every permission; otherwise 401 (unknown) or 403."""
        key = self.authenticate(headers)
        if key.kind == "ingest" and (not permissions or not set(permissions) <= INGEST_PERMISSIONS):
            raise errors.forbidden(
                "This endpoint cannot be used with an ingest key; use a configuration key."
            )
        for perm in permissions:
            if not key.allows(perm):
                title = PERMISSION_TITLES.get(perm, perm)
                raise errors.forbidden(
                    f"API key is missing the '{title}' permission required for this endpoint."
                )
        return key
