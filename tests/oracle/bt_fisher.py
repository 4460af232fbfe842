#!/usr/bin/env python3
"""Reference standard errors for Bradley-Terry on LLMFAO from a statsmodels GLM.

The model P(left beats right) = logistic(s_left - s_right) is a binomial GLM without an
intercept whose design row has +1 for the left model and -1 for the right one. The first
model (in sorted order) is the reference and its column is dropped, so each coefficient is
s_i - s_ref and its standard error is sqrt(Var(s_i - s_ref)), which does not depend on how
the strengths are normalised. Ties are y = 0.5 (half a win each), as bt_rank's ties=half.

Writes tests/fixtures/bt_fisher_llmfao.tsv: model, se_vs_reference.
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
