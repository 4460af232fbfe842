#!/usr/bin/env python3
"""Sandwich standard errors for Bradley-Terry (plain, pair-reweighted, contextual) on
../shared/data/llmfao.csv and for Plackett-Luce on tests/fixtures/pl_rankings.csv: exact
numpy values (Newton to a tight optimum, pseudo-inverse instead of a Hessian ridge) next
to arena-rank's own numbers.

Usage:
  ~/.cache/prefdb/bench-venv/bin/python tests/oracle/arena_rank_parity.py [--check]
A fresh venv needs (the versions this was written with):
  pip install arena-rank==0.1.1 jax==0.8.1 jaxlib==0.8.1 optax==0.2.8 jaxtyping==0.3.11 \
      datasets==5.2.0 numpy==2.3.3 pandas==3.1.1

Common to all: ratings are 1000 + 400/ln(10) * s with s centred to mean 0, and a standard
error on the rating scale is 400/ln(10) times one on the natural-log scale. For a battle
row r, a = left, b = right, y_r = 1 (winner 'left'), 0 ('right'), 0.5 ('tie'),
z_r = e_a - e_b, d_r = s_a - s_b, p_r = sigmoid(d_r). Before arena-rank sees the data,
left/right become model_a/model_b and winner left/right/tie becomes 'model_a'/'model_b'/
'tie' (arena-rank's outcome map gives 'tie' 0.5, the same y as here).

A. Plain Bradley-Terry, prior 0 (the maximum-likelihood estimate). Row weight rho_r = 1
   (variant `plain`) or rho_r = 1 / max(n_pair, 50) (variant `pair`; n_pair = number of
   rows of the unordered pair {a, b}, as arena-rank's PairDataset.from_pandas(
   reweighted=True, min_pair_count=50)). Maximise
       sum_r rho_r [y_r log p_r + (1 - y_r) log(1 - p_r)]
   by Newton's method from s = 0, stopping when the largest |step| is below 1e-13. The
   Hessian is singular along the all-ones vector 1; each step solves (H + J/n) step = grad
   (J = 1 1^T, n = number of models), which keeps s centred. At the optimum:
       H   = sum_r rho_r   p_r (1 - p_r)   z_r z_r^T      (no ridge)
       G   = sum_r rho_r^2 (y_r - p_r)^2   z_r z_r^T
       G_F = sum_r rho_r^2 p_r (1 - p_r)   z_r z_r^T
       H^+ = (H + J/n)^-1 - J/n                 (the pseudo-inverse: H's null space is 1)
       exact_se        = sqrt(diag(H^+ G H^+))              * 400/ln 10   (sandwich)
       exact_fisher_se = sqrt(diag(H^+))                    * 400/ln 10   (plain)
                       = sqrt(diag(H^+ G_F H^+))            * 400/ln 10   (pair: the
                         model-based variance of the weighted estimator)
   These covariances are those of the centred strengths. arena-rank: BradleyTerry(n) on
   PairDataset.from_pandas(df, reweighted=False / True), compute_ratings_and_cis(
   ci_method="sandwich"): ar_rating = its "ratings", ar_se = sqrt(its "variances"). It
   stops L-BFGS at gtol = ftol = 1e-9 and adds 1e-5 * N (unweighted) or 1e-5 (weighted)
   to the diagonal of H before inverting, so its numbers differ slightly from the exact
   ones. The script also checks that H^+ G H^+ equals arena-rank's own
   compute_hessian_and_covariance (hessian_reg = 0, pseudo-inverse) at the exact optimum.

B. Contextual Bradley-Terry with one per-row feature (llmfao has no response lengths, so
   a synthetic "length" is built from its columns; model names are ASCII, asserted):
       len_a   = length(left)  * 20 + ((id * 37 + worker * 11) % 101)
                 + (CASE winner WHEN 'left'  THEN 60 ELSE 0 END)
       len_b   = length(right) * 20 + ((id * 53 + worker * 7) % 97)
                 + (CASE winner WHEN 'right' THEN 60 ELSE 0 END)
       feature = (len_a - len_b) / (len_a + len_b)          (float division)
   length() = number of characters of the model name; id and worker are the integer
   columns. Normalised (normalize_features=True): x_r = (feature_r - mean) / std over all
   rows, population std (ddof = 0); a constant feature would stay 0 (std replaced by 1).
   Exact fit, prior 0 on s, ridge R = 1.0 on beta: rho_r = 1 / max(n_pair, 50)
   (unnormalised), W = sum_r rho_r, N = number of rows, eta_r = s_a - s_b + beta . x_r,
   p_r = sigmoid(eta_r), z_r = (e_a - e_b, x_r). Maximise
       sum_r rho_r [y_r log p_r + (1 - y_r) log(1 - p_r)] - 0.5 * R * W * |beta|^2
   (arena-rank's mean loss, whose weights are rho_r * N / W, times -W) by Newton's method
   (objective Hessian H + diag(0, R W); step below 1e-13). At the optimum:
       H   = sum_r rho_r p_r (1 - p_r) z_r z_r^T        (no ridge on beta, no Hessian ridge)
       G   = sum_r rho_r^2 (y_r - p_r)^2 z_r z_r^T - (R W / N)^2 [0; beta] [0; beta]^T
       H^+ = (H + P)^-1 - P,  P = J/n on the s block, 0 elsewhere (null space (1,...,1,0))
       Cov = H^+ G H^+;  exact_se = sqrt(s-block diagonal) * 400/ln 10;
       coefficient exact_se = sqrt(beta-block diagonal)   (log-odds scale)
   The script verifies that Cov equals arena-rank's formula H_m^+ G_m H_m^+ / N (its
   compute_hessian_and_covariance with hessian_reg = 0, its mean-normalised weights, the
   pseudo-inverse in place of its inverse) at the exact optimum to 1e-10 relative (the
   largest entry difference over the largest entry); they agree to ~1e-13.
   arena-rank: ContextualBradleyTerry(n, 1) with its defaults (reg = 1.0, hessian_reg =
   1e-5, which it adds to both diagonal blocks of its mean-scale H) on
   ContextualPairDataset.from_pandas(df, feature_cols=["feature"]) with its defaults
   (reweighted=True, min_pair_count=50, normalize_features=True); ar_rating = its
   "ratings", ar_se = sqrt(its "variances"), ar_coef = its "coeffs" (it returns no
   coefficient standard error).

C. Plackett-Luce, rows of kind 'plain' of tests/fixtures/pl_rankings.csv (untied; position
   1 = best). Ranking k with order o_1, ..., o_m and frequency weight w_k has
   log L_k = sum_{j<m} [s_{o_j} - log sum_{l>=j} exp(s_{o_l})]. Prior 0, strengths centred,
   Newton to a largest |step| below 1e-13. With pi_j the softmax of s over {o_j..o_m}:
       g_k = sum_{j<m} (e_{o_j} - pi_j)                    (score of ranking k)
       H   = sum_k w_k sum_{j<m} (diag(pi_j) - pi_j pi_j^T)
       G   = sum_k w_k g_k g_k^T
       se_sandwich = sqrt(diag(H^+ G H^+)), se_fisher = sqrt(diag(H^+))  (natural log)
   The strengths are checked against pl_ref.tsv's choix ilsr column.

Writes (12 decimals, NaN spelled out):
  tests/fixtures/arena_rank_llmfao.tsv: key, ar_rating, ar_se, exact_rating, exact_se,
    exact_fisher_se; one row per (variant, model), key = "variant|model" (variant plain,
    pair or contextual; models sorted), exact_fisher_se NaN for contextual.
  tests/fixtures/arena_rank_contextual_coef.tsv: feature (one row, "coef_1"), ar_coef,
    exact_coef, exact_se.
  tests/fixtures/pl_sandwich.tsv: item, strength, se_sandwich, se_fisher.
and prints, per variant, max |ar_rating - exact_rating|, max |ar_se / exact_se - 1| and the
largest |gradient| of the exact fit.
"""
import math
from pathlib import Path

import numpy as np
import pandas as pd
from arena_rank.models.bradley_terry import BradleyTerry
from arena_rank.models.contextual_bradley_terry import ContextualBradleyTerry
from arena_rank.utils.data_utils import ContextualPairDataset, PairDataset
from fixture import write_or_check

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / ".." / "shared" / "data" / "llmfao.csv"
PL_DATA = ROOT / "tests" / "fixtures" / "pl_rankings.csv"
PL_REF = ROOT / "tests" / "fixtures" / "pl_ref.tsv"
OUT = ROOT / "tests" / "fixtures" / "arena_rank_llmfao.tsv"
OUT_COEF = ROOT / "tests" / "fixtures" / "arena_rank_contextual_coef.tsv"
OUT_PL = ROOT / "tests" / "fixtures" / "pl_sandwich.tsv"
SCALE = 400.0 / math.log(10.0)
MIN_PAIR = 50
REG = 1.0


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def pinv_with(h, p):
    """Pseudo-inverse of h whose null space is spanned by p (p = u u^T, |u| = 1)."""
    return np.linalg.inv(h + p) - p


def rel_diff(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


def newton(grad_hess, k, null):
    """Maximise a concave function from 0: grad_hess(theta) -> (gradient, objective Hessian
    as a positive semi-definite matrix), `null` the projector on its null space."""
    theta = np.zeros(k)
    for it in range(200):
        g, h = grad_hess(theta)
        step = np.linalg.solve(h + null, g)
        theta = theta + step
        if np.abs(step).max() < 1e-13:
            g, _ = grad_hess(theta)
            return theta, float(np.abs(g).max()), it + 1
    raise RuntimeError("Newton did not converge")


def load_llmfao():
    raw = pd.read_csv(DATA)
    models = sorted(set(raw["left"]) | set(raw["right"]))
    assert all(m.isascii() for m in models), "model names are not all ASCII"
    assert set(raw["winner"]) <= {"left", "right", "tie"}
    df = pd.DataFrame(
        {
            "model_a": raw["left"],
            "model_b": raw["right"],
            "winner": raw["winner"].map({"left": "model_a", "right": "model_b", "tie": "tie"}),
        }
    )
    len_a = (
        raw["left"].str.len() * 20
        + (raw["id"] * 37 + raw["worker"] * 11) % 101
        + np.where(raw["winner"] == "left", 60, 0)
    )
    len_b = (
        raw["right"].str.len() * 20
        + (raw["id"] * 53 + raw["worker"] * 7) % 97
        + np.where(raw["winner"] == "right", 60, 0)
    )
    df["feature"] = (len_a - len_b).astype(float) / (len_a + len_b).astype(float)
    index = {m: i for i, m in enumerate(models)}
    a = raw["left"].map(index).to_numpy()
    b = raw["right"].map(index).to_numpy()
    y = raw["winner"].map({"left": 1.0, "right": 0.0, "tie": 0.5}).to_numpy()
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    pair_key = lo * len(models) + hi
    _, inverse, counts = np.unique(pair_key, return_inverse=True, return_counts=True)
    rho_pair = 1.0 / np.maximum(counts[inverse], MIN_PAIR).astype(float)
    return df, models, a, b, y, rho_pair


def design(a, b, n, x=None):
    z = np.zeros((len(a), n + (0 if x is None else x.shape[1])))
    z[np.arange(len(a)), a] += 1.0
    z[np.arange(len(a)), b] -= 1.0
    if x is not None:
        z[:, n:] = x
    return z


def exact_bt(z, y, rho, n):
    """Weighted BT MLE and its sandwich / model-based covariances (centred)."""
    p_null = np.full((n, n), 1.0 / n)

    def grad_hess(s):
        p = sigmoid(z @ s)
        return z.T @ (rho * (y - p)), (z * (rho * p * (1 - p))[:, None]).T @ z

    s, gmax, iters = newton(grad_hess, n, p_null)
    p = sigmoid(z @ s)
    h = (z * (rho * p * (1 - p))[:, None]).T @ z
    g = (z * (rho**2 * (y - p) ** 2)[:, None]).T @ z
    g_f = (z * (rho**2 * p * (1 - p))[:, None]).T @ z
    hp = pinv_with(h, p_null)
    return s, hp @ g @ hp, hp @ g_f @ hp, hp, gmax, iters


def arena_bt_check(s, cov, df, n, reweighted):
    """arena-rank's own Hessian / gradient covariance, hessian_reg 0, at the exact fit."""
    ds = PairDataset.from_pandas(df, reweighted=reweighted, min_pair_count=MIN_PAIR)
    h, g = BradleyTerry.compute_hessian_and_covariance(
        ratings=np.asarray(s),
        matchups=ds.pairs,
        outcomes=ds.outcomes,
        counts=ds.counts,
        opt_weights=ds.opt_weights,
        hessian_reg=0.0,
        n_competitors=n,
    )
    hp = np.linalg.pinv(np.asarray(h))
    return rel_diff(hp @ np.asarray(g) @ hp, cov)


def run_bt(df, models, a, b, y, rho, variant):
    n = len(models)
    z = design(a, b, n)
    s, cov, cov_f, hp, gmax, iters = exact_bt(z, y, rho, n)
    fisher = hp if variant == "plain" else cov_f
    check = arena_bt_check(s, cov, df, n, variant == "pair")
    assert check < 1e-10, f"{variant}: sandwich differs from arena-rank's formula by {check}"
    ds = PairDataset.from_pandas(df, reweighted=(variant == "pair"), min_pair_count=MIN_PAIR)
    assert list(ds.competitors) == models
    model = BradleyTerry(n)
    res = model.compute_ratings_and_cis(ds, ci_method="sandwich")
    table = pd.DataFrame(
        {
            "ar_rating": np.asarray(res["ratings"]),
            "ar_se": np.sqrt(np.asarray(res["variances"])),
            "exact_rating": 1000.0 + SCALE * s,
            "exact_se": SCALE * np.sqrt(np.diag(cov)),
            "exact_fisher_se": SCALE * np.sqrt(np.diag(fisher)),
        },
        index=[f"{variant}|{m}" for m in models],
    )
    info = dict(gmax=gmax, iters=iters, formula=check)
    return s, table, info


def run_contextual(df, models, a, b, y, rho):
    n = len(models)
    f = df["feature"].to_numpy()
    std = f.std()
    x = ((f - f.mean()) / (std if std != 0 else 1.0))[:, None]
    z = design(a, b, n, x)
    k = z.shape[1]
    w_sum, n_obs = rho.sum(), len(y)
    ridge = np.zeros((k, k))
    ridge[n:, n:] = REG * w_sum * np.eye(k - n)
    p_null = np.zeros((k, k))
    p_null[:n, :n] = 1.0 / n

    def grad_hess(theta):
        p = sigmoid(z @ theta)
        g = z.T @ (rho * (y - p)) - ridge @ theta
        return g, (z * (rho * p * (1 - p))[:, None]).T @ z + ridge

    theta, gmax, iters = newton(grad_hess, k, p_null)
    beta = theta[n:]
    p = sigmoid(z @ theta)
    h = (z * (rho * p * (1 - p))[:, None]).T @ z
    bvec = np.concatenate([np.zeros(n), beta])
    g = (z * (rho**2 * (y - p) ** 2)[:, None]).T @ z - (REG * w_sum / n_obs) ** 2 * np.outer(bvec, bvec)
    hp = pinv_with(h, p_null)
    assert rel_diff(hp, np.linalg.pinv(h)) < 1e-9
    cov = hp @ g @ hp

    ds = ContextualPairDataset.from_pandas(df, feature_cols=["feature"])
    assert list(ds.competitors) == models
    assert np.abs(np.asarray(ds.features) - x).max() < 1e-12
    assert np.abs(np.asarray(ds.weights) - rho * n_obs / w_sum).max() < 1e-12
    h_m, g_m = ContextualBradleyTerry.compute_hessian_and_covariance(
        ratings=theta[:n],
        coeffs=beta,
        matchups=ds.pairs,
        features=ds.features,
        outcomes=ds.outcomes,
        weights=ds.weights,
        reg=REG,
        hessian_reg=0.0,
        n_competitors=n,
        n_features=k - n,
        n_obs=n_obs,
    )
    hmp = np.linalg.pinv(np.asarray(h_m))
    formula = rel_diff(hmp @ np.asarray(g_m) @ hmp / n_obs, cov)
    assert formula < 1e-10, f"contextual sandwich differs from arena-rank's formula by {formula}"

    model = ContextualBradleyTerry(n, k - n)
    res = model.compute_ratings_and_cis(ds, ci_method="sandwich")
    se = np.sqrt(np.diag(cov))
    table = pd.DataFrame(
        {
            "ar_rating": np.asarray(res["ratings"]),
            "ar_se": np.sqrt(np.asarray(res["variances"])),
            "exact_rating": 1000.0 + SCALE * theta[:n],
            "exact_se": SCALE * se[:n],
            "exact_fisher_se": np.nan,
        },
        index=[f"contextual|{m}" for m in models],
    )
    coef = pd.DataFrame(
        {"ar_coef": np.asarray(res["coeffs"]), "exact_coef": beta, "exact_se": se[n:]},
        index=pd.Index([f"coef_{i + 1}" for i in range(k - n)], name="feature"),
    )
    info = dict(gmax=gmax, iters=iters, formula=formula, corr=float(np.corrcoef(f, y)[0, 1]))
    return table, coef, info


def run_pl():
    df = pd.read_csv(PL_DATA)
    df = df[df["kind"] == "plain"]
    items = sorted(df["item"].unique())
    index = {m: i for i, m in enumerate(items)}
    n = len(items)
    rankings = []
    for _, g in df.groupby("ranking_id", sort=True):
        g = g.sort_values("position")
        assert list(g["position"]) == list(range(1, len(g) + 1)), "tied or gapped ranking"
        assert g["weight"].nunique() == 1
        rankings.append((g["item"].map(index).to_numpy(), float(g["weight"].iloc[0])))

    def parts(s):
        """Per ranking: score g_k and negative Hessian of log L_k."""
        out = []
        for order, w in rankings:
            gk, hk = np.zeros(n), np.zeros((n, n))
            for j in range(len(order) - 1):
                risk = order[j:]
                e = np.exp(s[risk] - s[risk].max())
                pi = e / e.sum()
                gk[order[j]] += 1.0
                gk[risk] -= pi
                hk[np.ix_(risk, risk)] += np.diag(pi) - np.outer(pi, pi)
            out.append((w, gk, hk))
        return out

    p_null = np.full((n, n), 1.0 / n)

    def grad_hess(s):
        ps = parts(s)
        return sum(w * gk for w, gk, _ in ps), sum(w * hk for w, _, hk in ps)

    s, gmax, iters = newton(grad_hess, n, p_null)
    ps = parts(s)
    h = sum(w * hk for w, _, hk in ps)
    g = sum(w * np.outer(gk, gk) for w, gk, _ in ps)
    hp = pinv_with(h, p_null)
    ref = pd.read_csv(PL_REF, sep="\t", index_col=0)["ilsr"].reindex(items).to_numpy()
    gap = float(np.abs(s - ref).max())
    assert gap < 1e-6, f"PL strengths differ from pl_ref.tsv ilsr by {gap}"
    table = pd.DataFrame(
        {"strength": s, "se_sandwich": np.sqrt(np.diag(hp @ g @ hp)), "se_fisher": np.sqrt(np.diag(hp))},
        index=pd.Index(items, name="item"),
    )
    return table, dict(gmax=gmax, iters=iters, gap=gap, rankings=len(rankings))


def main() -> None:
    df, models, a, b, y, rho_pair = load_llmfao()
    s_plain, plain, info_plain = run_bt(df, models, a, b, y, np.ones(len(y)), "plain")
    ref = pd.read_csv(ROOT / "tests" / "fixtures" / "bt_llmfao.tsv", sep="\t", index_col=0)
    mle_gap = float(np.abs(s_plain - ref["mle"].reindex(models).to_numpy()).max())
    assert mle_gap < 1e-9, f"plain MLE differs from bt_llmfao.tsv's mle by {mle_gap}"
    _, pair, info_pair = run_bt(df, models, a, b, y, rho_pair, "pair")
    ctx, coef, info_ctx = run_contextual(df, models, a, b, y, rho_pair)
    table = pd.concat([plain, pair, ctx])
    table.index.name = "key"
    pl, info_pl = run_pl()

    write_or_check(table, OUT, 1e-7, f"{len(table)} rows")
    write_or_check(coef, OUT_COEF, 1e-9)
    write_or_check(pl, OUT_PL, 1e-9, f"{info_pl['rankings']} rankings")

    print(f"plain MLE vs bt_llmfao.tsv mle: {mle_gap:.1e}; feature-outcome corr {info_ctx['corr']:.4f}")
    for variant, info, t in (("plain", info_plain, plain), ("pair", info_pair, pair), ("contextual", info_ctx, ctx)):
        print(
            f"{variant:10s} max|ar_rating-exact_rating| {(t.ar_rating - t.exact_rating).abs().max():.3e}"
            f"  max|ar_se/exact_se-1| {(t.ar_se / t.exact_se - 1).abs().max():.3e}"
            f"  ar mean rating {t.ar_rating.mean():.9f}"
            f"  exact: Newton {info['iters']} its, max|grad| {info['gmax']:.1e},"
            f" vs arena-rank formula {info['formula']:.1e}"
        )
    c = coef.iloc[0]
    print(
        f"coef_1: ar {c.ar_coef:.9f} exact {c.exact_coef:.9f} (diff {abs(c.ar_coef - c.exact_coef):.2e}),"
        f" exact se {c.exact_se:.9f}"
    )
    print(
        f"PL: {info_pl['rankings']} rankings, Newton {info_pl['iters']} its, max|grad| {info_pl['gmax']:.1e},"
        f" vs pl_ref ilsr {info_pl['gap']:.1e}; max se_sandwich/se_fisher"
        f" {(pl.se_sandwich / pl.se_fisher).max():.4f}, min {(pl.se_sandwich / pl.se_fisher).min():.4f}"
    )


if __name__ == "__main__":
    main()
