//! Percentile bootstrap intervals for agreement coefficients.
//!
//! - Krippendorff's alpha: the unit-resampling bootstrap. Each replicate draws as many
//!   pairable units as there are, with replacement, and recomputes alpha from the sum of the
//!   drawn units' coincidences (each unit's contribution is computed once).
//! - Cohen's kappa: each replicate draws as many items as there are, with replacement, that
//!   is, a multinomial draw of the confusion matrix.
//!
//! Replicates where the coefficient is undefined (no expected disagreement) are left out; the
//! interval is the `(1 − confidence)/2` and `(1 + confidence)/2` quantiles of the rest
//! (linear interpolation). Inputs must come in a canonical order (units and categories in
//! value order) for a seed to give the same interval however the data was partitioned.

use super::kappa::{cohen_kappa, Weighting};
use super::krippendorff::{alpha_from_coincidences, unit_coincidences, Level};
use crate::rng::{quantile_sorted, Xoshiro256};

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
) -> Option<Interval> {
    let k = values.len();
    let contributions: Vec<Vec<(usize, usize, f64)>> = units
        .iter()
        .map(|u| unit_coincidences(u))
        .filter(|c| !c.is_empty())
        .collect();
    if contributions.is_empty() {
        return None;
    }
    let mut rng = Xoshiro256::seed_from_u64(spec.seed);
    let mut coincidence = vec![0.0; k * k];
    let mut replicates = Vec::with_capacity(spec.replicates);
    for _ in 0..spec.replicates {
        coincidence.iter_mut().for_each(|x| *x = 0.0);
        for _ in 0..contributions.len() {
            let unit = &contributions[rng.below(contributions.len() as u64) as usize];
            for &(c, d, amount) in unit {
                coincidence[c * k + d] += amount;
            }
        }
        if let Some(alpha) = alpha_from_coincidences(values, &coincidence, level) {
            replicates.push(alpha);
        }
    }
    percentile_interval(replicates, spec.confidence)
}

pub fn cohen_interval(
    confusion: &[Vec<f64>],
    weighting: Weighting,
    spec: &BootstrapSpec,
) -> Option<Interval> {
    let q = confusion.len();
    let cells: Vec<(usize, usize, f64)> = (0..q)
        .flat_map(|i| (0..q).map(move |j| (i, j)))
        .map(|(i, j)| (i, j, confusion[i][j]))
        .filter(|c| c.2 > 0.0)
        .collect();
    let mut cumulative = Vec::with_capacity(cells.len());
    let mut total = 0.0;
    for c in &cells {
        total += c.2;
        cumulative.push(total);
    }
    if total <= 0.0 {
        return None;
    }
    let draws = total.round() as usize;
    let mut rng = Xoshiro256::seed_from_u64(spec.seed);
    let mut sample = vec![vec![0.0; q]; q];
    let mut replicates = Vec::with_capacity(spec.replicates);
    for _ in 0..spec.replicates {
        sample.iter_mut().flatten().for_each(|x| *x = 0.0);
        for _ in 0..draws {
            let u = rng.unit() * total;
            let at = cumulative.partition_point(|&c| c <= u).min(cells.len() - 1);
            sample[cells[at].0][cells[at].1] += 1.0;
        }
        if let Some(kappa) = cohen_kappa(&sample, weighting) {
            replicates.push(kappa);
        }
    }
    percentile_interval(replicates, spec.confidence)
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
        let a = cohen_interval(&confusion, Weighting::Identity, &spec).unwrap();
        let b = cohen_interval(&confusion, Weighting::Identity, &spec).unwrap();
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
        let ci = alpha_interval(&values, &units, Level::Nominal, &spec).unwrap();
        assert!(
            ci.lower <= estimate && estimate <= ci.upper,
            "{ci:?} vs {estimate}"
        );
        assert!(ci.upper <= 1.0);
    }
}
