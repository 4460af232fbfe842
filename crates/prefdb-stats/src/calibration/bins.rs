//! Reliability bins and expected calibration error.
//!
//! Bin edges: `uniform` splits [0, 1] into equal widths; `quantile` puts the edges at the
//! 0, 1/B, ..., 1 quantiles of the probabilities (NumPy's linear interpolation), so bins
//! hold about equal counts (adaptive ECE). A probability goes to the bin whose interior
//! edges below it are all strictly smaller: bins are `(lower, upper]`, except that the first
//! also holds its lower edge, so 0 falls in the first bin and 1 in the last. This is
//! scikit-learn's `calibration_curve` rule (`searchsorted` on the interior edges).

use crate::rng::quantile_sorted;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinStrategy {
    Uniform,
    Quantile,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CalibrationNorm {
    /// Σ_b (n_b / N) · |gap_b|: the usual ECE.
    L1,
    /// √(Σ_b (n_b / N) · gap_b²).
    L2,
    /// max_b |gap_b| over non-empty bins: the maximum calibration error (MCE).
    Max,
}

/// One non-empty bin of a reliability diagram.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReliabilityBin {
    /// 1-based bin number.
    pub bin: usize,
    pub lower: f64,
    pub upper: f64,
    pub count: usize,
    pub mean_prob: f64,
    pub frac_positive: f64,
    /// mean_prob − frac_positive: positive where the scorer is over-confident.
    pub gap: f64,
}

/// Interior-or-outer edge `i` of `bins` uniform bins, as NumPy's linspace computes it
/// (i · (1/B), the last edge exactly 1), so a probability on an edge lands where
/// scikit-learn puts it.
pub fn uniform_edge(i: usize, bins: usize) -> f64 {
    if i == bins {
        1.0
    } else {
        i as f64 * (1.0 / bins as f64)
    }
}

/// The 0-based uniform bin of `p`: the number of interior edges strictly below it.
pub fn uniform_bin(p: f64, bins: usize) -> usize {
    let mut b = ((p * bins as f64).ceil() as usize)
        .saturating_sub(1)
        .min(bins - 1);
    while b > 0 && uniform_edge(b, bins) >= p {
        b -= 1;
    }
    while b + 1 < bins && uniform_edge(b + 1, bins) < p {
        b += 1;
    }
    b
}

fn edges(probs: &[f64], bins: usize, strategy: BinStrategy) -> Vec<f64> {
    match strategy {
        BinStrategy::Uniform => (0..=bins).map(|i| uniform_edge(i, bins)).collect(),
        BinStrategy::Quantile => {
            let mut sorted = probs.to_vec();
            sorted.sort_unstable_by(f64::total_cmp);
            (0..=bins)
                .map(|i| quantile_sorted(&sorted, i as f64 / bins as f64))
                .collect()
        }
    }
}

/// Per-bin sums: the mergeable state of uniform-bin calibration statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct BinSums {
    pub count: Vec<f64>,
    pub prob_sum: Vec<f64>,
    pub positives: Vec<f64>,
}

impl BinSums {
    pub fn new(bins: usize) -> Self {
        Self {
            count: vec![0.0; bins],
            prob_sum: vec![0.0; bins],
            positives: vec![0.0; bins],
        }
    }

    pub fn add(&mut self, bin: usize, p: f64, y: bool) {
        self.count[bin] += 1.0;
        self.prob_sum[bin] += p;
        self.positives[bin] += f64::from(u8::from(y));
    }

    pub fn total(&self) -> f64 {
        self.count.iter().sum()
    }

    /// The non-empty bins, given the bin edges.
    pub fn table(&self, edges: &[f64]) -> Vec<ReliabilityBin> {
        (0..self.count.len())
            .filter(|&b| self.count[b] > 0.0)
            .map(|b| {
                let n = self.count[b];
                let (mean_prob, frac_positive) = (self.prob_sum[b] / n, self.positives[b] / n);
                ReliabilityBin {
                    bin: b + 1,
                    lower: edges[b],
                    upper: edges[b + 1],
                    count: n as usize,
                    mean_prob,
                    frac_positive,
                    gap: mean_prob - frac_positive,
                }
            })
            .collect()
    }

    pub fn uniform_table(&self) -> Vec<ReliabilityBin> {
        let bins = self.count.len();
        let edges: Vec<f64> = (0..=bins).map(|i| uniform_edge(i, bins)).collect();
        self.table(&edges)
    }
}

/// The non-empty bins, in order. Empty input gives no bins.
pub fn reliability_bins(
    probs: &[f64],
    labels: &[bool],
    bins: usize,
    strategy: BinStrategy,
) -> Vec<ReliabilityBin> {
    if probs.is_empty() || bins == 0 {
        return Vec::new();
    }
    let edges = edges(probs, bins, strategy);
    let interior = &edges[1..bins];
    let mut sums = BinSums::new(bins);
    for (&p, &y) in probs.iter().zip(labels) {
        sums.add(interior.partition_point(|&e| e < p), p, y);
    }
    sums.table(&edges)
}

/// The calibration error of a reliability table over `total` predictions.
pub fn calibration_error(
    table: &[ReliabilityBin],
    total: f64,
    norm: CalibrationNorm,
) -> Option<f64> {
    if table.is_empty() {
        return None;
    }
    Some(match norm {
        CalibrationNorm::L1 => table
            .iter()
            .map(|b| b.count as f64 / total * b.gap.abs())
            .sum(),
        CalibrationNorm::L2 => table
            .iter()
            .map(|b| b.count as f64 / total * b.gap * b.gap)
            .sum::<f64>()
            .sqrt(),
        CalibrationNorm::Max => table.iter().map(|b| b.gap.abs()).fold(0.0, f64::max),
    })
}

/// Expected calibration error over the bins, in the chosen norm. `None` for no input.
pub fn expected_calibration_error(
    probs: &[f64],
    labels: &[bool],
    bins: usize,
    strategy: BinStrategy,
    norm: CalibrationNorm,
) -> Option<f64> {
    let table = reliability_bins(probs, labels, bins, strategy);
    calibration_error(&table, probs.len() as f64, norm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_convention() {
        // With 2 uniform bins the interior edge is 0.5: 0.5 falls in bin 1, 0 in bin 1, 1 in bin 2.
        let b = reliability_bins(
            &[0.0, 0.5, 1.0],
            &[false, true, true],
            2,
            BinStrategy::Uniform,
        );
        assert_eq!(b.len(), 2);
        assert_eq!((b[0].bin, b[0].count), (1, 2));
        assert_eq!((b[1].bin, b[1].count), (2, 1));
        assert!((b[0].mean_prob - 0.25).abs() < 1e-15);
    }

    #[test]
    fn streaming_bins_match_the_edge_search() {
        for bins in [1, 2, 3, 10, 15] {
            for i in 0..=1000 {
                let p = i as f64 / 1000.0;
                let edges: Vec<f64> = (0..=bins).map(|i| uniform_edge(i, bins)).collect();
                let expected = edges[1..bins].partition_point(|&e| e < p);
                assert_eq!(uniform_bin(p, bins), expected, "p {p} bins {bins}");
            }
        }
    }

    #[test]
    fn perfectly_calibrated_bins_have_zero_error() {
        let probs = [0.25, 0.25, 0.25, 0.25];
        let labels = [true, false, false, false];
        let ece = expected_calibration_error(
            &probs,
            &labels,
            10,
            BinStrategy::Uniform,
            CalibrationNorm::L1,
        );
        assert!(ece.unwrap().abs() < 1e-15);
    }
}
