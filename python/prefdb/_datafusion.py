"""prefdb's functions in datafusion-python: see :func:`prefdb.register`."""

from __future__ import annotations

import threading
from typing import Any, Callable, TypeVar

from . import _prefdb

T = TypeVar("T")


def register(ctx: Any) -> None:
    import datafusion
    from datafusion.user_defined import TableFunction

    installed = getattr(datafusion, "__version__", "unknown")
    if installed.split(".")[0] != str(_prefdb.DATAFUSION_MAJOR):
        raise _prefdb.VersionMismatchError(
            f"prefdb is built on DataFusion {_prefdb.DATAFUSION_VERSION} and its functions "
            f"load only into datafusion {_prefdb.DATAFUSION_MAJOR}.x, but datafusion "
            f"{installed} is installed: pip install 'datafusion=={_prefdb.DATAFUSION_MAJOR}.*'"
        )
    if not isinstance(ctx, datafusion.SessionContext):
        raise TypeError(
            f"register takes a datafusion.SessionContext, got {type(ctx).__name__} "
            "(a prefdb.Session has every prefdb function already)"
        )
    for function in _prefdb.ffi_aggregates():
        ctx.register_udaf(datafusion.udaf(function))
    for function in _prefdb.ffi_scalars():
        ctx.register_udf(datafusion.udf(function))
    ctx.register_udtf(TableFunction("leaderboard", _leaderboard, ctx, with_session=True))


def _leaderboard(query: Any, *rest: Any, session: Any) -> Any:
    """``leaderboard(query [, part])`` in datafusion-python: the query is planned there
    (prefdb's aggregates reach it through the FFI) and flattened by the SQL prefdb writes for
    its schema, so it returns what prefdb's own ``leaderboard`` returns."""
    import datafusion

    if len(rest) > 1:
        raise _prefdb.PlanError(_prefdb.LEADERBOARD_USAGE)
    text = _string_literal(query)
    part = _string_literal(rest[0]) if rest else None
    # Only a query: never DDL, DML or a SET smuggled in through the string.
    only_queries = (
        datafusion.SQLOptions()
        .with_allow_ddl(False)
        .with_allow_dml(False)
        .with_allow_statements(False)
    )
    inner = _off_runtime(lambda: session.sql_with_options(text, only_queries))
    flat = _prefdb.flatten_sql(inner.schema(), text, part)
    return _off_runtime(lambda: session.sql_with_options(flat, only_queries)).into_view()


def _string_literal(expr: Any) -> str:
    try:
        literal = expr.to_variant()
    except Exception:  # not a literal at all
        raise _prefdb.PlanError(_prefdb.LEADERBOARD_USAGE) from None
    if type(literal).__name__ != "Literal" or str(literal.data_type()) not in (
        "Utf8",
        "LargeUtf8",
        "Utf8View",
    ):
        raise _prefdb.PlanError(_prefdb.LEADERBOARD_USAGE)
    return str(literal)


def _off_runtime(plan: Callable[[], T]) -> T:
    """Run ``plan`` on a thread of its own.

    datafusion-python calls a table function while its runtime is planning the outer
    statement, and its ``sql`` blocks on that runtime, which it may not do from inside it.
    """
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = plan()
        except BaseException as error:  # handed to the calling thread
            outcome["error"] = error

    worker = threading.Thread(target=run, name="prefdb-leaderboard-plan")
    worker.start()
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
