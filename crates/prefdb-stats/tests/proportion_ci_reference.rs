//! Proportion intervals at the extremes against statsmodels (and, where statsmodels itself
//! is off, 60-digit mpmath), on the fixture written by `tests/oracle/proportion_ci_extremes.py`.

use prefdb_stats::calibration::{proportion_ci, ProportionMethod};

mod common;
use common::fixture;

/// Relative tolerance for every bound. The references are accurate to 1e-13 relative
/// (the oracle checks them at 60 digits) and ours to about 1e-14; the rest is headroom for
/// the conditioning of a quantile, whose relative error is that of the tail probability
/// divided by d ln I / d ln x (as small as the shape a, so near 1 for one success). Tight
/// enough to catch the 1e-5 errors of a bisection in absolute terms, which is the bug this
/// guards against.
const RELATIVE: f64 = 1e-12;

struct Row {
    successes: f64,
    n: f64,
    confidence: f64,
    method: ProportionMethod,
    lower: f64,
    upper: f64,
    reference: String,
}

fn rows() -> Vec<Row> {
    let text = fixture("proportion_ci_extremes.tsv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    assert_eq!(
        header,
        [
            "case",
            "successes",
            "n",
            "confidence",
            "method",
            "lower",
            "upper",
            "reference"
        ]
    );
    lines
        .map(|line| {
            let c: Vec<&str> = line.split('\t').collect();
            let number = |i: usize| -> f64 { c[i].parse().unwrap() };
            Row {
                successes: number(1),
                n: number(2),
                confidence: number(3),
                method: match c[4] {
                    "beta" => ProportionMethod::ClopperPearson,
                    "wilson" => ProportionMethod::Wilson,
                    other => panic!("unknown method {other}"),
                },
                lower: number(5),
                upper: number(6),
                reference: c[7].to_string(),
            }
        })
        .collect()
}

fn relative_error(got: f64, want: f64) -> f64 {
    if got == want {
        0.0
    } else {
        (got - want).abs() / want.abs().max(got.abs())
    }
}

#[test]
fn matches_statsmodels_at_the_extremes() {
    let rows = rows();
    assert!(rows.len() > 400, "only {} rows", rows.len());
    // The worst row per method, for the log.
    let mut worst = [(0.0f64, String::new()), (0.0f64, String::new())];
    for row in &rows {
        let (_, lower, upper) = proportion_ci(row.successes, row.n, row.method, row.confidence);
        for (bound, got, want) in [("lower", lower, row.lower), ("upper", upper, row.upper)] {
            let label = format!(
                "{:?} successes={} n={} confidence={} {bound}: {got:e} vs {} {want:e}",
                row.method, row.successes, row.n, row.confidence, row.reference
            );
            let error = relative_error(got, want);
            assert!(error < RELATIVE, "relative error {error:.1e}: {label}");
            let slot = &mut worst[usize::from(row.method == ProportionMethod::Wilson)];
            if error > slot.0 {
                *slot = (error, label);
            }
        }
    }
    for (error, label) in worst {
        eprintln!("worst relative error {error:.2e}: {label}");
    }
}
