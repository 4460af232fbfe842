#!/usr/bin/env python3
"""Cross-check of ece against torchmetrics' binary calibration error (uniform bins).

Reads dataset 1 of tests/fixtures/calibration_data.csv (continuous probabilities, so no
probability sits on a bin edge, where torchmetrics' [lower, upper) bins and prefdb's
(lower, upper] bins would differ) and writes tests/fixtures/ece_torchmetrics.tsv:
bins, norm, value.

Needs torch, a multi-gigabyte install, so CI does not run it:
  python3 -m venv .venv-torch && .venv-torch/bin/pip install torchmetrics pandas
  .venv-torch/bin/python tests/oracle/ece_torchmetrics.py
"""
from pathlib import Path

import pandas as pd
import torch
from torchmetrics.functional.classification import binary_calibration_error

ROOT = Path(__file__).resolve().parents[2]
data = pd.read_csv(ROOT / "tests" / "fixtures" / "calibration_data.csv")
data = data[data.dataset == 1]
preds = torch.tensor(data.prob.to_numpy(), dtype=torch.float64)
target = torch.tensor(data.label.to_numpy(), dtype=torch.long)
rows = ["bins\tnorm\tvalue"]
for bins in [10, 15]:
    for norm in ["l1", "l2", "max"]:
        value = binary_calibration_error(preds, target, n_bins=bins, norm=norm)
        rows.append(f"{bins}\t{norm}\t{float(value):.17g}")
(ROOT / "tests" / "fixtures" / "ece_torchmetrics.tsv").write_text("\n".join(rows) + "\n")
print("\n".join(rows))
