#!/usr/bin/env python3
"""Reference fits of the NoisyBT MODEL (crowd-kit's NoisyBradleyTerry model, fitted
correctly) for prefdb's `noisy_bt`: the stationary point reached from crowd-kit's random
start, polished to max|gradient| ~1e-14. Unlike tests/oracle/noisy_bt.py (a replay of
crowd-kit's optimiser with its wrong gradient, whose output is path noise), nothing here
depends on an optimiser's path: every case has one optimum (seeds 0-3 agree, see below).

  tests/fixtures/noisy_bt_fit_data.csv  case,worker,item_a,item_b,score,weight (UTF-8; rows
                                        of a case in a fixed order, the order used here)
  tests/fixtures/noisy_bt_fit_ref.tsv   key<TAB>value, values as Python repr (round-trip).
                                        Keys, per case:
                                          {case}|rating|{item}   s_k - x0, every item
                                          {case}|skill|{worker}  sigma(g_w), every worker
                                          {case}|bias|{worker}   sigma(q_w), every worker
                                          {case}|loss            f at the optimum (below)
                                          {case}|rho, {case}|a   the options of the fit
                                        (items / workers in sorted order; 796 keys)

Model (rows r: worker w, item_a, item_b, score y in [0, 1] (1 = item_a wins, 0 = item_b
wins, 0.5 = tie, other fractions allowed), weight c >= 0):
  items   = sorted unique(item_a u item_b)   (L; strings by code point, so "Bravo" < "alpha"
                                              < "\u00fcber")
  workers = sorted unique(worker)            (W; ints numerically: llmfao 0..123)
  x = [x0, s_1..s_L, q_1..q_W, g_1..g_W], n = 1 + L + 2W
  start: np.random.seed(0); x = np.random.rand(n)  (crowd-kit's start; `MT` from noisy_bt.py
         reproduces it bit for bit, asserted; seeds 1-3 only for the uniqueness check)
  d = s_a - s_b,  u = sigma(g_w)
  P_a = u sigma(d) + (1 - u) sigma(q_w),   P_b = u sigma(-d) + (1 - u) sigma(-q_w) = 1 - P_a
  f(x) = - sum_r c_r [y_r log P_a + (1 - y_r) log P_b]      (y = 1 or 0: only the one log)
         - rho sum_k [log sigma(s_k - x0) + log sigma(x0 - s_k)]
         - a sum_w [log sigma(q_w) + log sigma(-q_w) + log sigma(g_w) + log sigma(-g_w)]
  minimised; defaults rho = 1e-5 (crowd-kit's regularization_ratio, with the sign crowd-kit
  meant: it pulls s toward x0) and a = 0.5 (a Beta(a, a) prior on each worker's skill and
  bias, on the logit scale; a = 0 is crowd-kit's unpenalised workers).
  log P_a = logaddexp(log sigma(g) + log sigma(d), log sigma(-g) + log sigma(q)) etc., with
  log sigma(z) = -logaddexp(0, -z). A weight-0 row adds nothing to f, but its items and
  worker still count (soft has one; its items and worker also occur in other rows).
  f is unchanged when x0 and every s_k move together, so only identified quantities are
  reported: rating_k = s_k - x0, skill_w = sigma(g_w), bias_w = sigma(q_w) (P(choose
  item_a) when not answering by skill), loss = f.

Gradient (per row, with A = u sigma(d) / P_a, B = (1-u) sigma(q) / P_a, and A', B' the same
for P_b with d, q -> -d, -q): dlog P_a/d(d, q, g) = (A sigma(-d), B sigma(-q), A - u),
dlog P_b/d(d, q, g) = (-A' sigma(d), -B' sigma(q), A' - u); penalties: d/ds_k = rho tanh(z/2)
(z = s_k - x0), d/dx0 = -rho sum tanh(z_k/2), d/dq = a tanh(q/2), d/dg = a tanh(g/2). The
likelihood part of sum_k df/ds_k is identically 0, so it is subtracted out (exact, and it
keeps rounding out of the weak direction below). The Hessian is analytic as well
(P''/P - l l^T per row in (d, q, g), e.g. d2/dg2 log P_a = (1 - 2u)(A - u) - (A - u)^2).

Fit and checks (all asserted on every run):
  * scipy.optimize.minimize(L-BFGS-B, analytic jac, ftol=0, gtol=1e-12, maxiter=1e5,
    maxls=50; default memory 10) from the seed-0 start, then Newton steps on everything but
    x0 (x0 held fixed removes the null direction; the Hessian on the rest is positive
    definite, Cholesky) until the step stalls: max|grad| <= 7e-14 in every case (< 1e-8
    asserted).
  * gradient vs central differences of f at the start and at the solution; Hessian vs
    central differences of the gradient;
  * the reduced Hessian's smallest eigenvalue > 0 (a strict local minimum) and H times the
    shift direction (1 on x0 and every s) = 0;
  * f again by a plain Python loop over rows (sigma products, math.log): relative
    difference <= 1e-12 (seen: <= 7e-15);
  * the same fit from seeds 1, 2, 3: same optimum in every case (table);
  * rounding floor: the gradient with the rows summed in reverse order, mapped through
    H^-1 - how far the answer is determined at all in double precision.

case           rows   L   W  nit/nfev  max|g|   off by   Newton max|g|   min eig  floor    seeds
mixed          3000  15  10    71/79   7.9e-07  9.0e-03   5   2.5e-14  3.6e-06  8e-16    3.1e-15
small            36   4   3    96/106  8.9e-09  4.1e-06  10   3.7e-16  1.9e-07  2.1e-12  9.8e-12
one_worker       40   5   1    50/54   1.1e-08  2.7e-06   7   6.0e-16  3.2e-06  1.0e-11  1.4e-11
never_wins       60   5   3    96/104  4.9e-08  2.7e-05   5   1.1e-15  2.6e-06  5.6e-12  6.3e-12
soft            400   6   8   110/117  1.3e-07  5.5e-06   4   2.5e-15  3.5e-06  5e-15    1.6e-14
mixed_r        3000  15  10    65/80   6.4e-07  1.3e-06   4   2.2e-14  3.5e-04  8e-16    8.9e-16
mixed_a0       3000  15  10   542/567  2.8e-06  3.6e-03  19   6.8e-14  3.8e-06  9e-16    1.4e-14
llmfao         8931  59 124   244/254  4.1e-06  3.1e-05   5   1.7e-14  3.9e-06  1.7e-15  2.4e-15
llmfao_noties  5460  59 124  2323/2469 6.4e-07  1.6e-02   6   1.6e-14  2.7e-06  7.3e-12  1.4e-11
(nit/nfev, max|g|: L-BFGS-B's iterations, evaluations and max|gradient| at its own stop,
CONVERGENCE: RELATIVE REDUCTION OF F (with ftol = 0: no decrease at all); it reached
max|g| = 1e-12 in no case. off by: max |difference| in rating/skill/bias between that stop
and the polished optimum. Newton: steps and the final max|g|. min eig: the smallest
eigenvalue of the Hessian without x0. floor: the rounding floor above. seeds: max
|difference| in rating/skill/bias of the fits from seeds 1, 2, 3 against seed 0.)

So: every case, mixed_a0 included, has a single optimum as far as seeds 0-3 can tell (the
seed differences are at the rounding floor), and the fixture holds it to ~1e-11 (ratings of
small, one_worker, never_wins, llmfao_noties; ~1e-14 elsewhere).

Weak directions - read this before choosing the Rust tolerance. The smallest curvature is
1.9e-7 .. 3.9e-6 (rho = 1e-5): (1) the common offset of all ratings (x0 against all s) is
held only by the rho penalty, curvature about rho sum_k 2 sigma(r_k) sigma(-r_k); (2) items
that the model can push far out: an item's "wrong" results can be blamed on the workers'
coins (bias), so the likelihood flattens as its rating grows and rho alone stops it. Ratings
reach small Beta +15.2 (12 wins, 5 losses), never_wins charlie +13.5 / echo -14.3 (0 wins),
one_worker bravo -13.1, llmfao_noties Vicuna-FastChat-T5 (3B) -17.9 (20 wins, 98 losses) and
LLaMA-2-Chat (13B) +10.2 - legitimately, these are the model's optimum. A stop at max|grad|
= eps is up to about eps / (min eig) away: L-BFGS-B alone is 9e-3 off on mixed and 1.6e-2 on
llmfao_noties with max|g| < 1e-6. Re-solving x0 from sum_k tanh((s_k - x0)/2) = 0 (the exact
x0 condition) after L-BFGS-B brings mixed to 3e-8 but not small / never_wins (1e-5). To
meet ~1e-9, the Rust side needs a Newton polish (n <= 308 here) or an equivalent; otherwise
its test tolerance must follow eps / (min eig).

mixed_a0: with a = 0, worker w10 (the adversary: it picks the weaker item) has its optimum
at the boundary skill = 0: g_w10 -> -inf (df/dskill at skill 0 = +85.6 > 0, and f there is
below the last finite iterate's; both asserted). Every identified quantity converges there,
so the case is kept and records the limit: g_w10 is set to -inf and the rest re-polished,
giving skill|w10 = 0.0 exactly and finite bias|w10, ratings and the other workers (the last
finite Newton iterate, g = -36.7, is 1e-16 away). A fit that stops with g_w10 at some finite
G is off by about sigma(G) (f's slope in g is 85.6 sigma(g), so max|g| = eps means
sigma(G) ~ eps / 86). No other worker diverges (w09's skill 0.021 is interior).

Cases (rows in fixture order; mixed_r and mixed_a0 reuse the rows of mixed):
  mixed, small, one_worker, never_wins: the rows of tests/fixtures/noisy_bt_data.csv
      (generated by noisy_bt.py, see there), item_a = left, item_b = right, score = 1 if
      label == left else 0, weight 1.
  soft: generated here (numpy default_rng(SOFT_SEED)), 400 rows, 6 items (SOFT_ITEMS, one
      with a non-ASCII name, sorted "Bravo" < "Delta" < "alpha" < "charlie" < "echo" <
      "\u00fcber"), 8 workers with distinct behaviours (SOFT_WORKERS: BT workers of
      skill logit 3 / 2 / 1.5 / 1 / 0, a left clicker, a coin, an adversary; some answer 0.5
      (tie) or 0.7 / 0.3 (soft) instead of 1 / 0). Scores 0 x163, 0.3 x14, 0.5 x44, 0.7 x18,
      1 x161; weights 0.5 x100, 1 x169, 2 x130, and 0 for row 200 (coin, alpha vs charlie).
  mixed_r: mixed with rho = 1e-3, a = 2.   mixed_a0: mixed with a = 0 (above).
  llmfao: ../shared/data/llmfao.csv read at run time, all 8931 rows in file order:
      worker = the integer `worker`, item_a = left, item_b = right, score 1 / 0 / 0.5 for
      winner left / right / tie, weight 1.  llmfao_noties: the same without the 3471 ties.

Suggested Rust tolerances: 1e-9 absolute on rating/skill/bias and 1e-12 relative on loss
IF the Rust fit polishes to max|grad| ~1e-14 (the fixture is good to ~1e-11); otherwise
see "Weak directions". The loss is flat at the optimum, so it is the least sensitive key.

Runtime ~4 minutes (llmfao_noties: 2.3k L-BFGS-B iterations per seed, 4 seeds).
pip: the venv of noisy_bt.py (~/.cache/prefdb/noisybt-venv: crowd-kit 1.4.2, numpy 2.4.6,
scipy 1.17.1, pandas 3.1.1; crowd-kit is only imported by noisy_bt.py for `MT`).

Usage: ~/.cache/prefdb/noisybt-venv/bin/python tests/oracle/noisy_bt_fit.py [--check]
"""
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.optimize

sys.path.insert(0, str(Path(__file__).resolve().parent))
from noisy_bt import MT  # noqa: E402  (numpy's legacy MT19937 + res53, bit for bit)

np.seterr(all="warn", under="ignore")  # noisy_bt sets all="ignore" for crowd-kit's sake

ROOT = Path(__file__).resolve().parents[2]
OLD_DATA = ROOT / "tests" / "fixtures" / "noisy_bt_data.csv"
DATA = ROOT / "tests" / "fixtures" / "noisy_bt_fit_data.csv"
REF = ROOT / "tests" / "fixtures" / "noisy_bt_fit_ref.tsv"
LLMFAO = ROOT / ".." / "shared" / "data" / "llmfao.csv"

RHO, A = 1e-5, 0.5          # defaults: regularization_ratio, Beta(a, a) worker prior
SOFT_SEED = 7
SOFT_ITEMS = {"alpha": 0.9, "Bravo": -0.4, "charlie": 0.3, "Delta": 1.4, "echo": -1.0,
              "\u00fcber": 0.0}
# worker: (kind, skill logit, bias logit, P(tie answer 0.5), P(soft answer 0.7 / 0.3))
SOFT_WORKERS = {"ace": ("bt", 3.0, 0.0, 0.0, 0.0),
                "tier": ("bt", 1.5, 0.0, 0.35, 0.0),
                "softy": ("bt", 2.0, 0.3, 0.0, 0.5),
                "mixer": ("bt", 1.0, 0.5, 0.1, 0.15),
                "righty": ("bt", 0.0, -1.2, 0.05, 0.0),
                "lefty": ("random", None, math.log(4.0), 0.0, 0.0),
                "coin": ("random", None, 0.0, 0.2, 0.1),
                "contra": ("adversarial", None, 0.0, 0.0, 0.0)}
ZERO_WEIGHT_ROW = 200       # weight 0 for this row of soft (its items and worker occur elsewhere)

# case: (rows from, rho, a)
CASES = {"mixed": ("mixed", RHO, A), "small": ("small", RHO, A),
         "one_worker": ("one_worker", RHO, A), "never_wins": ("never_wins", RHO, A),
         "soft": ("soft", RHO, A), "mixed_r": ("mixed", 1e-3, 2.0),
         "mixed_a0": ("mixed", RHO, 0.0),
         "llmfao": ("llmfao", RHO, A), "llmfao_noties": ("llmfao_noties", RHO, A)}


def sig(v):
    return 1.0 / (1.0 + math.exp(-v))


# ---------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------

def make_soft() -> pd.DataFrame:
    rng = np.random.default_rng(SOFT_SEED)
    names, wnames = list(SOFT_ITEMS), list(SOFT_WORKERS)
    rows = []
    for r in range(400):
        w = wnames[rng.integers(len(wnames))]
        kind, skill, bias, p_tie, p_soft = SOFT_WORKERS[w]
        i, j = rng.choice(len(names), 2, replace=False)
        a, b = names[i], names[j]
        d = SOFT_ITEMS[a] - SOFT_ITEMS[b]
        if kind == "random":
            p_a = sig(bias)
        elif kind == "adversarial":
            p_a = sig(-d)
        elif rng.random() < sig(skill):
            p_a = sig(d)
        else:
            p_a = sig(bias)
        u = rng.random()
        a_wins = rng.random() < p_a
        if u < p_tie:
            score = 0.5
        elif u < p_tie + p_soft:
            score = 0.7 if a_wins else 0.3
        else:
            score = 1.0 if a_wins else 0.0
        weight = float(rng.choice([0.5, 1.0, 2.0], p=[0.25, 0.5, 0.25]))
        rows.append(("soft", w, a, b, score, 0.0 if r == ZERO_WEIGHT_ROW else weight))
    return pd.DataFrame(rows, columns=["case", "worker", "item_a", "item_b", "score", "weight"])


def make_data() -> pd.DataFrame:
    old = pd.read_csv(OLD_DATA, keep_default_na=False)
    new = pd.DataFrame({"case": old["case"], "worker": old["worker"], "item_a": old["left"],
                        "item_b": old["right"],
                        "score": (old["label"] == old["left"]).astype(float),
                        "weight": 1.0})
    assert ((old["label"] == old["left"]) | (old["label"] == old["right"])).all()
    return pd.concat([new, make_soft()], ignore_index=True)


def load_llmfao(ties: bool) -> pd.DataFrame:
    df = pd.read_csv(LLMFAO)
    if not ties:
        df = df[df["winner"] != "tie"]
    score = df["winner"].map({"left": 1.0, "right": 0.0, "tie": 0.5})
    assert score.notna().all()
    return pd.DataFrame({"worker": df["worker"].to_numpy(), "item_a": df["left"].to_numpy(),
                         "item_b": df["right"].to_numpy(), "score": score.to_numpy(),
                         "weight": 1.0})


# ---------------------------------------------------------------------------------------
# the model
# ---------------------------------------------------------------------------------------

def logsig(z):
    """log sigma(z) = -log(1 + e^-z), stable for any z."""
    return -np.logaddexp(0.0, -z)


def expit(z):
    return np.exp(logsig(z))


class Problem:
    """x = [x0, s_1..s_L, q_1..q_W, g_1..g_W]; f(x) is the objective in the docstring."""

    def __init__(self, df: pd.DataFrame, rho: float, a: float):
        self.items = sorted(set(df["item_a"]) | set(df["item_b"]))
        self.workers = sorted(set(df["worker"]))
        item, worker = ({v: k for k, v in enumerate(s)} for s in (self.items, self.workers))
        self.L, self.W = len(self.items), len(self.workers)
        self.n = 1 + self.L + 2 * self.W
        self.ia = np.array([item[v] for v in df["item_a"]])
        self.ib = np.array([item[v] for v in df["item_b"]])
        self.iw = np.array([worker[v] for v in df["worker"]])
        self.y = df["score"].to_numpy(dtype=float)
        self.c = df["weight"].to_numpy(dtype=float)
        assert ((self.y >= 0) & (self.y <= 1)).all() and (self.c >= 0).all()
        self.ca, self.cb = self.c * self.y, self.c * (1.0 - self.y)
        self.rho, self.a = rho, a
        self.rows = list(zip(self.iw.tolist(), self.ia.tolist(), self.ib.tolist(),
                             self.y.tolist(), self.c.tolist()))

    def start(self, seed):
        rng = MT(seed)
        x = np.array([rng.rand() for _ in range(self.n)])
        np.random.seed(seed)                 # crowd-kit's start, for comparison
        assert np.array_equal(x, np.random.rand(self.n))
        return x

    def split(self, x):
        L, W = self.L, self.W
        return x[0], x[1:1 + L], x[1 + L:1 + L + W], x[1 + L + W:]

    def _rows(self, x):
        x0, s, q, g = self.split(x)
        d, qw, gw = s[self.ia] - s[self.ib], q[self.iw], g[self.iw]
        lu, lmu = logsig(gw), logsig(-gw)
        lsd, lsmd, lsq, lsmq = logsig(d), logsig(-d), logsig(qw), logsig(-qw)
        lpa = np.logaddexp(lu + lsd, lmu + lsq)       # log P_a
        lpb = np.logaddexp(lu + lsmd, lmu + lsmq)     # log P_b
        return d, qw, gw, lu, lmu, lsd, lsmd, lsq, lsmq, lpa, lpb

    def fun_grad(self, x):
        L, W, rho, a = self.L, self.W, self.rho, self.a
        x0, s, q, g = self.split(x)
        d, qw, gw, lu, lmu, lsd, lsmd, lsq, lsmq, lpa, lpb = self._rows(x)
        ca, cb = self.ca, self.cb
        f = -(np.where(ca > 0, ca * lpa, 0.0).sum() + np.where(cb > 0, cb * lpb, 0.0).sum())
        u = np.exp(lu)
        A, B = np.exp(lu + lsd - lpa), np.exp(lmu + lsq - lpa)       # shares of P_a
        Ab, Bb = np.exp(lu + lsmd - lpb), np.exp(lmu + lsmq - lpb)   # shares of P_b
        # d/d(d, q, g) of -(ca log P_a + cb log P_b)
        gd = -(ca * A * np.exp(lsmd) - cb * Ab * np.exp(lsd))
        gq = -(ca * B * np.exp(lsmq) - cb * Bb * np.exp(lsq))
        gg = -(ca * (A - u) + cb * (Ab - u))
        gs = np.bincount(self.ia, gd, L) - np.bincount(self.ib, gd, L)
        gs -= gs.mean()      # exact: the likelihood part of sum_k df/ds_k is identically 0
        z = s - x0
        f -= rho * (logsig(z) + logsig(-z)).sum()
        gs += rho * np.tanh(z / 2)
        gx0 = -rho * np.tanh(z / 2).sum()
        if a > 0:                            # (a = 0: g may be -inf, see fit())
            f -= a * (logsig(q) + logsig(-q) + logsig(g) + logsig(-g)).sum()
        grad = np.concatenate([[gx0], gs,
                               np.bincount(self.iw, gq, W) + a * np.tanh(q / 2),
                               np.bincount(self.iw, gg, W) + a * np.tanh(g / 2)])
        return f, grad

    def fun(self, x):
        return self.fun_grad(x)[0]

    def hess(self, x):
        L, W, rho, a = self.L, self.W, self.rho, self.a
        x0, s, q, g = self.split(x)
        d, qw, gw, lu, lmu, lsd, lsmd, lsq, lsmq, lpa, lpb = self._rows(x)
        u = np.exp(lu)

        def oriented(lsd_, lsmd_, lsq_, lsmq_, lp):
            """gradient and Hessian of log P in (d', q', g) for P = u s(d') + (1-u) s(q')"""
            A, B = np.exp(lu + lsd_ - lp), np.exp(lmu + lsq_ - lp)
            pd_, pq_ = np.exp(lsd_), np.exp(lsq_)
            l = np.stack([A * np.exp(lsmd_), B * np.exp(lsmq_), A - u], axis=1)
            h = np.zeros((len(u), 3, 3))
            h[:, 0, 0] = A * (1 - pd_) * (1 - 2 * pd_)
            h[:, 1, 1] = B * (1 - pq_) * (1 - 2 * pq_)
            h[:, 2, 2] = (1 - 2 * u) * (A - u)
            h[:, 0, 2] = h[:, 2, 0] = (1 - u) * A * (1 - pd_)
            h[:, 1, 2] = h[:, 2, 1] = -u * B * (1 - pq_)
            return h - l[:, :, None] * l[:, None, :]

        ha = oriented(lsd, lsmd, lsq, lsmq, lpa)
        hb = oriented(lsmd, lsd, lsmq, lsq, lpb)
        flip = np.array([-1.0, -1.0, 1.0])          # (d, q) -> (-d, -q)
        hb = hb * flip[None, :, None] * flip[None, None, :]
        h3 = -(self.ca[:, None, None] * ha + self.cb[:, None, None] * hb)
        J = np.array([[1.0, 0, 0], [-1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]])
        blocks = np.einsum("ij,rjk,lk->ril", J, h3, J)
        idx = np.stack([1 + self.ia, 1 + self.ib, 1 + L + self.iw, 1 + L + W + self.iw], axis=1)
        H = np.zeros((self.n, self.n))
        np.add.at(H, (idx[:, :, None], idx[:, None, :]), blocks)
        z = s - x0
        cz = rho * 2 * expit(z) * expit(-z)
        k = np.arange(1, 1 + L)
        H[k, k] += cz
        H[0, 0] += cz.sum()
        H[0, k] -= cz
        H[k, 0] -= cz
        m = np.arange(1 + L, self.n)
        if a > 0:
            H[m, m] += a * 2 * expit(x[m]) * expit(-x[m])
        return H

    def loss_loop(self, x):
        """f(x) again: a plain loop over rows with math, sigma-products, no logaddexp."""
        L, W = self.L, self.W
        total = 0.0
        for w, i, j, y, c in self.rows:
            d, q, u = x[1 + i] - x[1 + j], x[1 + L + w], sig(x[1 + L + W + w])
            pa = u * sig(d) + (1.0 - u) * sig(q)
            pb = u * sig(-d) + (1.0 - u) * sig(-q)
            if y > 0.0:
                total -= c * y * math.log(pa)
            if y < 1.0:
                total -= c * (1.0 - y) * math.log(pb)
        for k in range(L):
            z = x[1 + k] - x[0]
            total -= self.rho * (math.log(sig(z)) + math.log(sig(-z)))
        if self.a > 0:
            for v in x[1 + L:]:
                total -= self.a * (math.log(sig(v)) + math.log(sig(-v)))
        return total

    def identified(self, x):
        x0, s, q, g = self.split(x)
        return s - x0, expit(g), expit(q)     # rating, skill, bias


# ---------------------------------------------------------------------------------------
# fitting
# ---------------------------------------------------------------------------------------

def fd_grad(p, x, free, h=1e-5):
    """central differences of f along the free coordinates"""
    out = []
    for k in np.flatnonzero(free):
        e = np.zeros_like(x)
        e[k] = h * max(1.0, abs(x[k]))
        out.append((p.fun(x + e) - p.fun(x - e)) / (2 * e[k]))
    return np.array(out)


def fd_hess(p, x, free, h=1e-6):
    """central differences of the analytic gradient (free rows and columns)"""
    idx = np.flatnonzero(free)
    H = np.empty((len(idx), len(idx)))
    for col, k in enumerate(idx):
        e = np.zeros_like(x)
        e[k] = h * max(1.0, abs(x[k]))
        H[:, col] = ((p.fun_grad(x + e)[1] - p.fun_grad(x - e)[1]) / (2 * e[k]))[idx]
    return H


def polish(p, x, free, max_steps=40):
    """Newton steps on the free coordinates (x0 is never free: the shift of x0 and all s
    is the null direction). Returns the iterate with the smallest max|gradient|."""
    idx = np.flatnonzero(free)
    best_x, best_g = x, np.abs(p.fun_grad(x)[1][idx]).max()
    steps, stall = 0, 0
    for _ in range(max_steps):
        f, g = p.fun_grad(x)
        Hr = p.hess(x)[np.ix_(idx, idx)]
        np.linalg.cholesky(Hr)               # positive definite, or this raises
        step = -np.linalg.solve(Hr, g[idx])
        t = 1.0
        while True:                          # damped only far from the optimum
            x_new = x.copy()
            x_new[idx] += t * step
            f_new, g_new = p.fun_grad(x_new)
            if f_new <= f + 1e-12 * abs(f) or t < 1e-3:
                break
            t /= 2
        x, steps = x_new, steps + 1
        gmax = np.abs(g_new[idx]).max()
        if gmax < best_g:
            best_x, best_g, stall = x, gmax, 0
        else:
            stall += 1
        if np.abs(step).max() < 1e-15 * (1 + np.abs(x[idx]).max()) or stall >= 3:
            break
    return best_x, best_g, steps


def fit(p, seed=0):
    """L-BFGS-B from crowd-kit's start for `seed`, then Newton. With a = 0 a worker's skill
    logit can run off to -inf (skill -> 0); such a g is set to -inf and held there."""
    out = {"start": p.start(seed)}
    res = scipy.optimize.minimize(p.fun_grad, out["start"], jac=True, method="L-BFGS-B",
                                  options={"ftol": 0.0, "gtol": 1e-12, "maxiter": 100000,
                                           "maxfun": 200000, "maxls": 50})
    free = np.ones(p.n, dtype=bool)
    free[0] = False
    x, gmax, steps = polish(p, res.x, free)
    frozen = np.array([], dtype=int)
    if p.a == 0:
        out["x_finite"] = x
        frozen = 1 + p.L + p.W + np.flatnonzero(x[1 + p.L + p.W:] < -20.0)  # skill < 2e-9
        if len(frozen):
            x = x.copy()
            x[frozen] = -np.inf
            free[frozen] = False
            x, gmax, more = polish(p, x, free)
            steps += more
    assert np.isfinite(x[free]).all() and np.abs(x[free]).max() < 40, "something diverges"
    out.update(res=res, x=x, free=free, gmax=gmax, steps=steps, frozen=frozen)
    return out


def skill_slope_at_zero(p, x, w):
    """df/du for worker w at u = sigma(g_w) = 0; > 0 means the boundary u = 0 is optimal."""
    m = p.iw == w
    d, q = x[1 + p.ia[m]] - x[1 + p.ib[m]], x[1 + p.L + w]
    sd, sq, smq = expit(d), expit(q), expit(-q)
    return -np.sum(p.ca[m] * (sd - sq) / sq + p.cb[m] * (sq - sd) / smq)


def write_or_check_exact(out: dict, tolerance: float) -> None:
    """key<TAB>repr(value); with --check compare to the committed file instead."""
    text = "key\tvalue\n" + "".join(f"{k}\t{v!r}\n" for k, v in out.items())
    name = REF.relative_to(ROOT)
    if "--check" in sys.argv:
        old = pd.read_csv(REF, sep="\t", keep_default_na=False, dtype={"key": str})
        assert list(old["key"]) == list(out), f"{name}: keys differ from a fresh run"
        new = np.array(list(out.values()))
        rel = np.abs(old["value"].to_numpy(dtype=float) - new) / np.maximum(1.0, np.abs(new))
        assert rel.max() < tolerance, f"{name} differs from a fresh run by {rel.max():.1e}"
        print(f"{name} confirmed (max rel. difference {rel.max():.1e})")
    else:
        REF.write_text(text, encoding="utf-8")
        print(f"wrote {name}: {len(out)} keys")


def main():
    t_start = time.time()
    data = make_data()
    if "--check" in sys.argv:
        committed = pd.read_csv(DATA, keep_default_na=False)
        pd.testing.assert_frame_equal(committed, data)
        print(f"{DATA.relative_to(ROOT)} confirmed")
    else:
        data.to_csv(DATA, index=False, lineterminator="\n", encoding="utf-8")
        print(f"wrote {DATA.relative_to(ROOT)}: {len(data)} rows")
    frames = {c: part.drop(columns="case").reset_index(drop=True)
              for c, part in data.groupby("case", sort=False)}
    frames["llmfao"] = load_llmfao(ties=True)
    frames["llmfao_noties"] = load_llmfao(ties=False)

    out, notes = {}, []
    for case, (source, rho, a) in CASES.items():
        t0 = time.time()
        p = Problem(frames[source], rho, a)
        fitted = fit(p)
        x, free, res = fitted["x"], fitted["free"], fitted["res"]
        idx = np.flatnonzero(free)
        f, g = p.fun_grad(x)
        assert fitted["gmax"] < 1e-8, f"{case}: max|grad| {fitted['gmax']}"

        # the analytic gradient and Hessian against finite differences
        all_free = np.r_[False, np.ones(p.n - 1, dtype=bool)]
        for where, xx, fr in (("start", fitted["start"], all_free), ("solution", x, free)):
            ff, an = p.fun_grad(xx)
            err = np.abs(an[fr] - fd_grad(p, xx, fr)).max()
            assert err < 1e-7 * (1 + np.abs(an).max()) + 2e-9 * (1 + abs(ff)), f"{case} {where}"
        H = p.hess(x)
        Hr = H[np.ix_(idx, idx)]
        hess_err = np.abs(Hr - fd_hess(p, x, free)).max()
        assert hess_err < 1e-6 * (1 + np.abs(Hr).max()), f"{case}: Hessian ({hess_err})"
        # a strict local minimum up to the null direction
        lam, vec = np.linalg.eigh(Hr)
        names = (["x0"] + [f"s:{v}" for v in p.items] + [f"q:{v}" for v in p.workers]
                 + [f"g:{v}" for v in p.workers])
        weak = ", ".join(f"{names[idx[k]]} {vec[k, 0]:+.2f}"
                         for k in np.argsort(-np.abs(vec[:, 0]))[:3])
        shift = np.r_[np.ones(1 + p.L), np.zeros(2 * p.W)]
        assert lam[0] > 0, f"{case}: not a local minimum ({lam[0]})"
        assert np.abs(H @ shift).max() < 1e-12 * (1 + np.abs(H).max())
        # the loss a second way
        loop = p.loss_loop(x)
        assert abs(loop - f) <= 1e-12 * abs(f), f"{case}: loss {loop} vs {f}"
        # how far rounding alone moves the answer: the gradient with the rows reversed
        rev = Problem(frames[source].iloc[::-1].reset_index(drop=True), rho, a)
        floor = np.abs(np.linalg.solve(Hr, rev.fun_grad(x)[1][idx] - g[idx])).max()
        newton = np.abs(np.linalg.solve(Hr, g[idx])).max()
        # the boundary (a = 0): skill -> 0 must be a minimum there
        extra = ""
        for k in fitted["frozen"]:
            w = k - (1 + p.L + p.W)
            slope = skill_slope_at_zero(p, x, w)
            f_finite = p.fun(fitted["x_finite"])
            assert slope > 0 and f <= f_finite
            moved = max(np.abs(u - v).max() for u, v in
                        zip(p.identified(x), p.identified(fitted["x_finite"])))
            extra += (f"; skill of {p.workers[w]} -> 0 (g -> -inf; df/dskill at 0 = "
                      f"{slope:.3g}; the last finite Newton iterate g = "
                      f"{fitted['x_finite'][k]:.1f} is {moved:.1e} away)")
        # uniqueness: other random starts
        ident = p.identified(x)
        seeds = 0.0
        for seed in (1, 2, 3):
            other = fit(p, seed)
            assert list(other["frozen"]) == list(fitted["frozen"])
            seeds = max(seeds, max(np.abs(u - v).max()
                                   for u, v in zip(p.identified(other["x"]), ident)))

        lbfgsb = max(np.abs(u - v).max() for u, v in zip(p.identified(res.x), ident))

        rating, skill, bias = ident
        for item, v in zip(p.items, rating):
            out[f"{case}|rating|{item}"] = float(v)
        for w, v in zip(p.workers, skill):
            out[f"{case}|skill|{w}"] = float(v)
        for w, v in zip(p.workers, bias):
            out[f"{case}|bias|{w}"] = float(v)
        out[f"{case}|loss"] = float(f)
        out[f"{case}|rho"] = float(rho)
        out[f"{case}|a"] = float(a)
        notes.append(
            f"{case}: rows={len(p.rows)} L={p.L} W={p.W}; L-BFGS-B nit={res.nit} "
            f"nfev={res.nfev} max|g|={np.abs(res.jac).max():.1e} ({res.message}); "
            f"L-BFGS-B alone is {lbfgsb:.1e} off; "
            f"Newton {fitted['steps']} -> max|g|={fitted['gmax']:.1e}; min eig {lam[0]:.2e} "
            f"({weak}); "
            f"rounding floor {floor:.1e}, next Newton step {newton:.1e}; seeds 1-3 max diff "
            f"{seeds:.1e}; max|rating| {np.abs(rating).max():.2f}{extra}; "
            f"{time.time() - t0:.0f}s")
        print(notes[-1], flush=True)
    write_or_check_exact(out, 1e-10)
    print(f"total {time.time() - t_start:.0f}s")


if __name__ == "__main__":
    main()
