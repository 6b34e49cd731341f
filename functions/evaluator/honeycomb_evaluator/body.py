"""A request's body as one JSON object, read within the size and time limits, or the error why not.

Limits come from the settings (`EVALUATOR_MAX_BODY_BYTES`, serve's body timeout); the errors are
the documented ones: 413, 408, 400 `malformed_json`, 422 for a lone UTF-16 surrogate.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.requests import ClientDisconnect, Request

from honeycomb_evaluator.errors import (
    BodyTooLarge,
    ClientClosed,
    InvalidRequest,
    MalformedJson,
    RequestTimeout,
)
from honeycomb_evaluator.surrogates import lone_surrogate_path, may_hold_lone_surrogate


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


async def read_json_object(request: Request, max_bytes: int, timeout_seconds: float) -> dict[str, Any]:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge(f"the request body is over {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        # A client trickling its body must not hold a request slot for ever (serving.py).
        async with asyncio.timeout(timeout_seconds):
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_bytes:
                    raise BodyTooLarge(f"the request body is over {max_bytes} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise RequestTimeout(f"the request body did not arrive within {timeout_seconds:g} s") from None
    except ClientDisconnect:
        raise ClientClosed("the client closed the connection before the body was complete") from None
    raw = b"".join(chunks)
    try:
        body = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as e:
        raise MalformedJson(f"the request body is not valid JSON: {e}") from None
    except RecursionError:
        raise MalformedJson("the request body nests too deeply") from None
    if not isinstance(body, dict):
        raise MalformedJson("the request body must be a JSON object")
    field = lone_surrogate_path(body) if may_hold_lone_surrogate(raw) else None
    if field is not None:
        raise InvalidRequest(f"{field}: a lone UTF-16 surrogate escape is not a character", field=field)
    return body
