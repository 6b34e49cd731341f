"""The emulator's query engine: a DuckDB event store and Honeycomb Query Data semantics.

Public interface (agreed with the server in /tmp/engine_iface.md): Event, DatasetInfo, ColumnInfo,
QueryError, Store, normalize_query, unknown_columns, uses_relational_fields, resolve_window,
run_query. Extras: slugify (dataset name -> slug), ALL_DATASETS ("__all__").
"""

from .errors import QueryError
from .model import ColumnInfo, DatasetInfo, Event
from .run import run_query
from .spec import normalize_query, unknown_columns, uses_relational_fields
from .store import ALL_DATASETS, Store, slugify
from .window import resolve_window

__all__ = [
    "ALL_DATASETS",
    "ColumnInfo",
    "DatasetInfo",
    "Event",
    "QueryError",
    "Store",
    "normalize_query",
    "resolve_window",
    "run_query",
    "slugify",
    "unknown_columns",
    "uses_relational_fields",
]
