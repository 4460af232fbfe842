#!/usr/bin/env python3
"""Reference intraclass correlations from pingouin's intraclass_corr.

  tests/fixtures/icc_data.csv  dataset,target,rater,score (complete designs)
  tests/fixtures/icc_ref.tsv   dataset, form, icc, f, df1, df2, p_value, ci_lower, ci_upper,
                               pingouin_ci_lower, pingouin_ci_upper

ICC, F, degrees of freedom and p-value come from pingouin with rounding off. pingouin
rounds its 95% interval to 2 decimals, so ci_lower/ci_upper are recomputed here from the
same formulas (Shrout & Fleiss 1979; McGraw & Wong 1996) with scipy.stats.f.ppf, and the
pingouin values are kept to check against at 2 decimals. Dataset 0 is Shrout & Fleiss's
Table 2 (6 targets, 4 judges), whose published ICCs are .17 .29 .71 .44 .62 .91.

Usage: python tests/oracle/icc.py [--check]
"""
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pingouin as pg
from scipy.stats import f as fdist

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "fixtures" / "icc_data.csv"
REF = ROOT / "tests" / "fixtures" / "icc_ref.tsv"
FORMS = ["ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k"]
SHROUT_FLEISS = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]


def intervals(x):
    """95% intervals for the six forms, as pingouin computes them, without rounding."""
    n, k = x.shape
    grand = x.mean()
    ss_t = k * ((x.mean(axis=1) - grand) ** 2).sum()
    ss_r = n * ((x.mean(axis=0) - grand) ** 2).sum()
    ss_e = ((x - grand) ** 2).sum() - ss_t - ss_r
    df1, dfe, dfw = n - 1, (n - 1) * (k - 1), n * (k - 1)
    msb, msj, mse, msw = ss_t / df1, ss_r / (k - 1), ss_e / dfe, (ss_r + ss_e) / dfw
    q = lambda a, b: fdist.ppf(0.975, a, b)
    f1, f3 = msb / msw, msb / mse
    f1l, f1u = f1 / q(df1, dfw), f1 * q(dfw, df1)
    f3l, f3u = f3 / q(df1, dfe), f3 * q(dfe, df1)
    icc2 = (msb - mse) / (msb + (k - 1) * mse + k * (msj - mse) / n)
    fj = msj / mse
    vn = dfe * (k * icc2 * fj + n * (1 + (k - 1) * icc2) - k * icc2) ** 2
    vd = df1 * k**2 * icc2**2 * fj**2 + (n * (1 + (k - 1) * icc2) - k * icc2) ** 2
    v = vn / vd
    f2u, f2l = q(n - 1, v), q(v, n - 1)
    l2 = n * (msb - f2u * mse) / (f2u * (k * msj + (k * n - k - n) * mse) + n * msb)
    u2 = n * (f2l * msb - mse) / (k * msj + (k * n - k - n) * mse + n * f2l * msb)
    return [
        ((f1l - 1) / (f1l + k - 1), (f1u - 1) / (f1u + k - 1)),
        (l2, u2),
        ((f3l - 1) / (f3l + k - 1), (f3u - 1) / (f3u + k - 1)),
        (1 - 1 / f1l, 1 - 1 / f1u),
        (l2 * k / (1 + l2 * (k - 1)), u2 * k / (1 + u2 * (k - 1))),
        (1 - 1 / f3l, 1 - 1 / f3u),
    ]


def main():
    pg.options["round"] = None
    rng = np.random.default_rng(7)
    designs = [np.array(SHROUT_FLEISS, dtype=float)]
    for n, k, noise in [(30, 3, 1.0), (200, 5, 0.5), (1000, 8, 2.0), (12, 2, 0.3)]:
        designs.append(
            rng.normal(0, 1, (n, 1)) + rng.normal(0, 0.5, (1, k)) + rng.normal(0, noise, (n, k))
        )
    rows, refs = ["dataset,target,rater,score"], [
        "dataset\tform\ticc\tf\tdf1\tdf2\tp_value\tci_lower\tci_upper\tpingouin_ci_lower\tpingouin_ci_upper"
    ]
    for d, x in enumerate(designs):
        frame = pd.DataFrame(
            [(t, r, x[t, r]) for t in range(x.shape[0]) for r in range(x.shape[1])],
            columns=["target", "rater", "score"],
        )
        rows += [f"{d},{t},{r},{s!r}" for t, r, s in frame.itertuples(index=False)]
        table = pg.intraclass_corr(frame, targets="target", raters="rater", ratings="score")
        for form, (_, row), (lo, hi) in zip(FORMS, table.iterrows(), intervals(x)):
            values = [row.ICC, row.F, row.df1, row.df2, row.pval, lo, hi, *row.CI95]
            refs.append(f"{d}\t{form}\t" + "\t".join(f"{float(v):.17g}" for v in values))
    data_text, ref_text = "\n".join(rows) + "\n", "\n".join(refs) + "\n"
    if "--check" in sys.argv:
        assert DATA.read_text() == data_text, "icc_data.csv differs from a fresh run"
        old = [l.split("\t") for l in REF.read_text().splitlines()[1:]]
        new = [l.split("\t") for l in ref_text.splitlines()[1:]]
        worst = max(abs(float(a) - float(b)) for o, n in zip(old, new) for a, b in zip(o[2:], n[2:]))
        assert len(old) == len(new) and worst < 1e-12, f"icc_ref.tsv differs by {worst}"
        print("icc fixtures confirmed")
    else:
        DATA.write_text(data_text)
        REF.write_text(ref_text)
        print(f"wrote {len(rows) - 1} scores in {len(designs)} designs and {len(refs) - 1} rows")


if __name__ == "__main__":
    main()
