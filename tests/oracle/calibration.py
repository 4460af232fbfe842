#!/usr/bin/env python3
"""Reference calibration and scorer statistics from scikit-learn, SciPy and statsmodels.

  tests/fixtures/calibration_data.csv  dataset,prob,label,x,y
  tests/fixtures/calibration_ref.tsv   dataset, statistic, value (17 significant digits)

Statistics per dataset: brier (sklearn brier_score_loss), log_loss (sklearn log_loss;
probabilities stay in [0.001, 0.999] so no clipping applies), auroc (sklearn roc_auc_score),
ece_{uniform,quantile}_{l1,l2,max} (NumPy, straight from the documented definition, 10
bins), curve_{uniform,quantile}_{j}_{pred,true} (sklearn calibration_curve, 10 bins,
non-empty bins in order), spearman / spearman_p (scipy spearmanr on x, y), kendall /
kendall_p (scipy kendalltau, method="asymptotic"), pairwise_accuracy (x as chosen score,
y as rejected, ties half). Dataset -1 holds pass@k (numpy product form) and
proportion intervals (statsmodels proportion_confint wilson and beta).

Usage: python tests/oracle/calibration.py [--check]
"""
import sys
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau, spearmanr
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score
from statsmodels.stats.proportion import proportion_confint

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "fixtures" / "calibration_data.csv"
REF = ROOT / "tests" / "fixtures" / "calibration_ref.tsv"
BINS = 10


def edges(p, strategy):
    if strategy == "uniform":
        return np.linspace(0.0, 1.0, BINS + 1)
    return np.percentile(p, np.linspace(0, 100, BINS + 1))


def ece(p, y, strategy, norm):
    """ECE as documented: bins (lower, upper] with 0 in the first bin."""
    ids = np.searchsorted(edges(p, strategy)[1:-1], p, side="left")
    gaps, weights = [], []
    for b in range(BINS):
        mask = ids == b
        if mask.any():
            gaps.append(p[mask].mean() - y[mask].mean())
            weights.append(mask.mean())
    gaps, weights = np.abs(np.array(gaps)), np.array(weights)
    if norm == "l1":
        return float((weights * gaps).sum())
    if norm == "l2":
        return float(np.sqrt((weights * gaps**2).sum()))
    return float(gaps.max())


def pass_at_k(n, c, k):
    if n - c < k:
        return 1.0
    return 1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1))


def main():
    rng = np.random.default_rng(11)
    rows, refs = ["dataset,prob,label,x,y"], ["dataset\tstatistic\tvalue"]
    for d, (n, decimals) in enumerate([(300, 2), (2000, None), (20000, 3)]):
        p = np.clip(rng.beta(2, 2, n), 0.001, 0.999)
        if decimals:
            p = np.clip(np.round(p, decimals), 0.001, 0.999)
        y = (rng.random(n) < p**1.3).astype(int)
        x = rng.integers(0, 15, n).astype(float) if decimals else rng.normal(size=n)
        yy = np.round(x * 0.5 + rng.normal(size=n) * 3) if decimals else x + rng.normal(size=n)
        rows += [f"{d},{a!r},{b},{c!r},{e!r}" for a, b, c, e in zip(p, y, x, yy)]
        out = {
            "brier": brier_score_loss(y, p),
            "log_loss": log_loss(y, p),
            "auroc": roc_auc_score(y, p),
        }
        for strategy in ["uniform", "quantile"]:
            for norm in ["l1", "l2", "max"]:
                out[f"ece_{strategy}_{norm}"] = ece(p, y, strategy, norm)
            true, pred = calibration_curve(y, p, n_bins=BINS, strategy=strategy)
            for j, (t, q) in enumerate(zip(true, pred)):
                out[f"curve_{strategy}_{j}_true"] = t
                out[f"curve_{strategy}_{j}_pred"] = q
        rho, rho_p = spearmanr(x, yy)
        tau, tau_p = kendalltau(x, yy, method="asymptotic")
        out.update(spearman=rho, spearman_p=rho_p, kendall=tau, kendall_p=tau_p)
        out["pairwise_accuracy"] = float(np.mean(np.where(x > yy, 1.0, np.where(x == yy, 0.5, 0.0))))
        refs += [f"{d}\t{k}\t{float(v):.17g}" for k, v in out.items()]
    for n, c, k in [(10, 3, 1), (10, 3, 5), (200, 17, 10), (5, 5, 2), (100, 0, 1)]:
        refs.append(f"-1\tpass_at_k_{n}_{c}_{k}\t{pass_at_k(n, c, k):.17g}")
    for s, n in [(7, 20), (0, 15), (15, 15), (480, 1000)]:
        for method, name in [("wilson", "wilson"), ("beta", "clopper_pearson")]:
            lo, hi = proportion_confint(s, n, alpha=0.05, method=method)
            refs.append(f"-1\tproportion_{name}_{s}_{n}_lower\t{float(lo):.17g}")
            refs.append(f"-1\tproportion_{name}_{s}_{n}_upper\t{float(hi):.17g}")
    data_text, ref_text = "\n".join(rows) + "\n", "\n".join(refs) + "\n"
    if "--check" in sys.argv:
        assert DATA.read_text() == data_text, "calibration_data.csv differs from a fresh run"
        parse = lambda t: {tuple(l.split("\t")[:2]): float(l.split("\t")[2]) for l in t.splitlines()[1:]}
        old, new = parse(REF.read_text()), parse(ref_text)
        worst = max(abs(old[k] - new[k]) for k in new)
        assert old.keys() == new.keys() and worst < 1e-12, f"calibration_ref.tsv differs by {worst}"
        print("calibration fixtures confirmed")
    else:
        DATA.write_text(data_text)
        REF.write_text(ref_text)
        print(f"wrote {len(rows) - 1} rows and {len(refs) - 1} reference values")


if __name__ == "__main__":
    main()
