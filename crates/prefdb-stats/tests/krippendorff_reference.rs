//! Krippendorff's alpha against the `krippendorff` Python package, on the fixtures written by
//! `tests/oracle/krippendorff_alpha.py` (varied raters, categories, missing ratings, up to
//! 12,000 units).

use prefdb_stats::agreement::{krippendorff_alpha, Level};
use std::collections::BTreeMap;

mod common;
use common::fixture;

/// dataset -> unit -> values
fn datasets() -> BTreeMap<u32, BTreeMap<u32, Vec<f64>>> {
    let mut out: BTreeMap<u32, BTreeMap<u32, Vec<f64>>> = BTreeMap::new();
    for line in fixture("alpha_data.csv").lines().skip(1) {
        let c: Vec<&str> = line.split(',').collect();
        out.entry(c[0].parse().unwrap())
            .or_default()
            .entry(c[1].parse().unwrap())
            .or_default()
            .push(c[3].parse().unwrap());
    }
    out
}

fn alpha(units: &BTreeMap<u32, Vec<f64>>, level: Level) -> Option<f64> {
    let mut values: Vec<f64> = units.values().flatten().copied().collect();
    values.sort_by(f64::total_cmp);
    values.dedup();
    let counted: Vec<Vec<(usize, f64)>> = units
        .values()
        .map(|vs| {
            let mut counts = vec![0.0; values.len()];
            for v in vs {
                counts[values.partition_point(|x| x < v)] += 1.0;
            }
            counts
                .into_iter()
                .enumerate()
                .filter(|(_, n)| *n > 0.0)
                .collect()
        })
        .collect();
    krippendorff_alpha(&values, &counted, level)
}

#[test]
fn matches_the_krippendorff_package() {
    let data = datasets();
    let mut checked = 0;
    for line in fixture("alpha_ref.tsv").lines().skip(1) {
        let c: Vec<&str> = line.split('\t').collect();
        let level = match c[1] {
            "nominal" => Level::Nominal,
            "ordinal" => Level::Ordinal,
            "interval" => Level::Interval,
            "ratio" => Level::Ratio,
            other => panic!("unknown level {other}"),
        };
        let expected: f64 = c[2].parse().unwrap();
        let ours = alpha(&data[&c[0].parse().unwrap()], level).unwrap();
        assert!(
            (ours - expected).abs() < 1e-9,
            "dataset {} {}: {ours} vs {expected}",
            c[0],
            c[1]
        );
        checked += 1;
    }
    assert_eq!(checked, 32);
}
