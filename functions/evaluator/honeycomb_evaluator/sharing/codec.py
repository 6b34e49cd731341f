"""A JSON document as bytes for the state store (and its size, for the cache bounds).

Completed query results (in execution records) and SLO reports (blobs) are stored this way.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from typing import Any

from honeycomb_evaluator.honeycomb.results import QueryResult


@dataclass(frozen=True)
class Encoded:
    blob: bytes  # zlib-compressed JSON
    size: int  # bytes of the JSON before compression: about what the parsed document holds


def encode_json(document: Any) -> Encoded:
    text = json.dumps(document, separators=(",", ":")).encode()
    return Encoded(zlib.compress(text, 6), len(text))


def decode_json(blob: bytes) -> tuple[Any, int]:
    """The document, and the size of its JSON (as `Encoded.size`)."""
    text = zlib.decompress(blob)
    return json.loads(text), len(text)


def encode_result(result: QueryResult) -> Encoded:
    # The fields by hand: dataclasses.asdict deep-copies every row first, for nothing.
    return encode_json(
        {
            "id": result.id,
            "complete": result.complete,
            "results": result.results,
            "series": result.series,
            "query_url": result.query_url,
            **({"other": result.other} if result.other is not None else {}),
        }
    )


def decode_result(blob: bytes) -> tuple[QueryResult, int]:
    """The result, and the size of its JSON (as `Encoded.size`)."""
    fields, size = decode_json(blob)
    return QueryResult(**fields), size
