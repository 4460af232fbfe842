#!/usr/bin/env python3
"""Reference proportion intervals at the extremes, from statsmodels `proportion_confint`,
checked to 60 digits with mpmath.

Writes tests/fixtures/proportion_ci_extremes.tsv: one row per (successes, n, confidence,
method) with the two-sided interval for `alpha = 1 - confidence` (computed in double
precision, as prefdb computes it from the `confidence` option).

  method beta    Clopper-Pearson: statsmodels uses scipy beta.ppf for the lower bound and
                 beta.isf for the upper
  method wilson  Wilson score interval, with scipy norm.isf for the critical value

Cases: successes 0, 1, n - 1, n and a few ordinary counts; n from 1 to 1e9; confidence
from 0.5 to 1 - 1e-12. Bounds are written with repr precision (shortest round trip), not
the helper's 12 decimals, since lower bounds go down to 1e-22.

Every bound that mpmath can pin down cheaply is recomputed at 60 digits: Clopper-Pearson
bounds as roots of the binomial tail P(Bin(n, x) >= s) = alpha/2 (lower) or
P(Bin(n, x) <= s) = alpha/2 (upper), summed exactly when s or n - s is small, and Wilson
bounds from the closed form. statsmodels is kept where it agrees to 1e-13 relative; where
it does not, the row holds the 60-digit value and `reference` says `mpmath`. That happens
for Clopper-Pearson upper bounds with few successes and n >= 1e8 (scipy's beta.isf is off
by up to 2e-8 there) and for Wilson lower bounds with no successes, where statsmodels'
`center - dist` leaves rounding noise of 1e-21 instead of 0.

Usage: python tests/oracle/proportion_ci_extremes.py [--check]   (needs mpmath as well)
"""
from pathlib import Path

import mpmath as mp
import pandas as pd
from fixture import write_or_check
from statsmodels.stats.proportion import proportion_confint

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "proportion_ci_extremes.tsv"
SIZES = [1, 2, 10, 37, 1_000, 1_000_000, 123_456_789, 1_000_000_000]
CONFIDENCES = [0.5, 0.95, 0.9999999, 1 - 1e-12]
# Binomial tails with at most this many terms are summed exactly.
MAX_TERMS = 600
AGREEMENT = 1e-13
mp.mp.dps = 60


def successes_for(n: int) -> list[int]:
    counts = {0, 1, 2, 5, n // 3, n // 2, n - 5, n - 2, n - 1, n}
    return sorted(c for c in counts if 0 <= c <= n)


def binomial_tail(n, s, x, at_least):
    """P(Bin(n, x) >= s) if at_least, else P(Bin(n, x) <= s), summing the shorter side."""
    y = 1 - x
    term = lambda j: mp.binomial(n, j) * x**j * y ** (n - j)
    low, high = (s, n) if at_least else (0, s)
    if high - low < MAX_TERMS:
        return mp.fsum(term(j) for j in range(low, high + 1))
    low, high = (0, s - 1) if at_least else (s + 1, n)
    return 1 - mp.fsum(term(j) for j in range(low, high + 1))


def clopper_pearson_exact(n, s, tail, near, upper):
    """The root near `near` of P(Bin(n, x) >= s) = tail (lower bound) or
    P(Bin(n, x) <= s) = tail (upper bound), by bisection on ln x."""
    if min(s, n - s) >= MAX_TERMS:
        return None
    miss = lambda x: binomial_tail(n, s, x, at_least=not upper) - tail
    lo, hi = mp.mpf(near) * (1 - mp.mpf("1e-4")), min(mp.mpf(near) * (1 + mp.mpf("1e-4")), 1)
    if upper:
        lo, hi = hi, lo  # P(Bin <= s) falls as x grows
    assert miss(lo) < 0 < miss(hi), f"no root near {near} for n={n} s={s}"
    for _ in range(70):
        mid = mp.sqrt(lo * hi)
        if miss(mid) < 0:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def wilson_exact(n, s, tail):
    """The Wilson bounds at 60 digits; the lower one as s² / (n (n + z²) (center + half)),
    which is center − half without its cancellation."""
    z = mp.sqrt(2) * mp.erfinv(1 - 2 * tail)
    z2 = z * z
    center = (s + z2 / 2) / (n + z2)
    half = z / (n + z2) * mp.sqrt(mp.mpf(s) * (n - s) / n + z2 / 4)
    return s * s / (n * (n + z2) * (center + half)), center + half


def checked(n, s, confidence, method, lower, upper):
    """statsmodels' bounds, or the 60-digit ones where statsmodels is off."""
    tail = mp.mpf(1 - confidence) / 2
    if method == "wilson":
        exact = wilson_exact(n, s, tail)
    else:
        exact = (
            mp.mpf(0) if s == 0 else clopper_pearson_exact(n, s, tail, lower, upper=False),
            mp.mpf(1) if s == n else clopper_pearson_exact(n, s, tail, upper, upper=True),
        )
    source = "statsmodels"
    out = []
    for value, truth in zip((lower, upper), exact):
        if truth is not None and abs(value - truth) > AGREEMENT * abs(truth):
            value, source = float(truth), "mpmath"
        out.append(value)
    return out[0], out[1], source


def main() -> None:
    rows = []
    for n in SIZES:
        for s in successes_for(n):
            for confidence in CONFIDENCES:
                for method in ["beta", "wilson"]:
                    lower, upper = proportion_confint(s, n, alpha=1 - confidence, method=method)
                    lower, upper, source = checked(n, s, confidence, method, float(lower), float(upper))
                    rows.append((s, n, confidence, method, lower, upper, source))
    columns = ["successes", "n", "confidence", "method", "lower", "upper", "reference"]
    table = pd.DataFrame(rows, columns=columns)
    # Object columns of Python floats are written with str(), which is repr: the helper's
    # float_format applies to float64 columns only.
    for column in ["confidence", "lower", "upper"]:
        table[column] = table[column].astype(object)
    table.index.name = "case"
    replaced = (table["reference"] == "mpmath").sum()
    write_or_check(table, OUT, 1e-15, f"{len(table)} intervals, {replaced} from mpmath")


if __name__ == "__main__":
    main()
