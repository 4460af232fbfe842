#!/usr/bin/env python3
"""Time Chatbot Arena's bootstrap on the arena file benches/bt_bootstrap.rs writes.

FastChat's elo_analysis.py computes leaderboard intervals by resampling the battle rows
with replacement and refitting Bradley-Terry each round: compute_mle_elo pivots the battles
into win counts per ordered pair (a tie counts once for each side, decisive battles twice),
then fits an unpenalised logistic regression without intercept on 2 p (p - 1) weighted
rows with scikit-learn. This script reproduces that procedure and times ROUNDS rounds.

Usage: python benches/python/chatbot_arena_bootstrap.py target/tmp/bench-data/arena-1000000.parquet [ROUNDS]
Needs: pip install pandas pyarrow scikit-learn
"""
import math
import sys
import time

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression


def compute_mle_elo(df, models, scale=400, base=10, init=1000):
    p = len(models)
    index = {m: i for i, m in enumerate(models)}
    a = df["model_a"].map(index).to_numpy()
    b = df["model_b"].map(index).to_numpy()
    w = df["winner"].to_numpy()
    wins = np.zeros((p, p))
    np.add.at(wins, (a[w == "model_a"], b[w == "model_a"]), 2.0)
    np.add.at(wins, (b[w == "model_b"], a[w == "model_b"]), 2.0)
    tie = np.isin(w, ["tie", "tie (bothbad)"])
    np.add.at(wins, (a[tie], b[tie]), 1.0)
    np.add.at(wins, (b[tie], a[tie]), 1.0)
    rows, ys, weights = [], [], []
    for i in range(p):
        for j in range(p):
            if i == j:
                continue
            x = np.zeros(p)
            x[i], x[j] = math.log(base), -math.log(base)
            rows += [x, x]
            ys += [1.0, 0.0]
            weights += [wins[i, j], wins[j, i]]
    lr = LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-6)  # FastChat: penalty=None
    lr.fit(np.array(rows), np.array(ys), sample_weight=np.array(weights))
    return scale * lr.coef_[0] + init


def main():
    battles = pd.read_parquet(sys.argv[1], columns=["model_a", "model_b", "winner"])
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    models = sorted(set(battles["model_a"]) | set(battles["model_b"]))
    started = time.perf_counter()
    compute_mle_elo(battles, models)
    single = time.perf_counter() - started
    rng = np.random.default_rng(1)
    started = time.perf_counter()
    for _ in range(rounds):
        sample = battles.iloc[rng.integers(0, len(battles), len(battles))]
        compute_mle_elo(sample, models)
    per_round = (time.perf_counter() - started) / rounds
    print(f"battles {len(battles)}, models {len(models)}")
    print(f"single fit: {single:.3f} s")
    print(f"bootstrap: {per_round:.3f} s per round over {rounds} rounds; 1000 rounds = {1000 * per_round:.0f} s")


if __name__ == "__main__":
    main()
