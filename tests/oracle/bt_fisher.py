#!/usr/bin/env python3
"""Reference standard errors for Bradley-Terry on LLMFAO from a statsmodels GLM.

The model P(left beats right) = logistic(s_left - s_right) is a binomial GLM without an
intercept whose design row has +1 for the left model and -1 for the right one. The first
model (in sorted order) is the reference and its column is dropped, so each coefficient is
s_i - s_ref and its standard error is sqrt(Var(s_i - s_ref)), which does not depend on how
the strengths are normalised. Ties are y = 0.5 (half a win each), as bt_rank's ties=half.

Writes tests/fixtures/bt_fisher_llmfao.tsv: model, se_vs_reference, and
tests/fixtures/bt_fisher_prior_llmfao.tsv (see the end of the script).
Usage: python tests/oracle/bt_fisher.py
"""
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm

ROOT = Path(__file__).resolve().parents[2]
df = pd.read_csv(ROOT / ".." / "shared" / "data" / "llmfao.csv")
models = sorted(set(df["left"]) | set(df["right"]))
index = {m: i for i, m in enumerate(models)}
X = np.zeros((len(df), len(models)))
X[np.arange(len(df)), df["left"].map(index)] = 1.0
X[np.arange(len(df)), df["right"].map(index)] = -1.0
y = df["winner"].map({"left": 1.0, "right": 0.0, "tie": 0.5}).to_numpy()
fit = sm.GLM(y, X[:, 1:], family=sm.families.Binomial()).fit(tol=1e-14)
out = pd.DataFrame({"model": models[1:], "se_vs_reference": fit.bse})
out.to_csv(ROOT / "tests" / "fixtures" / "bt_fisher_llmfao.tsv", sep="\t", index=False, float_format="%.12f")
print(out.head())

# The same model with bt_rank's default prior (precision 0.01 on s; ties half a win each),
# fitted by SciPy on an independent numpy objective: standard errors of the centred strengths
# (ratings are relative to their mean), C H^-1 C with C = I - J/n, H the information at the
# fit, also checked against statsmodels' numerical Hessian of the objective. Written to tests/fixtures/bt_fisher_prior_llmfao.tsv: model, se_centred.
from scipy.optimize import minimize
from statsmodels.tools.numdiff import approx_hess3

PRIOR = 0.01
left = df["left"].map(index).to_numpy()
right = df["right"].map(index).to_numpy()


def penalised(s):
    d = s[left] - s[right]
    ll = y * -np.logaddexp(0.0, -d) + (1.0 - y) * -np.logaddexp(0.0, d)
    return -ll.sum() + 0.5 * PRIOR * (s ** 2).sum()


n = len(models)
r = minimize(penalised, np.zeros(n), method="BFGS", jac="3-point", options={"gtol": 1e-9, "maxiter": 100000})
r = minimize(penalised, r.x, method="L-BFGS-B", jac="3-point", options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 100000})
c = np.eye(n) - 1.0 / n
# The information written out from the model (each comparison adds p(1 - p) on the pair's
# entries), checked against the numerical Hessian, whose own accuracy is about 1e-5.
d = r.x[left] - r.x[right]
w = 1.0 / (1.0 + np.exp(-d)) / (1.0 + np.exp(d))
info = PRIOR * np.eye(n)
np.add.at(info, (left, left), w)
np.add.at(info, (right, right), w)
np.add.at(info, (left, right), -w)
np.add.at(info, (right, left), -w)
numerical = approx_hess3(r.x, penalised)
assert np.abs(numerical - info).max() < 1e-4 * np.abs(info).max(), "information differs"
cov = c @ np.linalg.inv(info) @ c
cov_numerical = c @ np.linalg.inv(numerical) @ c
assert np.allclose(np.sqrt(np.diag(cov)), np.sqrt(np.diag(cov_numerical)), rtol=1e-3)
prior_out = pd.DataFrame({"model": models, "se_centred": np.sqrt(np.diag(cov))})
prior_out.to_csv(ROOT / "tests" / "fixtures" / "bt_fisher_prior_llmfao.tsv", sep="\t", index=False, float_format="%.12f")
print(prior_out.head())
