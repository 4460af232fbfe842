"""The package's module-level API: versions, exports and ``function_names()``."""

from __future__ import annotations

import re
from pathlib import Path

import datafusion

import prefdb

REPO = Path(__file__).resolve().parents[2]


def test_function_names() -> None:
    names = prefdb.function_names()
    assert {"bt_rank", "leaderboard", "krippendorff_alpha", "ece", "elo_rank"} <= set(names)
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", name) for name in names)


def test_function_names_are_the_documented_functions() -> None:
    reference = (REPO / "docs" / "functions.md").read_text()
    documented = re.findall(r"^### `([a-z0-9_]+)`$", reference, flags=re.MULTILINE)
    assert sorted(prefdb.function_names()) == sorted(documented)


def test_every_function_is_in_information_schema() -> None:
    session = prefdb.connect()
    listed = session.sql(
        "SELECT DISTINCT routine_name FROM information_schema.routines"
    ).to_arrow()
    routines = set(listed.column("routine_name").to_pylist())
    missing = set(prefdb.function_names()) - routines - {"leaderboard"}
    assert not missing, f"not in information_schema.routines: {sorted(missing)}"


def test_versions() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", prefdb.__version__)
    assert re.fullmatch(r"55\.\d+\.\d+", prefdb.DATAFUSION_VERSION)
    assert datafusion.__version__.split(".")[0] == prefdb.DATAFUSION_VERSION.split(".")[0]


def test_exports() -> None:
    for name in prefdb.__all__:
        assert hasattr(prefdb, name), name
    assert callable(prefdb.connect) and callable(prefdb.sql) and callable(prefdb.register)
    assert isinstance(prefdb.connect(), prefdb.Session)
    assert isinstance(prefdb.sql("SELECT 1"), prefdb.Result)
