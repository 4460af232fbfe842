#!/usr/bin/env python3
"""Time NoisyBT fits in Python on the comparisons file benches/crowd_end_to_end.rs writes.

The comparisons are already in pandas: the Parquet file (worker, left, right, label; int64,
label = the winner's id, equal to left or right) is read once with pd.read_parquet, and that
read is reported on its own. Then two fits are timed, each from that in-memory DataFrame,
which is never modified:

  scipy fit   the model crowd-kit's NoisyBradleyTerry describes, solved to a stationary point:
              tests/oracle/noisy_bt_fit.py's objective, analytic gradient and analytic dense
              Hessian (imported from there, not copied), rho = 1e-5, a = 0.5, from crowd-kit's
              seed-0 start. This is the fair comparison to prefdb's `noisy_bt`, which solves
              the same model. Timed: turning the frame into the integer arrays the objective
              needs (pd.factorize(sort=True) of left + right and of worker, the same sorted
              order and codes as the oracle's Problem, whose own constructor loops in Python
              over the rows; y = label == left, weight 1) and the start (numpy's
              RandomState(0).rand(1 + L + 2W)), then:
                1. scipy.optimize.minimize(method="L-BFGS-B", jac=True, ftol=0, maxls=50,
                   maxiter=100000, maxfun=200000) to gtol = LOOSE * rows (1e-5 per row: 10 on
                   1M rows) - far enough in for the Hessian to be positive definite;
                2. Newton steps on everything but x0 (x0 fixed removes the null direction, as
                   in the oracle's polish()): the oracle's Problem.hess (a dense
                   (1 + L + 2W)^2 matrix, 2101^2 on the 1M file), Cholesky, full steps, each
                   kept if it lowers f, or where f is flat to rounding (f up by <= 1e-9
                   relative) lowers max|gradient| (prefdb's rule), until max|gradient| <=
                   TARGET = 1e-6 over all 1 + L + 2W components, x0 included;
                3. if Newton stops short (the Hessian is not positive definite there, or a step
                   is refused), L-BFGS-B again from where it got to with gtol / 10 (not below
                   TARGET), then 2., and so on.
              Why these settings (measured on a 1M-row file from the same generator, drawn
              with numpy's RNG): L-BFGS-B alone (gtol = 1e-6, ftol = 0) stops after 454
              iterations at max|gradient| ~1e-4, where f (~5e5) no longer decreases in double
              precision; at max|gradient| ~1000 or ~100 the Hessian is indefinite; from ~10
              (49 iterations) 5 Newton steps reach ~1e-11. The Newton step is the oracle's
              polish() step, but polish() itself is not called: it runs on to the rounding
              floor (3 more steps after the last gain), evaluates f and the gradient twice
              more per step and halves refused steps, where this falls back to L-BFGS-B as
              prefdb does. The Hessian is the oracle's dense one (np.add.at of a 4x4 block per
              row): building it is most of the Newton time on 1M rows (~5 s a build here,
              Cholesky ~1 s), so both are printed on their own; a solver using its structure
              (2x2 blocks per worker, as prefdb's Schur complement does) would be faster.
  crowd-kit   crowd-kit's NoisyBradleyTerry() with its defaults (n_iter=100, tol=1e-5,
              regularization_ratio=1e-5, random_state=0): only `.fit(df)`, on the frame as
              read (columns worker, left, right, label, as crowd-kit wants them), under
              np.errstate(all="ignore") (its gradient overflows np.exp on trial steps; the
              oracle runs it that way too). Its gradient is a Python loop over the rows:
              ~22 s per evaluation on 1M rows (27 evaluations, ~600 s, on the 1M-row file
              described below), so it runs once there (see SLOW).
              crowd-kit keeps no OptimizeResult; importing the oracle (tests/oracle/
              noisy_bt.py, via noisy_bt_fit.py) wraps the `minimize` crowd-kit imported so
              that the result is kept (one dict store per fit), which gives nit / nfev /
              status. Its gradient is not the gradient of its loss (see the oracle), so its
              output is not an optimum of any model; the figures below say how far it is.

Each figure is the median of RUNS timed runs (default 3), every run on the same DataFrame.
Without an explicit RUNS, a method whose first run takes more than 60 s is run only once
(crowd-kit on 1M rows does; the scipy fit, 53-58 s a run there on a 2-core machine, is
close to the line).

Per method the script also reports:
  peak RSS    ru_maxrss of a process forked after the read, which runs that method's runs and
              nothing else; it counts the DataFrame and the interpreter (the read's own peak is
              printed first), not the other method
  scipy fit   the split of the last run (conversion + start; L-BFGS-B with iterations /
              evaluations summed over its rounds; Newton with its steps and, within it, the
              time spent building Hessians and in Cholesky + solve), the final max|gradient|
              and f
  crowd-kit   nit / nfev / status of its L-BFGS-B; the Spearman correlation of its scores_ with
              the scipy fit's ratings (s_k - x0) and of its skills_ with the scipy fit's skills,
              item by item / worker by worker; and the model's objective f at crowd-kit's x
              against f at the scipy fit (untimed)
The SQL side of the same comparison is `cargo bench --bench crowd_end_to_end`.

Usage: ~/.cache/prefdb/noisybt-venv/bin/python benches/python/noisy_bt_baseline.py target/tmp/bench-data/comparisons-1m.parquet [RUNS]
Needs: the venv of tests/oracle/noisy_bt.py (crowd-kit 1.4.2, numpy, scipy, pandas) plus pyarrow
"""
import importlib.metadata
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy
import scipy.linalg
import scipy.optimize
import scipy.stats

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "oracle"))
import noisy_bt as oracle_crowdkit  # noqa: E402  (its `_LAST` holds crowd-kit's OptimizeResult)
import noisy_bt_fit as oracle  # noqa: E402  (the model: objective, gradient, Hessian, start)
from crowdkit.aggregation import NoisyBradleyTerry  # noqa: E402

SLOW = 60.0  # seconds: without an explicit RUNS, a slower first run is the only run
RHO, A = 1e-5, 0.5  # the oracle's (and prefdb's) defaults
SEED = 0
LOOSE = 1e-5  # first L-BFGS-B stage: gtol = LOOSE * rows
TARGET = 1e-6  # stop at max|gradient| <= TARGET
LBFGSB = {"ftol": 0.0, "maxiter": 100000, "maxfun": 200000, "maxls": 50}
MAX_NEWTON = 20  # Newton steps per round


from child import in_child, peak_rss_gib  # noqa: E402  (benches/python/child.py)


class Comparisons(oracle.Problem):
    """The oracle's Problem, built from (worker, left, right, label) with vectorised codes.

    pd.factorize(sort=True) gives the codes of the sorted unique values, the same as the
    oracle's sorted(set(...)) + dict look-ups for integers; score = 1 if label == left else 0
    (label is left or right: checked after the read), weight 1. Everything else (fun_grad,
    hess, start, identified) is the oracle's."""

    def __init__(self, df: pd.DataFrame, rho: float, a: float):
        left, right = df["left"].to_numpy(), df["right"].to_numpy()
        codes, items = pd.factorize(np.concatenate([left, right]), sort=True)
        iw, workers = pd.factorize(df["worker"].to_numpy(), sort=True)
        self.items, self.workers = items.tolist(), workers.tolist()
        self.L, self.W = len(items), len(workers)
        self.n = 1 + self.L + 2 * self.W
        self.ia, self.ib, self.iw = codes[:len(left)], codes[len(left):], iw
        self.y = (df["label"].to_numpy() == left).astype(float)
        self.c = np.ones(len(left))
        self.ca, self.cb = self.c * self.y, self.c * (1.0 - self.y)
        self.rho, self.a = rho, a


def scipy_fit(df: pd.DataFrame) -> dict:
    """The model's stationary point from the seed-0 start (module docstring, scipy fit)."""
    t = {"start": time.perf_counter()}
    p = Comparisons(df, RHO, A)
    x = p.start(SEED)
    t["lbfgsb"] = t["newton"] = t["hessian"] = t["solve"] = 0.0
    t["convert"] = time.perf_counter() - t["start"]
    gtol = max(LOOSE * len(df), TARGET)
    nit = nfev = steps = rounds = 0
    while True:
        rounds += 1
        started = time.perf_counter()
        res = scipy.optimize.minimize(p.fun_grad, x, jac=True, method="L-BFGS-B",
                                      options={"gtol": gtol, **LBFGSB})
        t["lbfgsb"] += time.perf_counter() - started
        x, f, g = res.x, res.fun, res.jac
        nit, nfev = nit + res.nit, nfev + res.nfev
        gmax = np.abs(g).max()
        started = time.perf_counter()
        for _ in range(MAX_NEWTON):
            if gmax <= TARGET:
                break
            hessian = time.perf_counter()
            H = p.hess(x)[1:, 1:]  # x0 (index 0) held fixed
            t["hessian"] += time.perf_counter() - hessian
            solving = time.perf_counter()
            try:
                factor = scipy.linalg.cho_factor(H, check_finite=False)
            except np.linalg.LinAlgError:
                t["solve"] += time.perf_counter() - solving
                break  # not positive definite here: back to L-BFGS-B
            x_new = x.copy()
            x_new[1:] -= scipy.linalg.cho_solve(factor, g[1:], check_finite=False)
            t["solve"] += time.perf_counter() - solving
            f_new, g_new = p.fun_grad(x_new)
            gmax_new = np.abs(g_new).max()
            lower = f_new < f - 1e-12 * max(abs(f), 1.0)
            flatter = gmax_new < gmax and f_new <= f + 1e-9 * max(abs(f), 1.0)
            if not (lower or flatter):
                break
            x, f, g, gmax, steps = x_new, f_new, g_new, gmax_new, steps + 1
        t["newton"] += time.perf_counter() - started
        if gmax <= TARGET or gtol <= TARGET:
            break
        gtol = max(gtol / 10, TARGET)
    t["total"] = time.perf_counter() - t["start"]
    rating, skill, _ = p.identified(x)
    return {"times": t, "nit": nit, "nfev": nfev, "rounds": rounds, "steps": steps,
            "gmax": gmax, "f": f, "x": x, "items": p.items, "workers": p.workers,
            "rating": rating, "skill": skill}


def crowdkit_fit(df: pd.DataFrame):
    oracle_crowdkit._LAST.clear()
    with np.errstate(all="ignore"):
        model = NoisyBradleyTerry().fit(df)
    return model, oracle_crowdkit._LAST.get("result")


def timed_runs(fit, runs, explicit):
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = fit()
        times.append(time.perf_counter() - started)
        if not explicit and times[0] > SLOW:
            break
    return times, result


def runs_text(times, runs):
    note = f" (first run over {SLOW:.0f} s)" if len(times) < runs else ""
    return (f"median {statistics.median(times):.3f} s over {len(times)} "
            f"run{'s' if len(times) > 1 else ''}{note}")


def main():
    path = sys.argv[1]
    explicit = len(sys.argv) > 2
    runs = int(sys.argv[2]) if explicit else 3
    print(f"file {path}")
    print(f"crowd-kit {importlib.metadata.version('crowd-kit')}, scipy {scipy.__version__}, "
          f"pandas {pd.__version__}, numpy {np.__version__}, "
          f"cores available {len(os.sched_getaffinity(0))}")

    started = time.perf_counter()
    df = pd.read_parquet(path, columns=["worker", "left", "right", "label"])
    read = time.perf_counter() - started
    for column in df.columns:
        if df[column].dtype != np.int64:
            sys.exit(f"column {column} is {df[column].dtype}, expected int64")
    if not ((df["label"] == df["left"]) | (df["label"] == df["right"])).all():
        sys.exit("a label is neither left nor right")
    items = pd.unique(np.concatenate([df["left"].to_numpy(), df["right"].to_numpy()]))
    print(f"read {len(df)} comparisons ({len(items)} items, {df['worker'].nunique()} workers, "
          f"left wins {100 * (df['label'] == df['left']).mean():.1f}%) with pandas: "
          f"{read:.3f} s (one read, not in the timings below); peak RSS after the read "
          f"{peak_rss_gib():.2f} GiB")

    def scipy_work():
        times, fit = timed_runs(lambda: scipy_fit(df), runs, explicit)
        return times, fit, peak_rss_gib()

    times, ref, rss = in_child(scipy_work)
    t = ref["times"]
    print(f"scipy fit (L-BFGS-B to gtol {LOOSE:g} x rows, then Newton to max|grad| <= "
          f"{TARGET:g}): {runs_text(times, runs)}; last run: convert + start {t['convert']:.3f} s, "
          f"L-BFGS-B {t['lbfgsb']:.3f} s ({ref['nit']} iterations, {ref['nfev']} evaluations, "
          f"{ref['rounds']} round{'s' if ref['rounds'] > 1 else ''}), Newton {t['newton']:.3f} s "
          f"({ref['steps']} step{'s' if ref['steps'] != 1 else ''}; in it, building the dense {len(ref['x']) - 1}^2 Hessians "
          f"{t['hessian']:.3f} s, Cholesky + solve {t['solve']:.3f} s); max|grad| {ref['gmax']:.1e}"
          f"{'' if ref['gmax'] <= TARGET else ' (ABOVE THE TARGET)'}, f {ref['f']:.6f}; "
          f"peak RSS {rss:.2f} GiB; runs " + ", ".join(f"{v:.3f}" for v in times))

    def crowdkit_work():
        times, (model, res) = timed_runs(lambda: crowdkit_fit(df), runs, explicit)
        return (times, model.scores_, model.skills_, None if res is None else
                (res.nit, res.nfev, res.status, res.message, res.x), peak_rss_gib())

    times, scores, skills, res, rss = in_child(crowdkit_work)
    rating = pd.Series(ref["rating"], index=ref["items"])
    skill = pd.Series(ref["skill"], index=ref["workers"])
    rho_items = scipy.stats.spearmanr(scores.to_numpy(), rating.reindex(scores.index)).statistic
    rho_workers = scipy.stats.spearmanr(skills.to_numpy(), skill.reindex(skills.index)).statistic
    if res is None:
        optimiser = "its OptimizeResult was not caught (the oracle's wrapper is not in place)"
        objective = ""
    else:
        nit, nfev, status, message, x = res
        optimiser = f"L-BFGS-B nit {nit}, nfev {nfev}, status {status} ({message})"
        model = Comparisons(df, RHO, A)
        objective = (f"; the model's f at its x {model.fun(x):.6f} (a = {A}, rho = {RHO}; "
                     f"at the scipy fit {ref['f']:.6f})")
    print(f"crowd-kit NoisyBradleyTerry().fit: {runs_text(times, runs)}; {optimiser}; "
          f"Spearman vs the scipy fit: scores_ {rho_items:.4f} ({len(scores)} items), "
          f"skills_ {rho_workers:.4f} ({len(skills)} workers){objective}; "
          f"peak RSS {rss:.2f} GiB; runs " + ", ".join(f"{v:.3f}" for v in times))


if __name__ == "__main__":
    main()
