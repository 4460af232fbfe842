//! Chance-corrected agreement: Cohen's kappa and Scott's pi for two raters (wide form, from a
//! confusion matrix), and percent agreement, Fleiss' kappa and Gwet's AC1/AC2 for any number
//! of raters (long form, from per-unit category counts).
//!
//! Categories are numbered in ascending value order everywhere, so that weights can use
//! distances between them.

/// Weights for partial agreement between categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Weighting {
    /// Only identical categories agree.
    Identity,
    Linear,
    Quadratic,
}

/// Cohen's kappa from a `q × q` confusion matrix (rows: rater 1, columns: rater 2), as
/// scikit-learn's `cohen_kappa_score`: disagreement weights are `|i − j|` (linear) or
/// `(i − j)²` (quadratic) in category positions, and
/// `κ = 1 − Σ w·observed / Σ w·expected` with `expected = row ⊗ column / n`.
/// `None` when the expected weighted disagreement is 0 (a single category).
pub fn cohen_kappa(confusion: &[Vec<f64>], weighting: Weighting) -> Option<f64> {
    let q = confusion.len();
    let n: f64 = confusion.iter().flatten().sum();
    if n <= 0.0 {
        return None;
    }
    let rows: Vec<f64> = confusion.iter().map(|r| r.iter().sum()).collect();
    let cols: Vec<f64> = (0..q)
        .map(|j| confusion.iter().map(|r| r[j]).sum())
        .collect();
    let (mut observed, mut expected) = (0.0, 0.0);
    for i in 0..q {
        for j in 0..q {
            let d = (i as f64 - j as f64).abs();
            let w = match weighting {
                Weighting::Identity => f64::from(u8::from(i != j)),
                Weighting::Linear => d,
                Weighting::Quadratic => d * d,
            };
            observed += w * confusion[i][j];
            expected += w * rows[i] * cols[j] / n;
        }
    }
    (expected > 0.0).then(|| 1.0 - observed / expected)
}

/// Scott's pi for two raters: `(P_o − P_e) / (1 − P_e)` with `P_e = Σ_c p_c²` over the pooled
/// proportions of both raters (Scott 1955). `None` for a single category.
pub fn scott_pi(confusion: &[Vec<f64>]) -> Option<f64> {
    let q = confusion.len();
    let n: f64 = confusion.iter().flatten().sum();
    if n <= 0.0 {
        return None;
    }
    let observed = (0..q).map(|i| confusion[i][i]).sum::<f64>() / n;
    let chance: f64 = (0..q)
        .map(|c| {
            let pooled = (confusion[c].iter().sum::<f64>()
                + confusion.iter().map(|r| r[c]).sum::<f64>())
                / (2.0 * n);
            pooled * pooled
        })
        .sum();
    (chance < 1.0).then(|| (observed - chance) / (1.0 - chance))
}

/// Per-unit category counts: `counts[unit][category]` raters put `unit` in `category`.
pub type UnitCounts = [Vec<f64>];

fn raters_per_unit(units: &UnitCounts) -> Vec<f64> {
    units.iter().map(|u| u.iter().sum()).collect()
}

/// Mean over units with at least two ratings of the share of agreeing rater pairs,
/// `Σ_k r_ik (r_ik − 1) / (r_i (r_i − 1))` (irrCAC's percent agreement `pa`).
pub fn percent_agreement(units: &UnitCounts) -> Option<f64> {
    let weights = identity(units.first().map_or(0, Vec::len));
    weighted_percent_agreement(units, &weights)
}

fn weighted_percent_agreement(units: &UnitCounts, weights: &[Vec<f64>]) -> Option<f64> {
    let (mut total, mut pairable) = (0.0, 0usize);
    for (unit, r) in units.iter().zip(raters_per_unit(units)) {
        if r < 2.0 {
            continue;
        }
        let agreeing: f64 = (0..unit.len())
            .map(|k| {
                let weighted: f64 = (0..unit.len()).map(|l| weights[k][l] * unit[l]).sum();
                unit[k] * (weighted - 1.0)
            })
            .sum();
        total += agreeing / (r * (r - 1.0));
        pairable += 1;
    }
    (pairable > 0).then(|| total / pairable as f64)
}

/// Why Fleiss' kappa cannot be computed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FleissError {
    /// Units have different numbers of ratings: `(first, other)`.
    Unbalanced(f64, f64),
}

/// Fleiss' kappa (Fleiss 1971; statsmodels `fleiss_kappa`): every unit must have the same
/// number of ratings `m ≥ 2`. `Ok(None)` when chance agreement is 1 (a single category) or
/// there are no units.
pub fn fleiss_kappa(units: &UnitCounts) -> Result<Option<f64>, FleissError> {
    let per_unit = raters_per_unit(units);
    let Some(&m) = per_unit.first() else {
        return Ok(None);
    };
    if let Some(&other) = per_unit.iter().find(|&&r| r != m) {
        return Err(FleissError::Unbalanced(m, other));
    }
    if m < 2.0 {
        return Ok(None);
    }
    let n = units.len() as f64;
    let q = units[0].len();
    let observed = units
        .iter()
        .map(|u| (u.iter().map(|c| c * c).sum::<f64>() - m) / (m * (m - 1.0)))
        .sum::<f64>()
        / n;
    let chance: f64 = (0..q)
        .map(|k| {
            let p = units.iter().map(|u| u[k]).sum::<f64>() / (n * m);
            p * p
        })
        .sum();
    Ok((chance < 1.0).then(|| (observed - chance) / (1.0 - chance)))
}

fn identity(q: usize) -> Vec<Vec<f64>> {
    (0..q)
        .map(|k| (0..q).map(|l| f64::from(u8::from(k == l))).collect())
        .collect()
}

/// irrCAC's agreement weights over category values (ascending): linear
/// `1 − |x_k − x_l| / (x_max − x_min)`, quadratic `1 − (x_k − x_l)² / (x_max − x_min)²`.
pub fn agreement_weights(values: &[f64], weighting: Weighting) -> Vec<Vec<f64>> {
    let q = values.len();
    let span = values.last().copied().unwrap_or(0.0) - values.first().copied().unwrap_or(0.0);
    if weighting == Weighting::Identity || span == 0.0 {
        return identity(q);
    }
    (0..q)
        .map(|k| {
            (0..q)
                .map(|l| {
                    let d = (values[k] - values[l]).abs() / span;
                    match weighting {
                        Weighting::Linear => 1.0 - d,
                        _ => 1.0 - d * d,
                    }
                })
                .collect()
        })
        .collect()
}

/// Gwet's AC1 (identity weights) or AC2 (other weights), for any number of raters with
/// missing ratings (Gwet 2008; irrCAC `CAC.gwet`):
/// `pa` is the weighted percent agreement over units with ≥ 2 ratings,
/// `π_k = mean over units of r_ik / r_i`, `pe = Σw / (q(q − 1)) · Σ_k π_k (1 − π_k)`,
/// `AC = (pa − pe) / (1 − pe)`. `None` with fewer than two categories or no pairable unit.
pub fn gwet_ac(units: &UnitCounts, weights: &[Vec<f64>]) -> Option<f64> {
    let q = weights.len();
    if q < 2 {
        return None;
    }
    let pa = weighted_percent_agreement(units, weights)?;
    let per_unit = raters_per_unit(units);
    let rated: Vec<usize> = (0..units.len()).filter(|&i| per_unit[i] > 0.0).collect();
    let n = rated.len() as f64;
    let weight_sum: f64 = weights.iter().flatten().sum();
    let pe = weight_sum / (q as f64 * (q as f64 - 1.0))
        * (0..q)
            .map(|k| {
                let pi = rated
                    .iter()
                    .map(|&i| units[i][k] / per_unit[i])
                    .sum::<f64>()
                    / n;
                pi * (1.0 - pi)
            })
            .sum::<f64>();
    (pe < 1.0).then(|| (pa - pe) / (1.0 - pe))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cohen_kappa_textbook() {
        // Two raters, 50 items: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no (kappa = 0.4).
        let m = vec![vec![20.0, 5.0], vec![10.0, 15.0]];
        assert!((cohen_kappa(&m, Weighting::Identity).unwrap() - 0.4).abs() < 1e-12);
        assert_eq!(cohen_kappa(&[vec![7.0]], Weighting::Identity), None);
    }

    #[test]
    fn fleiss_rejects_unbalanced_designs() {
        let units = vec![vec![2.0, 0.0], vec![1.0, 2.0]];
        assert_eq!(fleiss_kappa(&units), Err(FleissError::Unbalanced(2.0, 3.0)));
    }

    #[test]
    fn perfect_agreement_is_one() {
        let units = vec![
            vec![3.0, 0.0, 0.0],
            vec![0.0, 3.0, 0.0],
            vec![0.0, 0.0, 3.0],
        ];
        assert_eq!(fleiss_kappa(&units), Ok(Some(1.0)));
        assert_eq!(percent_agreement(&units), Some(1.0));
        let w = agreement_weights(&[1.0, 2.0, 3.0], Weighting::Identity);
        assert!((gwet_ac(&units, &w).unwrap() - 1.0).abs() < 1e-12);
    }
}
