//! Bootstrap intervals for Bradley–Terry log-strengths, by resampling the pair table.
//!
//! Chatbot Arena's bootstrap draws N votes with replacement from the N votes and refits.
//! Votes with the same pair and outcome are interchangeable, so only the number drawn from
//! each (pair, outcome) cell matters, and that vector is Multinomial(N, n_cell / N): the
//! same distribution is sampled by drawing the cell counts directly. One replicate then
//! costs O(cells), not O(N), and never touches the rows — the merged aggregate state is
//! enough. Weighted inputs are treated as frequency weights (a weight of 3 is three votes),
//! which is exact for integer weights and the natural reading otherwise.
//!
//! The multinomial is drawn as a chain of binomials, each exactly, by rand_distr's BTPE
//! (pinned by Cargo.lock: a new rand_distr may change the stream for a seed). Every draw
//! comes from the crate's seeded xoshiro256**, so a seed gives the same intervals on every
//! platform and partitioning (the caller orders the pairs canonically first).

use super::bradley_terry::{fit_bradley_terry, fit_bradley_terry_from, BtError, BtOptions};
use super::PairOutcomes;
use crate::rng::{quantile_sorted, Xoshiro256};

/// An exact Binomial(n, p) draw: rand_distr's BTPE (Kachitvichyanukul and Schmeiser 1988),
/// O(1) expected uniforms per draw whatever n, driven by the crate's xoshiro256**.
pub fn binomial(rng: &mut Xoshiro256, n: u64, p: f64) -> u64 {
    if !(p > 0.0) || n == 0 {
        return 0;
    }
    if p >= 1.0 {
        return n;
    }
    match rand_distr::Binomial::new(n, p) {
        Ok(d) => rand_distr::Distribution::sample(&d, rng),
        Err(_) => 0,
    }
}

/// Multinomial(total, weights / Σ weights) by a chain of binomials; `out` gets the counts.
pub fn multinomial(rng: &mut Xoshiro256, total: u64, weights: &[f64], out: &mut Vec<u64>) {
    out.clear();
    let mut remaining = total;
    let mut mass: f64 = weights.iter().sum();
    for &w in weights {
        let k = if remaining == 0 || mass <= 0.0 {
            0
        } else {
            binomial(rng, remaining, (w / mass).min(1.0))
        };
        out.push(k);
        remaining -= k;
        mass -= w;
    }
    // Rounding can leave trials unassigned when the last weights are tiny: give them to
    // the last non-empty cell, as the chain would have with exact arithmetic.
    if remaining > 0 {
        if let Some(last) = weights.iter().rposition(|&w| w > 0.0) {
            out[last] += remaining;
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BootstrapOptions {
    pub replicates: usize,
    pub seed: u64,
    /// Two-sided coverage of the percentile intervals, in (0, 1).
    pub confidence: f64,
}

/// Percentile intervals of each item's log-strength, and its bootstrap standard deviation.
#[derive(Debug, Clone, PartialEq)]
pub struct BootstrapIntervals {
    pub lower: Vec<f64>,
    pub upper: Vec<f64>,
    pub sd: Vec<f64>,
    /// The replicates, `replicates × n_items`, for rank ranges and diagnostics.
    pub draws: Vec<Vec<f64>>,
}

/// Resample the pair table `boot.replicates` times and refit each.
pub fn bootstrap_bradley_terry(
    n_items: usize,
    pairs: &[PairOutcomes],
    opts: &BtOptions,
    boot: &BootstrapOptions,
) -> Result<BootstrapIntervals, BtError> {
    if boot.replicates < 2 {
        return Err(BtError::InvalidOption(format!(
            "bootstrap must be at least 2 replicates, got {}",
            boot.replicates
        )));
    }
    if !(boot.confidence > 0.0 && boot.confidence < 1.0) {
        return Err(BtError::InvalidOption(format!(
            "confidence must be between 0 and 1, got {}",
            boot.confidence
        )));
    }
    let cells: Vec<f64> = pairs
        .iter()
        .flat_map(|p| [p.a_wins, p.b_wins, p.ties])
        .collect();
    let total = cells.iter().sum::<f64>().round().max(0.0) as u64;
    // Each replicate's fit starts from the full data's: resamples stay close to it, so
    // Newton needs a few steps instead of a start from zero.
    let point = fit_bradley_terry(n_items, pairs, opts)
        .ok()
        .map(|f| f.strengths);
    // One generator per replicate, seeded in order from the master seed, so the draws do
    // not depend on how the replicates are spread over threads.
    let mut master = Xoshiro256::seed_from_u64(boot.seed);
    let seeds: Vec<u64> = (0..boot.replicates).map(|_| master.next_u64()).collect();
    let replicate = |r: usize| -> Result<Vec<f64>, BtError> {
        let mut rng = Xoshiro256::seed_from_u64(seeds[r]);
        let mut counts = Vec::with_capacity(cells.len());
        multinomial(&mut rng, total, &cells, &mut counts);
        let mut resampled = pairs.to_vec();
        for (p, c) in resampled.iter_mut().zip(counts.chunks_exact(3)) {
            p.a_wins = c[0] as f64;
            p.b_wins = c[1] as f64;
            p.ties = c[2] as f64;
        }
        fit_bradley_terry_from(n_items, &resampled, opts, point.as_deref())
            .map(|fit| fit.strengths)
            .map_err(|e| match e {
                BtError::MleDoesNotExist { .. } => BtError::InvalidOption(format!(
                    "bootstrap replicate {} has no maximum-likelihood ratings ({e}); use prior > 0",
                    r + 1
                )),
                other => other,
            })
    };
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(boot.replicates);
    let results: Vec<Result<Vec<f64>, BtError>> = if threads <= 1 {
        (0..boot.replicates).map(replicate).collect()
    } else {
        let replicate = &replicate;
        let mut slots: Vec<Option<Result<Vec<f64>, BtError>>> = vec![None; boot.replicates];
        std::thread::scope(|scope| {
            for (t, chunk) in slots
                .chunks_mut(boot.replicates.div_ceil(threads))
                .enumerate()
            {
                let first = t * boot.replicates.div_ceil(threads);
                scope.spawn(move || {
                    for (k, slot) in chunk.iter_mut().enumerate() {
                        *slot = Some(replicate(first + k));
                    }
                });
            }
        });
        slots
            .into_iter()
            .map(|s| s.expect("every replicate ran"))
            .collect()
    };
    let draws = results.into_iter().collect::<Result<Vec<_>, _>>()?;
    let alpha = (1.0 - boot.confidence) / 2.0;
    let (mut lower, mut upper, mut sd) = (
        Vec::with_capacity(n_items),
        Vec::with_capacity(n_items),
        Vec::with_capacity(n_items),
    );
    let mut column = Vec::with_capacity(draws.len());
    for i in 0..n_items {
        column.clear();
        column.extend(draws.iter().map(|d| d[i]));
        let mean = column.iter().sum::<f64>() / column.len() as f64;
        let var =
            column.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (column.len() - 1) as f64;
        column.sort_by(f64::total_cmp);
        lower.push(quantile_sorted(&column, alpha));
        upper.push(quantile_sorted(&column, 1.0 - alpha));
        sd.push(var.sqrt());
    }
    Ok(BootstrapIntervals {
        lower,
        upper,
        sd,
        draws,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pairwise::fisher_covariance;

    #[test]
    fn binomial_moments() {
        let mut rng = Xoshiro256::seed_from_u64(7);
        for &(n, p) in &[(10u64, 0.3), (100, 0.5), (5_000, 0.01), (1_000_000, 0.37)] {
            let draws: Vec<f64> = (0..4000).map(|_| binomial(&mut rng, n, p) as f64).collect();
            let mean = draws.iter().sum::<f64>() / draws.len() as f64;
            let var = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / draws.len() as f64;
            let (m, v) = (n as f64 * p, n as f64 * p * (1.0 - p));
            // Mean within 5 standard errors; variance within 15%.
            assert!(
                (mean - m).abs() < 5.0 * (v / 4000.0).sqrt(),
                "n={n} p={p}: mean {mean} vs {m}"
            );
            assert!(
                (var / v - 1.0).abs() < 0.15,
                "n={n} p={p}: var {var} vs {v}"
            );
            assert!(draws.iter().all(|&k| k >= 0.0 && k <= n as f64));
        }
        assert_eq!(binomial(&mut rng, 50, 0.0), 0);
        assert_eq!(binomial(&mut rng, 50, 1.0), 50);
    }

    #[test]
    fn multinomial_keeps_the_total() {
        let mut rng = Xoshiro256::seed_from_u64(1);
        let mut out = Vec::new();
        let weights = [5.0, 0.0, 120.0, 3.0, 0.5, 1e6];
        for _ in 0..200 {
            multinomial(&mut rng, 1_000_128, &weights, &mut out);
            assert_eq!(out.iter().sum::<u64>(), 1_000_128);
            assert_eq!(out[1], 0);
        }
    }

    /// Votes among `n` items with strengths 0, 0.3, 0.6, ...: every pair compared `per_pair`
    /// times, outcomes at their expected proportions (rounded).
    fn design(n: usize, per_pair: f64) -> Vec<PairOutcomes> {
        let mut pairs = Vec::new();
        for a in 0..n {
            for b in a + 1..n {
                let p = 1.0 / (1.0 + (0.3 * (b as f64 - a as f64)).exp());
                let a_wins = (per_pair * p).round();
                pairs.push(PairOutcomes {
                    a: a as u32,
                    b: b as u32,
                    a_wins,
                    b_wins: per_pair - a_wins,
                    ties: 0.0,
                });
            }
        }
        pairs
    }

    #[test]
    fn seeded_and_close_to_the_fisher_standard_errors() {
        let n = 6;
        let pairs = design(n, 400.0);
        let opts = BtOptions::default();
        let boot = BootstrapOptions {
            replicates: 400,
            seed: 42,
            confidence: 0.95,
        };
        let a = bootstrap_bradley_terry(n, &pairs, &opts, &boot).unwrap();
        let b = bootstrap_bradley_terry(n, &pairs, &opts, &boot).unwrap();
        assert_eq!(a, b, "same seed, same intervals");
        let c = bootstrap_bradley_terry(n, &pairs, &opts, &BootstrapOptions { seed: 43, ..boot })
            .unwrap();
        assert_ne!(a.lower, c.lower);

        let fit = fit_bradley_terry(n, &pairs, &opts).unwrap();
        let cov = fisher_covariance(n, &pairs, &fit.strengths, &opts).unwrap();
        // Compare differences s_i − s_0, which is what the data identify (the prior alone
        // pins the common level, and the Fisher variance of a single s_i carries it).
        for i in 1..n {
            let fisher = (cov[i][i] + cov[0][0] - 2.0 * cov[i][0]).sqrt();
            let diffs: Vec<f64> = a.draws.iter().map(|d| d[i] - d[0]).collect();
            let mean = diffs.iter().sum::<f64>() / diffs.len() as f64;
            let sd = (diffs.iter().map(|x| (x - mean).powi(2)).sum::<f64>()
                / (diffs.len() - 1) as f64)
                .sqrt();
            assert!(
                (sd / fisher - 1.0).abs() < 0.15,
                "item {i}: bootstrap sd {sd} vs Fisher {fisher}"
            );
        }
        for i in 0..n {
            assert!(a.lower[i] < fit.strengths[i] && fit.strengths[i] < a.upper[i]);
        }
    }

    #[test]
    fn bad_options_are_errors() {
        let pairs = design(3, 10.0);
        let opts = BtOptions::default();
        let bad = |replicates, confidence| {
            bootstrap_bradley_terry(
                3,
                &pairs,
                &opts,
                &BootstrapOptions {
                    replicates,
                    seed: 1,
                    confidence,
                },
            )
            .unwrap_err()
            .to_string()
        };
        assert!(bad(1, 0.95).contains("at least 2 replicates"));
        assert!(bad(10, 1.0).contains("confidence must be between 0 and 1"));
    }
}
