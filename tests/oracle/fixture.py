"""Write a reference table to its TSV fixture, or with --check confirm the committed one.

Shared by the oracle scripts in this folder (run as `python tests/oracle/<script>.py`, so
this module is importable by name).
"""
import sys
from pathlib import Path

import pandas as pd


def write_or_check(table: pd.DataFrame, out: Path, tolerance: float, summary: str = "") -> bool:
    """With --check, assert that the committed `out` has the same columns as `table` and
    values within `tolerance` (or the same text), and return True. Otherwise write `table`
    (12 decimals, NaN spelled out) and return False."""
    name = out.relative_to(out.parents[2])
    text = table.to_csv(sep="\t", float_format="%.12f", lineterminator="\n", na_rep="NaN")
    if "--check" in sys.argv:
        if out.read_text() != text:
            old = pd.read_csv(out, sep="\t", index_col=0)
            assert list(old.columns) == list(table.columns), f"{name}: columns differ from a fresh run"
            worst = (old - table).abs().max().max()
            assert worst < tolerance, f"{name} differs from a fresh run by {worst}"
        print(f"{name} confirmed")
        return True
    out.write_text(text)
    print(f"wrote {name}" + (f": {summary}" if summary else ""))
    return False
