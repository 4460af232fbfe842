"""Leaderboards and agreement on LLMFAO: the package gives what the prefdb CLI gives (its
``--format json`` output, to 1e-12), whatever form the data arrives in."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import prefdb

LEADERBOARD_COLUMNS = [
    "rank",
    "item",
    "rating",
    "ci_lower",
    "ci_upper",
    "rank_lower",
    "rank_upper",
    "wins",
    "losses",
    "ties",
    "battles",
    "tie_param",
]


def leaderboard(query: str) -> str:
    """``SELECT * FROM leaderboard('query')``, with the query's quotes doubled."""
    quoted = query.replace("'", "''")
    return f"SELECT * FROM leaderboard('{quoted}')"


# winner names the column ('left' or 'right') that won, which bt_rank reads as side a or b.
BT = 'SELECT bt_rank("left", "right", winner) FROM votes'

QUERIES = {
    "bt_rank": leaderboard(BT),
    "bt_rank_fisher": leaderboard(
        """SELECT bt_rank("left", "right", winner, 'se=fisher, confidence=0.9') FROM votes"""
    ),
    "bt_rank_bootstrap": leaderboard(
        """SELECT bt_rank("left", "right", winner, 'bootstrap=100, seed=7') FROM votes"""
    ),
    "bt_rank_davidson": leaderboard(
        """SELECT bt_rank("left", "right", winner, 'ties=davidson') FROM votes"""
    ),
    "elo_rank": leaderboard(
        """SELECT elo_rank("left", "right", winner ORDER BY id, worker) FROM votes"""
    ),
    "bt_rank_per_prompt": leaderboard(
        """SELECT prompt, bt_rank("left", "right", winner) FROM votes GROUP BY prompt"""
    )
    + " ORDER BY prompt, rank, item",
    "win_rate_per_worker": leaderboard(
        """SELECT worker, avg_win_rate("left", "right", winner) FROM votes GROUP BY worker"""
    )
    + " ORDER BY worker, item",
    # id names one comparison, which several workers judged.
    "krippendorff_alpha": (
        "SELECT krippendorff_alpha(id, worker, winner) AS nominal, "
        "krippendorff_alpha(id, worker, winner, 'level=ordinal') AS ordinal FROM votes"
    ),
    "krippendorff_alpha_per_prompt": (
        "SELECT prompt, krippendorff_alpha(id, worker, winner) AS alpha, count(*) AS n "
        "FROM votes GROUP BY prompt ORDER BY prompt"
    ),
}


def as_rows(result: prefdb.Result) -> list[dict[str, Any]]:
    return result.to_arrow().to_pylist()


@pytest.mark.parametrize("name", QUERIES)
def test_package_equals_the_cli(
    name: str, prefdb_cli, llmfao: pd.DataFrame, llmfao_path: Path, rows_close: Callable
) -> None:
    query = QUERIES[name]
    expected = prefdb_cli.rows(query, votes=llmfao_path)
    result = prefdb.sql(query, votes=llmfao)
    assert result.columns == list(expected[0])
    rows_close(as_rows(result), expected)


def test_grouped_results_have_several_groups(prefdb_cli, llmfao_path: Path) -> None:
    per_prompt = prefdb_cli.rows(QUERIES["bt_rank_per_prompt"], votes=llmfao_path)
    assert len({row["prompt"] for row in per_prompt}) == 13
    per_worker = prefdb_cli.rows(QUERIES["win_rate_per_worker"], votes=llmfao_path)
    assert len({row["worker"] for row in per_worker}) == 124


def test_the_flat_leaderboard(llmfao: pd.DataFrame) -> None:
    """What the leaderboard must be, independently of the CLI."""
    result = prefdb.sql(QUERIES["bt_rank"], votes=llmfao)
    assert result.columns == LEADERBOARD_COLUMNS
    assert result.schema.field("item").type in (pa.string(), pa.large_string(), pa.string_view())
    assert result.schema.field("rank").type == pa.int64()
    rows = as_rows(result)
    assert len(rows) == 59 == llmfao[["left", "right"]].stack().nunique()
    assert [r["rank"] for r in rows][0] == 1
    assert all(a["rating"] >= b["rating"] for a, b in zip(rows, rows[1:]))
    assert all(a["rank"] <= b["rank"] for a, b in zip(rows, rows[1:]))
    assert all(r["battles"] == r["wins"] + r["losses"] + r["ties"] for r in rows)
    assert sum(r["battles"] for r in rows) == 2 * len(llmfao)
    assert sum(r["ties"] for r in rows) == 2 * (llmfao["winner"] == "tie").sum()
    # The strengths have mean 0, so the ratings are centred on base (1000).
    assert sum(r["rating"] for r in rows) / len(rows) == pytest.approx(1000, abs=1e-6)
    assert all(r["ci_lower"] is None and r["tie_param"] is None for r in rows)


def test_intervals_and_tie_parameter(llmfao: pd.DataFrame) -> None:
    fisher = as_rows(prefdb.sql(QUERIES["bt_rank_fisher"], votes=llmfao))
    assert all(r["ci_lower"] < r["rating"] < r["ci_upper"] for r in fisher)
    assert all(1 <= r["rank_lower"] <= r["rank"] <= r["rank_upper"] <= 59 for r in fisher)
    davidson = as_rows(prefdb.sql(QUERIES["bt_rank_davidson"], votes=llmfao))
    assert len({r["tie_param"] for r in davidson}) == 1 and davidson[0]["tie_param"] > 0


@pytest.mark.parametrize(
    "kind",
    ["polars", "pyarrow", "path", "connect"],
)
def test_the_same_leaderboard_from_every_input(
    kind: str, llmfao: pd.DataFrame, llmfao_path: Path, rows_close: Callable
) -> None:
    query = QUERIES["bt_rank_per_prompt"]
    expected = as_rows(prefdb.sql(query, votes=llmfao))
    if kind == "polars":
        result = prefdb.sql(query, votes=pl.from_pandas(llmfao))
    elif kind == "pyarrow":
        result = prefdb.sql(query, votes=pa.Table.from_pandas(llmfao, preserve_index=False))
    elif kind == "path":
        result = prefdb.sql(query, votes=llmfao_path)
    else:
        result = prefdb.connect({"votes": str(llmfao_path)}).sql(query)
    rows_close(as_rows(result), expected)
