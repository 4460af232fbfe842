#!/usr/bin/env python3
"""Reference paired-sample tests from SciPy and statsmodels: paired t, Wilcoxon signed-rank,
the exact sign-flip permutation test, McNemar (exact and chi-square) and, for information,
a percentile bootstrap interval of the mean difference.

Usage:
  ~/.cache/prefdb/bench-venv/bin/python tests/oracle/paired_tests.py [--check]
A fresh venv needs (the versions this was written with):
  pip install scipy==1.17.1 statsmodels==0.15.0 numpy==2.3.3 pandas==3.1.1

Data, tests/fixtures/paired_data.csv (columns case,a,b,correct_a,correct_b; one row per
pair, the pairs of a case in row order), generated with numpy default_rng(SEED):
  small         12 pairs of continuous scores (6 decimals); no zero difference, no tied
                |difference| (the sorted |d| are at least 1e-4 apart, asserted)
  ties          30 pairs of Likert scores 1..5: zero differences and tied |differences|
  large         200 pairs of continuous scores (6 decimals), a better by ~0.15 on average
  tiny          6 pairs of continuous scores (6 decimals), no zero and no tied |d|
  binary        120 rows of paired correctness: n11 = 62, n10 = 15, n01 = 28, n00 = 15
  binary_small  40 rows: n11 = 21, n10 = 1, n01 = 8, n00 = 10 (b + c = 9)
Score cases have correct_a = correct_b = 0; binary cases have a = correct_a, b = correct_b.
n10 = #(a right, b wrong) = McNemar's b, n01 = #(a wrong, b right) = McNemar's c. The
binary rows are the fixed counts in a seeded random order. With --check the data file must
be byte-identical to a fresh generation.

References, tests/fixtures/paired_ref.tsv: key = "case|method", n, mean_diff, ci_lower,
ci_upper, statistic, p_value (12 decimals, NaN where a method has no value). d = a - b in
double precision, n = number of pairs (all of them, zero differences included),
mean_diff = mean(d) (for the binary cases mean(correct_a - correct_b)).

  t                   score cases. scipy.stats.ttest_rel(a, b): statistic
                      t = mean(d) / (sd(d) / sqrt(n)), sd with ddof 1; p_value =
                      2 * T_{n-1}.sf(|t|); ci = res.confidence_interval(0.95) =
                      mean(d) -/+ T_{n-1}.ppf(0.975) * sd(d) / sqrt(n).
  wilcoxon            score cases. scipy.stats.wilcoxon(a, b) with its defaults
                      (zero_method='wilcox', correction=False, alternative='two-sided',
                      method='auto'). Zero differences are dropped; the remaining
                      m = #(d != 0) |d| get average ranks; r+ / r- = rank sums of the
                      positive / negative d. statistic = min(r+, r-); ci NaN.
                      'auto' in SciPy 1.17 (scipy/stats/_wilcoxon.py), N = len(d) counting
                      zeros: N > 50 -> asymptotic; else no zero and no tied |d| -> exact;
                      else N <= 13 -> a permutation test (PermutationMethod(), which is
                      exhaustive as 2^13 <= 9999); else asymptotic. So here:
                        small  exact       (N = 12 <= 50, no zeros, no ties)
                        tiny   exact       (N = 6  <= 50, no zeros, no ties)
                        ties   asymptotic  (zeros and ties, N = 30 > 13)
                        large  asymptotic  (N = 200 > 50; it would be even without ties)
                      exact: W = signed-rank statistic on m values (2^m sign patterns),
                        p = min(1, 2 * min(P(W >= r+), P(W <= r+))).
                      asymptotic: z = (r+ - m(m+1)/4) / se,
                        se = sqrt((m(m+1)(2m+1) - sum_g (t_g^3 - t_g) / 2) / 24), the sum
                        over groups of tied non-zero |d| (zeros are not a group: they are
                        gone), no continuity correction, p = 2 * Phi(-|z|).
  permutation_exact   tiny and small. scipy.stats.permutation_test((a, b), statistic=
                      lambda x, y: np.mean(x - y), permutation_type='samples',
                      alternative='two-sided', n_resamples=np.inf): all 2^n swaps of a_i and
                      b_i within pairs, i.e. the sign flips T_s = mean(s_i d_i), s in
                      {-1, 1}^n, the identity included. statistic = T_obs = mean(d). As
                      n_resamples >= 2^n the test is exact (no +1 adjustment) and
                        gamma     = 100 * eps * |T_obs|,  eps = 2.220446e-16 (float64)
                        p_less    = #{s : T_s <= T_obs + gamma} / 2^n
                        p_greater = #{s : T_s >= T_obs - gamma} / 2^n
                        p_value   = min(1, 2 * min(p_less, p_greater))
                      (scipy/stats/_resampling.py, permutation_test: two_sided() then
                      np.clip(p, 0, 1)). The script recomputes this by enumeration and asserts
                      it is unchanged with a tolerance of 1e-9 * |T_obs| instead of gamma
                      (the answer does not hinge on the tolerance).
  mcnemar_exact       binary cases. statsmodels.stats.contingency_tables.mcnemar(table,
                      exact=True), table = [[n11, n10], [n01, n00]]: statistic =
                      min(n10, n01); p_value = min(1, 2 * BinomCDF(min(n10, n01); n10 + n01,
                      1/2)), i.e. twice the smaller tail, P(X <= min) counting the observed.
  mcnemar_chi2        mcnemar(table, exact=False, correction=True): statistic =
                      (|n10 - n01| - 1)^2 / (n10 + n01), p_value = chi2_1.sf(statistic).
  mcnemar_chi2_nocorr mcnemar(table, exact=False, correction=False): statistic =
                      (n10 - n01)^2 / (n10 + n01), p_value = chi2_1.sf(statistic).
                      The McNemar rows have ci NaN.
  bootstrap           large only, for information (prefdb's own bootstrap is to be compared
                      within Monte-Carlo error): scipy.stats.bootstrap((d,), np.mean,
                      n_resamples=10000, method='percentile', random_state=0), 95%
                      interval as ci; statistic = mean(d), p_value NaN. random_state=0 is
                      SciPy's legacy keyword: it becomes rng=0 and is passed through
                      check_random_state, i.e. np.random.RandomState(0) (not default_rng(0)).

Every SciPy / statsmodels number is also recomputed from the formulas above and asserted to
agree (to 1e-12; the bootstrap excepted), and each Wilcoxon p-value is asserted to equal the
one SciPy gives with the method named above passed explicitly.
"""
import itertools
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar
from fixture import write_or_check

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "fixtures" / "paired_data.csv"
REF = ROOT / "tests" / "fixtures" / "paired_ref.tsv"
SEED = 20260611
AGREE = 1e-12
COLUMNS = ["n", "mean_diff", "ci_lower", "ci_upper", "statistic", "p_value"]
SCORE_CASES = ["small", "ties", "large", "tiny"]
BINARY_COUNTS = {"binary": (62, 15, 28, 15), "binary_small": (21, 1, 8, 10)}  # n11 n10 n01 n00


def continuous(rng, n, effect, decimals=6):
    base = rng.normal(6.0, 1.5, n)
    a = np.round(base + rng.normal(effect, 0.8, n), decimals)
    b = np.round(base + rng.normal(0.0, 0.8, n), decimals)
    return a, b


def likert(rng, n):
    latent = rng.normal(3.0, 1.0, n)
    a = np.clip(np.round(latent + rng.normal(0.3, 0.6, n)), 1, 5)
    b = np.clip(np.round(latent + rng.normal(0.0, 0.6, n)), 1, 5)
    return a, b


def binary(rng, counts):
    n11, n10, n01, n00 = counts
    pairs = np.array([(1, 1)] * n11 + [(1, 0)] * n10 + [(0, 1)] * n01 + [(0, 0)] * n00)
    pairs = pairs[rng.permutation(len(pairs))]
    return pairs[:, 0], pairs[:, 1]


def generate():
    """{case: (a, b, correct_a, correct_b)} and the CSV text."""
    rng = np.random.default_rng(SEED)
    cases = {}
    a, b = continuous(rng, 12, 0.5)
    cases["small"] = (a, b, np.zeros(12, int), np.zeros(12, int))
    a, b = likert(rng, 30)
    cases["ties"] = (a, b, np.zeros(30, int), np.zeros(30, int))
    a, b = continuous(rng, 200, 0.15)
    cases["large"] = (a, b, np.zeros(200, int), np.zeros(200, int))
    a, b = continuous(rng, 6, 0.5)
    cases["tiny"] = (a, b, np.zeros(6, int), np.zeros(6, int))
    for name, counts in BINARY_COUNTS.items():
        ca, cb = binary(rng, counts)
        cases[name] = (ca.astype(float), cb.astype(float), ca, cb)
    rows = ["case,a,b,correct_a,correct_b"]
    for name, (a, b, ca, cb) in cases.items():
        rows += [f"{name},{float(x)!r},{float(y)!r},{int(p)},{int(q)}" for x, y, p, q in zip(a, b, ca, cb)]
    return cases, "\n".join(rows) + "\n"


def check_data(cases):
    for name in ["small", "tiny"]:
        d = np.abs(cases[name][0] - cases[name][1])
        assert (d > 1e-4).all() and np.diff(np.sort(d)).min() > 1e-4, f"{name}: zero or near-tied |d|"
    d = cases["ties"][0] - cases["ties"][1]
    nz = np.abs(d[d != 0])
    assert (d == 0).sum() >= 5 and len(np.unique(nz)) < len(nz), "ties: too few zeros or ties"
    for name, counts in BINARY_COUNTS.items():
        ca, cb = cases[name][2], cases[name][3]
        got = tuple(int(((ca == i) & (cb == j)).sum()) for i, j in [(1, 1), (1, 0), (0, 1), (0, 0)])
        assert got == counts, f"{name}: counts {got}"


def close(x, y, what):
    assert abs(x - y) <= AGREE * max(1.0, abs(y)), f"{what}: {x!r} vs {y!r}"


def paired_t(d):
    n = len(d)
    m, se = d.mean(), d.std(ddof=1) / np.sqrt(n)
    t = m / se
    q = stats.t.ppf(0.975, n - 1)
    return t, 2 * stats.t.sf(abs(t), n - 1), m - q * se, m + q * se


def signed_rank_pmf(m):
    """P(W = k), k = 0..m(m+1)/2, for the signed-rank sum of ranks 1..m."""
    counts = np.zeros(m * (m + 1) // 2 + 1)
    counts[0] = 1
    for r in range(1, m + 1):
        counts[r:] = counts[r:] + counts[:-r].copy()
    return counts / 2.0**m


def wilcoxon_by_hand(d):
    """(method auto picks, statistic, p-value) from the documented rule and formulas."""
    nz = d[d != 0]
    m = len(nz)
    ranks = stats.rankdata(np.abs(nz))
    r_plus, r_minus = ranks[nz > 0].sum(), ranks[nz < 0].sum()
    _, t = np.unique(np.abs(nz), return_counts=True)
    ties = (t > 1).any()
    if len(d) > 50:
        method = "asymptotic"
    elif not ties and m == len(d):
        method = "exact"
    elif len(d) <= 13:
        method = "permutation"
    else:
        method = "asymptotic"
    if method == "exact":
        pmf = signed_rank_pmf(m)
        k = int(r_plus)
        p = min(1.0, 2 * min(pmf[k:].sum(), pmf[: k + 1].sum()))
    elif method == "asymptotic":
        se = np.sqrt((m * (m + 1) * (2 * m + 1) - (t**3 - t).sum() / 2) / 24)
        z = (r_plus - m * (m + 1) / 4) / se
        p = 2 * stats.norm.cdf(-abs(z))
    else:
        raise AssertionError("no case here should use the permutation branch")
    return method, min(r_plus, r_minus), p


def sign_flip_by_hand(d, tol):
    n = len(d)
    signs = np.array(list(itertools.product([1.0, -1.0], repeat=n)))
    null = signs @ d / n
    obs = np.mean(d)
    less = np.count_nonzero(null <= obs + tol * abs(obs)) / 2.0**n
    greater = np.count_nonzero(null >= obs - tol * abs(obs)) / 2.0**n
    # nearest null value that is not (numerically) +-obs, relative to |obs|
    gap = np.abs(np.abs(null) - abs(obs))
    nearest = gap[gap > 1e-9 * abs(obs)].min() / abs(obs)
    return min(1.0, 2 * min(less, greater)), nearest


def main():
    cases, data_text = generate()
    check_data(cases)
    rows, notes = {}, []
    for name in SCORE_CASES:
        a, b = cases[name][0], cases[name][1]
        d = a - b
        n, md = len(d), float(np.mean(d))

        res = stats.ttest_rel(a, b)
        ci = res.confidence_interval(0.95)
        for x, y, what in zip((res.statistic, res.pvalue, ci.low, ci.high), paired_t(d), ("t", "p", "lo", "hi")):
            close(x, y, f"{name} t {what}")
        rows[f"{name}|t"] = [n, md, ci.low, ci.high, res.statistic, res.pvalue]

        res = stats.wilcoxon(a, b)
        method, stat, p = wilcoxon_by_hand(d)
        explicit = stats.wilcoxon(a, b, method=method)
        assert res.pvalue == explicit.pvalue and res.statistic == explicit.statistic, name
        close(res.statistic, stat, f"{name} wilcoxon statistic")
        close(res.pvalue, p, f"{name} wilcoxon p")
        rows[f"{name}|wilcoxon"] = [n, md, np.nan, np.nan, res.statistic, res.pvalue]
        notes.append(f"{name}: wilcoxon auto -> {method} (N = {n}, zeros {int((d == 0).sum())})")

        if name in ("tiny", "small"):
            res = stats.permutation_test(
                (a, b),
                statistic=lambda x, y: np.mean(x - y),
                permutation_type="samples",
                alternative="two-sided",
                n_resamples=np.inf,
            )
            assert len(res.null_distribution) == 2**n
            p_scipy_rule, nearest = sign_flip_by_hand(d, 100 * np.finfo(float).eps)
            p_loose, _ = sign_flip_by_hand(d, 1e-9)
            assert res.pvalue == p_scipy_rule == p_loose, f"{name}: {res.pvalue} {p_scipy_rule} {p_loose}"
            close(res.statistic, md, f"{name} permutation statistic")
            rows[f"{name}|permutation_exact"] = [n, md, np.nan, np.nan, res.statistic, res.pvalue]
            notes.append(
                f"{name}: permutation p = {res.pvalue * 2**n:.0f}/{2**n}; nearest other |T_s| is"
                f" {nearest:.2e} * |T_obs| from |T_obs|"
            )

        if name == "large":
            res = stats.bootstrap((d,), np.mean, n_resamples=10000, method="percentile", random_state=0)
            ci = res.confidence_interval
            rows[f"{name}|bootstrap"] = [n, md, ci.low, ci.high, md, np.nan]
            notes.append(f"large: bootstrap standard error {res.standard_error:.6f}")

    for name, (n11, n10, n01, n00) in BINARY_COUNTS.items():
        ca, cb = cases[name][2], cases[name][3]
        n, md = len(ca), float(np.mean(ca - cb))
        table = [[n11, n10], [n01, n00]]
        res = mcnemar(table, exact=True)
        k, s = min(n10, n01), n10 + n01
        close(res.statistic, k, f"{name} mcnemar exact statistic")
        close(res.pvalue, min(1.0, 2 * stats.binom.cdf(k, s, 0.5)), f"{name} mcnemar exact p")
        rows[f"{name}|mcnemar_exact"] = [n, md, np.nan, np.nan, res.statistic, res.pvalue]
        for method, corr in (("mcnemar_chi2", 1), ("mcnemar_chi2_nocorr", 0)):
            res = mcnemar(table, exact=False, correction=bool(corr))
            chi2 = (abs(n10 - n01) - corr) ** 2 / s
            close(res.statistic, chi2, f"{name} {method} statistic")
            close(res.pvalue, stats.chi2.sf(chi2, 1), f"{name} {method} p")
            rows[f"{name}|{method}"] = [n, md, np.nan, np.nan, res.statistic, res.pvalue]

    table = pd.DataFrame.from_dict(rows, orient="index", columns=COLUMNS)
    table.index.name = "key"
    table["n"] = table["n"].astype(int)

    if "--check" in sys.argv:
        assert DATA.read_text() == data_text, "paired_data.csv differs from a fresh run"
        print("tests/fixtures/paired_data.csv confirmed")
    else:
        DATA.write_text(data_text)
        print(f"wrote tests/fixtures/paired_data.csv: {data_text.count(chr(10)) - 1} rows in {len(cases)} cases")
    write_or_check(table, REF, 1e-10, f"{len(table)} rows")
    with pd.option_context("display.width", 200, "display.max_columns", 10, "display.precision", 10):
        print(table)
    for line in notes:
        print(line)


if __name__ == "__main__":
    main()
