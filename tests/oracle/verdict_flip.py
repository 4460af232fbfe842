#!/usr/bin/env python3
"""Reference values for verdict_flip(pair_id, condition, verdict): how often a judge's verdict
on a pair changes when the input is perturbed, with a Wilson interval for the flip rate and an
exact binomial test of whether the flips lean towards one side.

Usage:
  ~/.cache/prefdb/bench-venv/bin/python tests/oracle/verdict_flip.py [--check]
A fresh venv needs (the versions this was written with):
  pip install scipy==1.17.1 statsmodels==0.15.0 numpy==2.3.3 pandas==3.1.1

Definition (one entry per non-baseline condition, ordered by condition name). The baseline
condition is 'original'. For a condition c:
  pairs      = number of pair_ids with a verdict under both 'original' and c (pair_ids with
               no 'original' row are ignored, as are 'original' rows with no row under c)
  flips      = number of those pairs whose verdict under c differs from the one under
               'original'
  flip_rate  = flips / pairs
  ci_lower, ci_upper
             = 95% Wilson score interval,
               statsmodels.stats.proportion.proportion_confint(flips, pairs, alpha=0.05,
               method='wilson'): with p = flips / pairs, n = pairs, z = Phi^-1(0.975),
               (p + z^2/(2n)) / (1 + z^2/n) -/+ z / (1 + z^2/n) * sqrt(p(1-p)/n + z^2/(4n^2))
  to_a, to_b, to_tie
             = flips whose verdict under c is 'a', 'b', 'tie' (to_a + to_b + to_tie = flips)
  p_value    = exact two-sided binomial (sign) test of to_a against to_b:
               statsmodels.stats.contingency_tables.mcnemar([[0, to_a], [to_b, 0]],
               exact=True).pvalue = min(1, 2 * P(X <= min(to_a, to_b))),
               X ~ Binomial(to_a + to_b, 1/2); NaN when to_a + to_b = 0. Flips to 'tie' do
               not enter the test.

Data, tests/fixtures/verdict_flip_data.csv (columns pair_id,condition,verdict; verdicts are
'a', 'b', 'tie'), generated with numpy default_rng(SEED), rows in a seeded random order:
  150 pairs, pair_id 1..150. Every pair gets an 'original' verdict and a verdict under each
  of 'swap', 'inject', 'flawed'; then
    - the 'original' row of 5 random pairs is dropped (their other rows stay and must be
      ignored),
    - 45 of the 450 (pair, perturbed condition) rows (10%) are dropped at random,
    - 'same' is added for 20 random pairs that have an 'original' row, with the original
      verdict (so 20 pairs and 0 flips: flip_rate 0, ci_lower 0, p_value NaN).
  swap    flips with probability 0.30 to one of the two other verdicts, uniformly: flips go
          both ways about equally
  inject  biased towards 'a': a non-'a' verdict becomes 'a' with probability 0.45 (else
          'b' -> 'tie' with probability 0.05), an 'a' verdict changes with probability 0.06
  flawed  flips with probability 0.06 to one of the two other verdicts, uniformly
With --check the data file must be byte-identical to a fresh generation.

References, tests/fixtures/verdict_flip_ref.tsv: index condition; columns pairs, flips,
flip_rate, ci_lower, ci_upper, to_a, to_b, to_tie, p_value (12 decimals, NaN spelled out).
The counts are computed twice (a pandas merge and a plain dictionary loop), the Wilson
interval and the p-value are recomputed from the formulas above (the binomial tail with
exact integer arithmetic), and each pair is asserted to agree (to 1e-12).
"""
import math
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint
from fixture import write_or_check

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "fixtures" / "verdict_flip_data.csv"
REF = ROOT / "tests" / "fixtures" / "verdict_flip_ref.tsv"
SEED = 20260614
AGREE = 1e-12
BASELINE = "original"
PERTURBED = ["swap", "inject", "flawed"]
VERDICTS = ["a", "b", "tie"]
N_PAIRS = 150
N_NO_ORIGINAL = 5
N_DROPPED = 45
N_SAME = 20
COLUMNS = ["pairs", "flips", "flip_rate", "ci_lower", "ci_upper", "to_a", "to_b", "to_tie", "p_value"]


def other(rng, v):
    return str(rng.choice([w for w in VERDICTS if w != v]))


def perturb(rng, condition, v):
    u = rng.random()
    if condition == "swap":
        return other(rng, v) if u < 0.30 else v
    if condition == "flawed":
        return other(rng, v) if u < 0.06 else v
    if condition == "inject":
        if v == "a":
            return other(rng, v) if u < 0.06 else v
        if u < 0.45:
            return "a"
        if v == "b" and u < 0.50:
            return "tie"
        return v
    raise ValueError(condition)


def generate():
    """The data as a DataFrame and its CSV text."""
    rng = np.random.default_rng(SEED)
    ids = np.arange(1, N_PAIRS + 1)
    original = {int(i): str(v) for i, v in zip(ids, rng.choice(VERDICTS, size=N_PAIRS, p=[0.42, 0.42, 0.16]))}
    rows = [(i, BASELINE, v) for i, v in original.items()]
    for c in PERTURBED:
        rows += [(i, c, perturb(rng, c, original[i])) for i in original]

    no_original = {int(i) for i in rng.choice(ids, size=N_NO_ORIGINAL, replace=False)}
    perturbed_rows = [k for k, r in enumerate(rows) if r[1] != BASELINE]
    dropped = {int(k) for k in rng.choice(perturbed_rows, size=N_DROPPED, replace=False)}
    rows = [r for k, r in enumerate(rows) if k not in dropped and not (r[1] == BASELINE and r[0] in no_original)]

    with_original = sorted(set(original) - no_original)
    same = sorted(int(i) for i in rng.choice(with_original, size=N_SAME, replace=False))
    rows += [(i, "same", original[i]) for i in same]

    rows = [rows[k] for k in rng.permutation(len(rows))]
    df = pd.DataFrame(rows, columns=["pair_id", "condition", "verdict"])
    text = "pair_id,condition,verdict\n" + "".join(f"{i},{c},{v}\n" for i, c, v in rows)
    return df, text


def check_data(df):
    assert not df.duplicated(["pair_id", "condition"]).any(), "duplicate (pair, condition)"
    has_original = set(df.loc[df.condition == BASELINE, "pair_id"])
    orphans = set(df.pair_id) - has_original
    assert len(orphans) == N_NO_ORIGINAL, orphans
    orphan_rows = df[df.pair_id.isin(orphans)]
    assert len(orphan_rows) >= 2 * N_NO_ORIGINAL, "too few rows for pairs without an 'original'"
    assert len(df[df.condition.isin(PERTURBED)]) == len(PERTURBED) * N_PAIRS - N_DROPPED
    assert (df.condition == "same").sum() == N_SAME


def counts_by_merge(df):
    base = df[df.condition == BASELINE][["pair_id", "verdict"]]
    m = df[df.condition != BASELINE].merge(base, on="pair_id", suffixes=("", "_base"))
    m["flip"] = m.verdict != m.verdict_base
    out = {}
    for c, g in m.groupby("condition", sort=True):
        f = g[g.flip]
        out[c] = (len(g), len(f), *(int((f.verdict == v).sum()) for v in VERDICTS))
    return out


def counts_by_loop(df):
    base, by_cond = {}, {}
    for i, c, v in df.itertuples(index=False):
        if c == BASELINE:
            base[i] = v
        else:
            by_cond.setdefault(c, {})[i] = v
    out = {}
    for c in sorted(by_cond):
        pairs = flips = 0
        to = dict.fromkeys(VERDICTS, 0)
        for i, v in by_cond[c].items():
            if i in base:
                pairs += 1
                if v != base[i]:
                    flips += 1
                    to[v] += 1
        out[c] = (pairs, flips, *(to[v] for v in VERDICTS))
    return out


def close(x, y, what):
    if np.isnan(y):
        assert np.isnan(x), f"{what}: {x!r} vs NaN"
        return
    assert abs(x - y) <= AGREE * max(1.0, abs(y)), f"{what}: {x!r} vs {y!r}"


def wilson_by_hand(k, n):
    z = stats.norm.ppf(0.975)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def sign_test_by_hand(to_a, to_b):
    s = to_a + to_b
    if s == 0:
        return float("nan")
    tail = Fraction(sum(math.comb(s, j) for j in range(min(to_a, to_b) + 1)), 2**s)
    return float(min(Fraction(1), 2 * tail))


def main():
    df, text = generate()
    check_data(df)
    counts = counts_by_merge(df)
    assert counts == counts_by_loop(df), (counts, counts_by_loop(df))

    rows = {}
    for c, (pairs, flips, to_a, to_b, to_tie) in counts.items():
        assert to_a + to_b + to_tie == flips
        lo, hi = proportion_confint(flips, pairs, alpha=0.05, method="wilson")
        hand_lo, hand_hi = wilson_by_hand(flips, pairs)
        close(lo, hand_lo, f"{c} ci_lower")
        close(hi, hand_hi, f"{c} ci_upper")
        if to_a + to_b == 0:
            p = np.nan
        else:
            p = mcnemar([[0, to_a], [to_b, 0]], exact=True).pvalue
        close(p, sign_test_by_hand(to_a, to_b), f"{c} p_value")
        rows[c] = [pairs, flips, flips / pairs, lo, hi, to_a, to_b, to_tie, p]

    table = pd.DataFrame.from_dict(rows, orient="index", columns=COLUMNS)
    table.index.name = "condition"
    for col in ["pairs", "flips", "to_a", "to_b", "to_tie"]:
        table[col] = table[col].astype(int)
    assert list(table.index) == sorted(table.index)
    same = table.loc["same"]
    assert same.pairs == N_SAME and same.flips == 0 and same.ci_lower == 0 and np.isnan(same.p_value)
    inject = table.loc["inject"]
    assert inject.to_a > 3 * inject.to_b and inject.p_value < 0.001, "inject is not biased towards 'a'"
    swap = table.loc["swap"]
    assert abs(swap.to_a - swap.to_b) <= 0.35 * (swap.to_a + swap.to_b), "swap is lopsided"
    assert table.loc["flawed"].flip_rate < 0.15

    if "--check" in sys.argv:
        assert DATA.read_text() == text, "verdict_flip_data.csv differs from a fresh run"
        print("tests/fixtures/verdict_flip_data.csv confirmed")
    else:
        DATA.write_text(text)
        print(f"wrote tests/fixtures/verdict_flip_data.csv: {len(df)} rows, {df.pair_id.nunique()} pairs")
    write_or_check(table, REF, 1e-10, f"{len(table)} conditions")
    with pd.option_context("display.width", 200, "display.max_columns", 12, "display.precision", 10):
        print(table)


if __name__ == "__main__":
    main()
