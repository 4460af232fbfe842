//! Calibration and scorer statistics against scikit-learn, SciPy and statsmodels, on the
//! fixtures written by `tests/oracle/calibration.py`.

use prefdb_stats::calibration::{
    auroc, brier_score, expected_calibration_error, kendall_tau_b, log_loss, pairwise_accuracy,
    pass_at_k, proportion_ci, reliability_bins, spearman, BinStrategy, CalibrationNorm,
    ProportionMethod,
};
use std::collections::BTreeMap;

mod common;
use common::fixture;

struct Data {
    p: Vec<f64>,
    y: Vec<bool>,
    x: Vec<f64>,
    yy: Vec<f64>,
}

fn datasets() -> BTreeMap<i32, Data> {
    let mut out: BTreeMap<i32, Data> = BTreeMap::new();
    for line in fixture("calibration_data.csv").lines().skip(1) {
        let c: Vec<&str> = line.split(',').collect();
        let d = out.entry(c[0].parse().unwrap()).or_insert(Data {
            p: vec![],
            y: vec![],
            x: vec![],
            yy: vec![],
        });
        d.p.push(c[1].parse().unwrap());
        d.y.push(c[2] == "1");
        d.x.push(c[3].parse().unwrap());
        d.yy.push(c[4].parse().unwrap());
    }
    out
}

fn ours(d: &Data, statistic: &str) -> f64 {
    let strategy = |s: &str| {
        if s == "uniform" {
            BinStrategy::Uniform
        } else {
            BinStrategy::Quantile
        }
    };
    let parts: Vec<&str> = statistic.split('_').collect();
    match parts.as_slice() {
        ["brier"] => brier_score(&d.p, &d.y).unwrap(),
        ["log", "loss"] => log_loss(&d.p, &d.y, 1e-15).unwrap(),
        ["auroc"] => auroc(&d.p, &d.y).unwrap(),
        ["ece", s, norm] => {
            let norm = match *norm {
                "l1" => CalibrationNorm::L1,
                "l2" => CalibrationNorm::L2,
                _ => CalibrationNorm::Max,
            };
            expected_calibration_error(&d.p, &d.y, 10, strategy(s), norm).unwrap()
        }
        ["curve", s, j, what] => {
            let bin = reliability_bins(&d.p, &d.y, 10, strategy(s))[j.parse::<usize>().unwrap()];
            if *what == "true" {
                bin.frac_positive
            } else {
                bin.mean_prob
            }
        }
        ["spearman"] => spearman(&d.x, &d.yy).unwrap().statistic,
        ["spearman", "p"] => spearman(&d.x, &d.yy).unwrap().p_value,
        ["kendall"] => kendall_tau_b(&d.x, &d.yy).unwrap().statistic,
        ["kendall", "p"] => kendall_tau_b(&d.x, &d.yy).unwrap().p_value,
        ["pairwise", "accuracy"] => pairwise_accuracy(&d.x, &d.yy).unwrap(),
        other => panic!("unknown statistic {other:?}"),
    }
}

fn closed_form(statistic: &str) -> f64 {
    let parts: Vec<&str> = statistic.split('_').collect();
    match parts.as_slice() {
        ["pass", "at", "k", n, c, k] => {
            pass_at_k(n.parse().unwrap(), c.parse().unwrap(), k.parse().unwrap())
        }
        ["proportion", method, s, n, bound] => {
            let method = if *method == "wilson" {
                ProportionMethod::Wilson
            } else {
                ProportionMethod::ClopperPearson
            };
            let (_, lo, hi) = proportion_ci(s.parse().unwrap(), n.parse().unwrap(), method, 0.95);
            if *bound == "lower" {
                lo
            } else {
                hi
            }
        }
        ["proportion", "clopper", "pearson", s, n, bound] => {
            let (_, lo, hi) = proportion_ci(
                s.parse().unwrap(),
                n.parse().unwrap(),
                ProportionMethod::ClopperPearson,
                0.95,
            );
            if *bound == "lower" {
                lo
            } else {
                hi
            }
        }
        other => panic!("unknown statistic {other:?}"),
    }
}

#[test]
fn matches_sklearn_scipy_and_statsmodels() {
    let data = datasets();
    let mut checked = 0;
    for line in fixture("calibration_ref.tsv").lines().skip(1) {
        let c: Vec<&str> = line.split('\t').collect();
        let dataset: i32 = c[0].parse().unwrap();
        let expected: f64 = c[2].parse().unwrap();
        let got = if dataset < 0 {
            closed_form(c[1])
        } else {
            ours(&data[&dataset], c[1])
        };
        // p-values can be tiny: compare them relatively.
        let tol = if c[1].ends_with("_p") {
            1e-9 * expected.abs().max(1e-300)
        } else {
            1e-9
        };
        assert!(
            (got - expected).abs() <= tol.max(1e-12),
            "dataset {} {}: {got} vs {expected}",
            c[0],
            c[1]
        );
        checked += 1;
    }
    assert_eq!(checked, 183);
}
