#!/usr/bin/env python3
"""Reference Davidson and Rao-Kupper fits for ../shared/data/llmfao.csv.

Writes tests/fixtures/tie_models_llmfao.tsv: centred natural-log strengths per model, and
the tie parameter in the row named __tie_param__, from maximum-likelihood fits by SciPy's
optimiser (BFGS, then a polish by L-BFGS-B), written from the models'
probability formulas:

  Davidson (1970):     P(i>j) = pi_i / D, P(tie) = nu sqrt(pi_i pi_j) / D,
                       D = pi_i + pi_j + nu sqrt(pi_i pi_j)
  Rao & Kupper (1967): P(i>j) = pi_i / (pi_i + theta pi_j),
                       P(tie) = (theta^2 - 1) pi_i pi_j / ((pi_i + theta pi_j)(pi_j + theta pi_i))

Columns: <model>_mle (no prior; s_0 fixed at 0 while fitting, then centred) and <model>_prior
(a Gaussian prior of precision 0.01 on s, bt_rank's default, so the penalised objective is
log L - 0.005 * sum(s^2)). The parameterisation (nu = e^a, theta = 1 + e^b, pi = e^s) differs
from prefdb's on purpose.

<model>_se_mle and <model>_se_prior are standard errors of the centred strengths (ratings are
relative to their mean) from the observed information: statsmodels' numerical Hessian
(approx_hess3) of the same objective at the fit, inverted, strengths block V, then C V C with
C = I - J/n. Without the prior the fit fixes s_0 = 0, so V has a zero row and column for s_0.
The tie parameter's row is left empty in these columns.

newman_evalica: evalica 0.4.2's newman (Newman 2023's iteration for the same Davidson model,
tolerance 1e-12): centred log-scores, and Newman's tie parameter v (= nu / 2) in the
__tie_param__ row.

Usage: python tests/oracle/tie_models_llmfao.py [--check]
"""
from pathlib import Path

import evalica
import numpy as np
import pandas as pd
from scipy.optimize import minimize
from statsmodels.tools.numdiff import approx_hess3
from fixture import write_or_check

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / ".." / "shared" / "data" / "llmfao.csv"
OUT = ROOT / "tests" / "fixtures" / "tie_models_llmfao.tsv"


def pair_table(df, models):
    index = {m: i for i, m in enumerate(models)}
    counts = {}
    for left, right, winner in zip(df["left"], df["right"], df["winner"]):
        a, b = index[left], index[right]
        key, flip = ((a, b), False) if a < b else ((b, a), True)
        c = counts.setdefault(key, [0.0, 0.0, 0.0])
        if winner == "tie":
            c[2] += 1
        elif (winner == "left") != flip:
            c[0] += 1
        else:
            c[1] += 1
    ij = np.array(list(counts.keys()))
    w = np.array(list(counts.values()))
    return ij[:, 0], ij[:, 1], w[:, 0], w[:, 1], w[:, 2]


def neg_loglik(model, s, p, i, j, wi, wj, t):
    pi_i, pi_j = np.exp(s[i]), np.exp(s[j])
    if model == "davidson":
        nu = np.exp(p)
        mid = nu * np.sqrt(pi_i * pi_j)
        d = pi_i + pi_j + mid
        ll = wi * np.log(pi_i / d) + wj * np.log(pi_j / d) + t * np.log(mid / d)
    else:
        theta = 1.0 + np.exp(p)
        di, dj = pi_i + theta * pi_j, pi_j + theta * pi_i
        ll = (wi * np.log(pi_i / di) + wj * np.log(pi_j / dj)
              + t * np.log((theta ** 2 - 1) * pi_i * pi_j / (di * dj)))
    return -ll.sum()


def fit(model, n, data, prior):
    if prior > 0:
        def f(x):
            return neg_loglik(model, x[:n], x[n], *data) + 0.5 * prior * (x[:n] ** 2).sum()
        x0 = np.zeros(n + 1)
    else:
        def f(x):
            s = np.concatenate([[0.0], x[: n - 1]])
            return neg_loglik(model, s, x[n - 1], *data)
        x0 = np.zeros(n)
    r = minimize(f, x0, method="BFGS", jac="3-point", options={"gtol": 1e-9, "maxiter": 100000})
    r = minimize(f, r.x, method="L-BFGS-B", jac="3-point",
                 options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 100000})
    x = r.x
    s = x[:n] if prior > 0 else np.concatenate([[0.0], x[: n - 1]])
    p = x[-1]
    s = s - s.mean()
    param = np.exp(p) if model == "davidson" else 1.0 + np.exp(p)
    # A step of 3e-4: the default step is too coarse for the tie parameter (it moves the
    # standard errors by 2e-4), and much smaller ones drown in rounding.
    inverse = np.linalg.inv(approx_hess3(x, f, epsilon=3e-4))
    if prior > 0:
        v = inverse[:n, :n]
    else:
        v = np.zeros((n, n))
        v[1:, 1:] = inverse[: n - 1, : n - 1]
    c = np.eye(n) - 1.0 / n
    cov = c @ v @ c
    return s, param, np.sqrt(np.diag(cov))


def main() -> None:
    df = pd.read_csv(DATA)
    models = sorted(set(df["left"]) | set(df["right"]))
    data = pair_table(df, models)
    table = pd.DataFrame(index=models + ["__tie_param__"])
    for model in ["davidson", "rao_kupper"]:
        for label, prior in [("mle", 0.0), ("prior", 0.01)]:
            s, param, se = fit(model, len(models), data, prior)
            table[f"{model}_{label}"] = list(s) + [param]
            table[f"{model}_se_{label}"] = list(se) + [np.nan]
    # Newman's (2023) iteration for the same Davidson model, in his parameterisation
    # (nu = 2v), from evalica: centred log-scores and v.
    winners = df["winner"].map({"left": evalica.Winner.X, "right": evalica.Winner.Y, "tie": evalica.Winner.Draw})
    newman = evalica.newman(df["left"], df["right"], winners, tolerance=1e-12, limit=100000)
    log_scores = np.log(newman.scores.reindex(models).to_numpy())
    table["newman_evalica"] = list(log_scores - log_scores.mean()) + [newman.v]
    table.index.name = "model"
    if not write_or_check(table, OUT, 1e-6, f"{len(models)} models"):
        print(table.loc["__tie_param__"])


if __name__ == "__main__":
    main()
