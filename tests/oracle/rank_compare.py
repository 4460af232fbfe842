#!/usr/bin/env python3
"""Reference values for rank_compare(item_a, item_b, outcome, 'options') on LLMFAO: every
ordered pair of distinct models compared through the covariance of a Bradley-Terry fit,
with Holm's correction over the unordered pairs.

Usage:
  ~/.cache/prefdb/bench-venv/bin/python tests/oracle/rank_compare.py [--check]
A fresh venv needs (the versions this was written with):
  pip install statsmodels==0.15.0 numpy==2.3.3 pandas==3.1.1 scipy==1.17.1

Data: ../shared/data/llmfao.csv (read in place, never copied). For battle row r,
a = left (item_a), b = right (item_b), y_r = 1 (winner 'left'), 0 ('right'), 0.5 ('tie',
half a win each), z_r = e_a - e_b, p_r = sigmoid(s_a - s_b). Models sorted by name, prior 0
(the maximum-likelihood estimate). Ratings are 1000 + SCALE * s, SCALE = 400/ln 10.

For each ordered pair (a, b), a != b (a then b in sorted order), from a covariance C of s:
    diff    = SCALE * (s_a - s_b)                       (= rating_a - rating_b)
    se      = SCALE * sqrt(C_aa + C_bb - 2 C_ab)
    z       = diff / se
    p_value = 2 (1 - Phi(|z|)), computed as 2 Phi(-|z|) (no cancellation for large |z|)
    significant = Holm's step-down at alpha = 0.05 (= 1 - confidence 0.95) over the
              m = n(n-1)/2 unordered pairs: with the p-values sorted ascending, the k-th
              (from 0) is rejected while every smaller one was and p <= alpha / (m - k).
              Both orders of a pair share its p-value and its decision (1.0 or 0.0).
Two covariances:
  fisher:   the inverse observed information from statsmodels' binomial GLM without an
            intercept, design +1 left / -1 right, the first model's column dropped as the
            reference (as tests/oracle/bt_fisher.py, fit(tol=1e-14), then refitted with
            start_params at that optimum so that cov_params(), which statsmodels takes from
            the last IRLS step's weights, is evaluated at the optimum); C = cov_params()
            embedded in an n x n matrix with the reference's row and column 0 (its strength
            fixed at 0), s = params with s_ref = 0.
  sandwich: C = H^+ G H^+ at a Newton fit from s = 0 (each step solves (H + J/n) step =
            gradient, J = 1 1^T, stop when the largest |step| < 1e-13), with
                H = sum_r p_r (1 - p_r) z_r z_r^T,   G = sum_r (y_r - p_r)^2 z_r z_r^T,
                H^+ = (H + J/n)^-1 - J/n   (the pseudo-inverse: H's null space is 1).
Holm comes from statsmodels.stats.multitest.multipletests(method='holm') and from a
hand-written step-down; the script asserts they agree. It also asserts that the GLM and the
Newton fit give the same differences, that Var(s_a - s_b) from cov_params() equals that from
H^+ (the fisher covariance written out), and that the fisher se of (reference, m) matches
tests/fixtures/bt_fisher_llmfao.tsv.

Writes tests/fixtures/rank_compare_llmfao.tsv: key = "method|item_a|item_b" (method fisher
then sandwich; 59 models -> 3422 rows each), diff, se, z, p_value, significant. Prints, per
method, the number of significant unordered pairs, the smallest and largest se, and how
close any p-value comes (relatively) to its Holm threshold alpha / (m - k), flagging those
within 1e-6, and whether equal p-values straddle the point where the procedure stops
(prefdb's holm then rejects none of the run; statsmodels rejects those sorted first).
"""
import math
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy.stats import norm
from statsmodels.stats.multitest import multipletests
from fixture import write_or_check

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / ".." / "shared" / "data" / "llmfao.csv"
OUT = ROOT / "tests" / "fixtures" / "rank_compare_llmfao.tsv"
BT_FISHER = ROOT / "tests" / "fixtures" / "bt_fisher_llmfao.tsv"
SCALE = 400.0 / math.log(10.0)
ALPHA = 0.05
FRAGILE = 1e-6


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def holm_by_hand(p, alpha):
    """Step-down: reject the k-th smallest while all smaller were and p <= alpha / (m - k)."""
    order = np.argsort(p, kind="stable")
    reject = np.zeros(len(p), dtype=bool)
    for k, i in enumerate(order):
        if p[i] > alpha / (len(p) - k):
            break
        reject[i] = True
    return reject


def holm_margins(p, alpha):
    """For the sorted p-values: relative distance of each to its threshold, the position
    where the step-down stops, and whether a run of equal p-values straddles it."""
    ps = np.sort(p)
    thresholds = alpha / (len(p) - np.arange(len(p)))
    rel = np.abs(ps - thresholds) / thresholds
    above = np.nonzero(ps > thresholds)[0]
    stop = int(above[0]) if above.size else len(p)
    straddle = 0 < stop < len(p) and ps[stop - 1] == ps[stop]
    return rel, stop, straddle


def compare(models, s, cov, method):
    n = len(models)
    cov = 0.5 * (cov + cov.T)  # exactly symmetric, so both orders of a pair get the same se
    a, b = np.array([(i, j) for i in range(n) for j in range(n) if i != j]).T
    diff = SCALE * (s[a] - s[b])
    var = cov[a, a] + cov[b, b] - 2.0 * cov[a, b]
    assert (var > 0).all(), f"{method}: a non-positive variance of a difference"
    se = SCALE * np.sqrt(var)
    z = diff / se
    p = np.minimum(2.0 * norm.cdf(-np.abs(z)), 1.0)
    once = a < b
    p_once = p[once]
    reject_sm = multipletests(p_once, alpha=ALPHA, method="holm")[0]
    reject_hand = holm_by_hand(p_once, ALPHA)
    assert (reject_sm == reject_hand).all(), f"{method}: statsmodels' Holm and the hand one differ"
    decision = dict(zip(zip(a[once], b[once]), reject_hand))
    significant = np.array([decision[(min(i, j), max(i, j))] for i, j in zip(a, b)], dtype=float)
    # Both orders: same se and p, opposite diff.
    pos = {(i, j): k for k, (i, j) in enumerate(zip(a, b))}
    mirror = np.array([pos[(j, i)] for i, j in zip(a, b)])
    assert np.array_equal(p, p[mirror]) and np.array_equal(se, se[mirror])
    assert np.array_equal(diff, -diff[mirror])
    table = pd.DataFrame(
        {"diff": diff, "se": se, "z": z, "p_value": p, "significant": significant},
        index=[f"{method}|{models[i]}|{models[j]}" for i, j in zip(a, b)],
    )
    rel, stop, straddle = holm_margins(p_once, ALPHA)
    info = dict(
        n_sig=int(reject_hand.sum()),
        m=len(p_once),
        stop=stop,
        rel_min=float(rel.min()),
        rel_min_at=int(rel.argmin()),
        rel_stop=float(rel[stop]) if stop < len(p_once) else float("nan"),
        rel_last=float(rel[stop - 1]) if stop > 0 else float("nan"),
        n_fragile=int((rel <= FRAGILE).sum()),
        straddle=straddle,
        n_p_zero=int((p_once == 0).sum()),
        ties=len(p_once) - len(np.unique(p_once)),
    )
    return table, info


def main() -> None:
    df = pd.read_csv(DATA)
    assert set(df["winner"]) <= {"left", "right", "tie"}
    models = sorted(set(df["left"]) | set(df["right"]))
    assert not any("|" in m or "\t" in m or "\n" in m for m in models), "a model name breaks the key"
    n = len(models)
    index = {m: i for i, m in enumerate(models)}
    left = df["left"].map(index).to_numpy()
    right = df["right"].map(index).to_numpy()
    y = df["winner"].map({"left": 1.0, "right": 0.0, "tie": 0.5}).to_numpy()
    X = np.zeros((len(df), n))
    X[np.arange(len(df)), left] += 1.0
    X[np.arange(len(df)), right] -= 1.0

    # (1) fisher: statsmodels' GLM, reference = first model, strength fixed at 0.
    # cov_params() comes from the IRLS weights of the last iteration, i.e. at the previous
    # iterate: with statsmodels 0.15.0 that is ~1e-8 relative (2e-9 in bse) off the
    # information at the optimum. One more fit started at the optimum evaluates it there.
    glm = sm.GLM(y, X[:, 1:], family=sm.families.Binomial())
    first = glm.fit(tol=1e-14)
    fit = glm.fit(tol=1e-14, start_params=first.params)
    moved = float(np.abs(fit.params - first.params).max())
    assert moved < 1e-12, f"the GLM refit moved the strengths by {moved}"
    bse_shift = float(np.abs(fit.bse - first.bse).max())
    s_glm = np.concatenate([[0.0], np.asarray(fit.params)])
    cov_glm = np.zeros((n, n))
    cov_glm[1:, 1:] = np.asarray(fit.cov_params())
    ref_se = pd.read_csv(BT_FISHER, sep="\t", index_col=0)["se_vs_reference"].reindex(models[1:]).to_numpy()
    gap_bt_fisher = float(np.abs(np.sqrt(np.diag(cov_glm)[1:]) - ref_se).max())
    assert gap_bt_fisher < 1e-9, f"fisher se vs bt_fisher_llmfao.tsv differs by {gap_bt_fisher}"

    # (2) sandwich: Newton to a tight optimum, pseudo-inverse of H.
    j_n = np.full((n, n), 1.0 / n)
    s = np.zeros(n)
    for iters in range(1, 201):
        p = sigmoid(X @ s)
        h = (X * (p * (1 - p))[:, None]).T @ X
        step = np.linalg.solve(h + j_n, X.T @ (y - p))
        s = s + step
        if np.abs(step).max() < 1e-13:
            break
    else:
        raise RuntimeError("Newton did not converge")
    p = sigmoid(X @ s)
    gmax = float(np.abs(X.T @ (y - p)).max())
    h = (X * (p * (1 - p))[:, None]).T @ X
    g = (X * ((y - p) ** 2)[:, None]).T @ X
    hp = np.linalg.inv(h + j_n) - j_n
    cov_sw = hp @ g @ hp

    # Cross-checks between the two fits: same differences, same fisher variances of differences.
    a, b = np.triu_indices(n, 1)
    gap_s = float(np.abs((s_glm[a] - s_glm[b]) - (s[a] - s[b])).max())
    var_glm = cov_glm[a, a] + cov_glm[b, b] - 2 * cov_glm[a, b]
    var_hp = hp[a, a] + hp[b, b] - 2 * hp[a, b]
    gap_var = float(np.abs(var_glm / var_hp - 1).max())
    assert gap_s < 1e-8, f"GLM and Newton differences differ by {gap_s}"
    assert gap_var < 1e-8, f"GLM cov_params and H^+ variances of differences differ by {gap_var}"

    t_f, info_f = compare(models, s_glm, cov_glm, "fisher")
    t_s, info_s = compare(models, s, cov_sw, "sandwich")
    table = pd.concat([t_f, t_s])
    table.index.name = "key"
    write_or_check(table, OUT, 1e-7, f"{len(table)} rows ({n} models)")

    print(
        f"{n} models, {len(df)} rows; Newton {iters} its, max|grad| {gmax:.1e};"
        f" GLM vs Newton: diffs {gap_s:.1e}, fisher Var(diff) rel {gap_var:.1e};"
        f" fisher se vs bt_fisher_llmfao.tsv {gap_bt_fisher:.1e}"
        f" (bse of the first GLM fit, before the refit, was off by {bse_shift:.1e})"
    )
    for method, t, info in (("fisher", t_f, info_f), ("sandwich", t_s, info_s)):
        print(
            f"{method:8s} significant unordered pairs {info['n_sig']} of {info['m']}"
            f" (step-down stops at sorted position {info['stop']});"
            f" se min {t.se.min():.9f} max {t.se.max():.9f} (rating scale);"
            f" p = 0 in {info['n_p_zero']} pairs, {info['ties']} tied p-values"
        )
        print(
            f"{'':8s} closest |p - threshold|/threshold {info['rel_min']:.3e} (sorted position"
            f" {info['rel_min_at']}); last rejected {info['rel_last']:.3e}, first kept {info['rel_stop']:.3e};"
            f" within {FRAGILE:g}: {info['n_fragile']}; equal p-values straddling the stop: {info['straddle']}"
        )
    both = (t_f.significant.to_numpy() != t_s.significant.to_numpy()).sum() // 2
    print(f"unordered pairs whose decision differs between fisher and sandwich: {both}")


if __name__ == "__main__":
    main()
