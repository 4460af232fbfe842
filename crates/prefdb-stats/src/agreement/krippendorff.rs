//! Krippendorff's alpha from coincidences (Krippendorff, *Computing Krippendorff's
//! Alpha-Reliability*, 2011).
//!
//! For every unit with `m_u ≥ 2` pairable values, each ordered pair of values from different
//! raters adds `1 / (m_u − 1)` to the coincidence `o_ck`. With `n_c = Σ_k o_ck` and
//! `n = Σ_c n_c`:
//!
//! ```text
//! α = 1 − (n − 1) · Σ_ck o_ck δ²_ck / Σ_ck n_c n_k δ²_ck
//! ```
//!
//! Units with fewer than two values are not pairable and are ignored. The difference
//! function δ² depends on the level of measurement ([`Level`]).

/// Level of measurement, which fixes the difference function δ²(c, k).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    /// δ² = 0 if c = k, else 1.
    Nominal,
    /// δ²_ck = (Σ_{g between c and k} n_g − (n_c + n_k) / 2)², over categories in value order.
    Ordinal,
    /// δ² = (c − k)².
    Interval,
    /// δ² = ((c − k) / (c + k))².
    Ratio,
}

/// Alpha for `units`, each a list of `(category, count)`; `values[category]` is the numeric
/// value of a category (used by interval and ratio) and categories must be numbered in
/// ascending value order for the ordinal level. Returns `None` when nothing is pairable or
/// when the expected disagreement is zero (every pairable value the same), where alpha is
/// undefined.
pub fn krippendorff_alpha(
    values: &[f64],
    units: &[Vec<(usize, f64)>],
    level: Level,
) -> Option<f64> {
    let k = values.len();
    let mut coincidence = vec![0.0; k * k];
    for unit in units {
        add_unit_coincidences(unit, &mut coincidence, k);
    }
    alpha_from_coincidences(values, &coincidence, level)
}

/// Add one unit's coincidences to a dense `k × k` matrix, without allocating.
fn add_unit_coincidences(unit: &[(usize, f64)], coincidence: &mut [f64], k: usize) {
    let m: f64 = unit.iter().map(|&(_, n)| n).sum();
    if m < 2.0 {
        return;
    }
    for &(c, n_c) in unit {
        for &(d, n_d) in unit {
            let pairs = if c == d { n_c * (n_c - 1.0) } else { n_c * n_d };
            coincidence[c * k + d] += pairs / (m - 1.0);
        }
    }
}

/// One unit's contributions `(c, d, o_cd)` to the coincidence matrix; empty when the unit
/// has fewer than two values.
pub fn unit_coincidences(unit: &[(usize, f64)]) -> Vec<(usize, usize, f64)> {
    let m: f64 = unit.iter().map(|&(_, n)| n).sum();
    if m < 2.0 {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(unit.len() * unit.len());
    for &(c, n_c) in unit {
        for &(d, n_d) in unit {
            // Ordered pairs of distinct ratings: n_c·n_d, minus the self-pairs when c = d.
            let pairs = if c == d { n_c * (n_c - 1.0) } else { n_c * n_d };
            if pairs > 0.0 {
                out.push((c, d, pairs / (m - 1.0)));
            }
        }
    }
    out
}

/// Coincidences accumulated exactly: for each unit size `m`, the integer counts of ordered
/// pairs of values `(c, d)` from different ratings, `Σ_u n_uc (n_ud − [c = d])`. The
/// coincidence matrix is then `Σ_m counts_m / (m − 1)`, summed in increasing `m`, so it is
/// bitwise the same whatever order the units were added in. For unweighted ratings.
#[derive(Debug, Clone, Default)]
pub struct ExactCoincidences {
    q: usize,
    /// `by_size[m]`: the `q × q` pair counts of units with `m` ratings (empty if none).
    by_size: Vec<Vec<u64>>,
    /// The category counts of units with a single rating, which pair with nothing but still
    /// count for Gwet's category shares.
    singles: Vec<u64>,
}

impl ExactCoincidences {
    pub fn new(q: usize) -> Self {
        Self {
            q,
            by_size: Vec::new(),
            singles: vec![0; q],
        }
    }

    /// Add one unit given its value counts (`counts[c]` ratings of category `c`) and the
    /// categories present (each once).
    pub fn add_unit(&mut self, counts: &[u64], present: &[usize]) {
        let m: u64 = present.iter().map(|&c| counts[c]).sum();
        if m < 2 {
            if m == 1 {
                for &c in present {
                    self.singles[c] += counts[c];
                }
            }
            return;
        }
        let q = self.q;
        let table = self.table(m as usize);
        for &c in present {
            for &d in present {
                let pairs = if c == d {
                    counts[c] * (counts[c] - 1)
                } else {
                    counts[c] * counts[d]
                };
                table[c * q + d] += pairs;
            }
        }
    }

    /// Add one unit given the count of every category (`Q == q`): no branch depends on which
    /// categories occur, and with the scale length known at compile time the `Q²` products
    /// unroll, which suits short scales.
    #[inline]
    pub fn add_dense_unit<const Q: usize>(&mut self, counts: &[u64; Q]) {
        debug_assert_eq!(Q, self.q);
        let m: u64 = counts.iter().sum();
        if m < 2 {
            if m == 1 {
                for (single, &n) in self.singles.iter_mut().zip(counts) {
                    *single += n;
                }
            }
            return;
        }
        let table = &mut self.table(m as usize)[..Q * Q];
        for c in 0..Q {
            let row = &mut table[c * Q..(c + 1) * Q];
            for d in 0..Q {
                row[d] += counts[c] * counts[d];
            }
            // Pairs are of different ratings: no rating pairs with itself.
            row[c] -= counts[c];
        }
    }

    /// The pair counts of units of size `m`, created on first use.
    #[inline]
    fn table(&mut self, m: usize) -> &mut [u64] {
        if self.by_size.len() <= m {
            self.by_size.resize(m + 1, Vec::new());
        }
        let table = &mut self.by_size[m];
        if table.is_empty() {
            table.resize(self.q * self.q, 0);
        }
        table
    }

    /// Per unit size `m ≥ 1` with at least one unit: the number of units and the total
    /// count of each category over them, exact. For `m ≥ 2` they follow from the pair
    /// counts: `Σ_d table[c][d] = (m − 1) · Σ_u n_uc`.
    fn sizes(&self) -> Vec<(u64, u64, Vec<u64>)> {
        let q = self.q;
        let mut out = Vec::new();
        let singles: u64 = self.singles.iter().sum();
        if singles > 0 {
            out.push((1, singles, self.singles.clone()));
        }
        for (m, table) in self.by_size.iter().enumerate() {
            if table.is_empty() || m < 2 {
                continue;
            }
            let m = m as u64;
            let totals: Vec<u64> = table
                .chunks_exact(q)
                .map(|row| row.iter().sum::<u64>() / (m - 1))
                .collect();
            let units = totals.iter().sum::<u64>() / m;
            out.push((m, units, totals));
        }
        out
    }

    /// Weighted percent agreement over the units with at least two ratings, as
    /// [`super::kappa::percent_agreement`] computes it unit by unit: each unit adds
    /// `Σ_k n_k (Σ_l w_kl n_l − 1) / (m (m − 1))`, which with `w_kk = 1` is
    /// `Σ_kl w_kl · pairs_kl / (m (m − 1))`, so the per-size pair counts give the sum
    /// exactly per size, added in increasing size. `None` with no pairable unit.
    pub fn weighted_percent_agreement(&self, weights: &[Vec<f64>]) -> Option<f64> {
        self.percent_agreement_over(&self.sizes(), weights)
    }

    fn percent_agreement_over(
        &self,
        sizes: &[(u64, u64, Vec<u64>)],
        weights: &[Vec<f64>],
    ) -> Option<f64> {
        let q = self.q;
        let (mut total, mut pairable) = (0.0, 0u64);
        for &(m, units, _) in sizes.iter().filter(|s| s.0 >= 2) {
            let table = &self.by_size[m as usize];
            let agreeing: f64 = (0..q)
                .flat_map(|k| (0..q).map(move |l| (k, l)))
                .map(|(k, l)| weights[k][l] * table[k * q + l] as f64)
                .sum();
            total += agreeing / (m as f64 * (m as f64 - 1.0));
            pairable += units;
        }
        (pairable > 0).then(|| total / pairable as f64)
    }

    /// Gwet's AC1 or AC2 with `weights`, as [`super::kappa::gwet_ac`]: the weighted percent
    /// agreement above, and the category shares `π_k = mean over rated units of n_k / m`
    /// from the exact per-size totals.
    pub fn gwet_ac(&self, weights: &[Vec<f64>]) -> Option<f64> {
        let q = self.q;
        if q < 2 {
            return None;
        }
        let sizes = self.sizes();
        let pa = self.percent_agreement_over(&sizes, weights)?;
        let n = sizes.iter().map(|s| s.1).sum::<u64>() as f64;
        let mut shares = vec![0.0; q];
        for (m, _, totals) in &sizes {
            for (share, &t) in shares.iter_mut().zip(totals) {
                *share += t as f64 / *m as f64;
            }
        }
        let weight_sum: f64 = weights.iter().flatten().sum();
        let pe = weight_sum / (q as f64 * (q as f64 - 1.0))
            * shares
                .iter()
                .map(|s| {
                    let pi = s / n;
                    pi * (1.0 - pi)
                })
                .sum::<f64>();
        (pe < 1.0).then(|| (pa - pe) / (1.0 - pe))
    }

    /// The dense `q × q` coincidence matrix.
    pub fn matrix(&self) -> Vec<f64> {
        let mut out = vec![0.0; self.q * self.q];
        for (m, table) in self.by_size.iter().enumerate() {
            if table.is_empty() {
                continue;
            }
            let scale = 1.0 / (m as f64 - 1.0);
            for (o, &t) in out.iter_mut().zip(table) {
                *o += t as f64 * scale;
            }
        }
        out
    }
}

/// Alpha from a dense `k × k` coincidence matrix (row-major).
pub fn alpha_from_coincidences(values: &[f64], coincidence: &[f64], level: Level) -> Option<f64> {
    let k = values.len();
    let marginals: Vec<f64> = (0..k)
        .map(|c| coincidence[c * k..(c + 1) * k].iter().sum())
        .collect();
    let n: f64 = marginals.iter().sum();
    if n <= 1.0 {
        return None;
    }
    let delta = difference_function(values, &marginals, level);
    let mut observed = 0.0;
    let mut expected = 0.0;
    for c in 0..k {
        for d in 0..k {
            let dd = delta(c, d);
            observed += coincidence[c * k + d] * dd;
            expected += marginals[c] * marginals[d] * dd;
        }
    }
    if expected <= 0.0 {
        return None;
    }
    Some(1.0 - (n - 1.0) * observed / expected)
}

fn difference_function<'a>(
    values: &'a [f64],
    marginals: &'a [f64],
    level: Level,
) -> Box<dyn Fn(usize, usize) -> f64 + 'a> {
    match level {
        Level::Nominal => Box::new(|c, d| if c == d { 0.0 } else { 1.0 }),
        Level::Interval => Box::new(move |c, d| (values[c] - values[d]).powi(2)),
        Level::Ratio => Box::new(move |c, d| {
            let sum = values[c] + values[d];
            if sum == 0.0 {
                0.0
            } else {
                ((values[c] - values[d]) / sum).powi(2)
            }
        }),
        Level::Ordinal => {
            // Prefix sums of the marginals make each δ² O(1).
            let mut prefix = vec![0.0; marginals.len() + 1];
            for (i, m) in marginals.iter().enumerate() {
                prefix[i + 1] = prefix[i] + m;
            }
            Box::new(move |c, d| {
                let (lo, hi) = if c <= d { (c, d) } else { (d, c) };
                let between = prefix[hi + 1] - prefix[lo];
                (between - (marginals[lo] + marginals[hi]) / 2.0).powi(2)
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Krippendorff's reliability-data example (4 observers, 12 units, missing values), read
    /// from the shared data beside the repository.
    fn published_example() -> (Vec<f64>, Vec<Vec<(usize, f64)>>) {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/data/krippendorff_reliability.csv"
        );
        let text = std::fs::read_to_string(path).expect("shared/data/krippendorff_reliability.csv");
        let mut by_unit: BTreeMap<u32, Vec<f64>> = BTreeMap::new();
        for line in text.lines().skip(1) {
            let cells: Vec<&str> = line.split(',').collect();
            by_unit
                .entry(cells[0].parse().unwrap())
                .or_default()
                .push(cells[2].parse().unwrap());
        }
        let mut values: Vec<f64> = by_unit.values().flatten().copied().collect();
        values.sort_by(f64::total_cmp);
        values.dedup();
        let units = by_unit
            .values()
            .map(|vs| {
                let mut counts: BTreeMap<usize, f64> = BTreeMap::new();
                for v in vs {
                    *counts
                        .entry(values.iter().position(|x| x == v).unwrap())
                        .or_default() += 1.0;
                }
                counts.into_iter().collect()
            })
            .collect();
        (values, units)
    }

    #[test]
    fn reproduces_the_published_alphas() {
        let (values, units) = published_example();
        for (level, published) in [
            (Level::Nominal, 0.743),
            (Level::Ordinal, 0.815),
            (Level::Interval, 0.849),
            (Level::Ratio, 0.797),
        ] {
            let alpha = krippendorff_alpha(&values, &units, level).unwrap();
            assert!(
                (alpha - published).abs() < 5e-4,
                "{level:?}: {alpha} vs {published}"
            );
        }
    }

    #[test]
    fn perfect_agreement_is_one_and_no_variation_is_undefined() {
        let units = vec![vec![(0, 2.0)], vec![(1, 3.0)], vec![(2, 2.0)]];
        let values = [1.0, 2.0, 3.0];
        for level in [
            Level::Nominal,
            Level::Ordinal,
            Level::Interval,
            Level::Ratio,
        ] {
            assert_eq!(krippendorff_alpha(&values, &units, level), Some(1.0));
        }
        assert_eq!(
            krippendorff_alpha(&values, &[vec![(1, 4.0)]], Level::Nominal),
            None
        );
        assert_eq!(
            krippendorff_alpha(&values, &[vec![(1, 1.0)]], Level::Nominal),
            None
        );
        assert_eq!(krippendorff_alpha(&values, &[], Level::Interval), None);
    }

    #[test]
    fn exact_counts_sparse_and_dense_match_the_coincidence_matrix() {
        const Q: usize = 4;
        let q = Q;
        // Units of sizes 0 to 6 with a deterministic spread of categories.
        let units: Vec<[u64; Q]> = (0..200u64)
            .map(|u| {
                let mut counts = [0u64; Q];
                for j in 0..(u % 7) {
                    counts[((u * 7 + j * j * 3) % q as u64) as usize] += 1;
                }
                counts
            })
            .collect();
        let (mut sparse, mut dense) = (ExactCoincidences::new(q), ExactCoincidences::new(q));
        let mut expected = vec![0.0; q * q];
        for counts in &units {
            let present: Vec<usize> = (0..q).filter(|&c| counts[c] > 0).collect();
            sparse.add_unit(counts, &present);
            dense.add_dense_unit(counts);
            let unit: Vec<(usize, f64)> = present.iter().map(|&c| (c, counts[c] as f64)).collect();
            for (c, d, o) in unit_coincidences(&unit) {
                expected[c * q + d] += o;
            }
        }
        assert_eq!(sparse.matrix(), dense.matrix());
        for (got, want) in dense.matrix().iter().zip(&expected) {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
        assert!(expected.iter().sum::<f64>() > 0.0);
    }

    /// Percent agreement and Gwet's AC1/AC2 from the exact per-size counts equal the
    /// unit-by-unit kernels, units with a single rating included.
    #[test]
    fn exact_counts_give_percent_agreement_and_gwet() {
        use crate::agreement::kappa::{agreement_weights, gwet_ac, percent_agreement, Weighting};
        const Q: usize = 4;
        let units: Vec<[u64; Q]> = (0..300u64)
            .map(|u| {
                let mut counts = [0u64; Q];
                for j in 0..(1 + u % 6) {
                    counts[((u * 5 + j * j * 3 + j) % Q as u64) as usize] += 1;
                }
                counts
            })
            .collect();
        let mut exact = ExactCoincidences::new(Q);
        for counts in &units {
            exact.add_dense_unit(counts);
        }
        let dense: Vec<Vec<f64>> = units
            .iter()
            .map(|c| c.iter().map(|&n| n as f64).collect())
            .collect();
        let values = [1.0, 2.0, 4.0, 5.0];
        let identity = agreement_weights(&values, Weighting::Identity);
        let pa = exact.weighted_percent_agreement(&identity).unwrap();
        assert!((pa - percent_agreement(&dense).unwrap()).abs() < 1e-12);
        for weighting in [Weighting::Identity, Weighting::Linear, Weighting::Quadratic] {
            let w = agreement_weights(&values, weighting);
            let (ours, theirs) = (exact.gwet_ac(&w).unwrap(), gwet_ac(&dense, &w).unwrap());
            assert!(
                (ours - theirs).abs() < 1e-12,
                "{weighting:?}: {ours} vs {theirs}"
            );
        }
    }
}
