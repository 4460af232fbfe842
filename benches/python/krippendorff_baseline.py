#!/usr/bin/env python3
"""Time the `krippendorff` package on the file benches/agreement_end_to_end.rs writes.

End to end, as the SQL benchmark is: read the Parquet file with pandas, pivot the long-form
ratings into the raters × items reliability matrix the package takes, compute alpha. Each
step is timed on its own too; every figure is the median of 3 runs.

Usage: python benches/python/krippendorff_baseline.py PATH/ratings-1m.parquet
Needs: pip install krippendorff==0.9.0 pandas pyarrow
"""
import sys
import time

import krippendorff
import numpy as np
import pandas as pd

RUNS = 3


def timed(step):
    started = time.perf_counter()
    result = step()
    return time.perf_counter() - started, result


def median_of(step):
    runs = [timed(step) for _ in range(RUNS)]
    return float(np.median([t for t, _ in runs])), runs[-1][1]


read, frame = median_of(lambda: pd.read_parquet(sys.argv[1]))
pivot, matrix = median_of(
    lambda: frame.pivot(index="rater", columns="item", values="value").to_numpy(dtype=float)
)
print(f"read {len(frame)} ratings: {read:.3f} s; reliability matrix {matrix.shape}: {pivot:.3f} s")
for level in ["nominal", "ordinal", "interval", "ratio"]:
    alpha_time, alpha = median_of(
        lambda: krippendorff.alpha(reliability_data=matrix, level_of_measurement=level)
    )
    total = read + pivot + alpha_time
    print(
        f"krippendorff.alpha {level:8}: alpha {alpha_time:.3f} s, end to end {total:.3f} s, "
        f"alpha {alpha:.12f}"
    )

# GROUP BY, as the SQL benchmark does: the same ratings split into 10 and into 1000 groups
# of items (item % groups), one alpha per group, nominal level, after the Parquet read.
for groups in [10, 1000]:
    def per_group():
        return {
            g: krippendorff.alpha(
                reliability_data=sub.pivot(index="rater", columns="item", values="value").to_numpy(dtype=float),
                level_of_measurement="nominal",
            )
            for g, sub in frame.groupby(frame["item"] % groups)
        }

    grouped, alphas = median_of(per_group)
    print(f"krippendorff.alpha per group, {groups:4} groups: {grouped:.3f} s ({len(alphas)} alphas)")

# The other coefficients on the same ratings, from the reference packages the tests use:
# statsmodels' fleiss_kappa (after aggregate_raters on the item x rater table) and irrCAC's
# Gwet AC1 (its CAC class takes the item x rater table), each after the Parquet read.
from irrCAC.raw import CAC
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

table = frame.pivot(index="item", columns="rater", values="value")
fleiss_time, fleiss = median_of(lambda: fleiss_kappa(aggregate_raters(
    frame.pivot(index="item", columns="rater", values="value").to_numpy())[0]))
print(f"statsmodels fleiss_kappa (pivot + aggregate_raters + kappa): {fleiss_time:.3f} s, kappa {fleiss:.12f}")
gwet_time, gwet = median_of(lambda: CAC(frame.pivot(index="item", columns="rater", values="value")).gwet())
print(f"irrCAC gwet (pivot + AC1): {gwet_time:.3f} s, AC1 {gwet['est']['coefficient_value']}")
