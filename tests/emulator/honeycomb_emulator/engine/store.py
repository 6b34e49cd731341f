"""The DuckDB-backed event store.

Layout: one wide table per dataset (``ds_<n>``) with two bookkeeping columns (``__hc_time`` in unix
seconds, ``__hc_samplerate``) and one typed column per event key, added with ``ALTER TABLE`` the first
time a key is seen. Physical column names are generated (``k1``, ``k2``...) and mapped to key names
in ``__hc_columns``: DuckDB identifiers are case-insensitive and cannot be empty, Honeycomb's keys
are case-sensitive and arbitrary.

A columnar table per dataset lets DuckDB scan only the columns a query touches, which is what keeps
a P99-with-breakdown over a million events well under a second; a long (key, value) layout would
need a pivot per query. Column metadata (type, created/updated/last written) lives in
``__hc_columns``, datasets in ``__hc_datasets``, so a ``data_dir`` store survives restarts.

Type rule (documented in README.md): a column takes the type of the first non-null value seen
(bool -> boolean, int -> integer, float -> float, str -> string, list/dict -> JSON text as string).
A later value of another type widens the column: integer + float -> float, any other mix -> string
(existing values are cast to their text form, e.g. ``true`` -> ``"true"``, ``200`` -> ``"200"``).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from .model import ColumnInfo, ColumnType, DatasetInfo, Event

TIME_COLUMN = "__hc_time"
SAMPLERATE_COLUMN = "__hc_samplerate"
RESERVED_COLUMNS = frozenset({TIME_COLUMN, SAMPLERATE_COLUMN})
ALL_DATASETS = "__all__"

_SQL_TYPES: dict[str, str] = {
    "string": "VARCHAR",
    "float": "DOUBLE",
    "integer": "BIGINT",
    "boolean": "BOOLEAN",
}
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def first_row(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...] | None:
    """The first row of a query, with the result fully consumed.

    DuckDB 2 keeps a result opened by ``fetchone()`` pending on the connection and then refuses
    ``register()`` (the next ingest flush) with ResourceInUseException; ``fetchall()`` finishes it.
    """
    rows = con.execute(sql).fetchall()
    return rows[0] if rows else None


def slugify(name: str) -> str:
    """Honeycomb's dataset slug: lower case, anything but letters, digits, ``-`` and ``_`` becomes ``-``."""
    return re.sub(r"[^a-z0-9_-]", "-", name.strip().lower())


def widen(current: ColumnType | None, seen: ColumnType) -> ColumnType:
    """The type a column holding both kinds of value gets."""
    if current is None or current == seen:
        return seen
    if {current, seen} == {"integer", "float"}:
        return "float"
    return "string"


_PYTHON_TYPES: dict[type, ColumnType] = {bool: "boolean", int: "integer", float: "float", str: "string"}


def _columns_of(events: Sequence[Event]) -> dict[str, tuple[list[Any], ColumnType | None]]:
    """Each key's values (one per event, None when absent) and the type they need (None: all null).

    Works column by column with C-level helpers (set(map(type, ...))) rather than per value, which
    is what makes ingest fast.
    """
    keys: set[str] = set().union(*(e.data.keys() for e in events)) - RESERVED_COLUMNS if events else set()
    columns: dict[str, tuple[list[Any], ColumnType | None]] = {}
    for key in sorted(keys):
        values = [e.data.get(key) for e in events]
        typ: ColumnType | None = None
        for python_type in set(map(type, values)) - {type(None)}:
            seen = _PYTHON_TYPES.get(python_type, "string")
            if seen == "integer" and any(v > _INT64_MAX or v < _INT64_MIN for v in values if type(v) is int):
                seen = "float"
            typ = widen(typ, seen)
        columns[key] = (values, typ)
    return columns


def _is_none(value: Any) -> bool:
    return value is None


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


class _Dataset:
    """What the store keeps in memory about one dataset (mirrors the metadata tables)."""

    def __init__(self, name: str, slug: str, table: str, created_at: float, last_written_at: float | None):
        self.name = name
        self.slug = slug
        self.table = table
        self.created_at = created_at
        self.last_written_at = last_written_at
        self.columns: dict[str, ColumnInfo] = {}
        self.physical: dict[str, str] = {}  # key name -> physical column name
        self.pending: list[_Batch] = []  # accepted, not yet inserted (see Store._flush)
        self.pending_events = 0
        self.metadata_dirty = False


class _Batch:
    """Events reduced to what the table needs: times, sample rates and each key's values."""

    def __init__(self, times: list[float], samplerates: list[int], columns: dict[str, list[Any]]) -> None:
        self.size = len(times)
        self.times = times
        self.samplerates = samplerates
        self.columns = columns

    @classmethod
    def of_events(cls, events: Sequence[Event], columns: dict[str, list[Any]]) -> _Batch:
        return cls([e.time for e in events], [int(e.samplerate) for e in events], columns)


class Store:
    """Thread-safe event store. One DuckDB connection guarded by a lock: ingest and queries are
    serialised, which is simple and, at emulator scale, fast enough (queries take milliseconds).

    Small batches are buffered and inserted together (every FLUSH_EVENTS events, and before
    anything reads the tables): one DuckDB statement costs ~10 ms whatever its size, which would
    otherwise dominate ingest of 1 000-event HTTP batches. Columns and types are updated at once.
    """

    FLUSH_EVENTS = 20_000

    def __init__(self, data_dir: Path | None = None) -> None:
        if data_dir is not None:
            data_dir.mkdir(parents=True, exist_ok=True)
            self._con = duckdb.connect(str(data_dir / "events.duckdb"))
        else:
            self._con = duckdb.connect(":memory:")
        self._lock = threading.RLock()
        self._datasets: dict[str, _Dataset] = {}
        self._create_metadata_tables()
        self._load_metadata()

    # -- metadata -------------------------------------------------------------------------------

    def _create_metadata_tables(self) -> None:
        self._con.execute(
            "CREATE TABLE IF NOT EXISTS __hc_datasets (slug VARCHAR PRIMARY KEY, name VARCHAR, "
            "table_name VARCHAR, created_at DOUBLE, last_written_at DOUBLE)"
        )
        self._con.execute(
            "CREATE TABLE IF NOT EXISTS __hc_columns (slug VARCHAR, key_name VARCHAR, type VARCHAR, "
            "created_at DOUBLE, updated_at DOUBLE, last_written DOUBLE, physical VARCHAR, "
            "PRIMARY KEY (slug, key_name))"
        )

    def _load_metadata(self) -> None:
        rows = self._con.execute(
            "SELECT slug, name, table_name, created_at, last_written_at FROM __hc_datasets"
        ).fetchall()
        for slug, name, table, created_at, last_written_at in rows:
            self._datasets[slug] = _Dataset(name, slug, table, created_at, last_written_at)
        for slug, key, typ, created, updated, written, physical in self._con.execute(
            "SELECT slug, key_name, type, created_at, updated_at, last_written, physical FROM __hc_columns"
        ).fetchall():
            if slug in self._datasets:
                self._datasets[slug].columns[key] = ColumnInfo(key, typ, created, updated, written)
                self._datasets[slug].physical[key] = physical

    def _lookup(self, dataset: str) -> _Dataset | None:
        found = self._datasets.get(dataset)
        if found is None:
            found = self._datasets.get(slugify(dataset))
        return found

    def _create_dataset(self, name: str, now: float) -> _Dataset:
        slug = slugify(name)
        table = f"ds_{len(self._datasets) + 1}"
        while any(d.table == table for d in self._datasets.values()):
            table += "_"
        self._con.execute(
            f"CREATE TABLE {table} ({TIME_COLUMN} DOUBLE NOT NULL, {SAMPLERATE_COLUMN} BIGINT NOT NULL)"
        )
        self._con.execute("INSERT INTO __hc_datasets VALUES (?, ?, ?, ?, NULL)", [slug, name, table, now])
        ds = _Dataset(name, slug, table, now, None)
        self._datasets[slug] = ds
        return ds

    # -- ingest ---------------------------------------------------------------------------------

    def add_events(self, dataset: str, events: Sequence[Event]) -> int:
        """Store events (creating the dataset and columns on first sight); returns how many."""
        columns = _columns_of(events)
        batch_types = {key: typ for key, (_, typ) in columns.items() if typ is not None}
        kept = {key: values for key, (values, _) in columns.items() if key in batch_types}
        batch = _Batch.of_events(events, kept)
        return self._add(dataset, batch, batch_types)

    def add_columns(
        self, dataset: str, times: list[float], columns: dict[str, tuple[list[Any], ColumnType]]
    ) -> int:
        """Store unsampled events given column by column, each with its type and no nulls (the demo
        generator's bulk path: no per-event objects, no type inference)."""
        if any(len(values) != len(times) for values, _ in columns.values()):
            raise ValueError("every column needs one value per event")
        batch = _Batch(times, [1] * len(times), {key: values for key, (values, _) in columns.items()})
        return self._add(dataset, batch, {key: typ for key, (_, typ) in columns.items()})

    def _add(self, dataset: str, batch: _Batch, batch_types: dict[str, ColumnType]) -> int:
        now = time.time()
        with self._lock:
            ds = self._lookup(dataset) or self._create_dataset(dataset, now)
            if not batch.size:
                return 0
            self._evolve_schema(ds, batch_types, now)
            ds.pending.append(batch)
            ds.pending_events += batch.size
            self._mark_written(ds, batch_types, now)
            if ds.pending_events >= self.FLUSH_EVENTS:
                self._flush(ds)
        return batch.size

    def _evolve_schema(self, ds: _Dataset, batch_types: dict[str, ColumnType], now: float) -> None:
        for key, seen in batch_types.items():
            current = ds.columns.get(key)
            if current is None:
                physical = f"k{len(ds.physical) + 1}"
                self._con.execute(f"ALTER TABLE {ds.table} ADD COLUMN {physical} {_SQL_TYPES[seen]}")
                self._con.execute(
                    "INSERT INTO __hc_columns VALUES (?, ?, ?, ?, ?, NULL, ?)",
                    [ds.slug, key, seen, now, now, physical],
                )
                ds.columns[key] = ColumnInfo(key, seen, now, now, None)
                ds.physical[key] = physical
                continue
            wider = widen(current.type, seen)
            if wider != current.type:
                column = ds.physical[key]
                self._con.execute(
                    f"ALTER TABLE {ds.table} ALTER COLUMN {column} SET DATA TYPE {_SQL_TYPES[wider]}"
                )
                self._con.execute(
                    "UPDATE __hc_columns SET type = ?, updated_at = ? WHERE slug = ? AND key_name = ?",
                    [wider, now, ds.slug, key],
                )
                ds.columns[key] = ColumnInfo(key, wider, current.created_at, now, current.last_written)

    def _flush(self, ds: _Dataset) -> None:
        """Insert the dataset's buffered batches in one statement and persist its metadata."""
        if ds.pending:
            keys = {key for batch in ds.pending for key in batch.columns}
            merged = {
                key: [v for batch in ds.pending for v in batch.columns.get(key, [None] * batch.size)]
                for key in sorted(keys)
            }
            times = [t for batch in ds.pending for t in batch.times]
            samplerates = [r for batch in ds.pending for r in batch.samplerates]
            self._insert(ds, times, samplerates, merged)
            ds.pending.clear()
            ds.pending_events = 0
        if ds.metadata_dirty:
            self._con.execute(
                "UPDATE __hc_datasets SET last_written_at = ? WHERE slug = ?", [ds.last_written_at, ds.slug]
            )
            written = [(key, info.last_written) for key, info in ds.columns.items() if info.last_written]
            self._con.execute(
                "UPDATE __hc_columns SET last_written = w.at FROM "
                "(SELECT unnest(?::VARCHAR[]) AS key, unnest(?::DOUBLE[]) AS at) AS w "
                "WHERE __hc_columns.slug = ? AND __hc_columns.key_name = w.key",
                [[k for k, _ in written], [t for _, t in written], ds.slug],
            )
            ds.metadata_dirty = False

    def _flush_all(self) -> None:
        for ds in self._datasets.values():
            self._flush(ds)

    def _insert(
        self, ds: _Dataset, times: list[float], samplerates: list[int], columns: dict[str, list[Any]]
    ) -> None:
        # Columnar numpy arrays registered as a relation: one INSERT ... SELECT per batch is ~20x
        # faster than executemany. Nulls in numeric columns travel as a separate mask.
        batch: dict[str, np.ndarray[Any, Any]] = {
            "t": np.array(times, dtype=np.float64),
            "sr": np.array(samplerates, dtype=np.int64),
        }
        select = ["t", "greatest(sr, 1)"]
        for i, (key, values) in enumerate(columns.items()):
            typ = ds.columns[key].type
            if typ == "string":
                if not set(map(type, values)) <= {str, type(None)}:  # C-level: no Python call per value
                    values = [None if v is None else _as_text(v) for v in values]
                batch[f"v{i}"] = np.array(values, dtype=object)
                select.append(f"v{i}")
                continue
            array = np.array(values, dtype=object)  # numbers, booleans and None only
            mask = np.fromiter(map(_is_none, values), dtype=np.bool_, count=len(values))
            array[mask] = 0
            batch[f"v{i}"] = array.astype(
                {"float": np.float64, "integer": np.int64, "boolean": np.bool_}[typ]
            )
            batch[f"m{i}"] = mask
            select.append(f"CASE WHEN m{i} THEN NULL ELSE v{i} END")
        names = ", ".join([TIME_COLUMN, SAMPLERATE_COLUMN, *(ds.physical[k] for k in columns)])
        self._con.register("__hc_batch", batch)
        try:
            self._con.execute(f"INSERT INTO {ds.table} ({names}) SELECT {', '.join(select)} FROM __hc_batch")
        finally:
            self._con.unregister("__hc_batch")

    def _mark_written(self, ds: _Dataset, batch_types: dict[str, ColumnType], now: float) -> None:
        # In memory now; persisted by the next flush.
        ds.last_written_at = now
        ds.metadata_dirty = True
        for key in batch_types:
            info = ds.columns[key]
            ds.columns[key] = ColumnInfo(key, info.type, info.created_at, info.updated_at, now)

    # -- reading --------------------------------------------------------------------------------

    def datasets(self) -> list[DatasetInfo]:
        with self._lock:
            return [
                DatasetInfo(d.name, d.slug, d.created_at, d.last_written_at, len(d.columns))
                for d in sorted(self._datasets.values(), key=lambda d: d.slug)
            ]

    def columns(self, dataset: str) -> list[ColumnInfo]:
        """Columns of one dataset, or of every dataset for ``__all__`` (widest type wins)."""
        with self._lock:
            return sorted(self.column_types_info(dataset).values(), key=lambda c: c.key_name)

    def column_types_info(self, dataset: str) -> dict[str, ColumnInfo]:
        with self._lock:
            merged: dict[str, ColumnInfo] = {}
            for ds in self._datasets_for(dataset):
                for key, info in ds.columns.items():
                    prior = merged.get(key)
                    if prior is None:
                        merged[key] = info
                    else:
                        merged[key] = ColumnInfo(
                            key,
                            widen(prior.type, info.type),
                            min(prior.created_at, info.created_at),
                            max(prior.updated_at, info.updated_at),
                            max(
                                (t for t in (prior.last_written, info.last_written) if t is not None),
                                default=None,
                            ),
                        )
            return merged

    def has_dataset(self, slug: str) -> bool:
        with self._lock:
            return slug == ALL_DATASETS or self._lookup(slug) is not None

    def event_count(self, dataset: str | None = None) -> int:
        with self._lock:
            self._flush_all()
            tables = [d.table for d in self._datasets_for(dataset or ALL_DATASETS)]
            total = 0
            for table in tables:
                row = first_row(self._con, f"SELECT count(*) FROM {table}")
                total += int(row[0]) if row else 0
            return total

    def close(self) -> None:
        with self._lock:
            self._flush_all()
            self._con.close()

    # -- for the query engine -------------------------------------------------------------------

    def _datasets_for(self, dataset: str) -> Iterable[_Dataset]:
        if dataset == ALL_DATASETS:
            return list(self._datasets.values())
        found = self._lookup(dataset)
        return [found] if found is not None else []

    def tables_for(self, dataset: str) -> list[tuple[str, dict[str, str]]]:
        """(table, key name -> physical column) of each dataset a query over ``dataset`` reads."""
        with self._lock:
            return [(d.table, dict(d.physical)) for d in self._datasets_for(dataset)]

    @contextmanager
    def connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The DuckDB connection (every buffered event inserted), held under the store's lock."""
        with self._lock:
            self._flush_all()
            yield self._con
