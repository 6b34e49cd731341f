"""The emulator's query engine: a DuckDB event store and Honeycomb Query Data semantics.

Public interface, as agreed between the engine and the server: Event, DatasetInfo, ColumnInfo,
QueryError, Store, normalize_query, unknown_columns, uses_relational_fields, resolve_window,
run_query. Additions, none of which change that contract:
- ``slugify`` (dataset name -> slug) and ``ALL_DATASETS`` (``"__all__"``);
- ``Store.columns("__all__")`` merges every dataset's columns (widest type wins);
- relational fields run instead of being refused (``root.``/``parent.`` anywhere,
  ``any.``/``none.``/``child.`` in filters); see README.md;
- ``Store.connection()``, ``Store.tables_for()`` and ``Store.column_types_info()`` exist for the
  engine's own use;
- ``Store.add_columns`` stores events given column by column (the demo's bulk path) and
  ``ColumnType`` names the column types.
Semantics, type rules and approximations are in README.md.
"""

from .errors import QueryError
from .model import ColumnInfo, ColumnType, DatasetInfo, Event
from .run import run_query
from .spec import normalize_query, unknown_columns, uses_relational_fields
from .store import ALL_DATASETS, Store, slugify
from .window import resolve_window

__all__ = [
    "ALL_DATASETS",
    "ColumnInfo",
    "ColumnType",
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
