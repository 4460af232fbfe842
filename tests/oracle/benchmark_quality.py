#!/usr/bin/env python3
"""Reference values for arena-hard-auto's benchmark-quality metrics: separability with
confidence, agreement with confidence (against a reference leaderboard), and the pair-rank
Brier score, on two synthetic leaderboards over the same 20 models.

Usage:
  ~/.cache/prefdb/bench-venv/bin/python tests/oracle/benchmark_quality.py [--check]
A fresh venv needs (the versions this was written with):
  pip install numpy==2.3.3 pandas==3.1.1 scipy==1.17.1

Source of the definitions
-------------------------
Li, Chiang, Frick, Dunlap, Wu, Zhu, Gonzalez, Stoica, "From Crowdsourced Data to High-Quality
Benchmarks: Arena-Hard and BenchBuilder Pipeline" (arXiv:2406.11939), section 3, names the
three metrics; its README points to a Colab notebook for the code. The code behind the
paper's Table 1 is the notebook the authors committed to github.com/lmarena/arena-hard-auto:
  notebook/benchmark_statistics.ipynb at commit bd52a78991225700e9b8403f3e1f3cd4a6b45141
  (2024-04-14, "update statistics"; removed in a06dde2 on 2024-12-28 "Depreciate old
  notebooks (see colab instead)"). Cells (0-based code/markdown index, raw .ipynb line):
    cell 5  (l.131)   get_unique_overlapping_interval_pairs   -> separability
    cell 46 (l.962)   get_overlap / get_interval / get_elo_interval
    cell 49 (l.1090)  the "Arena Hard (With Confidence)" loop -> agreement with confidence
    cell 63 (l.1346)  calculate_predictions_and_labels         -> pair-rank Brier inputs
    cell 70 (l.1468)  sklearn brier_score_loss(label, p(a<b))   -> pair-rank Brier score
The current repository (main, 196f6b8) has none of this code: README.md §"Evaluate
Benchmarks" only describes separability in words and links the Colab.
Its printed outputs (Arena Hard, 20 models, arena snapshot 2024-03-29: agreement 0.9040,
Brier 0.0705) sit next to the paper's Table 1 (90.9%, 0.069, snapshot 2024-04-13).

Notation: a leaderboard gives each model m a point rating r(m) and a 95% interval
[l(m), u(m)] (for arena-hard the 2.5/97.5 bootstrap percentiles; for Chatbot Arena
rating_q025/rating_q975). P = all C(n,2) unordered pairs of distinct models (n = 20, |P| = 190).
Two intervals OVERLAP iff  overlap(I, J) = max(0, min(u_I, u_J) - max(l_I, l_J)) > 0,
i.e. iff max(l_I, l_J) < min(u_I, u_J) strictly. Intervals that only touch (l_J == u_I) do
NOT overlap: they count as separated.

1. separability (of one leaderboard; rows separability_a, separability_b)
     separability = 1 - #{ {i,j} in P : intervals of i and j overlap } / |P|
   The notebook counts overlapping pairs by sorting intervals by lower bound and, for each i,
   scanning j > i while l_j < u_i (strict; the first j with l_j >= u_i ends the scan), and
   prints "Confidence: {100 - round(100 * overlapping / |P|, 2)}%"; the value here is the
   unrounded fraction. For non-degenerate intervals (l < u) the scan counts exactly the pairs
   with overlap > 0 above. QUIRK: the notebook de-duplicates found pairs by their interval
   VALUES, so models with identical (l, u) would be undercounted; the data below has no
   repeated interval within a leaderboard (asserted), so the quirk cannot act.
   overlap_pairs_a / overlap_pairs_b are the counts; pairs = |P|.

2. agreement_with_confidence (benchmark a against reference b)
     S      = { {i,j} in P : b-intervals of i and j do NOT overlap }   (pairs the reference
              separates with confidence; reference pairs that overlap are skipped entirely)
     credit({i,j}) = 1/2 if the a-intervals of i and j overlap
                   = 1   if they do not, and a orders i,j as b does
                   = 0   if they do not, and a orders i,j opposite to b
     agreement_with_confidence = sum over S of credit / |S|       (undefined if S is empty)
   "Orders" compares the (lower, upper) tuples lexicographically (the notebook writes
   score_a < score_b on the interval tuples, not on the ratings); for two non-overlapping,
   non-degenerate intervals this is simply which interval lies below the other. Point ratings
   are not used, so a rating tie matters only through its intervals (tied ratings => the
   intervals share a point => overlap). Pair order does not matter (the rule is symmetric).
   agreement_pairs = |S|, agreement_credit = the sum.
   The paper's §3 text (as quoted by secondary summaries; not re-read here) scores a pair +1
   (both separate, same order), -1 (both separate, opposite order), 0 (either cannot
   separate). On S the code's credit is exactly (score + 1) / 2; the code divides by |S|,
   not |P|. The value here follows the code.

3. brier (pair-rank Brier score of a against reference b)
   Pairs: every {i,j} in P, oriented by model NAME: i < j in Python string order
   (combinations(sorted(model_list), 2)); names here are ASCII so this is byte order.
     label(i,j) = 1 if r_b(i) < r_b(j) else 0       (strict: a reference TIE gives label 0,
                                                    for the name-first model i)
     p(i,j)     = P(X_i < X_j) with X_k ~ N(mu_k, s_k^2) independent
                = Phi( (mu_j - mu_i) / sqrt(s_i^2 + s_j^2) )
                  (notebook: norm(loc=a_mean - b_mean, scale=sqrt(a_var + b_var)).cdf(0))
     brier      = (1 / |P|) * sum over P of (p(i,j) - label(i,j))^2
                  (sklearn brier_score_loss(label, p) with pos_label 1 = this mean)
   A benchmark TIE (mu_i == mu_j) gives p = 1/2 exactly, contributing 1/4 whatever the label.
   The reference intervals are not used (the notebook's p_true(a<b) column does not enter
   the score).
   In the notebook mu_k and s_k^2 are np.mean and np.var (ddof 0) of model k's bootstrap
   samples on benchmark a. This fixture has only rating/lower/upper, so (ADAPTATION, a
   normal approximation of the bootstrap distribution from the 95% interval):
     mu_k = r_a(k)   (the point rating, not the interval midpoint; intervals here are
                      asymmetric, so the choice matters)
     s_k  = (u_a(k) - l_a(k)) / (2 * z),  z = Phi^-1(0.975) = scipy.stats.norm.ppf(0.975)
            = 1.959963984540054...

Data, tests/fixtures/benchmark_quality_data.csv (model,rating_a,lower_a,upper_a,rating_b,
lower_b,upper_b; rows in name order), generated with numpy default_rng(SEED). Every number
is a multiple of 0.25, so it is exact in binary and in the CSV and all interval comparisons
are exact. A latent skill s ~ N(0,1) per model (name order unrelated to skill);
  b (reference, Elo-like):   r_b = q(1150 + 45 s); lower width q(U(3, 18)), upper width
                             q(lower width * U(0.7, 1.4))
  a (benchmark, 0-100 score): r_a = q(50 + 18 s + N(0, 8)); lower width q(U(0.75, 6)), upper
                             width q(lower width * U(0.7, 1.4))
  (q rounds to 0.25, widths at least 0.25; r_a is clipped to [2, 98] but a bound may leave
  [0, 100]), then edge cases are forced (the run prints which models they hit):
    - a reference tie: the two models adjacent in b-rating order at ranks 10/11 get the same
      r_b (their intervals re-centred on it);
    - a benchmark tie: the first pair adjacent in a-rating order, not involving the
      reference-tied models, whose b-intervals are separated, gets the same r_a (=> p = 1/2,
      and half credit in agreement);
    - touching intervals in each leaderboard: one adjacent pair gets l(hi) = u(lo) exactly
      (separated in both metrics);
  and the script asserts that the agreement data contains all three credit kinds (1, 1/2, 0),
  that some reference-overlapping pairs are skipped, and that no interval repeats.
With --check the data file must be byte-identical to a fresh generation.

References, tests/fixtures/benchmark_quality_ref.tsv: index metric, column value (12
decimals). Each metric is computed twice -- a plain pairwise implementation of the formulas
above and a re-implementation that follows the notebook's algorithms (sorted sweep with
break, tuple comparisons, name-sorted combinations) -- and asserted equal (1e-12). If a
git mirror of lmarena/arena-hard-auto is available (env ARENA_HARD_AUTO_GIT, default
/work/.mirror/lmarena+arena-hard-auto/repo), the notebook's own cells 5, 46, 49 and 63 are
read from commit bd52a78 and executed on this data as a third check; otherwise that check is
skipped with a message.
"""
import json
import math
import os
import subprocess
import sys
from itertools import combinations
from math import comb
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from fixture import write_or_check

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "fixtures" / "benchmark_quality_data.csv"
REF = ROOT / "tests" / "fixtures" / "benchmark_quality_ref.tsv"
SEED = 20240617
N_MODELS = 20
AGREE = 1e-12
Z975 = stats.norm.ppf(0.975)
NOTEBOOK_COMMIT = "bd52a78991225700e9b8403f3e1f3cd4a6b45141"
NOTEBOOK_PATH = "notebook/benchmark_statistics.ipynb"
MIRROR = os.environ.get("ARENA_HARD_AUTO_GIT", "/work/.mirror/lmarena+arena-hard-auto/repo")
COLUMNS = ["model", "rating_a", "lower_a", "upper_a", "rating_b", "lower_b", "upper_b"]
NAMES = [
    "aurora-7b", "basalt-13b", "cirrus-70b", "delta-chat", "ember-2", "fjord-8x7b", "glacier-v1",
    "harbor-34b", "iris-mini", "juniper-1.5", "kestrel-9b", "lumen-pro", "meridian-3",
    "nimbus-0125", "onyx-lite", "pioneer-2b", "quartz-instruct", "raven-72b", "sierra-4",
    "tundra-xl",
]


def q(x):
    """Round to a multiple of 0.25."""
    return np.round(np.asarray(x, dtype=float) * 4) / 4


def widths(rng, lo, hi):
    left = np.maximum(q(rng.uniform(lo, hi, N_MODELS)), 0.25)
    right = np.maximum(q(left * rng.uniform(0.7, 1.4, N_MODELS)), 0.25)
    return left, right


def separated(l1, u1, l2, u2):
    return max(0.0, min(u1, u2) - max(l1, l2)) == 0


def generate():
    """The data as a DataFrame (rows in name order) and its CSV text."""
    rng = np.random.default_rng(SEED)
    skill = rng.normal(0, 1, N_MODELS)
    rb = q(1150 + 45 * skill)
    bl, bu = widths(rng, 3, 18)
    ra = q(np.clip(50 + 18 * skill + rng.normal(0, 8, N_MODELS), 2, 98))
    al, au = widths(rng, 0.75, 6)

    # reference tie: ranks 10 and 11 (0-based 9, 10) in b-rating order
    order_b = np.argsort(rb, kind="stable")
    tie_b = (int(order_b[9]), int(order_b[10]))
    rb[tie_b[1]] = rb[tie_b[0]]
    lower_b, upper_b = rb - bl, rb + bu

    # benchmark tie: first adjacent pair in a-order, avoiding tie_b, whose b-intervals separate
    order_a = np.argsort(ra, kind="stable")
    tie_a = None
    for x, y in zip(order_a[:-1], order_a[1:]):
        x, y = int(x), int(y)
        if {x, y} & set(tie_b):
            continue
        if separated(lower_b[x], upper_b[x], lower_b[y], upper_b[y]):
            tie_a = (x, y)
            break
    assert tie_a is not None, "no benchmark pair to tie"
    ra[tie_a[1]] = ra[tie_a[0]]
    lower_a, upper_a = ra - al, ra + au

    # touching intervals: first adjacent pair (avoiding the tied models) where moving the upper
    # model's lower bound onto the lower model's upper bound keeps lower <= rating
    def touch(r, lower, upper, avoid):
        order = np.argsort(r, kind="stable")
        for x, y in zip(order[:-1], order[1:]):
            x, y = int(x), int(y)
            if {x, y} & avoid or r[y] <= upper[x]:
                continue
            lower[y] = upper[x]
            return (x, y)
        raise AssertionError("no pair to make touch")

    touch_b = touch(rb, lower_b, upper_b, set(tie_b) | set(tie_a))
    touch_a = touch(ra, lower_a, upper_a, set(tie_b) | set(tie_a) | set(touch_b))

    df = pd.DataFrame({
        "model": NAMES, "rating_a": ra, "lower_a": lower_a, "upper_a": upper_a,
        "rating_b": rb, "lower_b": lower_b, "upper_b": upper_b,
    }).sort_values("model", kind="stable").reset_index(drop=True)
    fmt = lambda v: repr(float(v))
    text = ",".join(COLUMNS) + "\n" + "".join(
        ",".join([row.model] + [fmt(getattr(row, c)) for c in COLUMNS[1:]]) + "\n"
        for row in df.itertuples(index=False)
    )
    edges = {
        "tie_b": tuple(NAMES[k] for k in tie_b), "tie_a": tuple(NAMES[k] for k in tie_a),
        "touch_b": tuple(NAMES[k] for k in touch_b), "touch_a": tuple(NAMES[k] for k in touch_a),
    }
    return df, text, edges


def check_data(df, edges):
    assert len(df) == N_MODELS and df.model.is_unique and list(df.model) == sorted(df.model)
    for s in "ab":
        lo, r, hi = df[f"lower_{s}"], df[f"rating_{s}"], df[f"upper_{s}"]
        assert (lo < r).all() and (r < hi).all(), f"rating outside its interval on {s}"
        assert (df[[f"lower_{s}", f"upper_{s}"]].apply(tuple, axis=1).nunique() == N_MODELS), \
            f"repeated interval on {s} (would trigger the notebook's value de-duplication)"
        assert not df[f"rating_{s}"].is_unique, f"no rating tie on {s}"
        assert (df[[c for c in COLUMNS[1:]]] * 4 % 1 == 0).all().all(), "value off the 0.25 grid"
    m = df.set_index("model")
    for s in "ab":
        x, y = edges[f"touch_{s}"]
        assert m.loc[y, f"lower_{s}"] == m.loc[x, f"upper_{s}"], f"touch_{s} does not touch"
        x, y = edges[f"tie_{s}"]
        assert m.loc[x, f"rating_{s}"] == m.loc[y, f"rating_{s}"]


# ---- implementation 1: the formulas, pair by pair -----------------------------------------

def overlaps(l1, u1, l2, u2):
    return max(l1, l2) < min(u1, u2)


def by_formula(df):
    rows = list(df.itertuples(index=False))
    pairs = list(combinations(range(len(rows)), 2))
    out = {"pairs": len(pairs)}
    for s in "ab":
        k = sum(overlaps(getattr(rows[i], f"lower_{s}"), getattr(rows[i], f"upper_{s}"),
                         getattr(rows[j], f"lower_{s}"), getattr(rows[j], f"upper_{s}"))
                for i, j in pairs)
        out[f"overlap_pairs_{s}"] = k
        out[f"separability_{s}"] = 1 - k / len(pairs)

    credit, n_s, kinds = 0.0, 0, {1.0: 0, 0.5: 0, 0.0: 0}
    for i, j in pairs:
        a, b = rows[i], rows[j]
        if overlaps(a.lower_b, a.upper_b, b.lower_b, b.upper_b):
            continue
        n_s += 1
        if overlaps(a.lower_a, a.upper_a, b.lower_a, b.upper_a):
            c = 0.5
        else:
            below_a = a.upper_a <= b.lower_a      # i's a-interval lies below j's
            below_b = a.upper_b <= b.lower_b
            c = 1.0 if below_a == below_b else 0.0
        kinds[c] += 1
        credit += c
    out["agreement_pairs"] = n_s
    out["agreement_credit"] = credit
    out["agreement_with_confidence"] = credit / n_s
    out["_kinds"] = kinds
    out["_skipped"] = len(pairs) - n_s

    named = sorted(rows, key=lambda r: r.model)
    total = 0.0
    for x, y in combinations(named, 2):
        sx, sy = (x.upper_a - x.lower_a) / (2 * Z975), (y.upper_a - y.lower_a) / (2 * Z975)
        p = 0.5 * math.erfc(-((y.rating_a - x.rating_a) / math.sqrt(sx * sx + sy * sy)) / math.sqrt(2))
        label = 1.0 if x.rating_b < y.rating_b else 0.0
        total += (p - label) ** 2
    out["brier"] = total / len(pairs)
    return out


# ---- implementation 2: the notebook's algorithms, re-written -------------------------------

def sweep_overlapping_pairs(lower, upper):
    """Sorted sweep of notebook cell 5 (including its de-duplication by value)."""
    intervals = sorted(([l, u] for l, u in zip(lower, upper)), key=lambda x: x[0])
    found = []
    for i in range(len(intervals)):
        for j in range(i + 1, len(intervals)):
            if intervals[j][0] < intervals[i][1]:
                if (intervals[i], intervals[j]) not in found and (intervals[j], intervals[i]) not in found:
                    found.append((intervals[i], intervals[j]))
            else:
                break
    return len(found), comb(len(lower), 2)


def by_notebook_algorithm(df):
    out = {}
    for s in "ab":
        k, total = sweep_overlapping_pairs(df[f"lower_{s}"].tolist(), df[f"upper_{s}"].tolist())
        out[f"overlap_pairs_{s}"], out["pairs"] = k, total
        out[f"separability_{s}"] = 1 - k / total

    iv = lambda r, s: (getattr(r, f"lower_{s}"), getattr(r, f"upper_{s}"))
    ov = lambda x, y: max(0, min(x[1], y[1]) - max(x[0], y[0]))
    count = total = 0
    rows = list(df.itertuples(index=False))
    for a, b in combinations(rows, 2):
        sa, sb, ea, eb = iv(a, "a"), iv(b, "a"), iv(a, "b"), iv(b, "b")
        if ov(ea, eb) > 0:
            continue
        total += 1
        if ov(sa, sb) > 0:
            count += 0.5
            continue
        if (sa < sb and ea < eb) or (sa > sb and ea > eb):
            count += 1
    out["agreement_pairs"], out["agreement_credit"] = total, count
    out["agreement_with_confidence"] = count / total

    m = df.set_index("model")
    mean, var = m.rating_a, ((m.upper_a - m.lower_a) / (2 * Z975)) ** 2
    p, label = [], []
    for x, y in combinations(sorted(m.index), 2):
        p.append(stats.norm(loc=mean[x] - mean[y], scale=np.sqrt(var[x] + var[y])).cdf(0))
        label.append(int(m.rating_b[x] < m.rating_b[y]))
    out["brier"] = float(np.mean((np.array(label) - np.array(p)) ** 2))
    return out


# ---- check 3: the notebook's own cells, if a mirror is at hand ----------------------------

def notebook_cells():
    try:
        raw = subprocess.run(
            ["git", f"--git-dir={MIRROR}", "show", f"{NOTEBOOK_COMMIT}:{NOTEBOOK_PATH}"],
            capture_output=True, check=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    cells = ["".join(c["source"]) for c in json.loads(raw)["cells"] if c["cell_type"] == "code"]
    pick = lambda needle: next(c for c in cells if needle in c)
    return {
        "separability": pick("def get_unique_overlapping_interval_pairs(df, key_lower"),
        "helpers": pick("def get_overlap(a, b)"),
        "agreement": pick('print(f"Arena Hard (With Confidence)'),
        "forecast": pick("def calculate_predictions_and_labels"),
    }


def by_notebook_cells(df, cells):
    g = {"np": np, "pd": pd, "comb": comb, "combinations": combinations, "norm": stats.norm}
    for key in ["separability", "helpers", "forecast"]:
        exec(cells[key], g)
    out = {}
    for s in "ab":
        k, total = g["get_unique_overlapping_interval_pairs"](df, f"lower_{s}", f"upper_{s}")
        out[f"separability_{s}"] = 1 - k / total
    g["arena_hard"] = df.rename(columns={"lower_a": "lower", "upper_a": "upper"})
    g["elo_subset"] = df.rename(columns={"model": "index", "lower_b": "rating_q025", "upper_b": "rating_q975"})
    exec(cells["agreement"].replace("print(", "(lambda *_: None)("), g)
    out["agreement_with_confidence"] = g["count"] / g["total"]
    m = df.set_index("model")
    res = g["calculate_predictions_and_labels"](
        list(df.model),
        {"mean": m.rating_a.to_dict(), "var": (((m.upper_a - m.lower_a) / (2 * Z975)) ** 2).to_dict()},
        {"rating": m.rating_b.to_dict(), "variance": (((m.upper_b - m.lower_b) / (2 * Z975)) ** 2).to_dict()},
    )
    out["brier"] = float(np.mean((res["label"] - res["p(a<b)"]) ** 2))  # = brier_score_loss
    return out


def close(x, y, what):
    assert abs(x - y) <= AGREE * max(1.0, abs(y)), f"{what}: {x!r} vs {y!r}"


ORDER = ["separability_a", "separability_b", "agreement_with_confidence", "brier", "pairs",
         "overlap_pairs_a", "overlap_pairs_b", "agreement_pairs", "agreement_credit"]


def main():
    df, text, edges = generate()
    check_data(df, edges)
    if "--check" in sys.argv:
        assert DATA.read_text() == text, "benchmark_quality_data.csv differs from a fresh generation"
    else:
        DATA.write_text(text)
    df = pd.read_csv(DATA)        # compute from the file as written
    check_data(df, edges)

    first = by_formula(df)
    kinds, skipped = first.pop("_kinds"), first.pop("_skipped")
    assert all(v > 0 for v in kinds.values()), f"agreement data lacks a credit kind: {kinds}"
    assert skipped > 0, "no reference-overlapping pair is skipped"
    second = by_notebook_algorithm(df)
    for k in ORDER:
        close(second[k], first[k], k)
    cells = notebook_cells()
    if cells is None:
        print(f"notebook cells not checked: no git mirror at {MIRROR}")
    else:
        third = by_notebook_cells(df, cells)
        for k, v in third.items():
            close(v, first[k], f"notebook cells {k}")
        print(f"notebook cells of {NOTEBOOK_COMMIT[:7]} agree")

    table = pd.DataFrame({"value": [float(first[k]) for k in ORDER]}, index=pd.Index(ORDER, name="metric"))
    summary = (f"edges {edges}; agreement credits 1/0.5/0 = {kinds[1.0]}/{kinds[0.5]}/{kinds[0.0]}, "
               f"{skipped} reference-overlapping pairs skipped")
    write_or_check(table, REF, 1e-12, summary)


if __name__ == "__main__":
    main()
