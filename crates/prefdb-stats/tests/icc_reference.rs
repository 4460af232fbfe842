//! ICC against pingouin (and Shrout & Fleiss's published Table 2), on the fixtures written by
//! `tests/oracle/icc.py`.

use prefdb_stats::agreement::{icc, IccForm};
use std::collections::BTreeMap;

mod common;
use common::fixture;

fn designs() -> BTreeMap<u32, Vec<Vec<f64>>> {
    let mut out: BTreeMap<u32, Vec<Vec<f64>>> = BTreeMap::new();
    for line in fixture("icc_data.csv").lines().skip(1) {
        let c: Vec<&str> = line.split(',').collect();
        let (t, r): (usize, usize) = (c[1].parse().unwrap(), c[2].parse().unwrap());
        let design = out.entry(c[0].parse().unwrap()).or_default();
        if design.len() <= t {
            design.resize(t + 1, Vec::new());
        }
        if design[t].len() <= r {
            design[t].resize(r + 1, f64::NAN);
        }
        design[t][r] = c[3].parse().unwrap();
    }
    out
}

fn form(name: &str) -> IccForm {
    match name {
        "ICC1" => IccForm::Icc1,
        "ICC2" => IccForm::Icc2,
        "ICC3" => IccForm::Icc3,
        "ICC1k" => IccForm::Icc1k,
        "ICC2k" => IccForm::Icc2k,
        "ICC3k" => IccForm::Icc3k,
        other => panic!("unknown form {other}"),
    }
}

#[test]
fn matches_pingouin() {
    let designs = designs();
    let mut checked = 0;
    for line in fixture("icc_ref.tsv").lines().skip(1) {
        let c: Vec<&str> = line.split('\t').collect();
        let v: Vec<f64> = c[2..].iter().map(|x| x.parse().unwrap()).collect();
        let ours = icc(&designs[&c[0].parse().unwrap()], form(c[1]), 0.95).unwrap();
        let pairs = [
            ("icc", ours.icc, v[0]),
            ("f", ours.f, v[1]),
            ("df1", ours.df1, v[2]),
            ("df2", ours.df2, v[3]),
            ("p_value", ours.p_value, v[4]),
            ("ci_lower", ours.ci_lower, v[5]),
            ("ci_upper", ours.ci_upper, v[6]),
        ];
        for (what, got, expected) in pairs {
            let tol = 1e-9 * expected.abs().max(1.0);
            assert!(
                (got - expected).abs() <= tol,
                "{} {} {what}: {got} vs {expected}",
                c[0],
                c[1]
            );
        }
        // pingouin's own interval, rounded to 2 decimals.
        assert!(
            (ours.ci_lower - v[7]).abs() <= 0.005 + 1e-12,
            "{} {} lower",
            c[0],
            c[1]
        );
        assert!(
            (ours.ci_upper - v[8]).abs() <= 0.005 + 1e-12,
            "{} {} upper",
            c[0],
            c[1]
        );
        checked += 1;
    }
    assert_eq!(checked, 30);
}

#[test]
fn reproduces_shrout_and_fleiss_table_2() {
    let table = &designs()[&0];
    let published = [
        (IccForm::Icc1, 0.17),
        (IccForm::Icc2, 0.29),
        (IccForm::Icc3, 0.71),
        (IccForm::Icc1k, 0.44),
        (IccForm::Icc2k, 0.62),
        (IccForm::Icc3k, 0.91),
    ];
    for (form, value) in published {
        let got = icc(table, form, 0.95).unwrap().icc;
        assert!((got - value).abs() < 0.005, "{form:?}: {got} vs {value}");
    }
}
