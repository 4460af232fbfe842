#!/usr/bin/env python3
"""Reference bootstrap intervals for Bradley-Terry on LLMFAO, by Chatbot Arena's method.

Chatbot Arena fits Bradley-Terry as an unpenalised logistic regression without intercept:
each battle is a row with +ln(10) for model_a and -ln(10) for model_b, every battle is
entered twice, and a tie counts as an A win in one copy and a B win in the other (half a
win each, bt_rank's ties=half). Ratings are 1000 + 400 * coefficient. Its intervals come
from resampling the battle rows with replacement, refitting, and taking the 2.5% and 97.5%
quantiles of each model's rating over the rounds (100 rounds, as in its notebook).

This script implements that procedure with scikit-learn and writes
tests/fixtures/bt_bootstrap_llmfao.tsv: model, rating, lower, upper.
tests/reference.rs checks bt_rank's pair-table bootstrap against it within Monte-Carlo error.

Usage: python tests/oracle/bt_bootstrap_arena.py [--check]
"""
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "bt_bootstrap_llmfao.tsv"
ROUNDS = 100
SEED = 20261122

battles = pd.read_csv(ROOT / ".." / "shared" / "data" / "llmfao.csv")
models = sorted(set(battles["left"]) | set(battles["right"]))
index = {m: i for i, m in enumerate(models)}
a = battles["left"].map(index).to_numpy()
b = battles["right"].map(index).to_numpy()
winner = battles["winner"].to_numpy()


def ratings(rows: np.ndarray) -> np.ndarray:
    ra, rb, w = a[rows], b[rows], winner[rows]
    n = len(rows)
    X = np.zeros((2 * n, len(models)))
    X[np.arange(2 * n), np.concatenate([ra, ra])] = math.log(10)
    X[np.arange(2 * n), np.concatenate([rb, rb])] = -math.log(10)
    y = np.zeros(2 * n)
    y[:n][w == "left"] = 1.0
    y[n:][w == "left"] = 1.0
    y[:n][w == "tie"] = 1.0  # a tie: an A win in the first copy, a B win in the second
    lr = LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-8, max_iter=10_000)
    lr.fit(X, y)
    return 1000 + 400 * lr.coef_[0]


point = ratings(np.arange(len(battles)))
rng = np.random.default_rng(SEED)
rounds = np.array([ratings(rng.integers(0, len(battles), len(battles))) for _ in range(ROUNDS)])
out = pd.DataFrame(
    {
        "model": models,
        "rating": point,
        "lower": np.quantile(rounds, 0.025, axis=0),
        "upper": np.quantile(rounds, 0.975, axis=0),
    }
)
if "--check" in sys.argv:
    committed = pd.read_csv(OUT, sep="\t")
    assert list(committed["model"]) == models
    for col in ["rating", "lower", "upper"]:
        assert np.allclose(committed[col], out[col], atol=1e-6), col
    print("bt_bootstrap_llmfao.tsv matches")
else:
    out.to_csv(OUT, sep="\t", index=False, float_format="%.9f")
    print(out.sort_values("rating", ascending=False).head(10).to_string(index=False))
