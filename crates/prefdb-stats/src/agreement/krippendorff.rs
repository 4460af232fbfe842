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
}

impl ExactCoincidences {
    pub fn new(q: usize) -> Self {
        Self {
            q,
            by_size: Vec::new(),
        }
    }

    /// Add one unit given its value counts (`counts[c]` ratings of category `c`) and the
    /// categories present (each once).
    pub fn add_unit(&mut self, counts: &[u64], present: &[usize]) {
        let m: u64 = present.iter().map(|&c| counts[c]).sum();
        if m < 2 {
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
}
