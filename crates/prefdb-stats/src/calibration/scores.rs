//! Per-prediction scores and small closed forms.

use crate::special::{beta_quantile_logit, logistic_pair, Tail};

/// One prediction's Brier term, `(p − y)²`. The scores below are means of such terms, so a
/// caller that keeps running sums (as the SQL functions do per group) uses these terms and
/// [`mean_of_sums`], and every formula exists once.
pub fn brier_term(p: f64, y: bool) -> f64 {
    (p - f64::from(u8::from(y))).powi(2)
}

/// One prediction's log loss, `−ln p` for a positive and `−ln(1 − p)` for a negative, with
/// `p` clipped to `[eps, 1 − eps]` so that a confident mistake costs `−ln(eps)`, not ∞.
pub fn log_loss_term(p: f64, y: bool, eps: f64) -> f64 {
    let p = p.clamp(eps, 1.0 - eps);
    if y {
        -p.ln()
    } else {
        -(1.0 - p).ln()
    }
}

/// One preference pair's credit: 1 when the chosen response scores higher, ½ for a tie,
/// 0 otherwise (also when the scores do not compare).
pub fn pairwise_credit(chosen_vs_rejected: Option<std::cmp::Ordering>) -> f64 {
    match chosen_vs_rejected {
        Some(std::cmp::Ordering::Greater) => 1.0,
        Some(std::cmp::Ordering::Equal) => 0.5,
        _ => 0.0,
    }
}

/// The mean from running sums `(count, total)`: `None` for a count of 0.
pub fn mean_of_sums(count: f64, total: f64) -> Option<f64> {
    (count > 0.0).then(|| total / count)
}

/// Mean of `term` over the pairs of `a` and `b`, summed in order; `None` for no input.
fn mean_term<A: Copy, B: Copy>(a: &[A], b: &[B], term: impl Fn(A, B) -> f64) -> Option<f64> {
    let total: f64 = a.iter().zip(b).map(|(&x, &y)| term(x, y)).sum();
    mean_of_sums(a.len() as f64, total)
}

/// Mean squared difference between probability and outcome (Brier 1950; scikit-learn
/// `brier_score_loss`). `None` for no input.
pub fn brier_score(probs: &[f64], labels: &[bool]) -> Option<f64> {
    mean_term(probs, labels, brier_term)
}

/// Mean negative log-likelihood of the labels ([`log_loss_term`]; scikit-learn
/// `log_loss`). `None` for no input.
pub fn log_loss(probs: &[f64], labels: &[bool], eps: f64) -> Option<f64> {
    mean_term(probs, labels, |p, y| log_loss_term(p, y, eps))
}

/// Midranks (1-based, ties get the mean of their positions) of `values`.
pub fn midranks(values: &[f64]) -> Vec<f64> {
    // Sorting (value, index) pairs directly is much faster than an indirect sort.
    let mut sorted: Vec<(f64, usize)> = values.iter().copied().zip(0..).collect();
    sorted.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let order: Vec<usize> = sorted.into_iter().map(|(_, i)| i).collect();
    let mut ranks = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            ranks[k] = rank;
        }
        i = j + 1;
    }
    ranks
}

/// Area under the ROC curve as the Mann–Whitney U statistic with midranks, so tied scores
/// count half (scikit-learn `roc_auc_score`). `None` unless both classes occur.
pub fn auroc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    let positives = labels.iter().filter(|&&y| y).count() as f64;
    let negatives = labels.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return None;
    }
    // Sort (score, label) pairs directly, then give each run of equal scores its midrank.
    let mut pairs: Vec<(f64, bool)> = scores.iter().copied().zip(labels.iter().copied()).collect();
    pairs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < pairs.len() {
        let mut j = i;
        while j + 1 < pairs.len() && pairs[j + 1].0 == pairs[i].0 {
            j += 1;
        }
        let midrank = (i + j) as f64 / 2.0 + 1.0;
        let run_positives = pairs[i..=j].iter().filter(|p| p.1).count() as f64;
        rank_sum += midrank * run_positives;
        i = j + 1;
    }
    Some((rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives))
}

/// Share of pairs where the chosen response scores higher than the rejected one, a tie
/// counting half (RewardBench-style accuracy). `None` for no input.
pub fn pairwise_accuracy(chosen: &[f64], rejected: &[f64]) -> Option<f64> {
    mean_term(chosen, rejected, |c: f64, r: f64| {
        pairwise_credit(c.partial_cmp(&r))
    })
}

/// The unbiased pass@k estimator `1 − C(n − c, k) / C(n, k)` (Chen et al. 2021), in the
/// numerically stable product form of the HumanEval code. The ratio has two product forms,
/// `Π_{i = n − c + 1}^{n} (1 − k / i)` over c factors and `Π_{j < k} (1 − c / (n − j))` over
/// k factors; the shorter one is used, so the cost is min(c, k) steps, up to
/// [`PASS_AT_K_MAX_FACTORS`]. Beyond that the log of the product is integrated instead.
/// Requires `0 ≤ c ≤ n` and `0 < k ≤ n`.
pub fn pass_at_k(n: u64, c: u64, k: u64) -> f64 {
    pass_at_k_with(n, c, k, PASS_AT_K_MAX_FACTORS)
}

/// The most factors [`pass_at_k`] multiplies one by one.
pub const PASS_AT_K_MAX_FACTORS: u64 = 10_000_000;

fn pass_at_k_with(n: u64, c: u64, k: u64, max_factors: u64) -> f64 {
    if n - c < k {
        return 1.0;
    }
    let (m, big) = (c.min(k), c.max(k));
    if m == 0 {
        return 0.0;
    }
    // ln ratio ≤ −m · big / n: below e^−745 the ratio is 0 in f64.
    if (m as f64) * (big as f64) / (n as f64) > 745.0 {
        return 1.0;
    }
    let (n_f, big_f) = (n as f64, big as f64);
    if m <= max_factors {
        let product: f64 = (0..m).map(|j| 1.0 - big_f / (n_f - j as f64)).product();
        return 1.0 - product;
    }
    // Here m > max_factors and m · big ≤ 745 n, so big / (n − j) < 1e-3: the log of each
    // factor is smooth in j, and the sum of m of them is its integral over [−½, m − ½] up to
    // a relative error of about 1 / (n m) (Euler–Maclaurin), computed by Gauss–Legendre.
    let log_factor = |x: f64| (-big_f / (n_f - x)).ln_1p();
    let log_ratio = integrate(log_factor, -0.5, m as f64 - 0.5);
    -log_ratio.exp_m1()
}

/// ∫ f over [a, b] by 8-point Gauss–Legendre on 64 equal panels.
fn integrate(f: impl Fn(f64) -> f64, a: f64, b: f64) -> f64 {
    // Nodes and weights on [−1, 1] (positive half; the rule is symmetric).
    const NODES: [f64; 4] = [
        0.183_434_642_495_649_8,
        0.525_532_409_916_329,
        0.796_666_477_413_626_7,
        0.960_289_856_497_536_3,
    ];
    const WEIGHTS: [f64; 4] = [
        0.362_683_783_378_362,
        0.313_706_645_877_887_3,
        0.222_381_034_453_374_5,
        0.101_228_536_290_376_3,
    ];
    const PANELS: usize = 64;
    let width = (b - a) / PANELS as f64;
    let mut total = 0.0;
    for p in 0..PANELS {
        let mid = a + (p as f64 + 0.5) * width;
        let half = width / 2.0;
        let panel: f64 = NODES
            .iter()
            .zip(&WEIGHTS)
            .map(|(&x, &w)| w * (f(mid - half * x) + f(mid + half * x)))
            .sum();
        total += panel * half;
    }
    total
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProportionMethod {
    Wilson,
    /// The exact interval from beta quantiles (statsmodels `method="beta"`).
    ClopperPearson,
}

/// Estimate and two-sided interval for `successes / n` (statsmodels `proportion_confint`).
/// Each bound is computed from its own tail probability `(1 − confidence) / 2`, never from
/// `1 − (1 − confidence) / 2`, so a confidence of 1 − 1e-12 keeps every digit.
pub fn proportion_ci(
    successes: f64,
    n: f64,
    method: ProportionMethod,
    confidence: f64,
) -> (f64, f64, f64) {
    let estimate = successes / n;
    let tail = (1.0 - confidence) / 2.0;
    match method {
        ProportionMethod::Wilson => {
            let (lower, upper) = wilson_interval(successes, n, normal_upper_quantile(tail));
            (estimate, lower, upper)
        }
        ProportionMethod::ClopperPearson => {
            let lower = if successes <= 0.0 {
                0.0
            } else {
                beta_quantile(tail, successes, n - successes + 1.0)
            };
            let upper = if successes >= n {
                1.0
            } else {
                beta_upper_quantile(tail, successes + 1.0, n - successes)
            };
            (estimate, lower, upper)
        }
    }
}

/// The Wilson interval `center ± half`, where center = (s + z²/2) / (n + z²) and
/// half = z √(s (n − s) / n + z²/4) / (n + z²). The lower bound is written as
/// `(center² − half²) / (center + half) = s² / (n (n + z²) (center + half))` so that it has
/// no cancellation: exactly 0 for no successes, full precision for one. The upper bound is
/// capped at 1 against rounding, as statsmodels clips it.
pub(crate) fn wilson_interval(successes: f64, n: f64, z: f64) -> (f64, f64) {
    let z2 = z * z;
    let center = (successes + z2 / 2.0) / (n + z2);
    let half = z / (n + z2) * (successes * (n - successes) / n + z2 / 4.0).sqrt();
    let lower = successes * successes / (n * (n + z2) * (center + half));
    (lower, (center + half).min(1.0))
}

/// The `p` quantile of Beta(a, b): the x with I_x(a, b) = p (SciPy `beta.ppf`), to full
/// relative precision even when x is 1e-20. NaN for a NaN p or shape, or a shape that is not
/// positive and finite.
pub fn beta_quantile(p: f64, a: f64, b: f64) -> f64 {
    logistic_pair(beta_quantile_logit(p, Tail::Lower, a, b)).0
}

/// The x with 1 − I_x(a, b) = q (SciPy `beta.isf`), solved on the upper tail itself so
/// that a small q keeps its digits where `beta_quantile(1 − q, a, b)` would lose them.
pub fn beta_upper_quantile(q: f64, a: f64, b: f64) -> f64 {
    let (x, y) = logistic_pair(beta_quantile_logit(q, Tail::Upper, a, b));
    // Near 1, x is 1 − y, whose digits y carries.
    if x > 0.5 {
        1.0 - y
    } else {
        x
    }
}

/// The standard normal quantile, from whichever tail is the smaller (1 − p is exact for
/// p ≥ 1/2).
pub fn normal_quantile(p: f64) -> f64 {
    if p > 0.5 {
        normal_upper_quantile(1.0 - p)
    } else {
        -normal_upper_quantile(p)
    }
}

/// The z with P(Z > z) = q (SciPy `norm.isf`), by bisection on the upper tail
/// ½ erfc(z / √2), which keeps its relative precision for q down to 1e-300.
pub fn normal_upper_quantile(q: f64) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    let upper_tail = |z: f64| 0.5 * crate::special::erfc(z / std::f64::consts::SQRT_2);
    let (mut lo, mut hi) = (-40.0f64, 40.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if upper_tail(mid) > q {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= f64::EPSILON * mid.abs() {
            break;
        }
    }
    0.5 * (lo + hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pass_at_k_is_fast_and_exact_for_huge_counts() {
        // The call: five factors, not a trillion.
        let p = pass_at_k(2_000_000_000_000, 1_000_000_000_000, 5);
        assert!((p - (1.0 - 0.5f64.powi(5))).abs() < 1e-12, "{p}");
        // Both forms of the product agree, and the integral agrees with them.
        for (n, c, k) in [
            (1_000_000_000u64, 200_000u64, 3_000u64),
            (5_000_000_000, 2_000_000, 1_500),
            (1_000_000, 37, 100),
        ] {
            let by_c: f64 = ((n - c + 1)..=n)
                .map(|i| 1.0 - k as f64 / i as f64)
                .product();
            let exact = 1.0 - by_c;
            let direct = pass_at_k(n, c, k);
            let integrated = pass_at_k_with(n, c, k, 10);
            assert!(
                (direct - exact).abs() <= 1e-12 * exact,
                "{n} {c} {k}: {direct} vs {exact}"
            );
            assert!(
                (integrated - exact).abs() <= 1e-10 * exact,
                "{n} {c} {k}: {integrated} vs {exact}"
            );
        }
        // Underflow of the ratio: certain to pass.
        assert_eq!(pass_at_k(1_000_000_000, 500_000_000, 1_000_000), 1.0);
    }

    #[test]
    fn pass_at_k_matches_the_binomial_form() {
        // n = 5, c = 2, k = 2: 1 − C(3, 2) / C(5, 2) = 1 − 3/10.
        assert!((pass_at_k(5, 2, 2) - 0.7).abs() < 1e-15);
        assert_eq!(pass_at_k(5, 4, 2), 1.0);
        assert_eq!(pass_at_k(5, 0, 2), 0.0);
    }

    #[test]
    fn auroc_counts_ties_half() {
        assert_eq!(auroc(&[0.5, 0.5], &[true, false]), Some(0.5));
        assert_eq!(auroc(&[0.1, 0.9], &[false, true]), Some(1.0));
        assert_eq!(auroc(&[0.1, 0.9], &[true, true]), None);
    }
}
