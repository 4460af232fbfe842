"""What ``Session.register``, ``prefdb.connect(tables=...)`` and ``prefdb.sql(q, **tables)``
accept: in-memory data of every kind, files by path, and what they refuse."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.csv
import pyarrow.parquet as pq
import pytest

import prefdb

QUERY = "SELECT a, s FROM t ORDER BY a"
ROWS = [(1, "x"), (2, None), (3, "z")]

TYPE_ERROR_TAIL = (
    ": give a path or URL, a pandas or polars DataFrame, a pyarrow Table, RecordBatch or "
    "RecordBatchReader, or an object with __arrow_c_stream__"
)


def sample() -> pa.Table:
    """Three rows, in two chunks, with a NULL string."""
    return pa.Table.from_batches(
        [
            pa.record_batch({"a": pa.array([1, 2], pa.int64()), "s": ["x", None]}),
            pa.record_batch({"a": pa.array([3], pa.int64()), "s": ["z"]}),
        ]
    )


class StreamOnly:
    """An Arrow producer with nothing but the PyCapsule stream interface."""

    def __init__(self, table: pa.Table) -> None:
        self._table = table

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        return self._table.__arrow_c_stream__(requested_schema)


class ArrayOnly:
    """An Arrow producer with nothing but the PyCapsule array interface (one batch)."""

    def __init__(self, batch: pa.RecordBatch) -> None:
        self._batch = batch

    def __arrow_c_array__(self, requested_schema: object | None = None) -> tuple[object, object]:
        return self._batch.__arrow_c_array__(requested_schema)


IN_MEMORY: dict[str, Callable[[pa.Table], Any]] = {
    "pandas": lambda t: t.to_pandas(),
    "polars": lambda t: pl.from_arrow(t),
    "pyarrow_table": lambda t: t,
    "record_batch": lambda t: t.combine_chunks().to_batches()[0],
    "record_batch_reader": lambda t: pa.RecordBatchReader.from_batches(t.schema, t.to_batches()),
    "stream_only": StreamOnly,
    "array_only": lambda t: ArrayOnly(t.combine_chunks().to_batches()[0]),
}


def via_register(query: str, data: Any) -> prefdb.Result:
    session = prefdb.connect()
    assert session.register("t", data) is session
    return session.sql(query)


def via_connect(query: str, data: Any) -> prefdb.Result:
    return prefdb.connect(tables={"t": data}).sql(query)


def via_sql(query: str, data: Any) -> prefdb.Result:
    return prefdb.sql(query, t=data)


ENTRY_POINTS = {"register": via_register, "connect": via_connect, "sql": via_sql}


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("kind", IN_MEMORY)
def test_in_memory_data_of_every_kind(kind: str, entry: str) -> None:
    result = ENTRY_POINTS[entry](QUERY, IN_MEMORY[kind](sample()))
    assert result.columns == ["a", "s"]
    assert result.fetchall() == ROWS


def test_pandas_index_is_left_out() -> None:
    ranged = pd.DataFrame({"a": [1, 2, 3], "s": ["x", None, "z"]})
    named = ranged.set_axis(pd.Index([30, 10, 20], name="idx"))
    for frame in (ranged, named, ranged.iloc[::-1]):
        result = prefdb.sql(QUERY, t=frame)
        assert result.columns == ["a", "s"]
        assert result.fetchall() == ROWS


def test_pandas_series_is_a_one_column_table() -> None:
    series = pd.Series([3, 1, 2], name="a", index=[7, 8, 9])
    assert prefdb.sql("SELECT * FROM t ORDER BY a", t=series).fetchall() == [(1,), (2,), (3,)]


def test_polars_strings_arrive_as_string_view() -> None:
    result = prefdb.sql("SELECT s FROM t", t=pl.DataFrame({"s": ["x", None]}))
    assert result.schema.field("s").type == pa.string_view()
    assert result.fetchall() == [("x",), (None,)]


def test_a_stream_is_read_once_into_the_table() -> None:
    table = sample()
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches())
    session = prefdb.connect({"t": reader})
    assert session.sql(QUERY).fetchall() == ROWS
    assert session.sql(QUERY).fetchall() == ROWS, "the table outlives the stream"


def test_several_frames_of_different_kinds_in_one_query() -> None:
    result = prefdb.sql(
        "SELECT a.k, b.v FROM a JOIN b USING (k) ORDER BY a.k",
        a=pd.DataFrame({"k": [1, 2, 3]}),
        b=pl.DataFrame({"k": [2, 3, 4], "v": ["two", "three", "four"]}),
    )
    assert result.fetchall() == [(2, "two"), (3, "three")]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """The sample written as Parquet, as CSV, and split over a directory of Parquet parts."""
    table = sample()
    pq.write_table(table, tmp_path / "t.parquet")
    pyarrow.csv.write_csv(table, tmp_path / "t.csv")
    parts = tmp_path / "parts"
    parts.mkdir()
    pq.write_table(table.slice(0, 2), parts / "p1.parquet")
    pq.write_table(table.slice(2), parts / "p2.parquet")
    return {
        "parquet": tmp_path / "t.parquet",
        "csv": tmp_path / "t.csv",
        "directory": parts,
        "glob": parts / "*.parquet",
    }


@pytest.mark.parametrize("as_type", [str, Path], ids=["str", "pathlib"])
@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("layout", ["parquet", "csv", "directory", "glob"])
def test_paths(files: dict[str, Path], layout: str, entry: str, as_type: type) -> None:
    result = ENTRY_POINTS[entry](QUERY, as_type(files[layout]))
    assert result.fetchall() == ROWS


def test_connect_mixes_paths_and_data(files: dict[str, Path]) -> None:
    session = prefdb.connect({"f": files["csv"], "d": pl.DataFrame({"a": [3, 4]})})
    assert session.tables() == ["d", "f"]
    assert session.sql("SELECT count(*) FROM f JOIN d USING (a)").fetchall() == [(1,)]


BAD_OBJECTS = [
    (object(), "builtins.object"),
    ([1, 2], "builtins.list"),
    ({"a": [1, 2]}, "builtins.dict"),
    (42, "builtins.int"),
]


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize(("bad", "type_name"), BAD_OBJECTS, ids=lambda v: type(v).__name__)
def test_a_bad_object_is_a_type_error(bad: Any, type_name: str, entry: str) -> None:
    with pytest.raises(TypeError) as caught:
        ENTRY_POINTS[entry]("SELECT 1", bad)
    assert str(caught.value) == f"cannot register an object of type {type_name}{TYPE_ERROR_TAIL}"


def test_a_failed_registration_leaves_the_session_unchanged() -> None:
    session = prefdb.connect({"t": sample()})
    with pytest.raises(TypeError):
        session.register("t", object())
    assert session.sql(QUERY).fetchall() == ROWS


def test_a_table_name_must_be_a_str() -> None:
    with pytest.raises(TypeError, match=r"^table name must be a str, got int$"):
        prefdb.connect().register(1, sample())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^table names must be str, got int$"):
        prefdb.connect({1: sample()})  # type: ignore[dict-item]


def test_a_table_name_must_be_an_identifier() -> None:
    with pytest.raises(prefdb.TableError) as caught:
        prefdb.connect().register("bad name!", sample())
    assert str(caught.value) == (
        "table name 'bad name!' must be letters, digits and underscores, not starting with a digit"
    )


@pytest.mark.parametrize("entry", ["register", "connect"])
def test_a_path_table_name_must_be_an_identifier(files: dict[str, Path], entry: str) -> None:
    try:
        if entry == "register":
            prefdb.connect().register("bad name!", files["csv"])
        else:
            prefdb.connect({"bad name!": files["csv"]})
    except prefdb.TableError as error:
        message = str(error)
    else:
        message = "(no error)"
    assert message == (
        "table name 'bad name!' must be letters, digits and underscores, not starting with a digit"
    )


def test_names_given_twice_in_connect() -> None:
    with pytest.raises(prefdb.TableError) as caught:
        prefdb.connect({"votes": sample(), "Votes": sample()})
    assert str(caught.value) == (
        "table 'Votes' is given twice ('votes' and 'Votes'): give each table its own name"
    )


def test_register_replaces_a_table_of_the_same_name(files: dict[str, Path]) -> None:
    session = prefdb.connect({"t": sample()})
    session.register("t", pa.table({"b": ["only"]}))
    assert session.sql("SELECT * FROM t").fetchall() == [("only",)]
    session.register("t", files["csv"])
    assert session.sql(QUERY).fetchall() == ROWS
    session.register("t", pd.DataFrame({"c": [1.5]}))
    assert session.sql("SELECT * FROM t").fetchall() == [(1.5,)]
    assert session.tables() == ["t"]


def test_tables_and_deregister(files: dict[str, Path]) -> None:
    session = prefdb.connect({"zeta": files["parquet"], "alpha": sample()})
    session.register("Mid", sample())  # unquoted SQL names are lower case, as in the CLI
    assert session.tables() == ["alpha", "mid", "zeta"]
    assert repr(session) == "<prefdb.Session tables=['alpha', 'mid', 'zeta']>"
    assert session.sql("SELECT count(*) FROM Mid").fetchall() == [(3,)]
    session.deregister("zeta")
    session.deregister("never_registered")
    assert session.tables() == ["alpha", "mid"]
    with pytest.raises(prefdb.PlanError, match=r"^table 'prefdb\.public\.zeta' not found$"):
        session.sql("SELECT * FROM zeta")
    assert prefdb.connect().tables() == []


def test_any_table_name_in_sql_keywords() -> None:
    result = prefdb.sql("SELECT count(*) FROM query JOIN t USING (a)", query=sample(), t=sample())
    assert result.fetchall() == [(3,)]
