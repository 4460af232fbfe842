#!/usr/bin/env python3
"""Time scikit-learn, SciPy and a NumPy ECE on the file benches/calibration_end_to_end.rs
writes. Usage: python benches/python/calibration_baseline.py PATH/scores-10m.parquet
Needs: pip install scikit-learn scipy pandas pyarrow"""
import sys
import time

import numpy as np
import pandas as pd
from scipy.stats import kendalltau
from sklearn.metrics import roc_auc_score

frame = pd.read_parquet(sys.argv[1])
p, y, x, yy = (frame[c].to_numpy() for c in ["prob", "label", "x", "y"])


def ece(p, y, bins=15):
    ids = np.searchsorted(np.linspace(0.0, 1.0, bins + 1)[1:-1], p, side="left")
    count = np.bincount(ids, minlength=bins)
    prob_sum = np.bincount(ids, weights=p, minlength=bins)
    pos = np.bincount(ids, weights=y.astype(float), minlength=bins)
    nz = count > 0
    return float(np.sum(np.abs(prob_sum[nz] - pos[nz])) / len(p))


for name, run in [
    ("ece (NumPy)", lambda: ece(p, y)),
    ("roc_auc_score", lambda: roc_auc_score(y, p)),
    ("kendalltau", lambda: kendalltau(x, yy)[0]),
]:
    started = time.perf_counter()
    value = run()
    print(f"{name:16}: {time.perf_counter() - started:.3f} s, value {value:.12f}")
