//! Kappa-family statistics against scikit-learn, statsmodels and irrCAC, on the fixtures
//! written by `tests/oracle/agreement.py`.

use prefdb_stats::agreement::{
    agreement_weights, cohen_kappa, fleiss_kappa, gwet_ac, percent_agreement, scott_pi, Weighting,
};
use std::collections::BTreeMap;

mod common;
use common::fixture;

/// dataset -> unit -> rater -> value
type Ratings = BTreeMap<u32, BTreeMap<u32, BTreeMap<u32, f64>>>;

fn ratings() -> Ratings {
    let mut out = Ratings::new();
    for line in fixture("agreement_data.csv").lines().skip(1) {
        let c: Vec<&str> = line.split(',').collect();
        out.entry(c[0].parse().unwrap())
            .or_default()
            .entry(c[1].parse().unwrap())
            .or_default()
            .insert(c[2].parse().unwrap(), c[3].parse().unwrap());
    }
    out
}

fn statistic(data: &BTreeMap<u32, BTreeMap<u32, f64>>, name: &str) -> Option<f64> {
    let mut values: Vec<f64> = data.values().flat_map(|r| r.values().copied()).collect();
    values.sort_by(f64::total_cmp);
    values.dedup();
    let category = |v: f64| values.partition_point(|x| *x < v);
    let q = values.len();
    let units: Vec<Vec<f64>> = data
        .values()
        .map(|by_rater| {
            let mut counts = vec![0.0; q];
            for &v in by_rater.values() {
                counts[category(v)] += 1.0;
            }
            counts
        })
        .collect();
    // Raters 0 and 1 on the units both rated; categories are those two raters' values.
    let pairs: Vec<(f64, f64)> = data
        .values()
        .filter_map(|r| Some((*r.get(&0)?, *r.get(&1)?)))
        .collect();
    let mut pair_values: Vec<f64> = pairs.iter().flat_map(|&(a, b)| [a, b]).collect();
    pair_values.sort_by(f64::total_cmp);
    pair_values.dedup();
    let mut confusion = vec![vec![0.0; pair_values.len()]; pair_values.len()];
    for (a, b) in &pairs {
        let i = pair_values.partition_point(|x| x < a);
        let j = pair_values.partition_point(|x| x < b);
        confusion[i][j] += 1.0;
    }
    match name {
        "percent_agreement" => percent_agreement(&units),
        "gwet_ac1" => gwet_ac(&units, &agreement_weights(&values, Weighting::Identity)),
        "gwet_ac2_linear" => gwet_ac(&units, &agreement_weights(&values, Weighting::Linear)),
        "gwet_ac2_quadratic" => gwet_ac(&units, &agreement_weights(&values, Weighting::Quadratic)),
        "fleiss_kappa" => fleiss_kappa(&units).unwrap(),
        "cohen_none" => cohen_kappa(&confusion, Weighting::Identity),
        "cohen_linear" => cohen_kappa(&confusion, Weighting::Linear),
        "cohen_quadratic" => cohen_kappa(&confusion, Weighting::Quadratic),
        "scott_pi" => scott_pi(&confusion),
        other => panic!("unknown statistic {other}"),
    }
}

#[test]
fn matches_sklearn_statsmodels_and_irrcac() {
    let data = ratings();
    let mut checked = 0;
    for line in fixture("agreement_ref.tsv").lines().skip(1) {
        let c: Vec<&str> = line.split('\t').collect();
        let expected: f64 = c[2].parse().unwrap();
        let ours = statistic(&data[&c[0].parse().unwrap()], c[1]).unwrap();
        assert!(
            (ours - expected).abs() < 1e-9,
            "dataset {} {}: {ours} vs {expected}",
            c[0],
            c[1]
        );
        checked += 1;
    }
    assert_eq!(checked, 50);
}
