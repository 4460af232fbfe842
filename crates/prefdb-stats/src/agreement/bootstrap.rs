//! Percentile bootstrap intervals for agreement coefficients.
//!
//! - Krippendorff's alpha: the unit-resampling bootstrap. Each replicate draws as many
//!   pairable units as there are, with replacement, and recomputes alpha from the sum of the
//!   drawn units' coincidences. Units of the same kind (the same category counts) are
//!   interchangeable, so the draw is a multinomial over the kinds.
//! - Cohen's kappa: each replicate draws as many items as there are, with replacement, that
//!   is, a multinomial draw of the confusion matrix.
//!
//! Multinomials are chains of exact binomials (`pairwise::bootstrap::multinomial`).
//!
//! Replicates where the coefficient is undefined (no expected disagreement) are left out; the
//! interval is the `(1 − confidence)/2` and `(1 + confidence)/2` quantiles of the rest
//! (linear interpolation). Inputs must come in a canonical order (units and categories in
//! value order) for a seed to give the same interval however the data was partitioned.

use super::kappa::{cohen_kappa, Weighting};
use super::krippendorff::{alpha_from_coincidences, unit_coincidences, Level};
use crate::interrupt::{check, Interrupted};
use crate::pairwise::bootstrap::multinomial;
use crate::rng::{quantile_sorted, Xoshiro256};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BootstrapSpec {
    pub replicates: usize,
    pub seed: u64,
    pub confidence: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub lower: f64,
    pub upper: f64,
}

fn percentile_interval(mut replicates: Vec<f64>, confidence: f64) -> Option<Interval> {
    if replicates.is_empty() {
        return None;
    }
    replicates.sort_by(f64::total_cmp);
    let tail = (1.0 - confidence) / 2.0;
    Some(Interval {
        lower: quantile_sorted(&replicates, tail),
        upper: quantile_sorted(&replicates, 1.0 - tail),
    })
}

pub fn alpha_interval(
    values: &[f64],
    units: &[Vec<(usize, f64)>],
    level: Level,
    spec: &BootstrapSpec,
) -> Result<Option<Interval>, Interrupted> {
    let k = values.len();
    // Units with the same (category, count) list contribute the same coincidences, so a
    // replicate only needs how many units of each kind it draws: a multinomial over the
    // kinds with their frequencies, the same distribution as drawing units one at a time.
    // A replicate then costs the number of kinds (at most about a thousand for 10 raters
    // on a 5-point scale), not the number of units. Kinds are numbered in order of first
    // appearance in the canonically ordered units, so a seed gives the same interval on
    // every partitioning.
    let mut kind_of: HashMap<Vec<(usize, u64)>, usize> = HashMap::new();
    let mut contributions: Vec<Vec<(usize, usize, f64)>> = Vec::new();
    let mut frequency: Vec<f64> = Vec::new();
    for unit in units {
        let key: Vec<(usize, u64)> = unit.iter().map(|&(c, n)| (c, n.to_bits())).collect();
        match kind_of.get(&key) {
            Some(&kind) => frequency[kind] += 1.0,
            None => {
                let contribution = unit_coincidences(unit);
                if contribution.is_empty() {
                    continue; // not pairable
                }
                kind_of.insert(key, contributions.len());
                contributions.push(contribution);
                frequency.push(1.0);
            }
        }
    }
    if contributions.is_empty() {
        return Ok(None);
    }
    let pairable = frequency.iter().sum::<f64>() as u64;
    let mut rng = Xoshiro256::seed_from_u64(spec.seed);
    let mut coincidence = vec![0.0; k * k];
    let mut drawn = Vec::with_capacity(frequency.len());
    let mut replicates = Vec::with_capacity(spec.replicates);
    for _ in 0..spec.replicates {
        check()?;
        coincidence.iter_mut().for_each(|x| *x = 0.0);
        multinomial(&mut rng, pairable, &frequency, &mut drawn);
        for (contribution, &times) in contributions.iter().zip(&drawn) {
            if times == 0 {
                continue;
            }
            let times = times as f64;
            for &(c, d, amount) in contribution {
                coincidence[c * k + d] += times * amount;
            }
        }
        if let Some(alpha) = alpha_from_coincidences(values, &coincidence, level) {
            replicates.push(alpha);
        }
    }
    Ok(percentile_interval(replicates, spec.confidence))
}

pub fn cohen_interval(
    confusion: &[Vec<f64>],
    weighting: Weighting,
    spec: &BootstrapSpec,
) -> Result<Option<Interval>, Interrupted> {
    let q = confusion.len();
    let cells: Vec<(usize, usize, f64)> = (0..q)
        .flat_map(|i| (0..q).map(move |j| (i, j)))
        .map(|(i, j)| (i, j, confusion[i][j]))
        .filter(|c| c.2 > 0.0)
        .collect();
    let total: f64 = cells.iter().map(|c| c.2).sum();
    if total <= 0.0 {
        return Ok(None);
    }
    // Drawing the items with replacement is a multinomial draw of the confusion cells.
    let weights: Vec<f64> = cells.iter().map(|c| c.2).collect();
    let draws = total.round() as u64;
    let mut rng = Xoshiro256::seed_from_u64(spec.seed);
    let mut sample = vec![vec![0.0; q]; q];
    let mut drawn = Vec::with_capacity(cells.len());
    let mut replicates = Vec::with_capacity(spec.replicates);
    for _ in 0..spec.replicates {
        check()?;
        sample.iter_mut().flatten().for_each(|x| *x = 0.0);
        multinomial(&mut rng, draws, &weights, &mut drawn);
        for (&(i, j, _), &n) in cells.iter().zip(&drawn) {
            sample[i][j] = n as f64;
        }
        if let Some(kappa) = cohen_kappa(&sample, weighting) {
            replicates.push(kappa);
        }
    }
    Ok(percentile_interval(replicates, spec.confidence))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_are_deterministic_and_cover_the_estimate() {
        let confusion = vec![vec![20.0, 5.0], vec![10.0, 15.0]];
        let spec = BootstrapSpec {
            replicates: 500,
            seed: 7,
            confidence: 0.95,
        };
        let a = cohen_interval(&confusion, Weighting::Identity, &spec)
            .unwrap()
            .unwrap();
        let b = cohen_interval(&confusion, Weighting::Identity, &spec)
            .unwrap()
            .unwrap();
        assert_eq!(a, b);
        assert!(a.lower < 0.4 && 0.4 < a.upper, "{a:?}");
        let units: Vec<Vec<(usize, f64)>> = (0..40)
            .map(|i| {
                if i % 4 == 0 {
                    vec![(0, 1.0), (1, 1.0)]
                } else {
                    vec![(i % 2, 2.0)]
                }
            })
            .collect();
        let values = [0.0, 1.0];
        let estimate = super::super::krippendorff_alpha(&values, &units, Level::Nominal).unwrap();
        let ci = alpha_interval(&values, &units, Level::Nominal, &spec)
            .unwrap()
            .unwrap();
        assert!(
            ci.lower <= estimate && estimate <= ci.upper,
            "{ci:?} vs {estimate}"
        );
        assert!(ci.upper <= 1.0);
    }

    /// Drawing kinds by a multinomial has the distribution of drawing units one at a time:
    /// the intervals agree with a direct unit-by-unit bootstrap to within Monte-Carlo error.
    #[test]
    fn kinds_multinomial_matches_drawing_units() {
        let units: Vec<Vec<(usize, f64)>> = (0..150)
            .map(|i| match i % 5 {
                0 => vec![(0, 1.0), (1, 2.0)],
                1 => vec![(1, 3.0)],
                2 => vec![(0, 2.0)],
                3 => vec![(0, 1.0), (2, 1.0)],
                _ => vec![(2, 2.0), (1, 1.0)],
            })
            .collect();
        let values = [1.0, 2.0, 3.0];
        let spec = BootstrapSpec {
            replicates: 4000,
            seed: 11,
            confidence: 0.9,
        };
        let ours = alpha_interval(&values, &units, Level::Interval, &spec)
            .unwrap()
            .unwrap();
        let mut rng = Xoshiro256::seed_from_u64(12);
        let mut direct = Vec::new();
        for _ in 0..spec.replicates {
            let drawn: Vec<Vec<(usize, f64)>> = (0..units.len())
                .map(|_| units[rng.below(units.len() as u64) as usize].clone())
                .collect();
            if let Some(a) = super::super::krippendorff_alpha(&values, &drawn, Level::Interval) {
                direct.push(a);
            }
        }
        let direct = percentile_interval(direct, spec.confidence).unwrap();
        assert!(
            (ours.lower - direct.lower).abs() < 0.03,
            "{ours:?} vs {direct:?}"
        );
        assert!(
            (ours.upper - direct.upper).abs() < 0.03,
            "{ours:?} vs {direct:?}"
        );
    }
}
