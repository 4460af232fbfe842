//! F quantiles at the extremes against 50-digit mpmath, on the fixture written by
//! `tests/oracle/f_quantile_extremes.py` (degrees of freedom 1 to 1e6, some not integers;
//! probabilities 1e-100 to 0.9999999, in both tails).

use prefdb_stats::special::{f_quantile, f_upper_quantile};

mod common;
use common::fixture;

/// Relative tolerance for every quantile. The references are exact to the last bit. Ours
/// solve for u = ln(d1 F / d2), so F = (d2 / d1) e^u carries u's error as a relative one:
/// that is the tail's relative error (about 1e-14 from the continued fraction and the
/// Stirling terms, plus ε |ln T| from T being the exponential of a logarithm, 5e-14 at
/// T = 1e-100) divided by d ln T / du, which is at least about min(d1, d2) / 2 = 1/2 on the
/// short tail; and ε |u| from u itself being a double (1e-13 at F = 1e-200). 1e-12 leaves a
/// few times headroom over those; it is a billion times smaller than the errors of solving
/// for 1 − q by subtraction (2e-4 at q = 5e-13, and no answer at all below 1.1e-16), which
/// is the bug this guards against.
const RELATIVE: f64 = 1e-12;

struct Row {
    d1: f64,
    d2: f64,
    probability: f64,
    quantile: f64,
    upper_quantile: f64,
}

fn rows() -> Vec<Row> {
    let text = fixture("f_quantile_extremes.tsv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    assert_eq!(
        header,
        [
            "case",
            "d1",
            "d2",
            "probability",
            "quantile",
            "upper_quantile",
            "scipy_ppf_error",
            "scipy_isf_error"
        ]
    );
    lines
        .map(|line| {
            let c: Vec<&str> = line.split('\t').collect();
            let number = |i: usize| -> f64 { c[i].parse().unwrap() };
            Row {
                d1: number(1),
                d2: number(2),
                probability: number(3),
                quantile: number(4),
                upper_quantile: number(5),
            }
        })
        .collect()
}

/// |got − want| / max(|got|, |want|); infinite where that is NaN (an infinite or NaN answer).
fn relative_error(got: f64, want: f64) -> f64 {
    if got == want {
        return 0.0;
    }
    let error = (got - want).abs() / want.abs().max(got.abs());
    if error.is_nan() {
        f64::INFINITY
    } else {
        error
    }
}

#[test]
fn matches_mpmath_at_the_extremes() {
    let rows = rows();
    assert!(rows.len() > 400, "only {} rows", rows.len());
    // The worst row per function, for the log; every failure, for the message.
    let mut worst = [(0.0f64, String::new()), (0.0f64, String::new())];
    let mut failures = Vec::new();
    for row in &rows {
        let (d1, d2, p) = (row.d1, row.d2, row.probability);
        let cases = [
            ("f_quantile", f_quantile(p, d1, d2), row.quantile),
            (
                "f_upper_quantile",
                f_upper_quantile(p, d1, d2),
                row.upper_quantile,
            ),
        ];
        for (slot, (function, got, want)) in worst.iter_mut().zip(cases) {
            let error = relative_error(got, want);
            let label = format!("{function}({p:e}, {d1}, {d2}) = {got:e}, mpmath {want:e}");
            if error >= RELATIVE {
                failures.push(format!("relative error {error:.1e}: {label}"));
            }
            if error > slot.0 {
                *slot = (error, label);
            }
        }
    }
    for (error, label) in &worst {
        eprintln!("worst relative error {error:.2e}: {label}");
    }
    assert!(
        failures.is_empty(),
        "{} of {} quantiles off by more than {RELATIVE:e}:\n{}",
        failures.len(),
        2 * rows.len(),
        failures.join("\n")
    );
}
