//! Tests of differences: comparisons between the items of a fitted model, and multiple-testing
//! corrections.

use crate::calibration::scores::midranks;
use crate::interrupt::Interrupted;
use crate::pairwise::BootstrapIntervals;
use crate::rng::{quantile_sorted, Xoshiro256};
use crate::special::{
    f_upper_quantile, normal_cdf, regularized_gamma_q, regularized_incomplete_beta,
    student_t_two_sided,
};

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

/// The result of a test of paired differences.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PairedTest {
    pub n: usize,
    /// The mean of the differences `a − b`.
    pub mean_diff: f64,
    /// An interval for the mean difference, where the method gives one.
    pub ci: Option<(f64, f64)>,
    pub statistic: Option<f64>,
    pub p_value: Option<f64>,
}

fn mean(d: &[f64]) -> f64 {
    d.iter().sum::<f64>() / d.len() as f64
}

impl PairedTest {
    /// The start of a resampling test, whose statistic is the mean difference itself.
    fn of_mean(d: &[f64]) -> Self {
        let m = mean(d);
        PairedTest {
            n: d.len(),
            mean_diff: m,
            statistic: Some(m),
            ..Default::default()
        }
    }
}

/// Student's paired t-test (SciPy's `ttest_rel`), with the t interval for the mean
/// difference at `confidence`. Needs 2 differences; with no spread, the statistic and p-value
/// are undefined (NULL) and the interval is the point.
pub fn paired_t(d: &[f64], confidence: f64) -> PairedTest {
    let n = d.len();
    let m = mean(d);
    let mut out = PairedTest {
        n,
        mean_diff: m,
        ..Default::default()
    };
    if n < 2 {
        return out;
    }
    let df = (n - 1) as f64;
    let var = d.iter().map(|x| (x - m).powi(2)).sum::<f64>() / df;
    let se = (var / n as f64).sqrt();
    // t_{(1 + c)/2, df}² is F's upper (1 − c) quantile with (1, df) degrees of freedom.
    let t_crit = f_upper_quantile(1.0 - confidence, 1.0, df).sqrt();
    out.ci = Some((m - t_crit * se, m + t_crit * se));
    if se > 0.0 {
        let t = m / se;
        out.statistic = Some(t);
        out.p_value = Some(student_t_two_sided(t, df));
    }
    out
}

/// Wilcoxon's signed-rank test (SciPy 1.17's `wilcoxon` with its defaults): zero differences
/// are dropped, the rest ranked by absolute value with midranks; the statistic is the smaller
/// of the positive and negative rank sums. The p-value, by SciPy's rule on the number of
/// pairs N (zeros included): up to 50 pairs without zeros or ties, exact (the signed-rank
/// distribution by counting subsets); otherwise up to 13 pairs, exact over every sign
/// assignment of the midranks; otherwise the normal approximation with the tie correction of
/// the variance, without a continuity correction.
pub fn wilcoxon(d: &[f64]) -> PairedTest {
    let nonzero: Vec<f64> = d.iter().copied().filter(|&x| x != 0.0).collect();
    let mut out = PairedTest {
        n: d.len(),
        mean_diff: if d.is_empty() { 0.0 } else { mean(d) },
        ..Default::default()
    };
    let n = nonzero.len();
    if n == 0 {
        return out;
    }
    let ranks = midranks(&nonzero.iter().map(|x| x.abs()).collect::<Vec<_>>());
    let r_plus: f64 = nonzero
        .iter()
        .zip(&ranks)
        .filter(|(x, _)| **x > 0.0)
        .map(|(_, r)| r)
        .sum();
    let total = (n * (n + 1)) as f64 / 2.0;
    let r_minus = total - r_plus;
    let statistic = r_plus.min(r_minus);
    out.statistic = Some(statistic);
    let tied = {
        let mut sorted = ranks.clone();
        sorted.sort_by(f64::total_cmp);
        sorted.windows(2).any(|w| w[0] == w[1])
    };
    let exact = d.len() <= 50 && !tied && nonzero.len() == d.len();
    out.p_value = Some(if !exact && d.len() <= 13 {
        // Every assignment of signs to the midranks (at most 2^13).
        let (mut below, mut above) = (0u32, 0u32);
        for signs in 0u32..1 << n {
            let sum: f64 = (0..n)
                .filter(|&i| signs >> i & 1 == 1)
                .map(|i| ranks[i])
                .sum();
            below += u32::from(sum <= r_plus);
            above += u32::from(sum >= r_plus);
        }
        let all = f64::from(1u32 << n);
        two_tails(f64::from(below) / all, f64::from(above) / all)
    } else if exact {
        // counts[w]: the subsets of 1..=n with sum w.
        let max = n * (n + 1) / 2;
        let mut counts = vec![0.0f64; max + 1];
        counts[0] = 1.0;
        for k in 1..=n {
            for w in (k..=max).rev() {
                counts[w] += counts[w - k];
            }
        }
        let all = 2f64.powi(n as i32);
        let at_most = counts[..=statistic as usize].iter().sum::<f64>() / all;
        (2.0 * at_most).min(1.0)
    } else {
        let nf = n as f64;
        let mean = nf * (nf + 1.0) / 4.0;
        let mut var = nf * (nf + 1.0) * (2.0 * nf + 1.0) / 24.0;
        let mut sorted = ranks.clone();
        sorted.sort_by(f64::total_cmp);
        let mut i = 0;
        while i < sorted.len() {
            let j = sorted[i..].iter().take_while(|&&r| r == sorted[i]).count();
            let t = j as f64;
            var -= (t * t * t - t) / 48.0;
            i += j;
        }
        if var <= 0.0 {
            return PairedTest {
                statistic: Some(statistic),
                ..out
            };
        }
        let z = (statistic - mean) / var.sqrt();
        two_sided_p(z)
    });
    out
}

/// Two-sided p-value from the one-sided counts of a resampling distribution: twice the
/// smaller tail, at most 1.
fn two_tails(at_or_below: f64, at_or_above: f64) -> f64 {
    (2.0 * at_or_below.min(at_or_above)).min(1.0)
}

/// Whether `x` is at or below (`≤`) the observed `t`, with SciPy's relative tolerance, so
/// that sums equal up to rounding count as equal.
fn tails(x: f64, t: f64) -> (bool, bool) {
    let gamma = 1e-14 * t.abs().max(1e-300);
    (x <= t + gamma, x >= t - gamma)
}

/// The sign-flip permutation test of the mean difference (SciPy's `permutation_test` on
/// paired samples, `permutation_type='samples'`): exact over all 2ⁿ sign assignments when
/// there are at most `resamples` of them, otherwise `resamples` random assignments with
/// SciPy's `(count + 1) / (resamples + 1)`. Two-sided: twice the smaller tail.
pub fn sign_flip_test(d: &[f64], resamples: usize, seed: u64) -> Result<PairedTest, Interrupted> {
    let mut out = PairedTest::of_mean(d);
    let n = d.len();
    if n == 0 {
        return Ok(out);
    }
    let m = out.mean_diff;
    // Counts the flipped mean (pair i negated where `flipped(i)`) in the two tails.
    let (mut below, mut above) = (0.0, 0.0);
    let mut tally = |flipped: &dyn Fn(usize) -> bool| {
        let s = d
            .iter()
            .enumerate()
            .map(|(i, &x)| if flipped(i) { -x } else { x })
            .sum::<f64>()
            / n as f64;
        let (b, a) = tails(s, m);
        below += f64::from(u8::from(b));
        above += f64::from(u8::from(a));
    };
    if n < 63 && (1u64 << n) <= resamples as u64 {
        let total = 1u64 << n;
        for signs in 0..total {
            if signs % 4096 == 0 {
                crate::interrupt::check()?;
            }
            tally(&|i| signs >> i & 1 == 1);
        }
        let total = total as f64;
        out.p_value = Some(two_tails(below / total, above / total));
    } else {
        let mut rng = Xoshiro256::seed_from_u64(seed);
        let mut flips = vec![false; n];
        for r in 0..resamples {
            if r % 256 == 0 {
                crate::interrupt::check()?;
            }
            flips
                .iter_mut()
                .for_each(|f| *f = rng.next_u64() >> 63 == 1);
            tally(&|i| flips[i]);
        }
        let r = resamples as f64;
        out.p_value = Some(two_tails(
            (below + 1.0) / (r + 1.0),
            (above + 1.0) / (r + 1.0),
        ));
    }
    Ok(out)
}

/// The percentile bootstrap of the mean difference: `resamples` resamples of the pairs with
/// replacement; the interval is their percentiles at `confidence`, and the p-value twice the
/// smaller share of resampled means on either side of 0 (the smallest level at which the
/// percentile interval excludes 0).
pub fn bootstrap_mean(
    d: &[f64],
    resamples: usize,
    seed: u64,
    confidence: f64,
) -> Result<PairedTest, Interrupted> {
    let mut out = PairedTest::of_mean(d);
    let n = d.len();
    if n == 0 || resamples == 0 {
        return Ok(out);
    }
    let mut rng = Xoshiro256::seed_from_u64(seed);
    let mut means = Vec::with_capacity(resamples);
    for r in 0..resamples {
        if r % 256 == 0 {
            crate::interrupt::check()?;
        }
        let s: f64 = (0..n).map(|_| d[rng.below(n as u64) as usize]).sum();
        means.push(s / n as f64);
    }
    means.sort_by(f64::total_cmp);
    let alpha = (1.0 - confidence) / 2.0;
    out.ci = Some((
        quantile_sorted(&means, alpha),
        quantile_sorted(&means, 1.0 - alpha),
    ));
    let r = resamples as f64;
    let below = means.iter().filter(|&&x| x <= 0.0).count() as f64 / r;
    let above = means.iter().filter(|&&x| x >= 0.0).count() as f64 / r;
    out.p_value = Some(two_tails(below, above));
    Ok(out)
}

/// McNemar's test on paired correctness: `b` pairs where only the first is right, `c` where
/// only the second is (statsmodels' `mcnemar`). Exact: the statistic is `min(b, c)` and the
/// p-value the two-sided binomial one, `min(1, 2 P(X ≤ min(b, c)))`, X ~ Bin(b + c, 1/2).
/// Otherwise the chi-square statistic `(|b − c| − k)² / (b + c)` with `k` = 1 for the
/// continuity correction, else 0, on one degree of freedom. `None` for both when `b + c = 0`.
pub fn mcnemar(b: u64, c: u64, exact: bool, correction: bool) -> (Option<f64>, Option<f64>) {
    let n = b + c;
    if n == 0 {
        return (None, None);
    }
    let (bf, cf, nf) = (b as f64, c as f64, n as f64);
    if exact {
        let k = b.min(c) as f64;
        // P(X ≤ k) = I_{1/2}(n − k, k + 1).
        let cdf = if k >= nf {
            1.0
        } else {
            regularized_incomplete_beta(0.5, nf - k, k + 1.0)
        };
        (Some(k), Some((2.0 * cdf).min(1.0)))
    } else {
        let k = if correction { 1.0 } else { 0.0 };
        // As statsmodels: with b = c the corrected statistic is 1 / (b + c), not 0.
        let stat = ((bf - cf).abs() - k).powi(2) / nf;
        // Chi-square with one degree of freedom: Q(1/2, x/2).
        (Some(stat), Some(regularized_gamma_q(0.5, stat / 2.0)))
    }
}

/// Whether two intervals overlap: `min(u_i, u_j) − max(l_i, l_j) > 0`, so intervals that only
/// touch are separated (arena-hard-auto's rule).
fn overlap(a: (f64, f64), b: (f64, f64)) -> bool {
    a.1.min(b.1) - a.0.max(b.0) > 0.0
}

/// Separability with confidence (arena-hard-auto; Li et al. 2024, *From Crowdsourced Data to
/// High-Quality Benchmarks*): the share of the `n (n − 1) / 2` pairs of `intervals`
/// (lower, upper) that do not overlap. `None` with fewer than two intervals.
pub fn separability(intervals: &[(f64, f64)]) -> Option<f64> {
    let n = intervals.len();
    if n < 2 {
        return None;
    }
    let pairs = n * (n - 1) / 2;
    let mut overlapping = 0usize;
    for i in 0..n {
        for j in i + 1..n {
            overlapping += usize::from(overlap(intervals[i], intervals[j]));
        }
    }
    Some(1.0 - overlapping as f64 / pairs as f64)
}

/// How a benchmark's leaderboard `a` agrees with a reference leaderboard `b` on the same
/// items (one row each, in the same order).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BenchmarkAgreement {
    pub pairs: usize,
    pub separability_a: Option<f64>,
    pub separability_b: Option<f64>,
    /// Agreement with confidence: over the pairs the reference separates, 1 when the
    /// benchmark orders them the same way, ½ when its intervals overlap, 0 when it orders
    /// them the other way. `None` when the reference separates no pair.
    pub agreement: Option<f64>,
    /// The pair-rank Brier score: the mean of `(p − label)²` over all pairs, `p` the
    /// benchmark's normal-approximation probability that the later item ranks above the
    /// earlier, `label` 1 when the reference rates it strictly higher.
    pub brier: Option<f64>,
}

/// `a` and `b`: (rating, lower, upper) per item, items in the order the Brier score orients
/// its pairs (arena-hard-auto: by model name). `z`: the normal quantile of the intervals'
/// coverage, which turns a width into a standard deviation, `(upper − lower) / (2 z)`.
pub fn benchmark_agreement(
    a: &[(f64, f64, f64)],
    b: &[(f64, f64, f64)],
    z: f64,
) -> BenchmarkAgreement {
    let n = a.len();
    let iv = |x: &(f64, f64, f64)| (x.1, x.2);
    let ia: Vec<(f64, f64)> = a.iter().map(iv).collect();
    let ib: Vec<(f64, f64)> = b.iter().map(iv).collect();
    let (mut separated, mut credit, mut squares) = (0usize, 0.0, 0.0);
    for i in 0..n {
        for j in i + 1..n {
            if !overlap(ib[i], ib[j]) {
                separated += 1;
                credit += if overlap(ia[i], ia[j]) {
                    0.5
                } else if (ia[i] > ia[j]) == (ib[i] > ib[j]) {
                    1.0
                } else {
                    0.0
                };
            }
            let sd = |x: &(f64, f64, f64)| (x.2 - x.1) / (2.0 * z);
            let spread = (sd(&a[i]).powi(2) + sd(&a[j]).powi(2)).sqrt();
            let p = if spread > 0.0 {
                normal_cdf((a[j].0 - a[i].0) / spread)
            } else {
                match a[j].0.total_cmp(&a[i].0) {
                    std::cmp::Ordering::Greater => 1.0,
                    std::cmp::Ordering::Less => 0.0,
                    std::cmp::Ordering::Equal => 0.5,
                }
            };
            let label = if b[i].0 < b[j].0 { 1.0 } else { 0.0 };
            squares += (p - label) * (p - label);
        }
    }
    let pairs = n * n.saturating_sub(1) / 2;
    BenchmarkAgreement {
        pairs,
        separability_a: separability(&ia),
        separability_b: separability(&ib),
        agreement: (separated > 0).then(|| credit / separated as f64),
        brier: (pairs > 0).then(|| squares / pairs as f64),
    }
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

    /// A small sample with a zero and tied differences takes SciPy's exhaustive branch: every
    /// sign assignment of the midranks. Reference: scipy.stats.wilcoxon([1, 2, 2, -1, 0, 3,
    /// -2, 1, 1]) in SciPy 1.17.1, statistic 8.5, p-value 0.2421875 (= 62/256).
    #[test]
    fn wilcoxon_small_with_ties_permutes_signs() {
        let t = wilcoxon(&[1.0, 2.0, 2.0, -1.0, 0.0, 3.0, -2.0, 1.0, 1.0]);
        assert_eq!(t.statistic, Some(8.5));
        assert!((t.p_value.unwrap() - 0.2421875).abs() < 1e-15, "{t:?}");
    }

    /// McNemar's exact and chi-square forms from their definitions.
    #[test]
    fn mcnemar_forms() {
        // b = 1, c = 8: 2 P(X <= 1), X ~ Bin(9, 1/2) = 2 * 10 / 512.
        let (s, p) = mcnemar(1, 8, true, true);
        assert_eq!(s, Some(1.0));
        assert!((p.unwrap() - 20.0 / 512.0).abs() < 1e-15);
        // (|1 - 8| - 1)^2 / 9 = 4, P(chi2_1 > 4) = 2 (1 - Phi(2)).
        let (s, p) = mcnemar(1, 8, false, true);
        assert_eq!(s, Some(4.0));
        assert!((p.unwrap() - 2.0 * normal_cdf(-2.0)).abs() < 1e-12);
        assert_eq!(mcnemar(0, 0, true, true), (None, None));
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
