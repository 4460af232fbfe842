"""Fixtures shared by prefdb's Python tests: the LLMFAO data, the prefdb CLI, and comparing
rows to 1e-12.

The shared data lives beside the repository (``../shared/data`` from its root) and is read
in place, never copied into the repository. The CLI is the debug binary the workspace build
leaves in ``$CARGO_TARGET_DIR`` (``PREFDB_BIN`` overrides it).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Mapping

import pandas as pd
import pytest

TESTS = Path(__file__).resolve().parent
PACKAGE_SOURCES = TESTS.parent
REPO = TESTS.parents[1]
SHARED_DATA = TESTS.parents[2] / "shared" / "data"


def _test_the_installed_package() -> None:
    """``python -m pytest`` run in python/ puts python/ first on sys.path, and there the
    package's sources have no compiled extension (the build installs a wheel instead of
    writing one into the clone). Import the installed package, unless the sources were
    built in place (``maturin develop``)."""
    built_in_place = any((PACKAGE_SOURCES / "prefdb").glob("_prefdb*.so")) or any(
        (PACKAGE_SOURCES / "prefdb").glob("_prefdb*.pyd")
    )
    if not built_in_place:
        sys.path[:] = [p for p in sys.path if Path(p or os.curdir).resolve() != PACKAGE_SOURCES]


_test_the_installed_package()

#: Results computed twice (CLI and package, prefdb and datafusion-python) agree this closely.
TOLERANCE = 1e-12


def require(present: bool, reason: str) -> None:
    """Skip the test when a prerequisite is absent; on CI (``CI=true``) fail it instead."""
    if present:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI=true, where it is required", pytrace=False)
    pytest.skip(reason)


def cli_binary() -> Path:
    """The prefdb CLI: ``$PREFDB_BIN``, else ``$CARGO_TARGET_DIR/debug/prefdb`` (with
    ``CARGO_TARGET_DIR`` defaulting to ``~/.cache/prefdb/target``, as in ``.ci/run``)."""
    if os.environ.get("PREFDB_BIN"):
        return Path(os.environ["PREFDB_BIN"])
    target = os.environ.get("CARGO_TARGET_DIR") or str(Path.home() / ".cache/prefdb/target")
    return Path(target) / "debug" / "prefdb"


class Cli:
    """Runs ``prefdb sql`` as a user would, to compare the package with it."""

    def __init__(self, binary: Path) -> None:
        self.binary = binary

    def run(
        self,
        query: str,
        tables: Mapping[str, os.PathLike[str] | str] | None = None,
        *options: str,
    ) -> subprocess.CompletedProcess[str]:
        args = [str(self.binary), "sql", query, *options]
        for name, location in (tables or {}).items():
            args += ["--table", f"{name}={os.fspath(location)}"]
        return subprocess.run(args, capture_output=True, text=True, timeout=120)

    def rows(self, query: str, **tables: os.PathLike[str] | str) -> list[dict[str, Any]]:
        """The result of ``query`` from ``--format json``: one JSON object per line."""
        done = self.run(query, tables, "--format", "json")
        assert done.returncode == 0, done.stderr
        return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]

    def error(self, query: str, *options: str, **tables: os.PathLike[str] | str) -> str:
        """The message the CLI prints after ``error: `` when ``query`` fails."""
        done = self.run(query, tables, *options)
        assert done.returncode != 0, f"expected an error, got:\n{done.stdout}"
        assert done.stderr.startswith("error: "), done.stderr
        return done.stderr.removeprefix("error: ").rstrip("\n")


@pytest.fixture(scope="session")
def prefdb_cli() -> Cli:
    binary = cli_binary()
    require(
        binary.is_file() and os.access(binary, os.X_OK),
        f"the prefdb CLI is not built at {binary} (build it with cargo, or set PREFDB_BIN)",
    )
    return Cli(binary)


@pytest.fixture(scope="session")
def llmfao_path() -> Path:
    """LLMFAO's 8,931 crowd comparisons: id, prompt, model_x, model_y, worker, winner
    ('left' | 'right' | 'tie'), left, right (the model names)."""
    path = SHARED_DATA / "llmfao.csv"
    require(path.is_file(), f"the shared LLMFAO data is not at {path}")
    return path


@pytest.fixture(scope="session")
def llmfao(llmfao_path: Path) -> pd.DataFrame:
    """LLMFAO as a pandas DataFrame; shared by many tests, so never modify it."""
    return pd.read_csv(llmfao_path)


def _assert_close(actual: Any, expected: Any, where: str) -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: {actual!r} is not a struct"
        assert list(actual) == list(expected), f"{where}: fields differ"
        for key in expected:
            _assert_close(actual[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, (list, tuple)):
        assert isinstance(actual, (list, tuple)), f"{where}: {actual!r} is not a list"
        assert len(actual) == len(expected), f"{where}: {len(actual)} != {len(expected)} items"
        for i, (a, e) in enumerate(zip(actual, expected)):
            _assert_close(a, e, f"{where}[{i}]")
    elif isinstance(expected, float) and not isinstance(actual, bool):
        assert isinstance(actual, (int, float)), f"{where}: {actual!r} is not a number"
        if math.isnan(expected):
            assert math.isnan(actual), f"{where}: {actual!r} is not NaN"
        else:
            assert actual == pytest.approx(expected, rel=TOLERANCE, abs=TOLERANCE), where
    else:
        assert type(actual) is type(expected) and actual == expected, (
            f"{where}: {actual!r} != {expected!r}"
        )


def assert_rows_close(actual: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    """The same rows, columns and values; floats to ``TOLERANCE`` (relative, or absolute
    near 0), NaN equal to NaN, everything else exactly."""
    assert len(actual) == len(expected), f"{len(actual)} rows, expected {len(expected)}"
    assert len(expected) > 0, "compare non-empty results"
    for i, (a, e) in enumerate(zip(actual, expected)):
        _assert_close(a, e, f"row {i}")


@pytest.fixture(scope="session")
def rows_close() -> Callable[[list[dict[str, Any]], list[dict[str, Any]]], None]:
    """:func:`assert_rows_close`, for the test modules."""
    return assert_rows_close
