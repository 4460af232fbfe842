#!/usr/bin/env python3
"""Time the `krippendorff` package on the file benches/agreement_end_to_end.rs writes.

Usage: python benches/python/krippendorff_baseline.py PATH/ratings-1m.parquet
Needs: pip install krippendorff==0.9.0 pandas pyarrow
"""
import sys
import time

import krippendorff
import numpy as np
import pandas as pd

frame = pd.read_parquet(sys.argv[1])
started = time.perf_counter()
matrix = frame.pivot(index="rater", columns="item", values="value").to_numpy(dtype=float)
pivot = time.perf_counter() - started
print(f"reliability matrix {matrix.shape}, built in {pivot:.3f} s")
for level in ["nominal", "ordinal", "interval", "ratio"]:
    times = []
    for _ in range(3):
        started = time.perf_counter()
        alpha = krippendorff.alpha(reliability_data=matrix, level_of_measurement=level)
        times.append(time.perf_counter() - started)
    print(f"krippendorff.alpha {level:8}: median {np.median(times):.3f} s over 3 runs, alpha {alpha:.12f}")
