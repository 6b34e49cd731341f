"""Honeycomb-style identifiers: 11 characters of base62 (e.g. ``HprJhV1fYyr``)."""

from __future__ import annotations

import hashlib
import secrets

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ID_LENGTH = 11


def new_id() -> str:
    """A fresh random id (results, SLOs, burn alerts)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(ID_LENGTH))


def stable_id(*parts: str) -> str:
    """The same id for the same inputs (queries by spec, columns by name, key ids by key).

    Derived from SHA-256 so that a key's id says nothing usable about the key itself.
    """
    digest = int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest(), "big")
    chars = []
    for _ in range(ID_LENGTH):
        digest, index = divmod(digest, len(ALPHABET))
        chars.append(ALPHABET[index])
    return "".join(chars)
