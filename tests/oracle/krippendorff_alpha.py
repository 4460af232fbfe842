#!/usr/bin/env python3
"""Reference Krippendorff's alpha values from the `krippendorff` package (0.9.0).

Generates reliability data of varied shape (2 to 10 raters, 2 to 70 categories, missing
ratings, up to 12,000 units) and writes:

  tests/fixtures/alpha_data.csv   dataset,unit,rater,value   (long form, missing rows left out)
  tests/fixtures/alpha_ref.tsv    dataset, level, alpha, evalica   (17 digits; evalica's
                                  alpha, asserted within 1e-9 of the package's)

Consumed by crates/prefdb-stats/tests/krippendorff_reference.rs and tests/reference.rs.

Usage: python tests/oracle/krippendorff_alpha.py [--check]
"""
import sys
from pathlib import Path

import evalica
import krippendorff
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "fixtures" / "alpha_data.csv"
REF = ROOT / "tests" / "fixtures" / "alpha_ref.tsv"
LEVELS = ["nominal", "ordinal", "interval", "ratio"]

# (raters, categories, units, missing share, agreement strength)
SHAPES = [
    (2, 2, 50, 0.0, 0.8),
    (3, 5, 200, 0.2, 0.6),
    (4, 3, 1000, 0.3, 0.3),
    (10, 7, 500, 0.5, 0.7),
    (5, 4, 12000, 0.25, 0.5),
    (6, 6, 80, 0.1, 0.0),
    # Longer scales: prefdb tallies up to 16 categories densely, up to 64 sparsely, and
    # beyond that through the general path.
    (4, 20, 300, 0.2, 0.5),
    (3, 70, 400, 0.1, 0.6),
]


def dataset(rng, raters, categories, units, missing, strength):
    """Each unit has a true category; a rater reports it with probability `strength` and a
    uniform category otherwise. Values are the integers 1..categories."""
    truth = rng.integers(1, categories + 1, size=units)
    data = np.where(
        rng.random((raters, units)) < strength,
        truth,
        rng.integers(1, categories + 1, size=(raters, units)),
    ).astype(float)
    data[rng.random((raters, units)) < missing] = np.nan
    return data


def main():
    rng = np.random.default_rng(20261122)
    rows, refs = ["dataset,unit,rater,value"], ["dataset\tlevel\talpha\tevalica"]
    for d, shape in enumerate(SHAPES):
        data = dataset(rng, *shape)
        for r in range(data.shape[0]):
            for u in range(data.shape[1]):
                if not np.isnan(data[r, u]):
                    rows.append(f"{d},{u},{r},{int(data[r, u])}")
        for level in LEVELS:
            alpha = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
            # evalica's alpha (observers as rows, units as columns, as the package takes)
            # is a second, independent implementation.
            second = evalica.alpha(pd.DataFrame(data), distance=level).alpha
            assert abs(alpha - second) < 1e-9, f"dataset {d} {level}: {alpha} vs evalica {second}"
            refs.append(f"{d}\t{level}\t{alpha:.17g}\t{second:.17g}")
    data_text, ref_text = "\n".join(rows) + "\n", "\n".join(refs) + "\n"
    if "--check" in sys.argv:
        assert DATA.read_text() == data_text, "alpha_data.csv differs from a fresh run"
        old = {tuple(l.split("\t")[:2]): float(l.split("\t")[2]) for l in REF.read_text().splitlines()[1:]}
        new = {tuple(l.split("\t")[:2]): float(l.split("\t")[2]) for l in ref_text.splitlines()[1:]}
        assert REF.read_text().splitlines()[0] == ref_text.splitlines()[0], "alpha_ref.tsv columns differ"
        worst = max(abs(old[k] - new[k]) for k in new)
        assert worst < 1e-12, f"alpha_ref.tsv differs by {worst}"
        print("krippendorff fixtures confirmed")
    else:
        DATA.write_text(data_text)
        REF.write_text(ref_text)
        print(f"wrote {len(rows) - 1} ratings in {len(SHAPES)} datasets and {len(refs) - 1} reference alphas")


if __name__ == "__main__":
    main()
