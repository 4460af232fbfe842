//! Fisher standard errors of Bradley–Terry strengths against a statsmodels binomial GLM on
//! LLMFAO (`tests/oracle/bt_fisher.py`): the standard error of each model's difference from
//! the reference model.

use prefdb_stats::pairwise::{fisher_covariance, fit_bradley_terry, BtOptions, PairCounts};
use std::collections::BTreeSet;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// The models in sorted order and LLMFAO's pair counts by model id.
fn llmfao() -> (Vec<String>, PairCounts) {
    let csv = std::fs::read_to_string(format!("{ROOT}/../shared/data/llmfao.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let models: Vec<String> = rows
        .iter()
        .flat_map(|r| [r[6], r[7]])
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(String::from)
        .collect();
    let id = |m: &str| models.iter().position(|x| x == m).unwrap() as u32;
    let mut counts = PairCounts::new();
    for r in &rows {
        let (a, b) = (id(r[6]), id(r[7]));
        match r[5] {
            "left" => counts.add(a, b, 1.0, 0.0, 0.0),
            "right" => counts.add(a, b, 0.0, 1.0, 0.0),
            _ => counts.add(a, b, 0.0, 0.0, 1.0),
        }
    }
    (models, counts)
}

/// With the default prior, the standard errors of the centred strengths against a numpy
/// computation at a SciPy fit (whose information matrix the oracle script checks against
/// statsmodels' numerical Hessian of an independent penalised likelihood). Without centring
/// they would carry the prior's common-mode variance, 1/(0.01 · 59) ≈ 1.7 in every strength.
#[test]
fn centred_errors_with_the_default_prior_match_numpy() {
    let (models, counts) = llmfao();
    let opts = BtOptions::default();
    let n = models.len();
    let fit = fit_bradley_terry(n, counts.pairs(), &opts).unwrap();
    let cov = fisher_covariance(n, counts.pairs(), &fit.strengths, &opts).unwrap();
    let fixture =
        std::fs::read_to_string(format!("{ROOT}/tests/fixtures/bt_fisher_prior_llmfao.tsv"))
            .unwrap();
    let mut checked = 0;
    for line in fixture.lines().skip(1) {
        let (model, se) = line.split_once('\t').unwrap();
        let expected: f64 = se.parse().unwrap();
        let i = models.iter().position(|m| m == model).unwrap();
        let ours = cov[i][i].sqrt();
        assert!(
            (ours - expected).abs() < 1e-6 * expected,
            "{model}: {ours} vs {expected}"
        );
        checked += 1;
    }
    assert_eq!(checked, n);
}

#[test]
fn matches_statsmodels_glm() {
    let (models, counts) = llmfao();
    let id = |m: &str| models.iter().position(|x| x == m).unwrap() as u32;
    let opts = BtOptions {
        prior: 0.0,
        ..Default::default()
    };
    let n = models.len();
    let fit = fit_bradley_terry(n, counts.pairs(), &opts).unwrap();
    let cov = fisher_covariance(n, counts.pairs(), &fit.strengths, &opts).unwrap();
    let fixture =
        std::fs::read_to_string(format!("{ROOT}/tests/fixtures/bt_fisher_llmfao.tsv")).unwrap();
    let mut checked = 0;
    for line in fixture.lines().skip(1) {
        let (model, se) = line.split_once('\t').unwrap();
        let expected: f64 = se.parse().unwrap();
        let i = id(model) as usize;
        let ours = (cov[i][i] + cov[0][0] - 2.0 * cov[i][0]).sqrt();
        assert!(
            (ours - expected).abs() < 1e-6 * expected,
            "{model}: {ours} vs {expected}"
        );
        checked += 1;
    }
    assert_eq!(checked, n - 1);
}
