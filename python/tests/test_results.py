"""``prefdb.Result``: Arrow, pandas, polars and Python rows out, the PyCapsule stream, and
the text and HTML previews."""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import prefdb

BERLIN = ZoneInfo("Europe/Berlin")
UTC = dt.timezone.utc


def typed_table() -> pa.Table:
    """One column per kind of value a result carries, each with a NULL."""
    return pa.table(
        {
            "i": pa.array([1, None, 3], pa.int64()),
            "dict": pa.array(["a", None, "a"]).dictionary_encode(),
            "large": pa.array(["x", "yy", None], pa.large_string()),
            "view": pa.array(["p", None, "<b>"], pa.string_view()),
            "ts": pa.array(
                [dt.datetime(2024, 1, 1, 12), None, dt.datetime(2024, 6, 1)], pa.timestamp("us")
            ),
            "tz": pa.array(
                [
                    dt.datetime(2024, 1, 1, 11, tzinfo=UTC),
                    None,
                    dt.datetime(2024, 6, 1, tzinfo=UTC),
                ],
                pa.timestamp("us", tz="Europe/Berlin"),
            ),
            "flag": pa.array([True, None, False]),
            "f": pa.array([1.5, float("nan"), None], pa.float64()),
        }
    )


def same_values(left: list, right: list) -> bool:
    """Equal lists of Python values, NaN equal to NaN."""
    nan = object()
    fix = lambda v: nan if isinstance(v, float) and math.isnan(v) else v  # noqa: E731
    return [fix(v) for v in left] == [fix(v) for v in right]


@pytest.fixture(scope="module")
def typed() -> prefdb.Result:
    return prefdb.sql("SELECT * FROM t", t=typed_table())


def test_shape_columns_and_schema(typed: prefdb.Result) -> None:
    source = typed_table()
    assert len(typed) == typed.num_rows == 3
    assert typed.columns == source.column_names
    assert typed.schema.equals(source.schema)


def test_to_arrow_keeps_every_type_and_value(typed: prefdb.Result) -> None:
    source = typed_table()
    table = typed.to_arrow()
    assert isinstance(table, pa.Table)
    assert table.schema.equals(source.schema)
    for name in source.column_names:
        assert same_values(table[name].to_pylist(), source[name].to_pylist()), name


def test_capsule_stream_to_pyarrow_and_polars(typed: prefdb.Result) -> None:
    via_capsule = pa.table(typed)
    assert via_capsule.schema.equals(typed_table().schema)
    assert same_values(via_capsule["f"].to_pylist(), [1.5, float("nan"), None])
    assert pa.table(typed).num_rows == 3, "the stream can be read again"
    reader = pa.RecordBatchReader.from_stream(typed)
    assert reader.read_all().column("view").to_pylist() == ["p", None, "<b>"]
    frame = pl.DataFrame(typed)
    assert frame.columns == typed.columns
    assert frame["tz"].dtype == pl.Datetime("us", "Europe/Berlin")
    assert frame["dict"].dtype == pl.Categorical
    assert frame["i"].to_list() == [1, None, 3]


def test_fetchall_and_iteration(typed: prefdb.Result) -> None:
    rows = typed.fetchall()
    assert rows[0] == (
        1,
        "a",
        "x",
        "p",
        dt.datetime(2024, 1, 1, 12),
        dt.datetime(2024, 1, 1, 12, tzinfo=BERLIN),
        True,
        1.5,
    )
    assert rows[0][5].utcoffset() == dt.timedelta(hours=1)
    assert rows[1][:7] == (None, None, "yy", None, None, None, None)
    assert math.isnan(rows[1][7])
    assert rows[2] == (
        3,
        "a",
        None,
        "<b>",
        dt.datetime(2024, 6, 1),
        dt.datetime(2024, 6, 1, 2, tzinfo=BERLIN),
        False,
        None,
    )
    iterated = list(typed)
    assert all(type(row) is tuple for row in iterated)
    assert same_values([v for row in iterated for v in row], [v for row in rows for v in row])


def test_to_pandas(typed: prefdb.Result) -> None:
    frame = typed.to_pandas()
    assert list(frame.columns) == typed.columns
    assert isinstance(frame.index, pd.RangeIndex)
    assert isinstance(frame["dict"].dtype, pd.CategoricalDtype)
    assert str(frame["tz"].dtype) == "datetime64[us, Europe/Berlin]"
    assert frame["tz"][0] == pd.Timestamp("2024-01-01 12:00", tz="Europe/Berlin")
    assert str(frame["ts"].dtype) == "datetime64[us]"
    assert frame["large"].tolist()[:2] == ["x", "yy"] and pd.isna(frame["large"][2])
    assert frame["view"][2] == "<b>"
    assert frame["flag"].tolist()[0] is True and pd.isna(frame["flag"][1])
    assert math.isnan(frame["f"][1]) and pd.isna(frame["f"][2])
    assert frame["i"].isna().tolist() == [False, True, False]


def test_to_pandas_passes_options_to_pyarrow(typed: prefdb.Result) -> None:
    frame = typed.to_pandas(types_mapper=pd.ArrowDtype)
    assert frame["i"].dtype == pd.ArrowDtype(pa.int64())
    assert frame["i"].tolist()[0] == 1 and pd.isna(frame["i"][1])


def test_to_polars(typed: prefdb.Result) -> None:
    frame = typed.to_polars()
    assert isinstance(frame, pl.DataFrame)
    expected = {
        "i": pl.Int64,
        "dict": pl.Categorical,
        "large": pl.String,
        "view": pl.String,
        "ts": pl.Datetime("us"),
        "tz": pl.Datetime("us", "Europe/Berlin"),
        "flag": pl.Boolean,
        "f": pl.Float64,
    }
    assert list(frame.schema) == list(expected)
    for name, dtype in expected.items():
        assert frame.schema[name] == dtype, name
    assert frame["large"].to_list() == ["x", "yy", None]
    assert frame["f"].is_nan().to_list() == [False, True, None]


def test_polars_in_polars_out() -> None:
    source = pl.DataFrame({"s": ["b", None, "a"], "n": [2.5, None, float("nan")]})
    result = prefdb.sql("SELECT * FROM t", t=source)
    assert result.schema.field("s").type == pa.string_view()
    out = result.to_polars()
    assert out.schema == source.schema
    assert out["s"].to_list() == ["b", None, "a"]
    assert out["n"].is_nan().to_list() == [False, None, True]


def test_pandas_in_pandas_out() -> None:
    source = pd.DataFrame(
        {
            "s": ["b", None, "a"],
            "when": pd.to_datetime(["2024-03-01", None, "2024-03-03"]).tz_localize("UTC"),
            "x": [0.5, float("nan"), 2.0],
        }
    )
    out = prefdb.sql("SELECT * FROM t", t=source).to_pandas()
    assert list(out.columns) == ["s", "when", "x"]
    assert out["s"].tolist()[0] == "b" and pd.isna(out["s"][1])
    assert out["when"].dt.tz is not None and str(out["when"].dt.tz) == "UTC"
    assert out["when"][2] == pd.Timestamp("2024-03-03", tz="UTC")
    assert out["x"][0] == 0.5 and pd.isna(out["x"][1])


def test_computed_columns_round_trip() -> None:
    result = prefdb.sql(
        "SELECT CAST(v AS DOUBLE) / 2 AS half, v % 2 = 0 AS even, "
        "CASE WHEN v = 1 THEN NULL ELSE 'n' || CAST(v AS VARCHAR) END AS label "
        "FROM range(3) AS r(v) ORDER BY v"
    )
    assert result.columns == ["half", "even", "label"]
    assert result.fetchall() == [(0.0, True, "n0"), (0.5, False, None), (1.0, True, "n2")]
    assert result.to_pandas()["half"].tolist() == [0.0, 0.5, 1.0]
    assert result.to_polars()["label"].to_list() == ["n0", None, "n2"]


def test_empty_result() -> None:
    result = prefdb.sql("SELECT * FROM t WHERE a > 10", t=pa.table({"a": [1, 2]}))
    assert len(result) == 0 and result.fetchall() == [] and list(result) == []
    assert result.to_arrow().schema.field("a").type == pa.int64()
    assert result.to_pandas().shape == (0, 1)
    assert pa.table(result).num_rows == 0
    assert repr(result) == "+---+\n| a |\n+---+\n+---+"
    assert result._repr_html_() == (
        "<table><thead><tr><th>a</th></tr></thead><tbody></tbody></table><p>0 rows</p>"
    )


def test_repr_is_the_cli_text_table_with_null() -> None:
    result = prefdb.sql("SELECT * FROM (VALUES (1, 'a'), (NULL, '<b>')) AS t(x, s)")
    assert repr(result) == (
        "+------+-----+\n"
        "| x    | s   |\n"
        "+------+-----+\n"
        "| 1    | a   |\n"
        "| NULL | <b> |\n"
        "+------+-----+"
    )


def test_repr_shows_the_first_20_rows() -> None:
    result = prefdb.sql("SELECT value FROM range(30) ORDER BY value")
    lines = repr(result).splitlines()
    assert lines[-1] == "(30 rows, first 20 shown)"
    assert lines[3] == "| 0     |" and lines[22] == "| 19    |" and lines[23] == "+-------+"
    assert "| 20    |" not in lines


def test_repr_html_escapes_and_prints_null() -> None:
    result = prefdb.sql("""SELECT * FROM (VALUES ('<b>', NULL), ('a & "b"', 2)) AS t("<i>", n)""")
    assert result._repr_html_() == (
        "<table><thead><tr><th>&lt;i&gt;</th><th>n</th></tr></thead><tbody>"
        "<tr><td>&lt;b&gt;</td><td>NULL</td></tr>"
        "<tr><td>a &amp; &quot;b&quot;</td><td>2</td></tr>"
        "</tbody></table><p>2 rows</p>"
    )


def test_repr_html_counts_rows() -> None:
    assert prefdb.sql("SELECT 1 AS one")._repr_html_().endswith("</table><p>1 row</p>")
    html = prefdb.sql("SELECT value FROM range(25) ORDER BY value")._repr_html_()
    assert html.endswith("</table><p>25 rows, first 20 shown</p>")
    assert html.count("<tr>") == 21 and "<td>19</td>" in html and "<td>20</td>" not in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("SELECT [1, 2] AS v", [1, 2]),
        ("SELECT named_struct('a', 1) AS v", {"a": 1}),
        ("SELECT pass_at_k(10, 3, 1) AS v", pytest.approx(0.3)),
    ],
    ids=["list", "struct", "pass_at_k"],
)
def test_constant_nested_and_scalar_function_values(query: str, expected: object) -> None:
    result = prefdb.sql(query)
    assert pa.table(result).column("v").to_pylist() == [expected]
    assert result.fetchall() == [(expected,)]
    assert result.to_arrow().column("v").to_pylist() == [expected]


@pytest.mark.parametrize(
    ("query", "expected"),
    [("SELECT avg(n) AS n FROM t", [1.5]), ("SELECT 'text' AS n FROM t LIMIT 1", ["text"])],
    ids=["avg", "renamed"],
)
def test_input_pandas_metadata_does_not_reach_results(query: str, expected: list) -> None:
    frame = pd.DataFrame({"n": pd.array([1, 2, None], dtype="Int64")})
    result = prefdb.sql(query, t=frame)
    assert result.to_pandas()["n"].tolist() == expected
    assert b"pandas" not in (result.schema.metadata or {})
