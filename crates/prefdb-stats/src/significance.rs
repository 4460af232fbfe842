//! Tests of differences: comparisons between the items of a fitted model, and multiple-testing
//! corrections.

use crate::pairwise::BootstrapIntervals;
use crate::special::normal_cdf;

/// Holm's step-down procedure (Holm 1979) at family-wise level `alpha`: which hypotheses are
/// rejected. `None` p-values (untestable hypotheses) are not counted and stay `None`.
///
/// The p-values are sorted ascending; the `k`-th smallest (from 0) is rejected while every
/// smaller one was and it is at most `alpha / (m − k)`, `m` the number of tested hypotheses.
/// Equal p-values share one decision: where the procedure stops inside a run of equal
/// p-values, none of the run is rejected (statsmodels' `multipletests` would reject those
/// sorted first, which depends on their order).
pub fn holm(p_values: &[Option<f64>], alpha: f64) -> Vec<Option<bool>> {
    let mut order: Vec<usize> = (0..p_values.len())
        .filter(|&i| p_values[i].is_some())
        .collect();
    order.sort_by(|&i, &j| p_values[i].unwrap().total_cmp(&p_values[j].unwrap()));
    let m = order.len();
    let mut out: Vec<Option<bool>> = p_values.iter().map(|p| p.map(|_| false)).collect();
    for (k, &i) in order.iter().enumerate() {
        let p = p_values[i].unwrap();
        if p > alpha / (m - k) as f64 {
            for &j in &order[..k] {
                if p_values[j] == Some(p) {
                    out[j] = Some(false);
                }
            }
            break;
        }
        out[i] = Some(true);
    }
    out
}

/// The two-sided normal p-value of `z`.
pub fn two_sided_p(z: f64) -> f64 {
    (2.0 * normal_cdf(-z.abs())).min(1.0)
}

/// One comparison of item `a` with item `b` on the strength scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    pub a: usize,
    pub b: usize,
    /// `s_a − s_b`.
    pub diff: f64,
    /// Its standard error; `None` when the covariance is singular.
    pub se: Option<f64>,
    /// The share of bootstrap replicates with `s_a > s_b` (ties count half); `None` without
    /// a bootstrap.
    pub p_better: Option<f64>,
}

impl Comparison {
    pub fn z(&self) -> Option<f64> {
        self.se.filter(|&se| se > 0.0).map(|se| self.diff / se)
    }

    pub fn p_value(&self) -> Option<f64> {
        self.z().map(two_sided_p)
    }
}

/// Every ordered pair `(a, b)`, `a ≠ b`, in order of `a` then `b`, compared through the
/// covariance of the strengths: `Var(s_a − s_b) = C_aa + C_bb − 2 C_ab`.
pub fn compare_by_covariance(strengths: &[f64], cov: Option<&[Vec<f64>]>) -> Vec<Comparison> {
    ordered_pairs(strengths.len())
        .map(|(a, b)| Comparison {
            a,
            b,
            diff: strengths[a] - strengths[b],
            se: cov.map(|c| (c[a][a] + c[b][b] - 2.0 * c[a][b]).max(0.0).sqrt()),
            p_better: None,
        })
        .collect()
}

/// The same through bootstrap replicates: the standard error is the replicates' standard
/// deviation of `s_a − s_b`, and `p_better` their share with `a` above `b`.
pub fn compare_by_bootstrap(strengths: &[f64], boot: &BootstrapIntervals) -> Vec<Comparison> {
    let n = strengths.len();
    let r = boot.draws.len();
    // Each item's replicates in one run, so that a pair streams through two of them.
    let mut columns = vec![0.0; n * r];
    for (k, d) in boot.draws.iter().enumerate() {
        for (i, &x) in d.iter().enumerate() {
            columns[i * r + k] = x;
        }
    }
    let column = |i: usize| &columns[i * r..(i + 1) * r];
    // (se, p_better) of every unordered pair a < b; b's view of the pair mirrors it.
    let mut halves = vec![(0.0, 0.0); n * n];
    for a in 0..n {
        for b in a + 1..n {
            let (mut sum, mut sum_sq, mut above) = (0.0, 0.0, 0.0);
            for (&x, &y) in column(a).iter().zip(column(b)) {
                let d = x - y;
                sum += d;
                sum_sq += d * d;
                above += if d > 0.0 {
                    1.0
                } else if d == 0.0 {
                    0.5
                } else {
                    0.0
                };
            }
            let rf = r as f64;
            let mean = sum / rf;
            let var = ((sum_sq - rf * mean * mean) / (rf - 1.0)).max(0.0);
            halves[a * n + b] = (var.sqrt(), above / rf);
        }
    }
    ordered_pairs(n)
        .map(|(a, b)| {
            let (se, p) = if a < b {
                halves[a * n + b]
            } else {
                let (se, p) = halves[b * n + a];
                (se, 1.0 - p)
            };
            Comparison {
                a,
                b,
                diff: strengths[a] - strengths[b],
                se: Some(se),
                p_better: Some(p),
            }
        })
        .collect()
}

fn ordered_pairs(n: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..n).flat_map(move |a| (0..n).filter(move |&b| b != a).map(move |b| (a, b)))
}

/// Holm's decisions for `comparisons` (as made by this module, over items `0..n`) at level
/// `alpha`, one per unordered pair: both orders of a pair share their p-value, and count as
/// one hypothesis.
pub fn holm_over_pairs(comparisons: &[Comparison], alpha: f64) -> Vec<Option<bool>> {
    let n = comparisons
        .iter()
        .map(|c| c.a.max(c.b) + 1)
        .max()
        .unwrap_or(0);
    let once: Vec<usize> = (0..comparisons.len())
        .filter(|&k| comparisons[k].a < comparisons[k].b)
        .collect();
    let decisions = holm(
        &once
            .iter()
            .map(|&k| comparisons[k].p_value())
            .collect::<Vec<_>>(),
        alpha,
    );
    let mut by_pair = vec![None; n * n];
    for (&k, d) in once.iter().zip(decisions) {
        by_pair[comparisons[k].a * n + comparisons[k].b] = d;
    }
    comparisons
        .iter()
        .map(|c| by_pair[c.a.min(c.b) * n + c.a.max(c.b)])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Holm straight from its definition: hypothesis i is rejected iff, for every p-value
    /// p_(k) ≤ p_i in ascending order (k from 1), p_(k) ≤ alpha / (m − k + 1).
    fn holm_by_definition(p: &[Option<f64>], alpha: f64) -> Vec<Option<bool>> {
        let mut sorted: Vec<f64> = p.iter().flatten().copied().collect();
        sorted.sort_by(f64::total_cmp);
        let m = sorted.len();
        p.iter()
            .map(|pi| {
                pi.map(|pi| {
                    sorted
                        .iter()
                        .enumerate()
                        .filter(|(_, &q)| q <= pi)
                        .all(|(k, &q)| q <= alpha / (m - k) as f64)
                })
            })
            .collect()
    }

    proptest! {
        #[test]
        fn holm_matches_its_definition(
            p in prop::collection::vec(prop::option::weighted(0.9, 0u32..40), 0..30),
            alpha in 0.01f64..0.5,
        ) {
            // Few distinct values, so that ties are common.
            let p: Vec<Option<f64>> = p.iter().map(|v| v.map(|v| f64::from(v) / 400.0)).collect();
            prop_assert_eq!(holm(&p, alpha), holm_by_definition(&p, alpha));
        }
    }

    #[test]
    fn holm_on_a_textbook_example() {
        // m = 4 at alpha 0.05: thresholds 0.0125, 0.01667, 0.025, 0.05.
        let p = [Some(0.01), Some(0.04), Some(0.03), Some(0.005), None];
        assert_eq!(
            holm(&p, 0.05),
            vec![Some(true), Some(false), Some(false), Some(true), None]
        );
    }

    /// The replicates' differences straight from their definition.
    #[test]
    fn comparisons_by_bootstrap() {
        let draws = vec![
            vec![0.3, 0.1, -0.4],
            vec![0.1, 0.1, -0.2],
            vec![0.5, -0.2, -0.3],
            vec![-0.1, 0.2, -0.1],
        ];
        let boot = BootstrapIntervals {
            lower: vec![0.0; 3],
            upper: vec![0.0; 3],
            sd: vec![0.0; 3],
            draws: draws.clone(),
        };
        let s = [0.2, 0.05, -0.25];
        for c in compare_by_bootstrap(&s, &boot) {
            let d: Vec<f64> = draws.iter().map(|x| x[c.a] - x[c.b]).collect();
            let mean = d.iter().sum::<f64>() / 4.0;
            let sd = (d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 3.0).sqrt();
            let above = d
                .iter()
                .map(|&x| {
                    if x > 0.0 {
                        1.0
                    } else if x == 0.0 {
                        0.5
                    } else {
                        0.0
                    }
                })
                .sum::<f64>()
                / 4.0;
            assert!((c.se.unwrap() - sd).abs() < 1e-12, "{c:?}");
            assert_eq!(c.p_better, Some(above));
            assert_eq!(c.diff, s[c.a] - s[c.b]);
        }
    }

    #[test]
    fn comparisons_by_covariance() {
        let s = [0.5, -0.5];
        let cov = vec![vec![0.04, -0.01], vec![-0.01, 0.09]];
        let c = compare_by_covariance(&s, Some(&cov));
        assert_eq!((c[0].a, c[0].b, c[1].a, c[1].b), (0, 1, 1, 0));
        assert!((c[0].se.unwrap() - 0.15f64.sqrt()).abs() < 1e-15);
        assert_eq!(c[0].p_value(), c[1].p_value());
        assert!((c[0].p_value().unwrap() - two_sided_p(1.0 / 0.15f64.sqrt())).abs() < 1e-15);
    }
}
