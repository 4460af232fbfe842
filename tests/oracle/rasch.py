#!/usr/bin/env python3
"""Reference fits of the two-facet Rasch rating-scale model (Andrich's rating scale model with
an item facet and a rater facet, joint maximum likelihood) for prefdb's `rasch` aggregate,
on synthetic data drawn from known parameters. Every fit is polished to max|gradient|
~1e-14 and its optimum is unique (asserted: see "Fit and checks").

  tests/fixtures/rasch_data.csv  case,item,rater,rating (UTF-8, LF; generated here). All
                                 ids are text; in `ints` they are decimal digits (items
                                 101..135, raters 1..5) for the Rust test to CAST to BIGINT.
                                 rating is an integer. Rows of each case are shuffled
                                 (default_rng(seed).permutation), so no order can be relied on.
  tests/fixtures/rasch_ref.tsv   key<TAB>value, written by fixture.write_or_check (%.12f,
                                 NaN spelled out). 1287 keys, per case, in this order (kind
                                 by kind; within a kind ids sorted: text by code point, `ints`
                                 numerically - the same order for these ids):
      {case}|difficulty|{item}    delta_i          } every item of the case; NaN for an
      {case}|item_se|{item}       se               } item set aside (below)
      {case}|item_infit|{item}    infit            }
      {case}|item_outfit|{item}   outfit           }
      {case}|item_n|{item}        rows of the item in the case (kept or not)
      {case}|item_mean|{item}     mean raw `rating` over those rows (rating units, not k)
      {case}|severity|{rater}, rater_se, rater_infit, rater_outfit, rater_n, rater_mean
                                  the same for every rater (s_j)
      {case}|threshold|{y}        tau_h for h = 1..M, keyed by y = min + h, the rating of the
      {case}|threshold_se|{y}     upper category of the step (ratings 1..5: keys 2, 3, 4, 5)
      {case}|threshold_count|{y}  kept rows with rating y, for every y = min..max (the lowest
                                  has only this key)
      {case}|loglik               log-likelihood of the kept rows at the optimum
      {case}|kept_rows            number of kept rows

Model (one case at a time; the cases share nothing):
  Categories: min = smallest, max = largest rating among ALL rows of the case (before
  anything is set aside); k = rating - min in 0..M, M = max - min >= 1. Parameters: item
  difficulty delta_i, rater severity s_j, thresholds tau_1..tau_M;
      P(k | i, j) = exp(sum_{h=1..k} (-delta_i - s_j - tau_h))
                    / sum_{m=0..M} exp(sum_{h=1..m} (-delta_i - s_j - tau_h))   (empty sum 0)
  i.e. log P_k / P_{k-1} = -(delta_i + s_j + tau_k): higher difficulty or severity, lower
  ratings. A duplicate (item, rater) row is a separate observation.
  Set aside (before fitting), in rounds: among the rows still kept, an item whose kept
  ratings are all k = 0 or all k = M is extreme, likewise a rater, and an item or rater with
  no kept row at all is set aside too; items and raters are judged on the SAME rows within
  a round, then the rows of all of them are dropped; repeat until a round sets nothing
  aside. (Being extreme survives losing rows, so the final kept set does not depend on the
  order of removal; only the round numbers quoted below do.) Set-aside elements get NaN
  for the estimate, se, infit and outfit; their _n and _mean still count all their rows.
  Fit on the kept rows by joint maximum likelihood with mean(s_j over KEPT raters) = 0 and
  sum_h tau_h = 0 (these remove exactly the two flat directions, delta + c / s - c and
  delta - c / tau + c). Free parameters x = [delta (kept items, sorted), s_1..s_{J-1},
  tau_1..tau_{M-1}], s_J = -(s_1 + .. + s_{J-1}), tau_M = -(tau_1 + .. + tau_{M-1}); for
  M = 1 (binary) tau_1 = 0 and the model is the dichotomous Rasch model
  P(k = 1) = sigma(-(delta_i + s_j)).
  Per kept row r: P_k as above, E_r = sum_k k P_k, Var_r = sum_k k^2 P_k - E_r^2.
    item i (over its kept rows): se = 1 / sqrt(sum Var_r), infit = sum (k_r - E_r)^2 /
    sum Var_r, outfit = mean over its kept rows of (k_r - E_r)^2 / Var_r; raters the same.
    threshold h: se = 1 / sqrt(sum over ALL kept rows of p_rh (1 - p_rh)), p_rh =
    P(k >= h | r) (reported for binary's fixed tau_1 = 0 as well).
  These se are the model ("diagonal information") standard errors: they ignore the
  constraints and the other parameters' uncertainty, as Winsteps/Facets report them.

The likelihood, as coded: each row is a multinomial logit u_m(r) = G_r[m] . x with
u_m = -m (delta_i + s_j) - (tau_1 + .. + tau_m); -loglik = sum_r (logsumexp_m u_m - u_{k_r}),
gradient sum_r G_r^T (P_r - e_{k_r}), Hessian sum_r G_r^T (diag P_r - P_r P_r^T) G_r. So
-loglik is convex, and its Hessian's null space does not depend on x: positive definite at
one point means strictly convex everywhere.

Fit and checks (all asserted on every run):
  * the kept rows form ONE connected item-rater graph, every category 0..M occurs in them;
  * existence: an LP (scipy linprog, HiGHS) finds no direction |d|_inf <= 1 along which no
    row's observed category loses ground to another (every u_{k_r} - u_m slope >= 0) and
    some gains (max of the summed slopes = 0): the likelihood does not rise forever, so the
    maximum is attained (no extreme elements is necessary but not sufficient for that);
  * scipy.optimize.minimize(L-BFGS-B, analytic gradient, ftol=0, gtol=1e-12) from
    x ~ N(0, 1) (default_rng(100)), then Newton steps (Cholesky, step halving) until the step
    stalls: max|gradient| < 1e-10 (reached: <= 1.2e-14);
  * the analytic gradient against central differences at the random start (relative error
    <= 4.9e-9) and at the optimum; the analytic Hessian against differences of the gradient
    (<= 4.5e-10 relative); Hessian positive definite (min eigenvalue >= 0.25);
  * uniqueness: trust-exact (analytic Hessian) from another start (default_rng(101)) plus
    the same polish reaches the same delta, s, tau to 1e-8 (seen: <= 8e-15);
  * the optimum again in the stated model without the constraint bookkeeping: observed =
    expected (sum of k_r - E_r) for every kept item and every kept rater, and
    sum_r (1[k_r >= h] - p_rh) = 0 for every h (< 1e-9; seen <= 2e-14);
  * log-likelihood a second way (a plain loop over rows from the P formula, math.exp):
    relative difference <= 1e-12; se, infit, outfit, threshold se a second way (loop):
    <= 1e-12 relative;
  * in `extreme`, exactly the planted elements are set aside, in the rounds listed below.
  Outside this script (once): the binary case's delta, s agree with scikit-learn 1.6.1
  LogisticRegression(penalty=None, newton-cg, tol=1e-12) on item and rater dummies to 7e-11,
  and BFGS on all I + J + M parameters unconstrained (finite-difference gradient, then
  re-centred) agrees with every case to <= 1e-6.

Cases (true parameters; seeds in SEEDS; rows, kept rows, set-aside elements and round):
  mixed    40 items i01..i40 x 6 raters r1..r6, each pair w.p. 0.7; ratings 1..5;
           delta ~ N(0, 1), s = linspace(-1, 1, 6), tau = (-1.5, -0.5, 0.5, 1.5).
           171 rows, all kept, nothing set aside.
  severe   30 items q01..q30 x 4 raters: ann (s = 0.3), bob (+2, very severe), cy (-1.5,
           lenient), dee (-0.4); every pair once plus 10 pairs a second time
           (separate observations); ratings 0..2; delta ~ N(0, 1), tau = (-0.8, 0.8).
           130 rows, 126 kept; item q17 (four 0s) set aside in round 1.
  extreme  20 items e01..e20 x 5 raters r1..r5 (w.p. 0.85; delta ~ N(0, 0.8),
           s = linspace(-0.8, 0.8, 5), tau = (-1, 0, 1); ratings 1..4), then planted:
           e07 all 4, e13 all 1, e18 all 4 from r1..r5, and three more raters:
             r_top    rated only e07 (twice: 4, 4)          -> extreme itself, round 1
             r_ends   rated e07 (4) and e13 (1)             -> not extreme in round 1 (4 and
                                                               1), no kept row left: round 2
             r_chain  rated e07 (4), e13 (1), e18 (1)       -> round 2 (only e18's 1 is left)
           round 1: items e07, e13, rater r_top; round 2: raters r_ends, r_chain; round 3:
           item e18 (its last non-4 rating was r_chain's); round 4 sets nothing aside.
           92 rows, 70 kept, 17 items and 5 raters kept.
  binary   50 items b01..b50 x 8 raters j1..j8, each pair w.p. 0.6; ratings 0/1
           (dichotomous Rasch); delta ~ N(0, 1), s = linspace(-1, 1, 8). 251 rows, 199
           kept; 11 items set aside in round 1 (all 1: b11 b13 b29 b30 b31 b39 b42 b50;
           all 0: b14 b17 b28).
  ints     35 items 101..135 x 5 raters 1..5, each pair w.p. 0.8; ratings 1..3;
           delta ~ N(0, 1), s = linspace(-0.6, 0.6, 5), tau = (-0.7, 0.7). 135 rows, 134
           kept; item 120 (a single rating 3) set aside in round 1.

case     rows kept  I/kept  J/kept  L-BFGS-B nit, off by  Newton max|g|  min eig  floor
mixed     171  171  40/40    6/6    70, 1.3e-07           1.2e-14        0.494    4e-16
severe    130  126  30/29    4/4    50, 2.6e-07           2.5e-15        0.535    2e-16
extreme    92   70  20/17    8/5    44, 5.3e-08           8.0e-15        0.25     9e-16
binary    251  199  50/39    8/8    36, 7.7e-08           2.6e-15        0.439    4e-16
ints      135  134  35/34    5/5    52, 6.5e-08           5.1e-15        0.564    4e-16
(off by: max |difference| in delta, s, tau between L-BFGS-B's own stop and the polished
optimum; floor: the gradient with the rows summed in reverse order, mapped through H^-1 -
how far double precision determines the answer.)

Tolerances: the fixture is exact to its printing (%.12f, 5e-13 absolute). A fit stopped at
max|gradient| = eps is about eps / (min eig) <= 4 eps away, so a Rust Newton fit to 1e-10
matches delta, s, tau, se, infit, outfit to ~1e-9; suggested 1e-8 absolute, loglik 1e-10
relative (flat at the optimum), counts/n/mean exact (1e-12).

Usage: ~/.cache/prefdb/crowd-venv/bin/python tests/oracle/rasch.py [--check]
(~2 s; numpy 2.4.6, scipy 1.17.1, pandas 2.3.3. --check regenerates the data and the
reference and confirms both committed files instead of writing them.)
"""
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.optimize
import scipy.sparse
import scipy.sparse.csgraph

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture import write_or_check  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "fixtures" / "rasch_data.csv"
REF = ROOT / "tests" / "fixtures" / "rasch_ref.tsv"

CASES = ("mixed", "severe", "extreme", "binary", "ints")   # CSV and key order
SEEDS = {"mixed": 11, "severe": 12, "extreme": 14, "binary": 17, "ints": 15}
START_SEED = 100          # random starts: default_rng(START_SEED + 0 / 1), x ~ N(0, 1)
GMAX = 1e-10              # asserted max|gradient| after the Newton polish
SAME = 1e-8               # asserted agreement of the two fits
TOLERANCE = 1e-9          # --check: fixture.write_or_check


# ---------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------

def category_probs(eta, tau):
    """P(k | eta) for k = 0..M, rows of eta; log P_k/P_{k-1} = -(eta + tau_k)."""
    m = np.arange(len(tau) + 1)
    cum = np.concatenate([[0.0], np.cumsum(tau)])               # T_k = tau_1 + .. + tau_k
    u = -m[None, :] * np.asarray(eta)[:, None] - cum[None, :]
    u -= u.max(axis=1, keepdims=True)
    p = np.exp(u)
    return p / p.sum(axis=1, keepdims=True)


def simulate(rng, delta, sev, tau, pairs):
    """one rating category k per (item index, rater index) pair, drawn from the model"""
    pairs = np.asarray(pairs)
    p = category_probs(delta[pairs[:, 0]] + sev[pairs[:, 1]], tau)
    u = rng.random(len(pairs))
    return (u[:, None] > np.cumsum(p, axis=1)[:, :-1]).sum(axis=1)


def present(rng, n_items, n_raters, prob):
    """(item, rater) index pairs, each present with probability prob (item-major)"""
    mask = rng.random((n_items, n_raters)) < prob
    assert mask.any(axis=1).all() and mask.any(axis=0).all()
    return [(i, j) for i in range(n_items) for j in range(n_raters) if mask[i, j]]


def frame(case, items, raters, pairs, ratings, rng):
    """rows of one case, shuffled (the Rust side must not rely on any row order)"""
    df = pd.DataFrame({"case": case,
                       "item": [str(items[i]) for i, _ in pairs],
                       "rater": [str(raters[j]) for _, j in pairs],
                       "rating": np.asarray(ratings, dtype=np.int64)})
    return df.iloc[rng.permutation(len(df))].reset_index(drop=True)


def make_mixed():
    rng = np.random.default_rng(SEEDS["mixed"])
    items = [f"i{n:02d}" for n in range(1, 41)]
    raters = [f"r{n}" for n in range(1, 7)]
    delta = rng.normal(0.0, 1.0, len(items))
    sev = np.linspace(-1.0, 1.0, len(raters))
    tau = np.array([-1.5, -0.5, 0.5, 1.5])
    pairs = present(rng, len(items), len(raters), 0.7)
    return frame("mixed", items, raters, pairs, 1 + simulate(rng, delta, sev, tau, pairs), rng)


def make_severe():
    rng = np.random.default_rng(SEEDS["severe"])
    items = [f"q{n:02d}" for n in range(1, 31)]
    raters = ["ann", "bob", "cy", "dee"]
    delta = rng.normal(0.0, 1.0, len(items))
    sev = np.array([0.3, 2.0, -1.5, -0.4])          # bob very severe, cy lenient
    tau = np.array([-0.8, 0.8])
    pairs = [(i, j) for i in range(len(items)) for j in range(len(raters))]
    dup = rng.choice(len(pairs), 10, replace=False)  # 10 pairs rated a second time
    pairs += [pairs[d] for d in sorted(dup)]
    return frame("severe", items, raters, pairs, simulate(rng, delta, sev, tau, pairs), rng)


EXTREME_TOP, EXTREME_BOTTOM, EXTREME_CHAIN = "e07", "e13", "e18"
EXTREME_PLANTED = {             # rater: [(item, rating)], the raters outside r1..r5
    "r_top": [(EXTREME_TOP, 4), (EXTREME_TOP, 4)],
    "r_ends": [(EXTREME_TOP, 4), (EXTREME_BOTTOM, 1)],
    "r_chain": [(EXTREME_TOP, 4), (EXTREME_BOTTOM, 1), (EXTREME_CHAIN, 1)],
}
# the set-aside rounds these rows must produce (asserted)
EXTREME_ROUNDS = {"items": {EXTREME_TOP: 1, EXTREME_BOTTOM: 1, EXTREME_CHAIN: 3},
                  "raters": {"r_top": 1, "r_ends": 2, "r_chain": 2}}


def make_extreme():
    rng = np.random.default_rng(SEEDS["extreme"])
    items = [f"e{n:02d}" for n in range(1, 21)]
    raters = [f"r{n}" for n in range(1, 6)]
    delta = rng.normal(0.0, 0.8, len(items))
    sev = np.linspace(-0.8, 0.8, len(raters))
    tau = np.array([-1.0, 0.0, 1.0])
    pairs = present(rng, len(items), len(raters), 0.85)
    ratings = 1 + simulate(rng, delta, sev, tau, pairs)
    for r, (i, _) in enumerate(pairs):              # the planted items' regular ratings
        if items[i] in (EXTREME_TOP, EXTREME_CHAIN):
            ratings[r] = 4
        elif items[i] == EXTREME_BOTTOM:
            ratings[r] = 1
    raters = raters + list(EXTREME_PLANTED)
    for rater, rows in EXTREME_PLANTED.items():
        for item, rating in rows:
            pairs.append((items.index(item), raters.index(rater)))
            ratings = np.append(ratings, rating)
    return frame("extreme", items, raters, pairs, ratings, rng)


def make_binary():
    rng = np.random.default_rng(SEEDS["binary"])
    items = [f"b{n:02d}" for n in range(1, 51)]
    raters = [f"j{n}" for n in range(1, 9)]
    delta = rng.normal(0.0, 1.0, len(items))
    sev = np.linspace(-1.0, 1.0, len(raters))
    pairs = present(rng, len(items), len(raters), 0.6)
    return frame("binary", items, raters, pairs, simulate(rng, delta, sev, np.zeros(1), pairs),
                 rng)


def make_ints():
    rng = np.random.default_rng(SEEDS["ints"])
    items = list(range(101, 136))
    raters = list(range(1, 6))
    delta = rng.normal(0.0, 1.0, len(items))
    sev = np.linspace(-0.6, 0.6, len(raters))
    tau = np.array([-0.7, 0.7])
    pairs = present(rng, len(items), len(raters), 0.8)
    return frame("ints", items, raters, pairs, 1 + simulate(rng, delta, sev, tau, pairs), rng)


RANGES = {"mixed": (1, 5), "severe": (0, 2), "extreme": (1, 4), "binary": (0, 1), "ints": (1, 3)}


def make_data() -> pd.DataFrame:
    parts = [make_mixed(), make_severe(), make_extreme(), make_binary(), make_ints()]
    data = pd.concat(parts, ignore_index=True)
    for case, (lo, hi) in RANGES.items():
        r = data.loc[data["case"] == case, "rating"]
        assert (r.min(), r.max()) == (lo, hi), f"{case}: ratings {r.min()}..{r.max()}"
    return data


# ---------------------------------------------------------------------------------------
# the model on one case
# ---------------------------------------------------------------------------------------

def sort_ids(values, numeric):
    return sorted(set(values), key=int if numeric else None)


class Case:
    """Rows of one case; set-aside rule; the likelihood in the reduced parameters
    x = [delta_1..delta_I, s_1..s_{J-1}, tau_1..tau_{M-1}] (kept items / raters in sorted
    order; s_J = -(s_1 + .. + s_{J-1}), tau_M = -(tau_1 + .. + tau_{M-1}))."""

    def __init__(self, name, df):
        self.name = name
        numeric = name == "ints"
        self.items = sort_ids(df["item"], numeric)
        self.raters = sort_ids(df["rater"], numeric)
        self.item_col = df["item"].to_numpy()
        self.rater_col = df["rater"].to_numpy()
        self.rating = df["rating"].to_numpy(dtype=np.int64)
        self.lo, self.hi = int(self.rating.min()), int(self.rating.max())
        self.M = self.hi - self.lo
        assert self.M >= 1
        k = self.rating - self.lo
        self.set_aside(k)

        keep = self.keep
        self.kitems = [v for v in self.items if v not in self.round_item]
        self.kraters = [v for v in self.raters if v not in self.round_rater]
        ipos = {v: n for n, v in enumerate(self.kitems)}
        jpos = {v: n for n, v in enumerate(self.kraters)}
        self.ii = np.array([ipos[v] for v in self.item_col[keep]], dtype=np.int64)
        self.jj = np.array([jpos[v] for v in self.rater_col[keep]], dtype=np.int64)
        self.k = k[keep]
        self.n = int(keep.sum())
        I, J, M = len(self.kitems), len(self.kraters), self.M
        self.I, self.J = I, J

        # the kept rows: one connected item-rater graph, every category 0..M present
        g = scipy.sparse.coo_matrix((np.ones(self.n), (self.ii, I + self.jj)),
                                    shape=(I + J, I + J))
        ncomp, _ = scipy.sparse.csgraph.connected_components(g, directed=False)
        assert ncomp == 1, f"{name}: kept rows form {ncomp} components"
        assert set(self.k.tolist()) == set(range(M + 1)), f"{name}: a category is empty"

        # full parameters z = [delta (I), s (J), tau (M)] = Z x
        self.q = I + J + M
        self.p = I + (J - 1) + (M - 1)
        Z = np.zeros((self.q, self.p))
        Z[:I, :I] = np.eye(I)
        Z[I:I + J - 1, I:I + J - 1] = np.eye(J - 1)
        Z[I + J - 1, I:I + J - 1] = -1.0
        Z[I + J:I + J + M - 1, I + J - 1:] = np.eye(M - 1)
        Z[I + J + M - 1, I + J - 1:] = -1.0
        self.Z = Z
        # logits u_m(r) = -m (delta_i + s_j) - (tau_1 + .. + tau_m), m = 0..M, as Gfull z
        m = np.arange(M + 1)
        Gf = np.zeros((self.n, M + 1, self.q))
        rows = np.arange(self.n)
        Gf[rows, :, self.ii] = -m[None, :]
        Gf[rows, :, I + self.jj] = -m[None, :]
        for mm in range(1, M + 1):
            Gf[:, mm, I + J:I + J + mm] = -1.0
        self.Gfull = Gf
        self.G = Gf @ Z                                   # (n, M+1, p)
        self.onehot = np.eye(M + 1)[self.k]

    def set_aside(self, k):
        """Rounds: among the kept rows, every item / rater whose kept ratings are all k = 0
        or all k = M, or that has no kept row, is set aside (items and raters decided on
        the same rows), then its rows are dropped; until a round sets nothing aside."""
        keep = np.ones(len(k), dtype=bool)
        self.round_item, self.round_rater = {}, {}
        rnd = 0
        while True:
            rnd += 1
            out = []
            for col, ids, rounds in ((self.item_col, self.items, self.round_item),
                                     (self.rater_col, self.raters, self.round_rater)):
                for v in ids:
                    if v in rounds:
                        continue
                    kk = k[keep & (col == v)]
                    if len(kk) == 0 or (kk == 0).all() or (kk == self.M).all():
                        out.append((col, v, rounds))
            if not out:
                break
            for col, v, rounds in out:
                rounds[v] = rnd
            for col, v, rounds in out:
                keep &= col != v
        self.keep = keep
        self.rounds = rnd - 1

    # ----- likelihood -----
    def probs(self, x, G=None):
        u = (self.G if G is None else G) @ x
        lse = np.logaddexp.reduce(u, axis=1)
        return u, lse, np.exp(u - lse[:, None])

    def fun_grad(self, x):
        u, lse, P = self.probs(x)
        f = float(np.sum(lse - u[np.arange(self.n), self.k]))
        return f, np.einsum("rm,rmp->p", P - self.onehot, self.G)

    def fun(self, x):
        return self.fun_grad(x)[0]

    def hess(self, x):
        _, _, P = self.probs(x)
        GP = np.einsum("rmp,rm->rp", self.G, P)
        return np.einsum("rmp,rm,rmq->pq", self.G, P, self.G) - GP.T @ GP

    def full(self, x):
        z = self.Z @ x
        I, J = self.I, self.J
        return z[:I], z[I:I + J], z[I + J:]

    def loglik_loop(self, x):
        """the log-likelihood again, row by row, from the stated formula (math only)"""
        delta, sev, tau = (v.tolist() for v in self.full(x))
        total = 0.0
        for i, j, k in zip(self.ii.tolist(), self.jj.tolist(), self.k.tolist()):
            num, acc = [1.0], 0.0
            for h in range(self.M):
                acc += -delta[i] - sev[j] - tau[h]
                num.append(math.exp(acc))
            total += math.log(num[k] / math.fsum(num))
        return total

    # ----- existence of the optimum -----
    def recession(self):
        """max over |d|_inf <= 1 of sum_r sum_m (u_{k_r}(r) - u_m(r)) slopes along d subject
        to every slope >= 0: 0 means no direction raises the likelihood forever, so (with a
        positive definite Hessian) the maximum exists and is unique."""
        D = (self.G[np.arange(self.n), self.k][:, None, :] - self.G)     # (n, M+1, p)
        D = D[self.onehot == 0]                                           # m != k_r
        res = scipy.optimize.linprog(-D.sum(axis=0), A_ub=-D, b_ub=np.zeros(len(D)),
                                     bounds=[(-1.0, 1.0)] * self.p, method="highs")
        assert res.status == 0, res.message
        return -res.fun


# ---------------------------------------------------------------------------------------
# fitting
# ---------------------------------------------------------------------------------------

def fd_grad(c, x, h=1e-5):
    out = np.empty_like(x)
    for n in range(len(x)):
        e = np.zeros_like(x)
        e[n] = h
        out[n] = (c.fun(x + e) - c.fun(x - e)) / (2 * h)
    return out


def fd_hess(c, x, h=1e-6):
    H = np.empty((len(x), len(x)))
    for n in range(len(x)):
        e = np.zeros_like(x)
        e[n] = h
        H[:, n] = (c.fun_grad(x + e)[1] - c.fun_grad(x - e)[1]) / (2 * h)
    return H


def polish(c, x, max_steps=50):
    """Newton steps (Cholesky: the Hessian is positive definite) with step halving until the
    step stalls; returns the iterate with the smallest max|gradient| and the step count."""
    f, g = c.fun_grad(x)
    best_x, best_g, steps, stall = x, np.abs(g).max(), 0, 0
    for _ in range(max_steps):
        L = np.linalg.cholesky(c.hess(x))
        step = -np.linalg.solve(L.T, np.linalg.solve(L, g))
        t = 1.0
        while True:
            x_new = x + t * step
            f_new, g_new = c.fun_grad(x_new)
            if f_new <= f + 1e-13 * abs(f) or t < 1e-3:
                break
            t /= 2
        x, f, g, steps = x_new, f_new, g_new, steps + 1
        if np.abs(g).max() < best_g:
            best_x, best_g, stall = x, np.abs(g).max(), 0
        else:
            stall += 1
        if np.abs(step).max() < 1e-15 * (1 + np.abs(x).max()) or stall >= 3:
            break
    return best_x, best_g, steps


def fit(c, seed, method):
    x0 = np.random.default_rng(START_SEED + seed).normal(0.0, 1.0, c.p)
    if method == "L-BFGS-B":
        res = scipy.optimize.minimize(c.fun_grad, x0, jac=True, method="L-BFGS-B",
                                      options={"ftol": 0.0, "gtol": 1e-12, "maxiter": 10000,
                                               "maxfun": 20000})
    else:
        res = scipy.optimize.minimize(c.fun_grad, x0, jac=True, hess=c.hess, method=method,
                                      options={"gtol": 1e-12, "maxiter": 1000})
    x, gmax, steps = polish(c, res.x)
    return x0, res, x, gmax, steps


def statistics(c, x):
    """per kept row P_k, E, Var; per element estimate, se, infit, outfit"""
    delta, sev, tau = c.full(x)
    P = category_probs(delta[c.ii] + sev[c.jj], tau)
    m = np.arange(c.M + 1)
    E = P @ m
    V = P @ (m * m) - E * E
    R2 = (c.k - E) ** 2
    out = {}
    for kind, idx, size in (("item", c.ii, c.I), ("rater", c.jj, c.J)):
        sv = np.bincount(idx, V, size)
        out[kind] = {"se": 1 / np.sqrt(sv),
                     "infit": np.bincount(idx, R2, size) / sv,
                     "outfit": np.bincount(idx, R2 / V, size) / np.bincount(idx, None, size),
                     "score": np.bincount(idx, c.k - E, size)}   # observed - expected
    ge = P[:, ::-1].cumsum(axis=1)[:, ::-1][:, 1:]                 # P(k >= h), h = 1..M
    obs = (c.k[:, None] >= np.arange(1, c.M + 1)[None, :])
    out["threshold"] = {"se": 1 / np.sqrt((ge * (1 - ge)).sum(axis=0)),
                        "score": (obs - ge).sum(axis=0)}
    out["loglik"] = float(np.log(P[np.arange(c.n), c.k]).sum())
    return delta, sev, tau, out


def statistics_loop(c, x):
    """se, infit, outfit (items, raters) and threshold se again, row by row (math only):
    sum of Var, sum of squared residuals, sum of squared standardised residuals, count"""
    delta, sev, tau = (v.tolist() for v in c.full(x))
    acc = {("item", i): [0.0, 0.0, 0.0, 0] for i in range(c.I)}
    acc.update({("rater", j): [0.0, 0.0, 0.0, 0] for j in range(c.J)})
    thr = [0.0] * c.M
    for i, j, k in zip(c.ii.tolist(), c.jj.tolist(), c.k.tolist()):
        num, a = [1.0], 0.0
        for h in range(c.M):
            a += -delta[i] - sev[j] - tau[h]
            num.append(math.exp(a))
        tot = math.fsum(num)
        P = [v / tot for v in num]
        E = math.fsum(m * P[m] for m in range(c.M + 1))
        V = math.fsum(m * m * P[m] for m in range(c.M + 1)) - E * E
        for key in (("item", i), ("rater", j)):
            t = acc[key]
            t[0] += V
            t[1] += (k - E) ** 2
            t[2] += (k - E) ** 2 / V
            t[3] += 1
        for h in range(1, c.M + 1):
            ge = math.fsum(P[h:])
            thr[h - 1] += ge * (1 - ge)
    out = {}
    for (kind, n), (sv, r2, z2, cnt) in acc.items():
        out.setdefault(kind, {"se": [], "infit": [], "outfit": []})
        out[kind]["se"].append(1 / math.sqrt(sv))
        out[kind]["infit"].append(r2 / sv)
        out[kind]["outfit"].append(z2 / cnt)
    out["threshold"] = {"se": [1 / math.sqrt(v) for v in thr]}
    return out


def facts(case, df):
    t0 = time.time()
    c = Case(case, df)
    lp = c.recession()
    assert lp < 1e-9, f"{case}: the likelihood rises forever along some direction ({lp})"

    x0, res, x, gmax, steps = fit(c, 0, "L-BFGS-B")
    assert gmax < GMAX, f"{case}: max|grad| {gmax}"
    f, g = c.fun_grad(x)
    # gradient and Hessian against central differences (at the start and at the optimum)
    g0 = c.fun_grad(x0)[1]
    rel = np.abs(g0 - fd_grad(c, x0)) / np.maximum(1.0, np.abs(g0))
    grad_rel = rel.max()
    assert grad_rel < 1e-7, f"{case}: gradient at the start ({grad_rel})"
    grad_abs = np.abs(g - fd_grad(c, x)).max()
    assert grad_abs < 1e-6, f"{case}: gradient at the optimum ({grad_abs})"
    H = c.hess(x)
    hess_err = np.abs(H - fd_hess(c, x)).max() / np.abs(H).max()
    assert hess_err < 1e-7, f"{case}: Hessian ({hess_err})"
    lam = np.linalg.eigvalsh(H)
    assert lam[0] > 0, f"{case}: Hessian not positive definite ({lam[0]})"
    # uniqueness: another start, another method
    _, _, x2, gmax2, _ = fit(c, 1, "trust-exact")
    assert gmax2 < GMAX
    other = np.abs(c.Z @ x2 - c.Z @ x).max()
    assert other < SAME, f"{case}: second fit differs by {other}"
    # rounding floor: the gradient with the rows in reverse order, through H^-1
    rev = c.G[::-1], c.onehot[::-1]
    _, _, Pr = c.probs(x, rev[0])
    g_rev = np.einsum("rm,rmp->p", Pr - rev[1], rev[0])
    floor = np.abs(np.linalg.solve(H, g_rev - g)).max()
    lbfgsb = np.abs(c.Z @ res.x - c.Z @ x).max()

    delta, sev, tau, st = statistics(c, x)
    # the optimum in the unconstrained parameters: observed = expected for every item,
    # rater and threshold (the constraints only remove the two flat directions)
    score = max(np.abs(st["item"]["score"]).max(), np.abs(st["rater"]["score"]).max(),
                np.abs(st["threshold"]["score"]).max())
    assert score < 1e-9, f"{case}: score equations ({score})"
    assert abs(sev.mean()) < 1e-14 and abs(tau.sum()) < 1e-14
    again = statistics_loop(c, x)
    for kind in ("item", "rater", "threshold"):
        for stat, vals in again[kind].items():
            err = np.abs(st[kind][stat] / np.array(vals) - 1).max()
            assert err < 1e-12, f"{case}: {kind} {stat} computed twice differs by {err}"
    loop = c.loglik_loop(x)
    assert abs(loop - st["loglik"]) <= 1e-12 * abs(loop) and abs(-f - loop) <= 1e-12 * abs(loop)

    out = {}
    kept_i = {v: n for n, v in enumerate(c.kitems)}
    kept_j = {v: n for n, v in enumerate(c.kraters)}
    for kind, ids, col, kept, est, s in (
            ("item", c.items, c.item_col, kept_i, delta, st["item"]),
            ("rater", c.raters, c.rater_col, kept_j, sev, st["rater"])):
        name = "difficulty" if kind == "item" else "severity"
        for key, vals in ((name, est), (f"{kind}_se", s["se"]), (f"{kind}_infit", s["infit"]),
                          (f"{kind}_outfit", s["outfit"])):
            for v in ids:
                out[f"{case}|{key}|{v}"] = float(vals[kept[v]]) if v in kept else math.nan
        for v in ids:
            out[f"{case}|{kind}_n|{v}"] = float((col == v).sum())
        for v in ids:
            out[f"{case}|{kind}_mean|{v}"] = float(c.rating[col == v].mean())
    for h in range(1, c.M + 1):
        out[f"{case}|threshold|{c.lo + h}"] = float(tau[h - 1])
    for h in range(1, c.M + 1):
        out[f"{case}|threshold_se|{c.lo + h}"] = float(st["threshold"]["se"][h - 1])
    for kk in range(c.M + 1):
        out[f"{case}|threshold_count|{c.lo + kk}"] = float((c.k == kk).sum())
    out[f"{case}|loglik"] = st["loglik"]
    out[f"{case}|kept_rows"] = float(c.n)

    def aside(rounds):
        order = sorted(rounds.items(), key=lambda t: (t[1], str(t[0])))
        return ", ".join(f"{v} (round {r})" for v, r in order) or "-"
    note = (f"{case}: {len(df)} rows ({c.n} kept), ratings {c.lo}..{c.hi}, "
            f"{len(c.items)} items ({c.I} kept), {len(c.raters)} raters ({c.J} kept), p={c.p}; "
            f"set aside: items {aside(c.round_item)}; raters {aside(c.round_rater)}; "
            f"L-BFGS-B nit={res.nit} max|g|={np.abs(res.jac).max():.1e} ({lbfgsb:.1e} off); "
            f"Newton {steps} -> max|g|={gmax:.1e}; trust-exact from seed 1: "
            f"max|g|={gmax2:.1e}, differs by {other:.1e}; grad check rel {grad_rel:.1e}; "
            f"Hessian check {hess_err:.1e}; min eig {lam[0]:.3g}; floor {floor:.1e}; "
            f"LP {abs(lp):.0e}; score eq. {score:.1e}; loglik {st['loglik']:.6f}; "
            f"{time.time() - t0:.1f}s")
    return c, out, note, gmax, grad_rel


def main():
    t_start = time.time()
    data = make_data()
    text = data.to_csv(index=False, lineterminator="\n")
    if "--check" in sys.argv:
        assert DATA.read_text() == text, f"{DATA.relative_to(ROOT)} differs from a fresh run"
        print(f"{DATA.relative_to(ROOT)} confirmed")
    else:
        DATA.write_text(text)
        print(f"wrote {DATA.relative_to(ROOT)}: {len(data)} rows")
    data = pd.read_csv(DATA, dtype={"case": str, "item": str, "rater": str, "rating": np.int64},
                       keep_default_na=False)

    out, worst_g, worst_rel = {}, 0.0, 0.0
    for case in CASES:
        df = data[data["case"] == case].reset_index(drop=True)
        c, o, note, gmax, grad_rel = facts(case, df)
        if case == "extreme":
            assert (c.round_item, c.round_rater) == \
                (EXTREME_ROUNDS["items"], EXTREME_ROUNDS["raters"]), note
        out.update(o)
        worst_g, worst_rel = max(worst_g, gmax), max(worst_rel, grad_rel)
        print(note, flush=True)
    table = pd.DataFrame({"value": pd.Series(out, dtype=float)})
    table.index.name = "key"
    summary = (f"{len(CASES)} cases, {len(data)} rows, {len(table)} keys, "
               f"max|grad| {worst_g:.1e}, gradient check max rel. error {worst_rel:.1e}")
    write_or_check(table, REF, TOLERANCE, summary)
    print(f"rasch: {summary}; {time.time() - t_start:.1f}s")


if __name__ == "__main__":
    main()
