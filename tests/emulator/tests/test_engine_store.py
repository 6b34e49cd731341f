"""The DuckDB event store: datasets, evolving typed columns, persistence, __all__."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from honeycomb_emulator.engine import Event, Store, run_query, slugify

NOW = time.time()
T = NOW - 120  # inside every window: the window end is truncated to the minute


def count(store: Store, dataset: str, **spec: object) -> list[dict[str, object]]:
    result = run_query(store, dataset, {"time_range": 3600, **spec}, NOW, disable_series=True)
    return [row["data"] for row in result["results"]]


def test_datasets_are_created_on_first_sight_with_slugs() -> None:
    store = Store()
    assert store.datasets() == []
    assert store.add_events("My Dataset!", [Event(T, {"a": 1})]) == 1
    (info,) = store.datasets()
    assert (info.name, info.slug, info.regular_columns_count) == ("My Dataset!", "my-dataset-", 1)
    assert info.last_written_at is not None and info.created_at <= info.last_written_at
    assert (
        store.has_dataset("my-dataset-") and store.has_dataset("My Dataset!") and store.has_dataset("__all__")
    )
    assert not store.has_dataset("other")
    assert slugify("MyDataset!") == "mydataset-"
    # Events for the name and the slug land in the same dataset.
    store.add_events("my-dataset-", [Event(T, {"a": 2})])
    assert store.event_count("my-dataset-") == 2
    assert store.add_events("empty", []) == 0
    assert store.event_count() == 2


def test_column_types_follow_first_values_and_widen() -> None:
    store = Store()
    store.add_events(
        "ds",
        [Event(T, {"s": "x", "i": 1, "f": 1.5, "b": True, "n": None, "obj": {"k": [1, 2]}})],
    )
    types = {c.key_name: c.type for c in store.columns("ds")}
    assert types == {"s": "string", "i": "integer", "f": "float", "b": "boolean", "obj": "string"}

    store.add_events("ds", [Event(T, {"i": 2.5, "b": 7})])
    types = {c.key_name: c.type for c in store.columns("ds")}
    assert types["i"] == "float"  # integer + float -> float
    assert types["b"] == "string"  # boolean + integer -> string
    rows = count(store, "ds", breakdowns=["b"], orders=[{"column": "b"}])
    assert [row["b"] for row in rows] == ["7", "true"]
    rows = count(store, "ds", calculations=[{"op": "SUM", "column": "i"}])
    assert rows == [{"SUM(i)": 3.5}]
    assert count(store, "ds", breakdowns=["obj"])[0]["obj"] == '{"k":[1,2]}'


def test_a_batch_with_mixed_types_widens_before_insert() -> None:
    store = Store()
    store.add_events("ds", [Event(T, {"v": 1}), Event(T, {"v": "two"}), Event(T, {"v": False})])
    assert store.columns("ds")[0].type == "string"
    values = {row["v"] for row in count(store, "ds", breakdowns=["v"])}
    assert values == {"1", "two", "false"}


def test_huge_integers_become_floats_and_sample_rates_below_one_count_once() -> None:
    store = Store()
    store.add_events("ds", [Event(T, {"big": 2**70}, samplerate=0), Event(T, {"big": 1}, samplerate=-3)])
    assert store.columns("ds")[0].type == "float"
    assert count(store, "ds") == [{"COUNT": 2}]


def test_column_metadata_times() -> None:
    store = Store()
    store.add_events("ds", [Event(T, {"a": 1})])
    (first,) = store.columns("ds")
    assert first.created_at == first.updated_at and first.last_written is not None
    store.add_events("ds", [Event(T, {"a": "x"})])
    (widened,) = store.columns("ds")
    assert widened.created_at == first.created_at and widened.updated_at >= first.updated_at


def test_data_survives_a_restart(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.add_events("checkout", [Event(T, {"duration_ms": 5.0, "svc": "a"}, samplerate=3)])
    store.close()
    reopened = Store(tmp_path)
    assert [d.slug for d in reopened.datasets()] == ["checkout"]
    assert {c.key_name for c in reopened.columns("checkout")} == {"duration_ms", "svc"}
    assert count(reopened, "checkout") == [{"COUNT": 3}]
    reopened.add_events("checkout", [Event(T, {"svc": "b", "new": True})])
    assert reopened.event_count("checkout") == 2
    reopened.close()


def test_all_datasets_merge_columns_and_types() -> None:
    store = Store()
    store.add_events("one", [Event(T, {"v": 1, "only_one": "x"})])
    store.add_events("two", [Event(T, {"v": "b"}), Event(T, {"v": "c"})])
    assert {c.key_name: c.type for c in store.columns("__all__")} == {"v": "string", "only_one": "string"}
    assert count(store, "__all__") == [{"COUNT": 3}]
    rows = count(store, "__all__", breakdowns=["only_one"])
    assert {(r["only_one"], r["COUNT"]) for r in rows} == {("x", 1), (None, 2)}
    assert store.columns("missing") == []
    assert count(store, "missing") == []


def test_concurrent_ingest_and_queries() -> None:
    store = Store()
    errors: list[BaseException] = []

    def ingest(worker: int) -> None:
        try:
            for i in range(20):
                store.add_events("ds", [Event(T, {"worker": worker, f"k{i % 3}": i}) for _ in range(10)])
                count(store, "ds", breakdowns=["worker"])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=ingest, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert count(store, "ds") == [{"COUNT": 800}]
