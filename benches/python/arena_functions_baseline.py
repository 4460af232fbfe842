#!/usr/bin/env python3
"""Time the Python tools for online Elo and style control on a bench arena file.

  FastChat's compute_online_elo (a Python loop over battles, ordered by time)
  evalica.elo (Rust core) on the same ordered battles
  style control as Chatbot Arena fits it: an unpenalised logistic regression (scikit-learn)
  on +1/-1 model columns plus the normalised length difference, decisive battles twice and
  ties as one win for each side

Usage: python benches/python/arena_functions_baseline.py target/tmp/bench-data/arena-1000000.parquet
Needs: pip install pandas pyarrow scikit-learn evalica==0.4.2
"""
import sys
import time
from collections import defaultdict

import evalica
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression


def online_elo(battles, k=4, scale=400, base=10, init=1000):
    rating = defaultdict(lambda: init)
    for a, b, w in zip(battles["model_a"], battles["model_b"], battles["winner"]):
        ra, rb = rating[a], rating[b]
        ea = 1 / (1 + base ** ((rb - ra) / scale))
        sa = 1.0 if w == "model_a" else 0.0 if w == "model_b" else 0.5
        rating[a] += k * (sa - ea)
        rating[b] += k * (1 - sa - (1 - ea))
    return rating


def style_control(battles):
    models = sorted(set(battles["model_a"]) | set(battles["model_b"]))
    index = {m: i for i, m in enumerate(models)}
    n, p = len(battles), len(models)
    a = battles["model_a"].map(index).to_numpy()
    b = battles["model_b"].map(index).to_numpy()
    la, lb = battles["turn_len_a"].to_numpy(float), battles["turn_len_b"].to_numpy(float)
    X = np.zeros((2 * n, p + 1))
    rows = np.arange(2 * n)
    X[rows, np.concatenate([a, a])] = 1.0
    X[rows, np.concatenate([b, b])] = -1.0
    X[:, p] = np.concatenate([(la - lb) / (la + lb + 1.0)] * 2)
    w = battles["winner"].to_numpy()
    y = np.zeros(2 * n)
    y[:n][w == "model_a"] = 1.0
    y[n:][w == "model_a"] = 1.0
    y[:n][np.isin(w, ["tie", "tie (bothbad)"])] = 1.0
    lr = LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-8, max_iter=1000)
    lr.fit(X, y)
    return lr.coef_[0]


def timed(label, f):
    started = time.perf_counter()
    f()
    print(f"{label}: {time.perf_counter() - started:.2f} s")


def main():
    battles = pd.read_parquet(sys.argv[1]).sort_values("ts", kind="stable")
    print(f"battles {len(battles)}")
    timed("FastChat compute_online_elo", lambda: online_elo(battles))
    winners = battles["winner"].map(
        {"model_a": evalica.Winner.X, "model_b": evalica.Winner.Y, "tie": evalica.Winner.Draw,
         "tie (bothbad)": evalica.Winner.Draw}
    )
    xs, ys, ws = battles["model_a"].tolist(), battles["model_b"].tolist(), winners.tolist()
    timed("evalica.elo", lambda: evalica.elo(xs, ys, ws))
    timed("style control (scikit-learn, 1 feature)", lambda: style_control(battles))


if __name__ == "__main__":
    main()
