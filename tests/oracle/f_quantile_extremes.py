#!/usr/bin/env python3
"""Reference quantiles of Fisher's F distribution at the extremes, computed to 50 digits with
mpmath and compared with SciPy's `f.ppf` and `f.isf`.

Writes tests/fixtures/f_quantile_extremes.tsv: one row per (d1, d2, probability) with

  quantile        the x with P(F <= x) = probability   (SciPy f.ppf)
  upper_quantile  the x with P(F > x) = probability    (SciPy f.isf)
  scipy_ppf_error, scipy_isf_error
                  the relative error of SciPy's value against the 50-digit one

Degrees of freedom run from 1 to 1e6, with non-integers among them; probabilities from 1e-100
to 0.9999999, including the tails (1 - confidence) / 2 of confidences 0.9999999 and
1 - 1e-12 as prefdb computes them in double precision. Every probability is taken as the
exact value of its double. Quantiles are written with repr precision (shortest round trip),
not the helper's 12 decimals, since they run from 1e-200 to 1e200.

Method: with x ~ Beta(d1/2, d2/2), F = d2 x / (d1 (1 - x)), so the F quantile is
(d2 / d1) e^u at the root u = ln(x / (1 - x)) of ln T(u) = ln probability, T the lower or upper
tail of the beta. T is the continued fraction of Numerical Recipes (betacf) at 50 digits on
whichever side of the mean converges, the front factor x^a y^b / B(a, b) from mpmath's
loggamma; the root by safeguarded Newton from SciPy's answer. (mpmath's own betainc is not
usable here: it takes hours at shapes 5e5.) The oracle checks itself against closed forms:
F(2, d2) has P(F > x) = (1 + 2x / d2)^(-d2/2), F(d1, 2) has x^(d1/2) as its beta tail, and
F(1, 1) has the quantile tan²(πp / 2); and against mpmath's betainc where the shapes are small.

Where SciPy is imprecise (the run's summary line counts the rows; SciPy 1.17):
  f.isf is f.ppf(1 - q): it returns inf for every q below 1.1e-16 (98 rows here), and for
  small q it answers the quantile of the rounded 1 - q, off by up to 2e-4 relative at the
  tail 5e-13 of confidence 1 - 1e-12 and 2e-9 at the tail 5e-8 of 0.9999999.
  f.ppf is good to a few 1e-16 almost everywhere; worst 1.8e-13 at d1 = d2 = 1000, p = 1e-100.
prefdb's f_upper_quantile solves the upper tail itself, so it must not be compared with
f.isf there, only with the 50-digit value.

Usage: python tests/oracle/f_quantile_extremes.py [--check]   (needs mpmath and scipy)
"""
from pathlib import Path

import mpmath as mp
import pandas as pd
from fixture import write_or_check
from scipy import stats

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "f_quantile_extremes.tsv"
DEGREES = [1.0, 2.0, 2.5, 7.3, 30.0, 1000.0, 1e6]
PROBABILITIES = [
    1e-100,
    1e-20,
    (1 - (1 - 1e-12)) / 2,
    (1 - 0.9999999) / 2,
    1e-3,
    0.025,
    0.5,
    0.975,
    0.9999999,
]
# The oracle's own agreement with the closed forms and with mpmath's betainc.
SELF_CHECK = mp.mpf("1e-30")
mp.mp.dps = 50


def logistic_pair(u):
    """(x, 1 - x) for x = 1 / (1 + e^-u), each without cancellation."""
    return 1 / (1 + mp.exp(-u)), 1 / (1 + mp.exp(u))


def ln_front(x, y, a, b):
    """ln(x^a y^b / B(a, b))."""
    return a * mp.log(x) + b * mp.log(y) + mp.loggamma(a + b) - mp.loggamma(a) - mp.loggamma(b)


def continued_fraction(x, a, b):
    """The continued fraction of I_x(a, b) = front / a * cf (Numerical Recipes' betacf), by
    the modified Lentz method; it converges fast for x < (a + 1) / (a + b + 2)."""
    tiny = mp.mpf("1e-300")
    eps = mp.mpf(10) ** (-(mp.mp.dps - 5))
    c, d = mp.mpf(1), 1 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 2_000_000):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1) < eps:
            return h
    raise RuntimeError(f"continued fraction did not converge at x={x} a={a} b={b}")


def beta_tails(u, a, b):
    """(I_x(a, b), 1 - I_x(a, b)) at x = 1 / (1 + e^-u), and the front factor."""
    x, y = logistic_pair(u)
    front = mp.exp(ln_front(x, y, a, b))
    if x < (a + 1) / (a + b + 2):
        lower = front / a * continued_fraction(x, a, b)
        return lower, 1 - lower, front
    upper = front / b * continued_fraction(y, b, a)
    return 1 - upper, upper, front


def beta_root(target, upper, a, b, start):
    """The u = ln(x / (1 - x)) at which the lower (or upper) tail of Beta(a, b) is `target`,
    by Newton's method on ln T(u), kept inside a bracket and falling back to bisection."""
    lo, hi = mp.mpf(-2000), mp.mpf(2000)
    u = mp.mpf(start)
    for _ in range(400):
        lower_tail, upper_tail, front = beta_tails(u, a, b)
        if upper:
            value, slope = mp.log(target / upper_tail), front / upper_tail
        else:
            value, slope = mp.log(lower_tail / target), front / lower_tail
        if value < 0:
            lo = u
        else:
            hi = u
        step = value / slope
        if abs(step) < mp.mpf(10) ** (-(mp.mp.dps - 8)) * max(1, abs(u)):
            return u
        u = u - step if lo < u - step < hi else (lo + hi) / 2
    raise RuntimeError(f"no convergence for target={target} a={a} b={b}")


def f_quantile(probability, d1, d2, upper, scipy_value):
    """The F quantile at 50 digits, with u = ln(d1 F / d2)."""
    a, b = mp.mpf(d1) / 2, mp.mpf(d2) / 2
    ratio = mp.mpf(d2) / d1
    start = mp.log(scipy_value / ratio) if 0 < scipy_value < float("inf") else mp.log(a / b)
    u = beta_root(mp.mpf(probability), upper, a, b, start)
    check_oracle(probability, d1, d2, upper, u, a, b)
    return ratio * mp.exp(u)


def check_oracle(probability, d1, d2, upper, u, a, b):
    """The root against closed forms, or against mpmath's betainc for small shapes."""
    p = mp.mpf(probability)
    x, y = logistic_pair(u)
    f = mp.mpf(d2) / d1 * mp.exp(u)
    tails = []  # (lower tail, upper tail) at the root, each written without cancellation
    if d1 == 2:
        ln_sf = -mp.mpf(d2) / 2 * mp.log1p(2 * f / d2)
        tails.append((-mp.expm1(ln_sf), mp.exp(ln_sf)))
    if d2 == 2:
        ln_lower = -a * mp.log1p(mp.exp(-u))  # I_x(a, 1) = x^a, and x may be 1 - 1e-200
        tails.append((mp.exp(ln_lower), -mp.expm1(ln_lower)))
    if max(a, b) <= 20 and x > mp.mpf("1e-60") and y > mp.mpf("1e-40"):
        # betainc integrates from 0, so each tail from its own end.
        tails.append((mp.betainc(a, b, 0, x, regularized=True), mp.betainc(b, a, 0, y, regularized=True)))
    for lower, upper_tail in tails:
        tail = upper_tail if upper else lower
        assert abs(tail / p - 1) < SELF_CHECK, (d1, d2, probability, upper, tail)
    if d1 == 1 and d2 == 1:
        # F(1, 1) is the square of a Cauchy variable; its upper quantile is 1 / the lower.
        closed = mp.tan(mp.pi * p / 2) ** (2 if not upper else -2)
        assert abs(closed / f - 1) < SELF_CHECK, (probability, upper)


def relative_error(value, truth):
    return float(abs(mp.mpf(value) - truth) / truth) if truth != 0 else float(value != 0)


def main() -> None:
    rows = []
    for d1 in DEGREES:
        for d2 in DEGREES:
            for p in PROBABILITIES:
                scipy_ppf = float(stats.f.ppf(p, d1, d2))
                scipy_isf = float(stats.f.isf(p, d1, d2))
                lower = f_quantile(p, d1, d2, False, scipy_ppf)
                upper = f_quantile(p, d1, d2, True, scipy_isf)
                rows.append(
                    (
                        d1,
                        d2,
                        p,
                        float(lower),
                        float(upper),
                        relative_error(scipy_ppf, lower),
                        relative_error(scipy_isf, upper),
                    )
                )
    columns = [
        "d1",
        "d2",
        "probability",
        "quantile",
        "upper_quantile",
        "scipy_ppf_error",
        "scipy_isf_error",
    ]
    table = pd.DataFrame(rows, columns=columns)
    # Object columns of Python floats are written with str(), which is repr: the helper's
    # float_format applies to float64 columns only.
    for column in columns:
        table[column] = table[column].astype(object)
    table.index.name = "case"
    infinite = (table.scipy_isf_error == float("inf")).sum()
    finite_isf = table.scipy_isf_error[table.scipy_isf_error < float("inf")]
    summary = (
        f"{len(table)} rows; SciPy's isf infinite in {infinite}, otherwise off by up to "
        f"{finite_isf.max():.1e}; its ppf off by up to {table.scipy_ppf_error.max():.1e}"
    )
    write_or_check(table, OUT, 1e-15, summary)


if __name__ == "__main__":
    main()
