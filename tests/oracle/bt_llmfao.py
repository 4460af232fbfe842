#!/usr/bin/env python3
"""Reference Bradley-Terry values for ../shared/data/llmfao.csv.

Writes tests/fixtures/bt_llmfao.tsv: one row per model with centred natural-log strengths
from independent implementations, which tests/reference.rs compares with bt_rank.

  mle            evalica.bradley_terry (MM, Hunter 2004), tie_weight=0.5, prior 0
  mle_choix      choix.opt_pairwise (Newton-CG), ties as half wins, alpha=0: cross-check
  prior_0_01     choix.opt_pairwise, alpha=0.01 (our prior=0.01, the default; see below)
  ties_ignore    evalica.bradley_terry with tie_weight=0 (our ties=ignore), prior 0
  avg_win_rate   evalica.average_win_rate (win_weight=1, tie_weight=0.5)

choix minimises -loglik + alpha * |theta|^2. Feeding it each decisive vote twice and each
tie once in each direction makes its log-likelihood twice ours (ties=half), so
alpha = lambda reproduces our objective loglik - lambda/2 * |s|^2.

Usage: python tests/oracle/bt_llmfao.py [--check]   (--check compares with the committed file)
"""
import math
from pathlib import Path

import choix
import evalica
import numpy as np
import pandas as pd
from fixture import write_or_check

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / ".." / "shared" / "data" / "llmfao.csv"
OUT = ROOT / "tests" / "fixtures" / "bt_llmfao.tsv"


def centred_log(scores: pd.Series) -> pd.Series:
    logs = np.log(scores.astype(float))
    return logs - logs.mean()


def evalica_bt(df: pd.DataFrame, tie_weight: float) -> pd.Series:
    winners = df["winner"].map(
        {"left": evalica.Winner.X, "right": evalica.Winner.Y, "tie": evalica.Winner.Draw}
    )
    result = evalica.bradley_terry(
        df["left"], df["right"], winners, tie_weight=tie_weight, tolerance=1e-14, limit=1_000_000
    )
    return centred_log(result.scores)


def choix_half_ties(df: pd.DataFrame, models: list, alpha: float) -> pd.Series:
    index = {m: i for i, m in enumerate(models)}
    data = []
    for left, right, winner in zip(df["left"], df["right"], df["winner"]):
        a, b = index[left], index[right]
        if winner == "left":
            data += [(a, b), (a, b)]
        elif winner == "right":
            data += [(b, a), (b, a)]
        else:
            data += [(a, b), (b, a)]
    theta = choix.opt_pairwise(len(models), data, alpha=alpha, method="Newton-CG", tol=1e-14)
    theta = theta - theta.mean()
    return pd.Series(theta, index=models)


def main() -> None:
    df = pd.read_csv(DATA)
    models = sorted(set(df["left"]) | set(df["right"]))
    winners = df["winner"].map(
        {"left": evalica.Winner.X, "right": evalica.Winner.Y, "tie": evalica.Winner.Draw}
    )
    table = pd.DataFrame(index=models)
    table["mle"] = evalica_bt(df, 0.5)
    table["mle_choix"] = choix_half_ties(df, models, alpha=0.0)
    table["prior_0_01"] = choix_half_ties(df, models, alpha=0.01)
    table["ties_ignore"] = evalica_bt(df, 0.0)
    table["avg_win_rate"] = evalica.average_win_rate(df["left"], df["right"], winners).scores

    gap = (table["mle"] - table["mle_choix"]).abs().max()
    assert gap < 1e-7, f"evalica and choix disagree by {gap}"
    table.index.name = "model"
    write_or_check(table, OUT, 1e-9, f"{len(table)} models, evalica-choix gap {gap:.2e}")


if __name__ == "__main__":
    main()
