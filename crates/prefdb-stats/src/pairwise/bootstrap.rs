//! Bootstrap intervals for Bradley–Terry log-strengths, by resampling the pair table (also
//! for the tie models, which refit their tie parameter on every replicate), and for
//! Plackett–Luce, by resampling whole rankings the same way.
//!
//! Chatbot Arena's bootstrap draws N votes with replacement from the N votes and refits.
//! Votes with the same pair and outcome are interchangeable, so only the number drawn from
//! each (pair, outcome) cell matters, and that vector is Multinomial(N, n_cell / N): the
//! same distribution is sampled by drawing the cell counts directly. One replicate then
//! costs O(cells), not O(N), and never touches the rows — the merged aggregate state is
//! enough. Weighted inputs are treated as frequency weights (a weight of 3 is three votes),
//! which is exact for integer weights and the natural reading otherwise.
//!
//! The multinomial is drawn as a chain of binomials, each exactly: by Hörmann's BTRS for
//! the large counts of real arenas, by rand_distr's samplers for small ones (pinned by
//! Cargo.lock: a new rand_distr may change the stream for a seed). Every draw
//! comes from the crate's seeded xoshiro256**, so a seed gives the same intervals on every
//! platform and partitioning (the caller orders the pairs canonically first).

use super::bradley_terry::{fit_bradley_terry, fit_with_cg_tolerance, BtError, BtOptions};
use super::plackett_luce::{fit_plackett_luce, Ranking};
use super::tie_models::{fit_tie_model, fit_tie_model_from, TieModel};
use super::PairOutcomes;
use crate::rng::{quantile_sorted, Xoshiro256};

/// An exact Binomial(n, p) draw, driven by the crate's xoshiro256**: Hörmann's BTRS
/// (transformed rejection with squeeze) when the smaller of np and n(1 − p) is at least 10,
/// which is every cell of a large arena, and rand_distr's inversion/BTPE otherwise.
pub fn binomial(rng: &mut Xoshiro256, n: u64, p: f64) -> u64 {
    if p.is_nan() || p <= 0.0 || n == 0 {
        return 0;
    }
    if p >= 1.0 {
        return n;
    }
    if p > 0.5 {
        return n - binomial(rng, n, 1.0 - p);
    }
    if n as f64 * p >= 10.0 {
        return btrs(rng, n, p);
    }
    match rand_distr::Binomial::new(n, p) {
        Ok(d) => rand_distr::Distribution::sample(&d, rng),
        Err(_) => 0,
    }
}

/// ln k! exactly from a table below 16, else by Stirling's series for ln Γ(k + 1), whose
/// first omitted term is below 1e-13 there.
fn ln_factorial(k: f64) -> f64 {
    const TABLE: [f64; 16] = [
        0.0,
        0.0,
        std::f64::consts::LN_2,
        1.791_759_469_228_055,
        3.178_053_830_347_945_8,
        4.787_491_742_782_046,
        6.579_251_212_010_101,
        8.525_161_361_065_415,
        10.604_602_902_745_25,
        12.801_827_480_081_469,
        15.104_412_573_075_516,
        17.502_307_845_873_887,
        19.987_214_495_661_885,
        22.552_163_853_123_42,
        25.191_221_182_738_683,
        27.899_271_383_840_894,
    ];
    if k < 16.0 {
        return TABLE[k as usize];
    }
    let x = k + 1.0;
    let x2 = x * x;
    (x - 0.5) * x.ln() - x
        + 0.918_938_533_204_672_8
        + (1.0 / 12.0 - (1.0 / 360.0 - (1.0 / 1260.0 - 1.0 / (1680.0 * x2)) / x2) / x2) / x
}

/// BTRS (Hörmann 1993, "The generation of binomial random variates"), for p ≤ 1/2 and
/// np ≥ 10: a transformed-rejection sampler whose squeeze accepts most proposals with two
/// uniforms and no logarithm; the rest are accepted or rejected against the exact log
/// probability ratio.
fn btrs(rng: &mut Xoshiro256, n: u64, p: f64) -> u64 {
    let nf = n as f64;
    let q = 1.0 - p;
    let spq = (nf * p * q).sqrt();
    let b = 1.15 + 2.53 * spq;
    let a = -0.0873 + 0.0248 * b + 0.01 * p;
    let c = nf * p + 0.5;
    let v_r = 0.92 - 4.2 / b;
    let two_a = 2.0 * a;
    // Needed only when the squeeze fails (about one proposal in seven): computed then.
    let mut exact: Option<(f64, f64, f64, f64)> = None;
    loop {
        let u = rng.unit() - 0.5;
        let v = rng.unit();
        let us = 0.5 - u.abs();
        if us <= 0.0 {
            continue;
        }
        let k = ((two_a / us + b) * u + c).floor();
        if k < 0.0 || k > nf {
            continue;
        }
        if us >= 0.07 && v <= v_r {
            return k as u64;
        }
        let (alpha, lpq, m, h) = *exact.get_or_insert_with(|| {
            let m = ((nf + 1.0) * p).floor();
            (
                (2.83 + 5.1 / b) * spq,
                (p / q).ln(),
                m,
                ln_factorial(m) + ln_factorial(nf - m),
            )
        });
        let v = (v * alpha / (a / (us * us) + b)).ln();
        if v <= h - ln_factorial(k) - ln_factorial(nf - k) + (k - m) * lpq {
            return k as u64;
        }
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

/// `L` independent multinomials at once, lane `l` drawn from `rngs[l]` into `outs[l]`;
/// each lane's counts equal [`multinomial`]'s from the same generator. A chain of binomials
/// is one long dependency (each draw needs the previous remainder), so a core mostly waits
/// on it; interleaving independent chains lets it work on several at once.
pub fn multinomial_lanes<const L: usize>(
    rngs: &mut [Xoshiro256; L],
    total: u64,
    weights: &[f64],
    outs: &mut [Vec<u64>; L],
) {
    for out in outs.iter_mut() {
        out.clear();
    }
    let mut remaining = [total; L];
    let mut mass: f64 = weights.iter().sum();
    for &w in weights {
        let p = if mass > 0.0 { (w / mass).min(1.0) } else { 0.0 };
        for l in 0..L {
            let k = if remaining[l] == 0 || mass <= 0.0 {
                0
            } else {
                binomial(&mut rngs[l], remaining[l], p)
            };
            outs[l].push(k);
            remaining[l] -= k;
        }
        mass -= w;
    }
    for l in 0..L {
        if remaining[l] > 0 {
            if let Some(last) = weights.iter().rposition(|&w| w > 0.0) {
                outs[l][last] += remaining[l];
            }
        }
    }
}

/// Convergence threshold (largest change of a log-strength in a Newton step) of the
/// replicate fits, unless `tol` asks for less.
pub const REPLICATE_TOL: f64 = 1e-5;

/// Relative residual of the conjugate-gradient solves in replicate fits (an inexact Newton
/// method; see `fit_with_cg_tolerance`).
const REPLICATE_CG: f64 = 1e-6;

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

impl BootstrapIntervals {
    /// Percentile intervals of every strength's difference from item `anchor`'s, replicate
    /// by replicate, at two-sided coverage `confidence`: `(lower, upper)`, zero for `anchor`.
    pub fn relative_to(&self, anchor: usize, confidence: f64) -> (Vec<f64>, Vec<f64>) {
        let alpha = (1.0 - confidence) / 2.0;
        let n = self.lower.len();
        let mut column = Vec::with_capacity(self.draws.len());
        (0..n)
            .map(|i| {
                column.clear();
                column.extend(self.draws.iter().map(|d| d[i] - d[anchor]));
                column.sort_by(f64::total_cmp);
                (
                    quantile_sorted(&column, alpha),
                    quantile_sorted(&column, 1.0 - alpha),
                )
            })
            .unzip()
    }
}

/// Resample the pair table `boot.replicates` times and refit each.
///
/// With `factors` (`reweight=pair`), `pairs` are the votes before reweighting: a replicate
/// resamples the votes and multiplies each pair's resampled counts by its factor, which stays
/// the one computed from the data, as arena-rank's bootstrap keeps its weights.
pub fn bootstrap_bradley_terry(
    n_items: usize,
    pairs: &[PairOutcomes],
    factors: Option<&[f64]>,
    opts: &BtOptions,
    boot: &BootstrapOptions,
) -> Result<BootstrapIntervals, BtError> {
    check_options(boot)?;
    let fitted = reweighted(pairs, factors);
    // Each replicate's fit starts from the full data's: resamples stay close to it, so
    // Newton needs a few steps instead of a start from zero.
    let point = fit_bradley_terry(n_items, &fitted, opts)
        .ok()
        .map(|f| f.strengths);
    // Replicates only feed percentiles, whose Monte-Carlo error is orders of magnitude
    // larger. Newton converges quadratically from the warm start, so after a step below
    // 1e-5 the remaining error is of the order of its square (far below 1e-8 in s): the
    // step that would only confirm it is skipped.
    let replicate_opts = BtOptions {
        tol: opts.tol.max(REPLICATE_TOL),
        ..*opts
    };
    bootstrap_pairs(n_items, pairs, factors, boot, |resampled| {
        fit_with_cg_tolerance(
            n_items,
            resampled,
            &replicate_opts,
            point.as_deref(),
            REPLICATE_CG,
        )
        .map(|fit| fit.strengths)
    })
}

/// `pairs` scaled by `factors`, or as they are.
fn reweighted<'a>(
    pairs: &'a [PairOutcomes],
    factors: Option<&[f64]>,
) -> std::borrow::Cow<'a, [PairOutcomes]> {
    match factors {
        Some(f) => std::borrow::Cow::Owned(super::sandwich::scale_pairs(pairs, f)),
        None => std::borrow::Cow::Borrowed(pairs),
    }
}

/// The same resampling for a tie model (Davidson or Rao–Kupper): each replicate refits the
/// strengths and the tie parameter jointly, and the intervals are the strengths'.
pub fn bootstrap_tie_model(
    n_items: usize,
    pairs: &[PairOutcomes],
    factors: Option<&[f64]>,
    model: TieModel,
    opts: &BtOptions,
    boot: &BootstrapOptions,
) -> Result<BootstrapIntervals, BtError> {
    check_options(boot)?;
    // Replicates start from the full data's fit, and stop at a step of 1e-5, as for plain
    // Bradley–Terry.
    let point = match fit_tie_model(n_items, &reweighted(pairs, factors), model, opts) {
        Err(BtError::Interrupted) => return Err(BtError::Interrupted),
        fit => fit.ok(),
    };
    let replicate_opts = BtOptions {
        tol: opts.tol.max(REPLICATE_TOL),
        ..*opts
    };
    bootstrap_pairs(n_items, pairs, factors, boot, |resampled| {
        fit_tie_model_from(n_items, resampled, model, &replicate_opts, point.as_ref())
            .map(|fit| fit.strengths)
    })
}

fn check_options(boot: &BootstrapOptions) -> Result<(), BtError> {
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
    Ok(())
}

/// Draw `boot.replicates` multinomial resamples of the (pair, outcome) cells, refit each
/// with `refit`, and summarise the log-strengths by percentiles.
fn bootstrap_pairs<F>(
    n_items: usize,
    pairs: &[PairOutcomes],
    factors: Option<&[f64]>,
    boot: &BootstrapOptions,
    refit: F,
) -> Result<BootstrapIntervals, BtError>
where
    F: Fn(&[PairOutcomes]) -> Result<Vec<f64>, BtError> + Sync,
{
    let cells: Vec<f64> = pairs
        .iter()
        .flat_map(|p| [p.a_wins, p.b_wins, p.ties])
        .collect();
    bootstrap_cells(n_items, &cells, boot, |counts| {
        let mut resampled = pairs.to_vec();
        for (k, (p, c)) in resampled.iter_mut().zip(counts.chunks_exact(3)).enumerate() {
            let f = factors.map_or(1.0, |f| f[k]);
            p.a_wins = c[0] as f64 * f;
            p.b_wins = c[1] as f64 * f;
            p.ties = c[2] as f64 * f;
        }
        refit(&resampled)
    })
}

/// Plackett–Luce intervals by resampling whole rankings: a replicate draws as many rankings
/// as the data have (the weights are frequency weights), with replacement, as a multinomial
/// over the distinct rankings, and refits.
pub fn bootstrap_plackett_luce(
    n_items: usize,
    rankings: &[Ranking],
    opts: &BtOptions,
    boot: &BootstrapOptions,
) -> Result<BootstrapIntervals, BtError> {
    check_options(boot)?;
    let weights: Vec<f64> = rankings.iter().map(|r| r.weight).collect();
    let replicate_opts = BtOptions {
        tol: opts.tol.max(REPLICATE_TOL),
        ..*opts
    };
    bootstrap_cells(n_items, &weights, boot, |counts| {
        let resampled: Vec<Ranking> = rankings
            .iter()
            .zip(counts)
            .filter(|(_, &c)| c > 0)
            .map(|(r, &c)| Ranking {
                groups: r.groups.clone(),
                weight: c as f64,
            })
            .collect();
        fit_plackett_luce(n_items, &resampled, &replicate_opts).map(|(strengths, _)| strengths)
    })
}

/// The bootstrap engine: `boot.replicates` multinomial draws of round(Σ cells) trials over
/// `cells`, each refitted by `refit` from its counts, summarised by percentiles.
fn bootstrap_cells<F>(
    n_items: usize,
    cells: &[f64],
    boot: &BootstrapOptions,
    refit: F,
) -> Result<BootstrapIntervals, BtError>
where
    F: Fn(&[u64]) -> Result<Vec<f64>, BtError> + Sync,
{
    let total = cells.iter().sum::<f64>().round().max(0.0) as u64;
    // One generator per replicate, seeded in order from the master seed, so the draws do
    // not depend on how the replicates are spread over threads.
    let mut master = Xoshiro256::seed_from_u64(boot.seed);
    let seeds: Vec<u64> = (0..boot.replicates).map(|_| master.next_u64()).collect();
    let fit_counts = |r: usize, counts: &[u64]| -> Result<Vec<f64>, BtError> {
        refit(counts).map_err(|e| match e {
            BtError::MleDoesNotExist { .. } => BtError::InvalidOption(format!(
                "bootstrap replicate {} has no maximum-likelihood ratings ({e}); use prior > 0",
                r + 1
            )),
            other => other,
        })
    };
    // Replicates `first..first + slots.len()`, two at a time: their multinomials are drawn
    // interleaved (the same counts as one at a time, about 15% faster).
    type Slot = Option<Result<Vec<f64>, BtError>>;
    let run = |first: usize, slots: &mut [Slot]| {
        let mut outs = [
            Vec::with_capacity(cells.len()),
            Vec::with_capacity(cells.len()),
        ];
        let mut k = 0;
        while k < slots.len() {
            // A stopped statement fails its remaining replicates without fitting them.
            if crate::interrupt::check().is_err() {
                for slot in &mut slots[k..] {
                    *slot = Some(Err(BtError::Interrupted));
                }
                break;
            }
            let r = first + k;
            if k + 1 < slots.len() {
                let mut rngs = [
                    Xoshiro256::seed_from_u64(seeds[r]),
                    Xoshiro256::seed_from_u64(seeds[r + 1]),
                ];
                multinomial_lanes(&mut rngs, total, cells, &mut outs);
                slots[k] = Some(fit_counts(r, &outs[0]));
                slots[k + 1] = Some(fit_counts(r + 1, &outs[1]));
                k += 2;
            } else {
                let mut rng = Xoshiro256::seed_from_u64(seeds[r]);
                multinomial(&mut rng, total, cells, &mut outs[0]);
                slots[k] = Some(fit_counts(r, &outs[0]));
                k += 1;
            }
        }
    };
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(boot.replicates);
    let mut slots: Vec<Slot> = vec![None; boot.replicates];
    if threads <= 1 {
        run(0, &mut slots);
    } else {
        let run = &run;
        let per_thread = boot.replicates.div_ceil(threads);
        // Workers stop with the statement that started them.
        let stop = crate::interrupt::current();
        std::thread::scope(|scope| {
            for (t, chunk) in slots.chunks_mut(per_thread).enumerate() {
                let stop = stop.clone();
                scope.spawn(move || crate::interrupt::scope(stop, || run(t * per_thread, chunk)));
            }
        });
    }
    let results: Vec<Result<Vec<f64>, BtError>> = slots
        .into_iter()
        .map(|s| s.expect("every replicate ran"))
        .collect();
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

    /// Chi-square goodness of fit against the exact binomial pmf, for BTRS (both tails of
    /// p, small and huge n) and for the small-mean path.
    #[test]
    fn binomial_matches_the_exact_distribution() {
        use crate::special::ln_gamma;
        let mut rng = Xoshiro256::seed_from_u64(11);
        for &(n, p) in &[
            (40u64, 0.3),
            (1_000, 0.45),
            (10_000_000, 1e-4),
            (500, 0.93),
            (30, 0.1),
        ] {
            let draws = 200_000;
            let mut counts = std::collections::BTreeMap::new();
            for _ in 0..draws {
                *counts.entry(binomial(&mut rng, n, p)).or_insert(0u64) += 1;
            }
            let pmf = |k: u64| {
                let (nf, kf) = (n as f64, k as f64);
                (ln_gamma(nf + 1.0) - ln_gamma(kf + 1.0) - ln_gamma(nf - kf + 1.0)
                    + kf * p.ln()
                    + (nf - kf) * (1.0 - p).ln())
                .exp()
            };
            // Bins of at least 20 expected draws; the tails pooled into the end bins.
            let mean = n as f64 * p;
            let sd = (mean * (1.0 - p)).sqrt();
            let lo = (mean - 8.0 * sd).max(0.0) as u64;
            let hi = ((mean + 8.0 * sd) as u64).min(n);
            let (mut chi2, mut dof) = (0.0, 0usize);
            let (mut expected, mut observed) = (0.0, 0.0);
            let mut below = 1.0 - (lo..=hi).map(pmf).sum::<f64>();
            for k in lo..=hi {
                expected += draws as f64 * (pmf(k) + below);
                below = 0.0;
                observed += *counts.get(&k).unwrap_or(&0) as f64;
                if expected >= 20.0 {
                    chi2 += (observed - expected).powi(2) / expected;
                    dof += 1;
                    expected = 0.0;
                    observed = 0.0;
                }
            }
            let dof = dof.saturating_sub(1) as f64;
            assert!(
                chi2 < dof + 6.0 * (2.0 * dof).sqrt(),
                "n={n} p={p}: chi2 {chi2:.1} on {dof} degrees of freedom"
            );
        }
    }

    #[test]
    fn ln_factorial_is_exact_enough() {
        use crate::special::ln_gamma;
        for k in [0.0, 1.0, 5.0, 15.0, 16.0, 17.0, 100.0, 12345.0, 1e7] {
            let want = ln_gamma(k + 1.0);
            assert!((ln_factorial(k) - want).abs() < 1e-9 * want.max(1.0), "{k}");
        }
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
    use crate::pairwise::plackett_luce::plackett_luce_covariance;
    use crate::pairwise::tie_models::tie_model_covariance;

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
        let a = bootstrap_bradley_terry(n, &pairs, None, &opts, &boot).unwrap();
        let b = bootstrap_bradley_terry(n, &pairs, None, &opts, &boot).unwrap();
        assert_eq!(a, b, "same seed, same intervals");
        let c = bootstrap_bradley_terry(
            n,
            &pairs,
            None,
            &opts,
            &BootstrapOptions { seed: 43, ..boot },
        )
        .unwrap();
        assert_ne!(a.lower, c.lower);

        let fit = fit_bradley_terry(n, &pairs, &opts).unwrap();
        let cov = fisher_covariance(n, &pairs, &fit.strengths, &opts).unwrap();
        // Each replicate's strengths are centred, like the Fisher covariance, so single
        // strengths compare directly.
        close_to_fisher(&a, &cov, &fit.strengths);
    }

    /// Bootstrap standard deviations within 15% of the Fisher errors, and intervals that
    /// contain the point estimates.
    fn close_to_fisher(boot: &BootstrapIntervals, cov: &[Vec<f64>], strengths: &[f64]) {
        for (i, &s) in strengths.iter().enumerate() {
            let fisher = cov[i][i].sqrt();
            let sd = boot.sd[i];
            assert!(
                (sd / fisher - 1.0).abs() < 0.15,
                "item {i}: bootstrap sd {sd} vs Fisher {fisher}"
            );
            assert!(boot.lower[i] < s && s < boot.upper[i]);
        }
    }

    #[test]
    fn tie_models_are_seeded_and_close_to_their_fisher_errors() {
        let n = 5;
        let mut pairs = design(n, 300.0);
        // A third of each pair's outcomes become ties.
        for p in &mut pairs {
            let (a, b) = ((p.a_wins / 3.0).round(), (p.b_wins / 3.0).round());
            p.a_wins -= a;
            p.b_wins -= b;
            p.ties = a + b;
        }
        let opts = BtOptions::default();
        let boot = BootstrapOptions {
            replicates: 300,
            seed: 7,
            confidence: 0.95,
        };
        for model in [TieModel::Davidson, TieModel::RaoKupper] {
            let a = bootstrap_tie_model(n, &pairs, None, model, &opts, &boot).unwrap();
            assert_eq!(
                a,
                bootstrap_tie_model(n, &pairs, None, model, &opts, &boot).unwrap()
            );
            let fit = fit_tie_model(n, &pairs, model, &opts).unwrap();
            let cov = tie_model_covariance(n, &pairs, model, &opts, &fit).unwrap();
            close_to_fisher(&a, &cov, &fit.strengths);
        }
    }

    /// Rankings of four items drawn from Plackett–Luce with strengths (0.6, 0.2, −0.2, −0.6),
    /// as identical rankings merged with their counts as weights.
    fn pl_sample(count: usize) -> Vec<Ranking> {
        let strengths = [0.6f64, 0.2, -0.2, -0.6];
        let mut rng = Xoshiro256::seed_from_u64(99);
        let mut merged: Vec<Ranking> = Vec::new();
        for _ in 0..count {
            let mut left: Vec<u32> = (0..4).collect();
            let mut groups = Vec::new();
            while !left.is_empty() {
                let total: f64 = left.iter().map(|&i| strengths[i as usize].exp()).sum();
                let mut u = rng.unit() * total;
                let mut pick = left.len() - 1;
                for (k, &i) in left.iter().enumerate() {
                    u -= strengths[i as usize].exp();
                    if u < 0.0 {
                        pick = k;
                        break;
                    }
                }
                groups.push(vec![left.remove(pick)]);
            }
            match merged.iter_mut().find(|r| r.groups == groups) {
                Some(r) => r.weight += 1.0,
                None => merged.push(Ranking {
                    groups,
                    weight: 1.0,
                }),
            }
        }
        merged
    }

    #[test]
    fn plackett_luce_is_seeded_and_close_to_its_fisher_errors() {
        let rankings = pl_sample(600);
        let opts = BtOptions::default();
        let boot = BootstrapOptions {
            replicates: 300,
            seed: 5,
            confidence: 0.95,
        };
        let a = bootstrap_plackett_luce(4, &rankings, &opts, &boot).unwrap();
        assert_eq!(
            a,
            bootstrap_plackett_luce(4, &rankings, &opts, &boot).unwrap()
        );
        let (strengths, _) = fit_plackett_luce(4, &rankings, &opts).unwrap();
        let cov = plackett_luce_covariance(4, &rankings, &strengths, &opts).unwrap();
        close_to_fisher(&a, &cov, &strengths);
    }

    /// A factor common to every pair leaves the fit and every replicate as they are, and
    /// intervals relative to an item are zero for it and shift the others.
    #[test]
    fn common_factors_and_relative_intervals() {
        let pairs = design(4, 30.0);
        let opts = BtOptions::default();
        let boot = BootstrapOptions {
            replicates: 50,
            seed: 9,
            confidence: 0.9,
        };
        let plain = bootstrap_bradley_terry(4, &pairs, None, &opts, &boot).unwrap();
        let factors = vec![0.25; pairs.len()];
        let scaled = bootstrap_bradley_terry(4, &pairs, Some(&factors), &opts, &boot).unwrap();
        // The prior weighs 4 times more against the scaled counts, so allow its effect.
        for (a, b) in plain.lower.iter().zip(&scaled.lower) {
            assert!((a - b).abs() < 0.05, "{a} {b}");
        }
        let (lower, upper) = plain.relative_to(2, 0.9);
        assert_eq!((lower[2], upper[2]), (0.0, 0.0));
        assert!(lower[0] < upper[0]);
    }

    #[test]
    fn bad_options_are_errors() {
        let pairs = design(3, 10.0);
        let opts = BtOptions::default();
        let bad = |replicates, confidence| {
            bootstrap_bradley_terry(
                3,
                &pairs,
                None,
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
