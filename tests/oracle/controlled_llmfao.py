#!/usr/bin/env python3
"""Reference values for bt_rank_controlled on ../shared/data/llmfao.csv.

The design is a logistic regression with no intercept and no penalty: for a battle between
left and right, +1 in left's column, -1 in right's, and two covariates computed from the
data itself (so that the SQL test can compute them the same way):

  f1 = ((id * 37 + worker * 11) % 101 - 50) / 50     a pseudo-random covariate in [-1, 1]
  f2 = 1                                             a left-position effect

A tie enters as two rows, a left win and a right win, with frequency weight 0.5 each (a
half win for each side, bt_rank_controlled's ties=half). statsmodels GLM (binomial, IRLS)
fits it with the first model's column dropped; strengths are then centred, and their
covariance is moved to the mean-zero constraint with the centring matrix M = I - J/n:
cov(centred s) = M cov(s with the reference at 0) M'.

Writes tests/fixtures/controlled_llmfao.tsv: name, value, se for every model and for
coef_1, coef_2.

Usage: python tests/oracle/controlled_llmfao.py [--check]
"""
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm
from fixture import write_or_check

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / ".." / "shared" / "data" / "llmfao.csv"
OUT = ROOT / "tests" / "fixtures" / "controlled_llmfao.tsv"


def main() -> None:
    df = pd.read_csv(DATA)
    models = sorted(set(df["left"]) | set(df["right"]))
    index = {m: i for i, m in enumerate(models)}
    n = len(models)
    f1 = ((df["id"] * 37 + df["worker"] * 11) % 101 - 50) / 50.0
    rows, ys, ws = [], [], []
    for k, (left, right, winner) in enumerate(zip(df["left"], df["right"], df["winner"])):
        x = np.zeros(n + 2)
        x[index[left]] += 1.0
        x[index[right]] -= 1.0
        x[n] = f1.iloc[k]
        x[n + 1] = 1.0
        if winner == "tie":
            rows += [x, x]
            ys += [1.0, 0.0]
            ws += [0.5, 0.5]
        else:
            rows.append(x)
            ys.append(1.0 if winner == "left" else 0.0)
            ws.append(1.0)
    X = np.array(rows)[:, 1:]  # drop the reference model's column
    fit = sm.GLM(np.array(ys), X, family=sm.families.Binomial(), freq_weights=np.array(ws)).fit(
        tol=1e-14, maxiter=200
    )
    params, cov = fit.params, fit.cov_params()
    s = np.concatenate([[0.0], params[: n - 1]])
    full = np.zeros((n, n))
    full[1:, 1:] = cov[: n - 1, : n - 1]
    m = np.eye(n) - 1.0 / n
    centred_cov = m @ full @ m.T
    table = pd.DataFrame(
        {
            "value": list(s - s.mean()) + list(params[n - 1 :]),
            "se": list(np.sqrt(np.diag(centred_cov))) + list(fit.bse[n - 1 :]),
        },
        index=models + ["coef_1", "coef_2"],
    )
    table.index.name = "name"
    if not write_or_check(table, OUT, 1e-9):
        print(table.tail(2))


if __name__ == "__main__":
    main()
