"""Reading request bodies with Honeycomb's size limits, gzip support and JSON parsing."""

from __future__ import annotations

import gzip
import json
import re
import zlib
from typing import Any

from starlette.requests import Request

from . import errors

API_BODY_LIMIT = 100_000  # bytes; Honeycomb's limit on /1 API bodies (413 above it)


async def read_raw(request: Request, limit: int, too_large: errors.ApiError) -> bytes:
    """The body, refusing it as soon as it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def decode(body: bytes, encoding: str | None, limit: int, too_large: errors.ApiError) -> bytes:
    """Undo ``Content-Encoding: gzip``/``deflate`` (bounded, so a zip bomb cannot blow up)."""
    encoding = (encoding or "").strip().lower()
    if encoding in ("", "identity", "plaintext"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise errors.legacy(400, f"unsupported Content-Encoding: {encoding}")
    wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
    try:
        inflater = zlib.decompressobj(wbits)
        out = inflater.decompress(body, limit + 1)
    except (zlib.error, gzip.BadGzipFile) as e:
        raise errors.unparseable(f"invalid {encoding} data") from e
    if len(out) > limit:
        raise too_large
    return out


async def read_api_json(request: Request) -> Any:
    """A /1 API body: at most 100 000 bytes (413), JSON (400 unparseable otherwise)."""
    too_large = errors.payload_too_large(API_BODY_LIMIT)
    raw = await read_raw(request, API_BODY_LIMIT, too_large)
    raw = decode(raw, request.headers.get("content-encoding"), API_BODY_LIMIT, too_large)
    return parse_json(raw)


def parse_json(raw: bytes) -> Any:
    if not raw.strip():
        raise errors.unparseable("could not parse request body")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise errors.unparseable(f"could not parse request body: {e}") from e
    return _replace_lone_surrogates(body) if _SURROGATE_ESCAPE.search(raw) else body


# Go's encoding/json (Honeycomb's) turns an escaped lone UTF-16 surrogate into U+FFFD.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _replace_lone_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_replace_lone_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {_replace_lone_surrogates(k): _replace_lone_surrogates(v) for k, v in value.items()}
    return value


async def read_api_object(request: Request) -> dict[str, Any]:
    body = await read_api_json(request)
    if not isinstance(body, dict):
        raise errors.unparseable("could not parse request body: expected a JSON object")
    return body
