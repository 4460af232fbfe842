#!/usr/bin/env python3
"""Reference crowd-label aggregation from crowd-kit 1.4.2 (crowdkit.aggregation), every
method at its defaults: MajorityVote, Wawa, ZeroBasedSkill, DawidSkene, OneCoinDawidSkene,
GLAD, MACE; plus GLADx and MACEx, corrected GLAD and MACE built from crowd-kit's own code
(section "Corrected variants" below). The full algorithms (formulas, update order, epsilons,
stopping rules, tie and ordering rules, source line numbers) are written out in
/work/notes/crowd_kit_algorithms.md; the short form is below.

  tests/fixtures/crowd_labels_data.csv  case,task,worker,label (text; generated here)
  tests/fixtures/crowd_labels_ref.tsv   key, value

Cases (rows in file order; that order is the input order crowd-kit sees, and it matters:
several orders below are "first appearance"):
  mixed       cat/dog/bird, 150 tasks x 5 of 12 workers: 8 honest w* (random confusion
              rows, accuracy 0.55-0.9), spam_a/spam_b uniform, adv (cat->dog->bird->cat
              w.p. 0.8, else the third label), const (always dog)
  unbalanced  positive/neutral/negative with priors 0.7/0.2/0.1, 120 tasks x 4 of 8 workers
  missing     red/green/blue, 120 tasks, 14 workers labelling random subsets at their own
              rates (m10 uniform), 20 tasks with one label, worker `once` with one label
  binary      yes/no, 120 tasks x 2 or 4 of 10 workers (b5 uniform; many 1-1 and 2-2 ties)
  llmfao      ../shared/data/llmfao.csv read in place (never copied), pandas defaults, rows in
              file order: task = `id` (int64), worker = `worker` (int64), label = `winner`
              (left/right/tie). Integer tasks/workers sort numerically.
In every generated case the first-appearance order of labels and of workers differs from
their sorted order, and task names are unpadded (t1, t10, t100, t11, ... when sorted).

Keys (`|`-separated; task/worker/label spelled as in the data):
  {case}|{M}|label|{task}|{label}         1 for labels_ (M = MV Wawa ZBS DS OneCoin GLAD MACE)
  {case}|{M}|label_count|{label}          number of tasks whose labels_ is label (no key if 0)
  {case}|{M}|posterior|{task}|{label}     probas_ (all 7 methods)
  {case}|{M}|posterior_sum|{label}        probas_ summed over all tasks
  {case}|{M}|skill|{worker}               MV/Wawa/ZBS/OneCoin: skills_; GLAD: alphas_;
                                          MACE: spamming_[w, 1] (P(not spamming), VB-scaled)
  {case}|MACE|spam|{worker}               spamming_[w, 0]
  {case}|MACE|theta|{worker}|{label}      thetas_ as the M-step computes it: row i / column j
                                          is the i-th SORTED worker / label; crowd-kit's E-step
                                          then reads it as the i-th / j-th in FIRST-APPEARANCE
                                          order (a crowd-kit bug, reproduced, see the notes)
  {case}|MACE|log_marginal_likelihood     sum_t log(P(labels of t) + 1e-8) at the final params
  {case}|DS|error|{worker}|{true}|{given} errors_ (rows exist only for observed (worker, given))
  {case}|{DS,OneCoin}|prior|{label}       priors_
  {case}|GLAD|beta|{task}                 betas_ (log inverse difficulty)
  {case}|GLAD|beta_sum                    betas_ summed over all tasks
  {case}|{DS,OneCoin,GLAD}|n_iter         len(loss_history_) = EM iterations run
  {case}|{DS,OneCoin,GLAD}|loss|{i}       loss_history_[i], i = 0-based iteration
  {case}|GLAD|q0                          GLAD's initial Q (NOT divided by the row count)
  rng|uniform|{i}                         numpy RandomState(0).random_sample(), first 8 draws
                                          (MACE's initialisation stream)
  {case}|GLADx|...                        label, label_count, posterior, posterior_sum,
                                          skill (alpha), beta, beta_sum, n_iter as for GLAD
                                          (no loss, no q0); label ties: sorted-first
  {case}|MACEx|...                        label, label_count, posterior, posterior_sum, skill,
                                          spam, log_marginal_likelihood as for MACE; label ties:
                                          sorted-first (value order; MACE: first-appearance-first)
  {case}|MACEx|theta|{worker}|{label}     thetas_ of that worker and label (no reordering bug)
For llmfao the per-task keys (label, posterior, beta) are written only for tasks with
id % 20 == 0; the *_count / *_sum keys cover every task.

Tolerances: MV/Wawa/ZBS/DS/OneCoin/MACE are reproduced by an independent reimplementation
to ~1e-15 (same labels, same n_iter). GLAD's M-step is a truncated scipy CG whose path
amplifies rounding: unbalanced and missing (2 EM iterations) hold to ~1e-7, but mixed, binary
and llmfao move by up to ~1e-2 (alphas, posteriors) and ~5e-2 (betas) when crowd-kit itself
is fed the same rows in another order (n_iter can move by 2).

Corrected variants (prefdb's models; check them to ~1e-6):
  GLADx  exact-EM GLAD: crowd-kit GLAD's model, priors (uniform fixed 1/K, alpha, beta ~ N(1,1))
         and init (alpha = beta = 1), computed by crowd-kit's own _init/_join_all/_e_step and
         its Q/gradient (_optimize_f/_optimize_df). Iteration = E-step (crowd-kit's), then an
         M-step maximising Q(alpha, beta; P fixed) to convergence: scipy L-BFGS-B (gtol 1e-12,
         ftol 0, maxiter 10000) from the current parameters, then Newton steps on crowd-kit's
         gradient (analytic Hessian, glad_hessian) until max|grad| < 1e-10, asserted < 1e-8.
         (L-BFGS-B alone stops at max|grad| 1e-6..1e-4: f's rounding, ~1e-13 |Q|, hides the
         last decrease along stiff directions. One Newton step nearly always suffices.)
         Stopping rule (prefdb's): stop after the first iteration whose M-step moved no alpha or
         beta by 1e-7 or more (max |x_new - x_old| < 1e-7), or after 1000 iterations; n_iter =
         iterations run. Then ONE MORE E-step, so posteriors/labels are consistent with the
         reported alphas/betas (crowd-kit's GLAD probas_ predate its last M-step). A case that
         does not converge, or has some |alpha| or |beta| > 50, gets no GLADx keys (none does).
         n_iter: mixed 59, unbalanced 24, missing 38, binary 29, llmfao 86; the deciding
         (last) step is 9.94e-8 on mixed (0.6% under the threshold: solve M-steps to
         max|grad| <~ 1e-10 or n_iter can move), 6.7e-8 .. 9.1e-8 elsewhere. EM is linear
         (final step ratio 0.54-0.77, llmfao ~0.85): the reported values differ from the EM
         fixed point (EM run on to steps < 1e-11) by up to 3.7e-7 (posterior), 2.5e-7 (alpha),
         5.3e-7 (beta), 2.2e-6 (llmfao posterior_sum). Same stopping rule: match to ~1e-9;
         another path to the fixed point (e.g. generalised EM): ~1e-6, sums ~1e-5.
         Uniqueness: EM from alpha = 1.1, beta = 0.9 (run with --perturbed) stops at the same
         n_iter in every case; max |difference| over all cases: posterior 1.2e-10 (missing),
         alpha 1.2e-10, beta 4.1e-10. The fixed point does not depend on the start.
         Exact label ties: single-annotation tasks whose worker has alpha < 0 (missing: s18 by
         m10; llmfao: 8 tasks by worker 15, none in the id % 20 subset) give the two labels NOT
         given bit-equal posteriors; the sorted-first one wins. No other top-2 gap < 1e-4.
  MACEx  crowd-kit's MACE (vb, 50 iterations, same priors, RandomState(0) init, 10 identical
         restarts, same LML) with one fix, class MACEx: ONE order throughout, VALUE order.
         MACEx.fit is crowd-kit's fit (its _initialize, _e_step, _variational_m_step, restart
         loop, final E-step, decode) with workers, labels and tasks factorised with sort=True
         (sorted values: integer ids numerically, strings by code point) instead of in first
         appearance. So the init draws belong to sorted workers/labels (U = RandomState(0)
         random_sample, each array from a fresh RandomState(0), crowd-kit's draw order:
         spamming_ row i = 1 + 1.5 U[2i, 2i+1] and thetas_[i, j] = 1 + 1.5 U[i K + j] for the
         i-th sorted worker and j-th sorted label, then row-normalised), the E-step's codes are
         sorted codes, and the strategy counts, which groupby/unstack lays out as sorted workers
         x sorted labels, already match them (asserted in MACEx._e_step); thetas_ row i /
         column j = i-th sorted worker / j-th sorted label, spamming_ rows sorted workers,
         probas_ sorted tasks x sorted labels, so label ties go to the first label in sorted
         order. (crowd-kit reads its strategy matrix in first-appearance order but writes it in
         sorted order; prefdb's mace uses value order throughout, as here.)
         Asserted equal to an independent numpy version (mace_numpy = the notes' appendix A
         mace() with sorted codes and no sorted-rank remap) to 1e-12 (LML: 1e-12 relative);
         measured <= 2.1e-15. Asserted equal to crowd-kit's own MACE when first-appearance order
         = sorted order (macex_vs_mace: each generated case with its rows stably sorted by
         (worker, label); probas_, labels_, spamming_, thetas_, LML): max |difference| 0 (bit
         equal; llmfao, checked once, too).

Defaults used (crowd-kit 1.4.2): ZBS n_iter=100, lr_init=1.0, lr_steps_to_reduce=20,
lr_reduce_factor=0.5, eps=1e-5 (only in the initial skill 1/K + eps; no early stop).
DS/OneCoin n_iter=100, tol=1e-5 on the ELBO per annotation, init = MajorityVote probas.
GLAD n_iter=100, tol=1e-5, m_step_max_iter=25, m_step_tol=1e-2 (scipy CG gtol, inf-norm),
uniform label priors (never updated), alpha ~ N(1,1), beta ~ N(1,1), alpha = beta = 1 init.
MACE n_restarts=10, n_iter=50 (fixed, no tolerance), method="vb", alpha=beta=0.5
(Beta prior), Dirichlet prior 10, default_noise=0.5, random_state=0 (every restart draws
the same init, so all 10 restarts are identical).

Short model (K labels, n_t = labels on task t):
  MV    p(t,l) = #votes / n_t; skill = share of a worker's labels equal to labels_.
  Wawa  skill = MV skill; p(t,l) = sum of skills voting l / sum of skills on t.
  ZBS   s = 1/K + 1e-5; for i in 1..=100: lr *= 0.5 if i % 20 == 0 (lr starts 1);
        s += lr * (accuracy vs weighted-MV(s) labels - s). Output: weighted MV with s.
  DS    E: p(t,c) ~ 2^(log2 prior_c + sum log2 e_w[y][c]) (row max subtracted);
        M: e_w[y][c] = max(sum_t p(t,c) [w said y on t], 1e-10) / sum over y w observed;
        prior = column mean of p; stop when ELBO/N - previous < 1e-5 (after the update).
  OneCoin  s_w = mean over w's labels of p(t, y); e_w[y][c] = s_w if y == c else
        (1 - s_w)/(K-1), clipped to [1e-10, 1-1e-10]; otherwise as DS.
  GLAD  P(y = c | z = c) = sigmoid(alpha_w * exp(beta_t)), wrong labels (1 - sigma)/(K-1);
        E-step then an M-step of <= 25 scipy CG iterations on alpha, beta.
  MACE  P(y | z) = spam_w theta_w[y] + know_w [y == z], uniform z; variational Bayes.
Ties in labels_: MV, Wawa, ZBS, DS, OneCoin, GLAD take the first maximum in SORTED label
order (pandas 2 groupby/unstack sort); MACE takes the first in FIRST-APPEARANCE order.
GLADx and MACEx take the first in SORTED label order.

pip: python3 -m venv ~/.cache/prefdb/crowd-venv &&
     ~/.cache/prefdb/crowd-venv/bin/pip install crowd-kit==1.4.2 pandas==2.3.3 scikit-learn==1.6.1
     (scikit-learn >= 1.8 breaks Wawa/ZBS check_is_fitted, 1.7 warns; pandas 3 changes MV's label order
     to first appearance, and with it every MV tie. Resolved here: numpy 2.4.6, scipy 1.17.1,
     pandas 2.3.3, scikit-learn 1.6.1, attrs 26.1.0, Python 3.11.7)

Usage: ~/.cache/prefdb/crowd-venv/bin/python tests/oracle/crowd_labels.py [--check] [--perturbed]
(about 30 min, mostly GLADx on llmfao; --perturbed doubles GLADx time and prints the
uniqueness comparison)
"""
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture import write_or_check  # noqa: E402

from crowdkit.aggregation import (  # noqa: E402
    GLAD, MACE, DawidSkene, MajorityVote, OneCoinDawidSkene, Wawa, ZeroBasedSkill)
from crowdkit.aggregation.classification.mace import decode_distribution  # noqa: E402
from scipy.linalg import cho_factor, cho_solve  # noqa: E402
from scipy.optimize import minimize  # noqa: E402
from scipy.special import digamma, expit  # noqa: E402

warnings.simplefilter("ignore", FutureWarning)
warnings.simplefilter("ignore", DeprecationWarning)

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "fixtures" / "crowd_labels_data.csv"
REF = ROOT / "tests" / "fixtures" / "crowd_labels_ref.tsv"
LLMFAO = ROOT / ".." / "shared" / "data" / "llmfao.csv"


def confusion(rng, k, accuracy):
    """Row c: P(answer | true c), `accuracy` on the diagonal, the rest split at random."""
    m = np.zeros((k, k))
    for c in range(k):
        rest = rng.dirichlet(np.ones(k - 1)) * (1 - accuracy)
        m[c] = np.insert(rest, c, accuracy)
    return m


def annotate(rng, truth, workers, per_task, name_of_task):
    """workers: name -> confusion matrix; each task gets `per_task(t)` distinct workers."""
    names = list(workers)
    rows = []
    for t, z in enumerate(truth):
        for w in rng.choice(len(names), per_task(t), replace=False):
            m = workers[names[w]]
            rows.append((name_of_task(t), names[w], rng.choice(m.shape[1], p=m[z])))
    return rows


def finish(rng, case, rows, labels, first_label):
    """Shuffle rows, put a `first_label` row first (so first appearance != sorted order)."""
    df = pd.DataFrame(rows, columns=["task", "worker", "label"])
    df["label"] = [labels[i] for i in df["label"]]
    df = df.iloc[rng.permutation(len(df))].reset_index(drop=True)
    first = df.index[df.label == first_label][0]
    order = [first] + [i for i in range(len(df)) if i != first]
    df = df.iloc[order].reset_index(drop=True)
    df.insert(0, "case", case)
    return df


def make_data() -> pd.DataFrame:
    rng = np.random.default_rng(20250611)
    parts = []

    # mixed
    labels = ["cat", "dog", "bird"]
    k = 3
    truth = rng.choice(k, 150, p=[0.4, 0.35, 0.25])
    workers = {f"w{i}": confusion(rng, k, a) for i, a in
               zip([3, 11, 7, 1, 9, 12, 5, 8], rng.uniform(0.55, 0.9, 8))}
    workers["spam_a"] = workers["spam_b"] = np.full((k, k), 1 / k)
    adv = np.zeros((k, k))
    for c in range(k):
        adv[c, (c + 1) % k] = 0.8
        adv[c, (c + 2) % k] = 0.2
    workers["adv"] = adv
    workers["const"] = np.tile(np.eye(k)[1], (k, 1))
    rows = annotate(rng, truth, workers, lambda t: 5, lambda t: f"t{t + 1}")
    parts.append(finish(rng, "mixed", rows, labels, "dog"))

    # unbalanced
    labels = ["positive", "neutral", "negative"]
    truth = rng.choice(k, 120, p=[0.7, 0.2, 0.1])
    workers = {}
    for i, a in zip([4, 2, 8, 6, 1, 7, 3, 5], rng.uniform(0.55, 0.85, 8)):
        m = confusion(rng, k, a)
        m[1:, 0] += 0.15  # drift toward the majority class
        workers[f"r{i}"] = m / m.sum(axis=1, keepdims=True)
    rows = annotate(rng, truth, workers, lambda t: 4, lambda t: f"u{t + 1}")
    parts.append(finish(rng, "unbalanced", rows, labels, "neutral"))

    # missing
    labels = ["red", "green", "blue"]
    n = 120
    truth = rng.choice(k, n)
    names = [f"m{i}" for i in (13, 2, 9, 4, 11, 6, 1, 14, 3, 8, 12, 5, 10, 7)]
    rates = rng.uniform(0.05, 0.5, len(names))
    conf = {w: confusion(rng, k, a) for w, a in zip(names, rng.uniform(0.45, 0.9, len(names)))}
    conf["m10"] = np.full((k, k), 1 / k)
    rows = []
    single = set(rng.choice(n, 12, replace=False).tolist())
    for t in range(n):
        chosen = [w for w, r in zip(names, rates) if rng.random() < r]
        if not chosen:
            chosen = [names[rng.integers(len(names))]]
        if t in single:
            chosen = chosen[:1]
        for w in chosen:
            rows.append((f"s{t + 1}", w, rng.choice(k, p=conf[w][truth[t]])))
    multi = [t for t in range(n) if t not in single]
    rows.append((f"s{multi[0] + 1}", "once", truth[multi[0]]))
    parts.append(finish(rng, "missing", rows, labels, "green"))

    # binary
    labels = ["yes", "no"]
    k = 2
    truth = rng.choice(k, 120, p=[0.55, 0.45])
    workers = {f"b{i}": confusion(rng, k, a) for i, a in
               zip([6, 10, 2, 8, 4, 9, 1, 7, 3], rng.uniform(0.55, 0.9, 9))}
    workers["b5"] = np.full((k, k), 0.5)
    rows = annotate(rng, truth, workers, lambda t: 2 if rng.random() < 0.5 else 4,
                    lambda t: f"q{t + 1}")
    parts.append(finish(rng, "binary", rows, labels, "yes"))

    df = pd.concat(parts, ignore_index=True)
    for case, g in df.groupby("case", sort=False):
        for col in ("label", "worker"):
            seen = list(pd.unique(g[col]))
            assert seen != sorted(seen), f"{case}: {col} first appearance equals sorted order"
    return df


def read_llmfao() -> pd.DataFrame:
    raw = pd.read_csv(LLMFAO)
    return pd.DataFrame({"task": raw["id"], "worker": raw["worker"], "label": raw["winner"]})


def keep_task(case, task) -> bool:
    return case != "llmfao" or task % 20 == 0


def glad_hessian(g: GLAD) -> np.ndarray:
    """Hessian of crowd-kit's M-step objective -Q (alphas then betas, in _optimize_f's vector
    order) at the parameters in g._current_data; P fixed. Only steers the Newton polish."""
    nw, nt = len(g.workers_), len(g.tasks_)
    d = g._current_data
    wi = pd.Index(g.workers_).get_indexer(d["worker"])
    ti = nw + pd.Index(g.tasks_).get_indexer(d["task"])
    p, a, d_ = (d[c].to_numpy(float) for c in ("posterior", "alpha", "delta"))
    eb = np.exp(d["beta"].to_numpy(float))
    s = expit(a * eb)
    v = p * s * (1 - s) * eb * eb  # -d2/dalpha2 of one long row
    u = p * (d_ - s) * eb  # dQ/dalpha of one long row
    h = np.eye(nw + nt)  # N(1, 1) priors
    np.add.at(h, (wi, wi), v)
    np.add.at(h, (wi, ti), v * a - u)
    np.add.at(h, (ti, wi), v * a - u)
    np.add.at(h, (ti, ti), v * a * a - u * a)
    return h


def glad_exact(data: pd.DataFrame, alpha0=1.0, beta0=1.0):
    """GLADx: crowd-kit's GLAD (its _init, _join_all, _e_step, _compute_Q, _gradient_Q) with
    every M-step solved to convergence. Returns (fitted GLAD, n_iter), or None if EM does not
    converge in 1000 iterations or some |alpha|, |beta| exceeds 50."""
    g = GLAD()
    d = data.filter(["task", "worker", "label"])
    g._init(d)
    g.alphas_[:] = alpha0
    g.betas_[:] = beta0
    frame = g._join_all(d, g.alphas_, g.betas_, g.priors_)
    for n_iter in range(1, 1001):
        g._current_data = g._e_step(frame)
        x0 = np.concatenate([g.alphas_.values, g.betas_.values])
        x = minimize(g._optimize_f, x0, method="L-BFGS-B", jac=g._optimize_df,
                     options=dict(gtol=1e-12, ftol=0, maxiter=10000)).x
        grad = g._optimize_df(x)  # also puts x into alphas_, betas_ and _current_data
        for _ in range(20):  # L-BFGS-B stalls on f's rounding at max|grad| ~1e-6..1e-4
            if np.abs(grad).max() < 1e-10:
                break
            x = x - cho_solve(cho_factor(glad_hessian(g)), grad)
            grad = g._optimize_df(x)
        assert np.abs(grad).max() < 1e-8, f"M-step not converged: max|grad| {np.abs(grad).max()}"
        frame = g._current_data
        if np.abs(x).max() > 50:
            return None
        if np.abs(x - x0).max() < 1e-7:
            break
    else:
        return None
    g._e_step(frame)  # final E-step: probas_ consistent with alphas_, betas_
    return g, n_iter


class MACEx(MACE):
    """crowd-kit's MACE with its theta ordering bug fixed by using ONE order throughout: fit()
    is crowd-kit's MACE.fit (same _initialize, _e_step, M-step, restart loop, final E-step)
    except that workers, labels and tasks are factorised in VALUE order (sort=True). The init
    draws then belong to sorted workers / labels, the E-step's codes are sorted codes, and the
    strategy counts (groupby/unstack: sorted workers x sorted labels) already match them."""

    def fit(self, data: pd.DataFrame) -> "MACEx":
        workers, worker_names = pd.factorize(data["worker"], sort=True)
        labels, label_names = pd.factorize(data["label"], sort=True)
        tasks, task_names = pd.factorize(data["task"], sort=True)
        self.smoothing_ = 0.01 / len(label_names)
        annotation = data.copy(deep=True)
        args = (annotation, task_names, worker_names, label_names, tasks, workers, labels)
        m_step = self._variational_m_step if self.method == "vb" else self._m_step
        best = -np.inf
        for _ in range(self.n_restarts):
            self._initialize(len(worker_names), len(label_names))
            lml, _, strategy, knowing = self._e_step(*args)
            for _ in range(self.n_iter):
                m_step(knowing, strategy)
                lml, _, strategy, knowing = self._e_step(*args)
            if lml > best:
                best, best_thetas, best_spamming = lml, self.thetas_.copy(), self.spamming_.copy()
        self.thetas_, self.spamming_ = best_thetas, best_spamming
        _, gold, _, _ = self._e_step(*args)
        self.probas_ = decode_distribution(gold)
        self.labels_ = self.probas_.idxmax(axis="columns")  # ties: first label in sorted order
        self.labels_.index.name = "task"
        return self

    def _e_step(self, annotation, task_names, worker_names, label_names, tasks, workers, labels):
        lml, gold, counts, knowing = super()._e_step(
            annotation, task_names, worker_names, label_names, tasks, workers, labels)
        assert counts.index.equals(worker_names) and counts.columns.equals(label_names), \
            "strategy counts not in the codes' (sorted) order"
        return lml, gold, counts, knowing


def mace_numpy(df: pd.DataFrame):
    """Independent check of MACEx: the notes' appendix A mace() with workers, labels and tasks
    coded in sorted order (init draws, E-step codes and strategy counts alike) and no remap."""
    w = pd.factorize(df.worker, sort=True)[0]
    y = pd.factorize(df.label, sort=True)[0]
    t = pd.factorize(df.task, sort=True)[0]
    n, k, n_t, n_r = w.max() + 1, y.max() + 1, t.max() + 1, len(df)
    u = np.random.RandomState(0).random_sample(max(2 * n, n * k))
    spam = u[:2 * n].reshape(n, 2) * 1.5 + 1
    theta = u[:n * k].reshape(n, k) * 1.5 + 1
    spam = spam / spam.sum(axis=1, keepdims=True)
    theta = theta / theta.sum(axis=1, keepdims=True)

    def estep(spam, theta):
        base = spam[w, 0] * theta[w, y]
        gm = np.ones((n_t, k))
        for lab in range(k):
            f = base + spam[w, 1] * (y == lab)
            for r in range(n_r):
                gm[t[r], lab] *= f[r]
        gm = gm / k
        inst = gm.sum(axis=1)
        lml = np.log(inst + 1e-8).sum()
        sm = np.zeros(n_r)
        for lab in range(k):
            sm += gm[t, lab] / (base + spam[w, 1] * (y == lab))
        sm = sm * spam[w, 0] * theta[w, y] / inst[t]
        know = gm[t, y] * spam[w, 1] / (base + spam[w, 1]) / inst[t]
        sc = np.zeros((n, k))
        k0 = np.zeros(n)
        k1 = np.zeros(n)
        np.add.at(sc, (w, y), sm)  # sorted rows and columns, as the codes (the fix)
        np.add.at(k0, w, sm)
        np.add.at(k1, w, know)
        return lml, gm, sc, np.stack([k0, k1], axis=1)

    def vnorm(x, h):
        return np.exp(digamma(x + h)) / np.exp(digamma((x + h).sum(axis=1)))[:, None]

    lml, gm, sc, kc = estep(spam, theta)
    for _ in range(50):
        spam = vnorm(kc, 0.5)
        theta = vnorm(sc, 10.0)
        lml, gm, sc, kc = estep(spam, theta)
    return gm / gm.sum(axis=1, keepdims=True), spam, theta, lml


def facts(case: str, data: pd.DataFrame) -> dict:
    out = {}

    def labels_and_probas(m, probas):
        for task, label in m.labels_.items():
            if keep_task(case, task):
                out[f"{case}|{name}|label|{task}|{label}"] = 1.0
        for label, n in m.labels_.value_counts().items():
            out[f"{case}|{name}|label_count|{label}"] = n
        for task, row in probas.iterrows():
            if keep_task(case, task):
                for label, p in row.items():
                    out[f"{case}|{name}|posterior|{task}|{label}"] = p
        for label, s in probas.sum(axis=0).items():
            out[f"{case}|{name}|posterior_sum|{label}"] = s

    def series(kind, s):
        for idx, v in s.items():
            out[f"{case}|{name}|{kind}|{idx}"] = v

    def losses(m):
        out[f"{case}|{name}|n_iter"] = len(m.loss_history_)
        for i, v in enumerate(m.loss_history_):
            out[f"{case}|{name}|loss|{i}"] = v

    name = "MV"
    m = MajorityVote().fit(data)
    labels_and_probas(m, m.probas_)
    series("skill", m.skills_)

    name = "Wawa"
    m = Wawa()
    m.fit_predict(data)
    labels_and_probas(m, m.probas_)
    series("skill", m.skills_)

    name = "ZBS"
    m = ZeroBasedSkill()
    m.fit_predict(data)
    labels_and_probas(m, m.probas_)
    series("skill", m.skills_)

    name = "DS"
    m = DawidSkene().fit(data)
    labels_and_probas(m, m.probas_)
    series("prior", m.priors_)
    for (worker, given), row in m.errors_.iterrows():
        for true, e in row.items():
            out[f"{case}|DS|error|{worker}|{true}|{given}"] = e
    losses(m)

    name = "OneCoin"
    m = OneCoinDawidSkene().fit(data)
    labels_and_probas(m, m.probas_)
    series("prior", m.priors_)
    series("skill", m.skills_)
    losses(m)

    name = "GLAD"
    m = GLAD()
    m.fit(data)
    labels_and_probas(m, m.probas_)
    series("skill", m.alphas_)
    for task, b in m.betas_.items():
        if keep_task(case, task):
            out[f"{case}|GLAD|beta|{task}"] = b
    out[f"{case}|GLAD|beta_sum"] = m.betas_.sum()
    losses(m)
    g = GLAD()  # fit()'s first lines, to expose the unnormalised initial Q
    d = data.filter(["task", "worker", "label"])
    g._init(d)
    out[f"{case}|GLAD|q0"] = g._compute_Q(g._e_step(g._join_all(d, g.alphas_, g.betas_, g.priors_)))

    name = "MACE"
    m = MACE().fit(data)
    labels_and_probas(m, m.probas_)
    workers, worker_names = pd.factorize(data["worker"])
    labels, label_names = pd.factorize(data["label"])
    tasks, task_names = pd.factorize(data["task"])
    for i, w in enumerate(worker_names):
        out[f"{case}|MACE|skill|{w}"] = m.spamming_[i, 1]
        out[f"{case}|MACE|spam|{w}"] = m.spamming_[i, 0]
    for i, w in enumerate(sorted(worker_names)):
        for j, label in enumerate(sorted(label_names)):
            out[f"{case}|MACE|theta|{w}|{label}"] = m.thetas_[i, j]
    lml = m._e_step(data.copy(deep=True), task_names, worker_names, label_names, tasks, workers, labels)[0]
    out[f"{case}|MACE|log_marginal_likelihood"] = lml

    name = "GLADx"
    fitted = glad_exact(data)
    if fitted is None:
        print(f"{case}: GLADx did not converge; no GLADx keys")
    else:
        m, n_iter = fitted
        m.labels_ = m.probas_.idxmax(axis=1)
        labels_and_probas(m, m.probas_)
        series("skill", m.alphas_)
        for task, b in m.betas_.items():
            if keep_task(case, task):
                out[f"{case}|GLADx|beta|{task}"] = b
        out[f"{case}|GLADx|beta_sum"] = m.betas_.sum()
        out[f"{case}|GLADx|n_iter"] = n_iter
        if "--perturbed" in sys.argv:
            m2, n2 = glad_exact(data, 1.1, 0.9)
            print(f"{case}: GLADx from alpha=1.1, beta=0.9: n_iter {n2} (vs {n_iter}), max |diff| posterior "
                  f"{(m2.probas_ - m.probas_).abs().max().max():.1e}, alpha "
                  f"{(m2.alphas_ - m.alphas_).abs().max():.1e}, beta {(m2.betas_ - m.betas_).abs().max():.1e}")

    name = "MACEx"
    workers, worker_names = pd.factorize(data["worker"], sort=True)
    labels, label_names = pd.factorize(data["label"], sort=True)
    tasks, task_names = pd.factorize(data["task"], sort=True)
    m = MACEx().fit(data)
    labels_and_probas(m, m.probas_)
    assert list(m.probas_.columns) == list(label_names) and list(m.probas_.index) == list(task_names)
    for i, w in enumerate(worker_names):
        out[f"{case}|MACEx|skill|{w}"] = m.spamming_[i, 1]
        out[f"{case}|MACEx|spam|{w}"] = m.spamming_[i, 0]
        for j, label in enumerate(label_names):
            out[f"{case}|MACEx|theta|{w}|{label}"] = m.thetas_[i, j]
    lml = m._e_step(data.copy(deep=True), task_names, worker_names, label_names, tasks, workers, labels)[0]
    out[f"{case}|MACEx|log_marginal_likelihood"] = lml
    probas, spam, theta, lml_np = mace_numpy(data)
    for a, b in ((m.probas_.values, probas), (m.spamming_, spam), (m.thetas_, theta)):
        assert np.abs(a - b).max() < 1e-12, f"{case}: MACEx differs from mace_numpy"
    assert abs(lml - lml_np) < 1e-12 * max(1.0, abs(lml)), f"{case}: MACEx LML differs from mace_numpy"
    if case != "llmfao":
        print(f"{case}: MACEx vs crowd-kit MACE with rows sorted by (worker, label): max |diff| "
              f"{macex_vs_mace(data):.1e}")
    return out


def macex_vs_mace(data: pd.DataFrame) -> float:
    """MACEx = crowd-kit's MACE whenever first-appearance order = sorted order: on `data` with
    its rows sorted (stably) by (worker, label), so that workers and labels first appear in
    sorted order, both must give the same probas_, labels_, spamming_, thetas_ and LML.
    Returns the max |difference| (asserted < 1e-12; measured 0)."""
    d = data.sort_values(["worker", "label"], kind="stable").reset_index(drop=True)
    for col in ("worker", "label"):
        assert list(pd.unique(d[col])) == sorted(pd.unique(d[col])), f"{col}: orders differ"
    a, b = MACE().fit(d), MACEx().fit(d)
    assert (a.labels_.sort_index() == b.labels_.sort_index()).all(), "MACEx labels_ differ from MACE"
    codes = [pd.factorize(d[c], sort=True) for c in ("task", "worker", "label")]
    (t, tn), (w, wn), (y, yn) = codes
    lml_a = a._e_step(d.copy(deep=True), tn, wn, yn, t, w, y)[0]
    lml_b = b._e_step(d.copy(deep=True), tn, wn, yn, t, w, y)[0]
    diff = max(np.abs(a.probas_.loc[b.probas_.index, b.probas_.columns].values - b.probas_.values).max(),
               np.abs(a.spamming_ - b.spamming_).max(), np.abs(a.thetas_ - b.thetas_).max(),
               abs(lml_a - lml_b) / max(1.0, abs(lml_a)))
    assert diff < 1e-12, f"MACEx differs from crowd-kit's MACE when the orders coincide: {diff}"
    return diff


def main():
    data = make_data()
    text = data.to_csv(index=False, lineterminator="\n")
    if "--check" in sys.argv:
        assert DATA.read_text() == text, "crowd_labels_data.csv differs from a fresh run"
    else:
        DATA.write_text(text)
    data = pd.read_csv(DATA, dtype=str, keep_default_na=False)

    out = {}
    cases = [(c, g.drop(columns="case").reset_index(drop=True)) for c, g in data.groupby("case", sort=False)]
    cases.append(("llmfao", read_llmfao()))
    summary = []
    for case, frame in cases:
        f = facts(case, frame)
        out.update(f)
        summary.append(f"{case} {len(frame)} rows DS {int(f[f'{case}|DS|n_iter'])} it, "
                       f"GLAD {int(f[f'{case}|GLAD|n_iter'])} it, "
                       f"GLADx {int(f.get(f'{case}|GLADx|n_iter', -1))} it")
    for i, u in enumerate(np.random.RandomState(0).random_sample(8)):
        out[f"rng|uniform|{i}"] = u
    table = pd.DataFrame({"value": pd.Series(out, dtype=float)})
    table.index.name = "key"
    write_or_check(table, REF, 1e-9, summary="; ".join(summary))


if __name__ == "__main__":
    main()
