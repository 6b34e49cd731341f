"""The DuckDB event store: datasets, evolving typed columns, persistence, __all__."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from honeycomb_emulator.engine import Event, Store, run_query, slugify
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


def test_column_names_are_case_sensitive_and_arbitrary() -> None:
    store = Store()
    odd = {"A": 1, "a": 2, "": 3, 'q"uote': 4, "it's": 5, "sp ace": 6, "ünï": 7, "x\x00y": 8, "select": 9}
    store.add_events("ds", [Event(T, odd)])
    assert {c.key_name for c in store.columns("ds")} == set(odd)
    for key, value in odd.items():
        if not key:
            continue  # stored, but a query cannot name a blank column
        assert count(store, "ds", calculations=[{"op": "MAX", "column": key}]) == [{f"MAX({key})": value}], (
            key
        )
    filters = [{"column": "A", "op": "=", "value": 1}, {"column": "a", "op": "=", "value": 2}]
    assert count(store, "ds", filters=filters) == [{"COUNT": 1}]


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


def test_buffered_small_batches_are_visible_to_every_read(tmp_path: Path) -> None:
    store = Store(tmp_path)
    for i in range(5):
        store.add_events("ds", [Event(T, {"i": i, f"only{i}": True})])
    assert len(store.columns("ds")) == 6  # columns appear at once
    assert store.event_count("ds") == 5
    store.add_events("ds", [Event(T, {"i": "text"})])  # widens a column with buffered values
    assert sorted(r["i"] for r in count(store, "ds", breakdowns=["i"])) == ["0", "1", "2", "3", "4", "text"]
    store.add_events("ds", [Event(T, {"i": 9})])
    store.close()  # flushes what is still buffered
    reopened = Store(tmp_path)
    assert reopened.event_count("ds") == 7
    assert {c.key_name: c.last_written is not None for c in reopened.columns("ds")} == dict.fromkeys(
        ["i", "only0", "only1", "only2", "only3", "only4"], True
    )
    reopened.close()


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


event_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)
event_batches = st.lists(
    st.lists(
        st.builds(
            Event,
            time=st.floats(min_value=T - 3000, max_value=T),
            data=st.dictionaries(st.sampled_from(["a", "A", "b", "c.d", ""]), event_values, max_size=4),
            samplerate=st.integers(min_value=-2, max_value=50),
        ),
        max_size=20,
    ),
    min_size=1,
    max_size=4,
)


def expected_type(values: list[object]) -> str | None:
    kinds: set[str] = set()
    for value in values:
        if value is None:
            continue
        if isinstance(value, bool):
            kinds.add("boolean")
        elif isinstance(value, int):
            kinds.add("integer" if -(2**63) <= value < 2**63 else "float")
        elif isinstance(value, float):
            kinds.add("float")
        else:
            kinds.add("string")
    if not kinds:
        return None
    if len(kinds) == 1:
        return kinds.pop()
    return "float" if kinds == {"integer", "float"} else "string"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=event_batches)
def test_any_events_are_stored_counted_and_typed(batches: list[list[Event]]) -> None:
    store = Store()
    for batch in batches:
        assert store.add_events("ds", batch) == len(batch)
    events = [e for batch in batches for e in batch]
    assert store.event_count("ds") == len(events)
    total = sum(max(1, e.samplerate) for e in events)
    assert count(store, "ds") == ([{"COUNT": total}] if events else [])
    types = {c.key_name: c.type for c in store.columns("ds")}
    for key in {k for e in events for k in e.data}:
        assert types.get(key) == expected_type([e.data.get(key) for e in events]), key


def test_ingest_after_queries_and_counts_keeps_working() -> None:
    # Regression: a half-read DuckDB result (fetchone) made the next buffered flush fail, so every
    # query after "query, then ingest" answered 500 in the emulator.
    store = Store()
    store.add_events("ds", [Event(T, {"a": 1})])
    assert count(store, "ds") == [{"COUNT": 1}]
    assert store.event_count("ds") == 1
    store.add_events("ds", [Event(T, {"a": 2})])
    assert count(store, "ds") == [{"COUNT": 2}]
    store.add_events("ds", [Event(T, {"a": 3})])
    assert store.event_count() == 3
