//! Per-prediction scores and small closed forms.

use crate::special::regularized_incomplete_beta;

/// Mean squared difference between probability and outcome (Brier 1950; scikit-learn
/// `brier_score_loss`). `None` for no input.
pub fn brier_score(probs: &[f64], labels: &[bool]) -> Option<f64> {
    if probs.is_empty() {
        return None;
    }
    let sum: f64 = probs
        .iter()
        .zip(labels)
        .map(|(&p, &y)| (p - f64::from(u8::from(y))).powi(2))
        .sum();
    Some(sum / probs.len() as f64)
}

/// Mean negative log-likelihood of the labels, with probabilities clipped to
/// `[eps, 1 − eps]` so that a confident mistake costs `−ln(eps)` rather than infinity.
pub fn log_loss(probs: &[f64], labels: &[bool], eps: f64) -> Option<f64> {
    if probs.is_empty() {
        return None;
    }
    let sum: f64 = probs
        .iter()
        .zip(labels)
        .map(|(&p, &y)| {
            let p = p.clamp(eps, 1.0 - eps);
            if y {
                -p.ln()
            } else {
                -(1.0 - p).ln()
            }
        })
        .sum();
    Some(sum / probs.len() as f64)
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
    if chosen.is_empty() {
        return None;
    }
    let wins: f64 = chosen
        .iter()
        .zip(rejected)
        .map(|(c, r)| match c.partial_cmp(r) {
            Some(std::cmp::Ordering::Greater) => 1.0,
            Some(std::cmp::Ordering::Equal) => 0.5,
            _ => 0.0,
        })
        .sum();
    Some(wins / chosen.len() as f64)
}

/// The unbiased pass@k estimator `1 − C(n − c, k) / C(n, k)` (Chen et al. 2021), in the
/// numerically stable product form of the HumanEval code:
/// `1 − Π_{i = n − c + 1}^{n} (1 − k / i)`. Requires `0 ≤ c ≤ n` and `0 < k ≤ n`.
pub fn pass_at_k(n: u64, c: u64, k: u64) -> f64 {
    if n - c < k {
        return 1.0;
    }
    let product: f64 = ((n - c + 1)..=n)
        .map(|i| 1.0 - k as f64 / i as f64)
        .product();
    1.0 - product
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProportionMethod {
    Wilson,
    /// The exact interval from beta quantiles (statsmodels `method="beta"`).
    ClopperPearson,
}

/// Estimate and two-sided interval for `successes / n` (statsmodels `proportion_confint`).
pub fn proportion_ci(
    successes: f64,
    n: f64,
    method: ProportionMethod,
    confidence: f64,
) -> (f64, f64, f64) {
    let estimate = successes / n;
    let alpha = 1.0 - confidence;
    match method {
        ProportionMethod::Wilson => {
            let z = normal_quantile(1.0 - alpha / 2.0);
            let z2 = z * z;
            let center = (successes + z2 / 2.0) / (n + z2);
            let half = z / (n + z2) * (successes * (n - successes) / n + z2 / 4.0).sqrt();
            (estimate, center - half, center + half)
        }
        ProportionMethod::ClopperPearson => {
            let lower = if successes <= 0.0 {
                0.0
            } else {
                beta_quantile(alpha / 2.0, successes, n - successes + 1.0)
            };
            let upper = if successes >= n {
                1.0
            } else {
                beta_quantile(1.0 - alpha / 2.0, successes + 1.0, n - successes)
            };
            (estimate, lower, upper)
        }
    }
}

/// The `p` quantile of Beta(a, b), by bisection on the regularised incomplete beta.
pub fn beta_quantile(p: f64, a: f64, b: f64) -> f64 {
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if regularized_incomplete_beta(mid, a, b) < p {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo < 1e-17 {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// The standard normal quantile, by bisection on `normal_cdf`.
pub fn normal_quantile(p: f64) -> f64 {
    let (mut lo, mut hi) = (-40.0f64, 40.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if crate::special::normal_cdf(mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo < 1e-15 {
            break;
        }
    }
    0.5 * (lo + hi)
}

#[cfg(test)]
mod tests {
    use super::*;

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
