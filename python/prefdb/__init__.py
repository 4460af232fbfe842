"""prefdb: SQL for preference analytics, over pandas, polars and Arrow data.

Pairwise leaderboards with intervals (``bt_rank`` and friends), inter-rater agreement,
calibration and judge diagnostics, as SQL aggregate functions, run by prefdb's engine
(Apache DataFusion) in this process.

>>> import prefdb
>>> board = prefdb.sql(
...     "SELECT * FROM leaderboard('SELECT bt_rank(model_a, model_b, winner) FROM votes')",
...     votes=df,
... )
>>> board.to_pandas()

``connect()`` opens a session that keeps its tables between queries; ``register(ctx)``
adds every prefdb function to a datafusion-python ``SessionContext``.
"""

from __future__ import annotations

import html
import os
from typing import Any, Iterator, Mapping

from . import _prefdb
from ._prefdb import (
    ConfigError,
    Error,
    ExecutionError,
    PlanError,
    ResourcesExhaustedError,
    TableError,
    VersionMismatchError,
)

__version__: str = _prefdb.__version__

#: The DataFusion version prefdb's engine is built on.
DATAFUSION_VERSION: str = _prefdb.DATAFUSION_VERSION

__all__ = [
    "ConfigError",
    "DATAFUSION_VERSION",
    "Error",
    "ExecutionError",
    "PlanError",
    "ResourcesExhaustedError",
    "Result",
    "Session",
    "TableError",
    "VersionMismatchError",
    "connect",
    "function_names",
    "register",
    "sql",
]

# Rows shown by repr() and in a notebook.
_PREVIEW_ROWS = 20


class Result:
    """The result of one statement, held in memory as Arrow record batches.

    Convert it with ``to_arrow()``, ``to_pandas()``, ``to_polars()`` or ``fetchall()``;
    any Arrow consumer can also read it directly (it has ``__arrow_c_stream__``), for
    example ``pyarrow.table(result)`` or ``polars.DataFrame(result)``.
    """

    __slots__ = ("_inner",)

    def __init__(self, inner: _prefdb.QueryResult) -> None:
        self._inner = inner

    @property
    def columns(self) -> list[str]:
        """The column names, in order."""
        return self._inner.columns

    @property
    def schema(self) -> "pyarrow.Schema":  # noqa: F821
        """The result's Arrow schema."""
        return self._inner.schema

    @property
    def num_rows(self) -> int:
        """The number of rows."""
        return self._inner.num_rows

    def __len__(self) -> int:
        return self._inner.num_rows

    def to_arrow(self) -> "pyarrow.Table":  # noqa: F821
        """The result as a ``pyarrow.Table``; the buffers are shared, not copied."""
        return self._inner.to_arrow()

    def to_pandas(self, **kwargs: Any) -> "pandas.DataFrame":  # noqa: F821
        """The result as a ``pandas.DataFrame``; keyword arguments go to
        ``pyarrow.Table.to_pandas`` (for example ``types_mapper=pd.ArrowDtype``)."""
        return self.to_arrow().to_pandas(**kwargs)

    def to_polars(self) -> "polars.DataFrame":  # noqa: F821
        """The result as a ``polars.DataFrame``."""
        import polars

        return polars.from_arrow(self.to_arrow())

    def fetchall(self) -> list[tuple[Any, ...]]:
        """Every row as a tuple of Python values, as a DB-API cursor's ``fetchall``."""
        table = self.to_arrow()
        columns = [column.to_pylist() for column in table.columns]
        if not columns:
            return [() for _ in range(table.num_rows)]
        return list(zip(*columns))

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.fetchall())

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        """The Arrow PyCapsule stream interface."""
        return self._inner.__arrow_c_stream__(requested_schema)

    def __repr__(self) -> str:
        text = self._inner._text(_PREVIEW_ROWS)
        if self.num_rows > _PREVIEW_ROWS:
            text += f"\n({self.num_rows} rows, first {_PREVIEW_ROWS} shown)"
        return text

    def _repr_html_(self) -> str:
        rows, more = self._inner._cells(_PREVIEW_ROWS)
        head = "".join(f"<th>{html.escape(name)}</th>" for name in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
            for row in rows
        )
        note = (
            f"<p>{self.num_rows} rows, first {len(rows)} shown</p>"
            if more
            else f"<p>{self.num_rows} row{'s' if self.num_rows != 1 else ''}</p>"
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{note}"


class Session:
    """A prefdb session: every prefdb function, and the tables registered in it.

    Open one with :func:`connect`. Queries run in prefdb's engine with the GIL released;
    Ctrl-C (KeyboardInterrupt) stops a running query.
    """

    __slots__ = ("_inner",)

    def __init__(self, inner: _prefdb.Session) -> None:
        self._inner = inner

    def register(self, name: str, obj: Any) -> "Session":
        """Register ``obj`` as table ``name``, replacing any table of that name.

        ``obj`` may be:

        - a path or URL (``str`` or ``os.PathLike``): a file, directory or glob of Parquet,
          CSV, JSON or Arrow files, or an ``s3://``, ``gs://``, ``az://`` or ``http(s)://``
          URL, by the same rules as the CLI's ``--table``;
        - a pandas DataFrame (its index is left out), a polars DataFrame, or a pyarrow
          Table, RecordBatch or RecordBatchReader;
        - anything with the Arrow PyCapsule interface (``__arrow_c_stream__`` or
          ``__arrow_c_array__``).

        Arrow data is shared, not copied; a pandas DataFrame is converted to Arrow once.
        A stream (a RecordBatchReader) is read to its end here. Returns the session.
        """
        if not isinstance(name, str):
            raise TypeError(f"table name must be a str, got {type(name).__name__}")
        if isinstance(obj, (str, os.PathLike)):
            self._inner.register_location(name, os.fspath(obj))
            return self
        data = _as_arrow(obj)
        self._inner.register_arrow(name, data)
        return self

    def deregister(self, name: str) -> None:
        """Remove table ``name``; removing a table that does not exist is not an error."""
        self._inner.deregister(name)

    def tables(self) -> list[str]:
        """The names of the registered tables, sorted."""
        return self._inner.table_names()

    def sql(self, query: str) -> Result:
        """Run one SQL statement and return its result.

        Raises a :class:`prefdb.Error` subclass with the message the prefdb CLI prints.
        """
        if not isinstance(query, str):
            raise TypeError(f"query must be a str, got {type(query).__name__}")
        return Result(self._inner.sql(query))

    def __repr__(self) -> str:
        return f"<prefdb.Session tables={self.tables()!r}>"


def _as_arrow(obj: Any) -> Any:
    """``obj`` as something the engine reads through the Arrow PyCapsule interface."""
    module = type(obj).__module__.split(".")[0]
    if module == "pandas":
        import pandas
        import pyarrow

        if isinstance(obj, pandas.DataFrame):
            return pyarrow.Table.from_pandas(obj, preserve_index=False)
        if isinstance(obj, pandas.Series):
            return pyarrow.Table.from_pandas(obj.to_frame(), preserve_index=False)
    if hasattr(obj, "__arrow_c_stream__") or hasattr(obj, "__arrow_c_array__"):
        return obj
    if module == "polars" and hasattr(obj, "to_arrow"):
        return obj.to_arrow()
    raise TypeError(
        "cannot register an object of type "
        f"{type(obj).__module__}.{type(obj).__qualname__}: give a path or URL, a pandas or "
        "polars DataFrame, a pyarrow Table, RecordBatch or RecordBatchReader, or an object "
        "with __arrow_c_stream__"
    )


def connect(
    tables: Mapping[str, Any] | None = None,
    config: str | os.PathLike[str] | None = None,
    *,
    memory_limit: str | None = None,
) -> Session:
    """Open a prefdb session with every prefdb function registered.

    ``tables`` maps table names to paths, URLs or data, as :meth:`Session.register`
    takes them. ``config`` is a ``prefdb.toml`` with ``[tables]`` and ``[stores]``
    (object-store settings), read as the CLI's ``--config`` reads it; ``tables`` wins
    over the file on a clash of names. ``memory_limit`` caps the memory all of the
    session's queries hold together ("4GiB", "512MB", or "none"); the default is half of
    the machine's memory, as in the CLI.
    """
    tables = dict(tables or {})
    lowered: dict[str, str] = {}
    for name in tables:
        if not isinstance(name, str):
            raise TypeError(f"table names must be str, got {type(name).__name__}")
        if name.lower() in lowered:
            raise TableError(
                f"table '{name}' is given twice ('{lowered[name.lower()]}' and '{name}'): "
                "give each table its own name"
            )
        lowered[name.lower()] = name
    locations = [
        (name, os.fspath(obj))
        for name, obj in tables.items()
        if isinstance(obj, (str, os.PathLike))
    ]
    session = Session(
        _prefdb.Session(
            locations,
            os.fspath(config) if config is not None else None,
            memory_limit,
        )
    )
    for name, obj in tables.items():
        if not isinstance(obj, (str, os.PathLike)):
            session.register(name, obj)
    return session


def sql(query: str, /, **tables: Any) -> Result:
    """Run one statement in a new session with ``tables`` registered by name.

    >>> prefdb.sql("SELECT bt_rank(model_a, model_b, winner) FROM votes", votes=df)
    """
    return connect(tables).sql(query)


def function_names() -> list[str]:
    """The names of every prefdb function: aggregates, scalars and ``leaderboard``."""
    return _prefdb.function_names()


def register(ctx: Any) -> None:
    """Add every prefdb function to a datafusion-python ``SessionContext``.

    The aggregates (``bt_rank``, ``krippendorff_alpha``, ``ece``, ...) and the scalar
    functions go through DataFusion's FFI, whose ABI holds within one DataFusion major
    version: the ``datafusion`` package must have the major version prefdb is built on
    (``prefdb.DATAFUSION_VERSION``), or this raises :class:`VersionMismatchError`.
    ``leaderboard(query)`` plans its query in ``ctx`` and returns the same flat rows as in
    a prefdb session. prefdb's memory limit does not apply inside datafusion-python: its
    memory pool does not reach prefdb's functions through the FFI.
    """
    from ._datafusion import register as register_with_datafusion

    register_with_datafusion(ctx)
