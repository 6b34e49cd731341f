"""A completed query result as bytes, for the state store (and its size, for the cache bounds)."""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass

from honeycomb_evaluator.honeycomb.results import QueryResult


@dataclass(frozen=True)
class Encoded:
    blob: bytes  # zlib-compressed JSON
    size: int  # bytes of the JSON before compression: about what the parsed result holds


def encode_result(result: QueryResult) -> Encoded:
    # The fields by hand: dataclasses.asdict deep-copies every row first, for nothing.
    fields = {
        "id": result.id,
        "complete": result.complete,
        "results": result.results,
        "series": result.series,
        "query_url": result.query_url,
        **({"other": result.other} if result.other is not None else {}),
    }
    text = json.dumps(fields, separators=(",", ":")).encode()
    return Encoded(zlib.compress(text, 6), len(text))


def decode_result(blob: bytes) -> tuple[QueryResult, int]:
    """The result, and the size of its JSON (as `Encoded.size`)."""
    text = zlib.decompress(blob)
    return QueryResult(**json.loads(text)), len(text)
