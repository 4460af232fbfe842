"""prefdb's exceptions: which class each failure raises, with the message the CLI prints
after ``error: ``; config files and memory limits."""

from __future__ import annotations

from pathlib import Path

import pytest

import prefdb

ERROR_CLASSES = [
    prefdb.PlanError,
    prefdb.ExecutionError,
    prefdb.ResourcesExhaustedError,
    prefdb.TableError,
    prefdb.ConfigError,
    prefdb.VersionMismatchError,
]

BT_OPTIONS = "scale, base, ties, prior, max_iter, tol, se, confidence, bootstrap, seed, reweight, min_pair_count, anchor"

# Queries over LLMFAO registered from its CSV file, as the CLI's --table reads it (so that
# type names in messages, such as Utf8, are the same).
PLAN_ERRORS = {
    "SELECT * FROM nosuch": "table 'prefdb.public.nosuch' not found",
    "SELECT nosuch FROM votes": (
        "No field named nosuch. Valid fields are votes.id, votes.prompt, votes.model_x, "
        "votes.model_y, votes.worker, votes.winner, votes.left, votes.right."
    ),
    """SELECT bt_rank("left", "right", winner, 'scael=3') FROM votes""": (
        f"bt_rank: unknown option 'scael' (expected one of: {BT_OPTIONS})"
    ),
    """SELECT bt_rank("left", "right", winner, 'bogus') FROM votes""": (
        f"bt_rank: option 'bogus' is not of the form key=value (expected keys: {BT_OPTIONS})"
    ),
    """SELECT bt_rank("left", "right", winner, 'bootstrap=100000000') FROM votes""": (
        "bt_rank: option 'bootstrap' must be an integer from 0 to 100000, got '100000000'"
    ),
    "SELECT krippendorff_alpha(id, worker, winner, 'level=interval') FROM votes": (
        "krippendorff_alpha: level=interval needs numeric values, got Utf8; "
        "use level=nominal or level=ordinal for text labels"
    ),
    "SELECT ece(0.5, 1, 'bins=0')": (
        "ece: option 'bins' must be an integer from 1 to 10000, got '0'"
    ),
    """SELECT elo_rank("left", "right", winner) FROM votes""": (
        "elo_rank: online Elo depends on the order of the rows; add ORDER BY inside the call, "
        "e.g. elo_rank(model_a, model_b, winner ORDER BY tstamp)"
    ),
    "SELECT krippendorf_alpha(id, worker, winner) FROM votes": (
        "Invalid function 'krippendorf_alpha'. Did you mean 'krippendorff_alpha'?"
    ),
    "SELECT * FROM leaderboard('SELECT 1')": (
        "leaderboard: the query must return exactly one list-of-structs column such as "
        "bt_rank(...), win_matrix(...) or avg_win_rate(...); it returns 0"
    ),
    """SELECT * FROM leaderboard('SELECT bt_rank("left", "right", winner) FROM nosuch')""": (
        "table 'prefdb.public.nosuch' not found"
    ),
    "SELEC 1": (
        "SQL syntax error: sql parser error: Expected: an SQL statement, found: SELEC at Line: 1, "
        "Column: 1"
    ),
}

EXECUTION_ERRORS = {
    "SELECT bt_rank(a, b, o) FROM (VALUES ('x', 'y', 'bogus')) AS t(a, b, o)": (
        "bt_rank: unknown outcome 'bogus' (expected one of 'a', 'b', 'tie', 'model_a', "
        "'model_b', 'tie (bothbad)', 'both_bad', 'left', 'right', matched case-insensitively, or a "
        "number in [0, 1])"
    ),
    """SELECT bt_rank("left", "right", winner, 'prior=0') FROM votes WHERE "left" = 'GPT 4'""": (
        "bt_rank: with prior=0 the maximum-likelihood ratings do not exist because item "
        "'command' never lost; use a prior > 0 (the default is 0.01)"
    ),
    "SELECT ece(x, y) FROM (VALUES (1.5, 1)) AS t(x, y)": "ece: prob must be in [0, 1], got 1.5",
    "SELECT CAST('x' AS INT)": (
        "Arrow error: Cast error: Cannot cast string 'x' to value of Int32 type"
    ),
}


@pytest.fixture(scope="module")
def votes_session(llmfao_path: Path) -> prefdb.Session:
    return prefdb.connect({"votes": llmfao_path})


def test_every_error_is_a_prefdb_error() -> None:
    for error_class in ERROR_CLASSES:
        assert issubclass(error_class, prefdb.Error), error_class
        assert error_class.__name__ in prefdb.__all__
    assert issubclass(prefdb.Error, Exception)
    assert issubclass(prefdb.ResourcesExhaustedError, prefdb.ExecutionError)
    assert not issubclass(prefdb.PlanError, prefdb.ExecutionError)


@pytest.mark.parametrize("query", PLAN_ERRORS)
def test_plan_errors(votes_session: prefdb.Session, query: str) -> None:
    with pytest.raises(prefdb.PlanError) as caught:
        votes_session.sql(query)
    assert str(caught.value) == PLAN_ERRORS[query]


@pytest.mark.parametrize("query", EXECUTION_ERRORS)
def test_execution_errors(votes_session: prefdb.Session, query: str) -> None:
    with pytest.raises(prefdb.ExecutionError) as caught:
        votes_session.sql(query)
    assert type(caught.value) is prefdb.ExecutionError
    assert str(caught.value) == EXECUTION_ERRORS[query]


@pytest.mark.parametrize("query", [*PLAN_ERRORS, *EXECUTION_ERRORS])
def test_messages_are_the_cli_messages(prefdb_cli, llmfao_path: Path, query: str) -> None:
    expected = PLAN_ERRORS.get(query) or EXECUTION_ERRORS[query]
    assert prefdb_cli.error(query, votes=llmfao_path) == expected


def test_a_session_survives_its_errors(votes_session: prefdb.Session) -> None:
    for query in [*PLAN_ERRORS, *EXECUTION_ERRORS]:
        with pytest.raises(prefdb.Error):
            votes_session.sql(query)
    assert votes_session.sql("SELECT count(*) FROM votes").fetchall() == [(8931,)]


def test_a_query_must_be_a_str() -> None:
    with pytest.raises(TypeError, match=r"^query must be a str, got bytes$"):
        prefdb.connect().sql(b"SELECT 1")  # type: ignore[arg-type]


@pytest.mark.parametrize("as_type", [str, Path], ids=["str", "pathlib"])
def test_a_missing_file_is_a_table_error(tmp_path: Path, as_type: type) -> None:
    missing = tmp_path / "missing.parquet"
    expected = f"table 'm': no such file or directory: '{missing}'"
    with pytest.raises(prefdb.TableError) as caught:
        prefdb.connect().register("m", as_type(missing))
    assert str(caught.value) == expected
    with pytest.raises(prefdb.TableError) as caught:
        prefdb.connect({"m": as_type(missing)})
    assert str(caught.value) == expected
    with pytest.raises(prefdb.TableError) as caught:
        prefdb.sql("SELECT 1", m=as_type(missing))
    assert str(caught.value) == expected


def test_table_errors_name_what_is_wrong(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a table")
    session = prefdb.connect()
    cases = {
        tmp_path / "notes.txt": (
            f"table 'm': cannot tell the format of '{tmp_path / 'notes.txt'}': use a .parquet, "
            ".csv, .json/.ndjson or .arrow extension"
        ),
        tmp_path / "none" / "*.csv": f"table 'm': no files match '{tmp_path / 'none' / '*.csv'}'",
    }
    for location, expected in cases.items():
        with pytest.raises(prefdb.TableError) as caught:
            session.register("m", location)
        assert str(caught.value) == expected
    assert session.tables() == []


def test_table_errors_are_the_cli_messages(prefdb_cli, tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    with pytest.raises(prefdb.TableError) as caught:
        prefdb.connect({"m": missing})
    assert prefdb_cli.error("SELECT 1", m=missing) == str(caught.value)


@pytest.fixture
def bad_toml(tmp_path: Path) -> Path:
    path = tmp_path / "prefdb.toml"
    path.write_text("[tables]\nvotes = \n")
    return path


def test_a_config_file_with_a_syntax_error(bad_toml: Path) -> None:
    with pytest.raises(prefdb.ConfigError) as caught:
        prefdb.connect(config=bad_toml)
    assert str(caught.value) == (
        f"config file '{bad_toml}': line 2, column 9: string values must be quoted, "
        "expected literal string"
    )


def test_config_errors_are_the_cli_messages(prefdb_cli, bad_toml: Path) -> None:
    with pytest.raises(prefdb.ConfigError) as caught:
        prefdb.connect(config=str(bad_toml))
    assert prefdb_cli.error("SELECT 1", "--config", str(bad_toml)) == str(caught.value)


def test_config_files_that_cannot_be_used(tmp_path: Path) -> None:
    unknown_key = tmp_path / "unknown.toml"
    unknown_key.write_text("[tables]\n[server]\nbogus = 1\n")
    with pytest.raises(prefdb.ConfigError) as caught:
        prefdb.connect(config=unknown_key)
    assert str(caught.value) == (
        f"config file '{unknown_key}': line 3, column 1: unknown field `bogus`, expected one of "
        "`listen`, `allow_ddl`, `max_connections`, `query_timeout_secs`, `memory_limit`, "
        "`shutdown_grace_secs`, `tls_cert`, `tls_key`"
    )
    absent = tmp_path / "absent.toml"
    with pytest.raises(prefdb.ConfigError) as caught:
        prefdb.connect(config=absent)
    assert str(caught.value) == (
        f"cannot read config file '{absent}': No such file or directory (os error 2)"
    )


def test_config_tables_are_registered(tmp_path: Path, llmfao_path: Path) -> None:
    config = tmp_path / "prefdb.toml"
    config.write_text(f'[tables]\nvotes = "{llmfao_path}"\nalso = "{llmfao_path}"\n')
    session = prefdb.connect(config=config)
    assert session.tables() == ["also", "votes"]
    assert session.sql("SELECT count(*) FROM votes").fetchall() == [(8931,)]
    # tables= wins over the file on a clash of names.
    session = prefdb.connect({"votes": prefdb.sql("SELECT 1 AS one").to_arrow()}, config=config)
    assert session.sql("SELECT * FROM votes").fetchall() == [(1,)]
    assert session.sql("SELECT count(*) FROM also").fetchall() == [(8931,)]


def test_a_config_table_that_is_missing(tmp_path: Path) -> None:
    config = tmp_path / "prefdb.toml"
    missing = tmp_path / "missing.csv"
    config.write_text(f'[tables]\nvotes = "{missing}"\n')
    with pytest.raises(prefdb.TableError) as caught:
        prefdb.connect(config=config)
    assert str(caught.value) == f"table 'votes': no such file or directory: '{missing}'"


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        ("lots", "memory_limit: invalid size 'lots': expected a number and a unit, as in 4GiB"),
        ("0", "memory_limit: invalid size '0': must be at least 1 byte"),
    ],
)
def test_a_bad_memory_limit(limit: str, expected: str) -> None:
    with pytest.raises(prefdb.ConfigError) as caught:
        prefdb.connect(memory_limit=limit)
    assert str(caught.value) == expected


def test_memory_limit_sizes_the_cli_takes() -> None:
    for limit in ("4GiB", "512MB", "none"):
        assert prefdb.connect(memory_limit=limit).sql("SELECT 1 AS x").fetchall() == [(1,)]


def test_a_query_over_the_memory_limit() -> None:
    query = "SELECT value % 200000 AS k, count(*) AS n FROM range(200000) GROUP BY 1"
    small = prefdb.connect(memory_limit="1MiB")
    with pytest.raises(prefdb.ResourcesExhaustedError) as caught:
        small.sql(query)
    assert str(caught.value).startswith("resources exhausted: ")
    assert isinstance(caught.value, prefdb.ExecutionError)
    assert small.sql("SELECT count(*) FROM range(1000)").fetchall() == [(1000,)]
    assert len(prefdb.connect(memory_limit="none").sql(query)) == 200000
