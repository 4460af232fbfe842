//! Confident learning (Northcutt, Jiang and Chuang 2021, "Confident Learning: Estimating
//! Uncertainty in Dataset Labels"), as cleanlab 2.9.0 computes it: which given labels are
//! probably wrong, from a model's out-of-sample predicted probabilities.
//!
//! Rows are in a caller-chosen canonical order (the SQL layer sorts by row id): cleanlab's
//! sums are numpy's pairwise sums in row order, and its selections break ties by position.
//! Every step below reproduces cleanlab's arithmetic in the same order, so results agree to
//! the last bit on data without ties. Where cleanlab picks among exact ties it uses numpy's
//! unstable (SIMD) argsort, so its answer depends on the CPU; here ties go to the lower
//! position (the higher one when a rounding step raises counts), as a stable sort would.
//!
//! 1. Thresholds: `t_k` = the mean of `p_k` over the rows labelled `k` (2 for a class with no
//!    rows), at least 2e-6.
//! 2. Confident joint: a row is confident in the classes with `p_k ≥ t_k − 1e-6`; with one
//!    such class that is its guess, with several the argmax over all classes, with none the
//!    row is not counted. `C[given][guess] += 1`, then every diagonal at least 1.
//! 3. Calibration: each row of `C` scaled to its label count, the whole to N, each row
//!    rounded preserving its total (`round_preserving_row_totals`).
//! 4. The filters (`FilterBy`), then `_reduce_issues`: a row whose given label is within
//!    1e-6 of its largest probability is never an issue (except for the two `low_*`
//!    filters).

/// numpy's pairwise summation of `xs` in order (block 128, 8 accumulators), which `np.sum`
/// and `np.mean` use on contiguous float64 data.
pub fn pairwise_sum(xs: &[f64]) -> f64 {
    let n = xs.len();
    if n < 8 {
        return xs.iter().fold(0.0, |s, x| s + x);
    }
    if n <= 128 {
        let mut r = [0.0; 8];
        r.copy_from_slice(&xs[..8]);
        let mut i = 8;
        while i < n - n % 8 {
            for j in 0..8 {
                r[j] += xs[i + j];
            }
            i += 8;
        }
        let mut s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        while i < n {
            s += xs[i];
            i += 1;
        }
        return s;
    }
    let mut n2 = n / 2;
    n2 -= n2 % 8;
    pairwise_sum(&xs[..n2]) + pairwise_sum(&xs[n2..])
}

/// How rows are flagged (cleanlab's `filter_by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterBy {
    /// For each (given, true) cell of the prune matrix, the rows of that given label with the
    /// largest `p_true − p_given` (cleanlab's default).
    PruneByNoiseRate,
    /// For each given label, its off-diagonal count of rows with the lowest `p_given`.
    PruneByClass,
    /// Both of the above.
    Both,
    /// The rows the confident joint counts off its diagonal.
    ConfidentLearning,
    /// The rows whose argmax is not the given label.
    PredictedNeqGiven,
    /// As many rows as `confident_learning` flags, lowest normalized margin first.
    LowNormalizedMargin,
    /// As many rows as `confident_learning` flags, lowest self-confidence first.
    LowSelfConfidence,
}

/// cleanlab's options for `find_label_issues`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IssueOptions {
    pub filter_by: FilterBy,
    /// The share of each off-diagonal count of the prune matrix to flag, in (0, 1].
    pub frac_noise: f64,
    /// Labels with at most this many rows are left unflagged by the pruning filters, and
    /// each given label keeps at least this many rows.
    pub min_examples_per_class: usize,
}

impl Default for IssueOptions {
    fn default() -> Self {
        Self {
            filter_by: FilterBy::PruneByNoiseRate,
            frac_noise: 1.0,
            min_examples_per_class: 1,
        }
    }
}

/// Everything confident learning estimates for one set of rows.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelIssues {
    /// Per row: flagged as a probable label error.
    pub is_issue: Vec<bool>,
    /// Per row: `p[given]` (cleanlab's `self_confidence`).
    pub self_confidence: Vec<f64>,
    /// Per row: `(p[given] − max_{k≠given} p[k] + 1) / 2` (`normalized_margin`); `None` with
    /// one class.
    pub normalized_margin: Vec<Option<f64>>,
    /// Per row: the argmax of its probabilities, first on ties.
    pub suggested: Vec<usize>,
    /// Per class: its threshold.
    pub thresholds: Vec<f64>,
    /// `K × K`, `[given][true]`: the calibrated confident joint (counts).
    pub confident_joint: Vec<Vec<u64>>,
    /// `K × K`, `[given][true]`: the confident joint over its total (`estimate_joint`).
    pub joint: Vec<Vec<f64>>,
    /// `K × K`, `[given][true]`: P(given | true), noise rates clipped as cleanlab's
    /// `estimate_latent` (its `noise_matrix`).
    pub noise_matrix: Vec<Vec<f64>>,
    /// `K × K`, `[true][given]`: P(true | given) (its `inverse_noise_matrix`).
    pub inverse_noise_matrix: Vec<Vec<f64>>,
}

fn first_argmax(row: &[f64]) -> usize {
    let mut best = 0;
    for j in 1..row.len() {
        if row[j] > row[best] {
            best = j;
        }
    }
    best
}

/// The positions of the `m` smallest keys, ties to the lower position: the first `m` of
/// [`stable_argsort`], as a set in no particular order, in linear time.
fn smallest(keys: &[f64], m: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    if m == 0 {
        return Vec::new();
    }
    if m < order.len() {
        order.select_nth_unstable_by(m - 1, |&a, &b| keys[a].total_cmp(&keys[b]).then(a.cmp(&b)));
        order.truncate(m);
    }
    order
}

/// Positions of `keys` in ascending order, ties by position.
fn stable_argsort(keys: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by(|&a, &b| keys[a].total_cmp(&keys[b]));
    order
}

/// Half-to-even rounding, as numpy's `round` and Python's `round`.
fn round_even(x: f64) -> f64 {
    x.round_ties_even()
}

/// cleanlab's `round_preserving_sum` of one row.
fn round_preserving_sum(floats: &[f64]) -> Vec<u64> {
    let mut ints: Vec<f64> = floats.iter().map(|&x| round_even(x)).collect();
    let target = round_even(pairwise_sum(floats));
    let mut total = round_even(pairwise_sum(&ints));
    while (total - target).abs() > 1e-6 {
        let diff = round_even(target - total);
        let inc = if diff < 0.0 { -1.0 } else { 1.0 };
        let changes = (diff.abs() as usize).min(floats.len());
        let excess: Vec<f64> = floats.iter().zip(&ints).map(|(f, i)| f - i).collect();
        let mut order = stable_argsort(&excess);
        if inc > 0.0 {
            order.reverse();
        }
        for &i in order.iter().take(changes) {
            ints[i] += inc;
        }
        total = round_even(pairwise_sum(&ints));
    }
    ints.iter().map(|&v| v.max(0.0) as u64).collect()
}

struct Rows<'a> {
    labels: &'a [usize],
    probs: &'a [f64],
    k: usize,
}

impl Rows<'_> {
    fn n(&self) -> usize {
        self.labels.len()
    }

    fn p(&self, r: usize) -> &[f64] {
        &self.probs[r * self.k..(r + 1) * self.k]
    }

    /// Per class, the mean of p[class] over the rows given that class (numpy's pairwise sum
    /// in row order), at least 2e-6; 2 for a class no row is given.
    fn thresholds(&self, members: &[Vec<usize>]) -> Vec<f64> {
        members
            .iter()
            .enumerate()
            .map(|(k, rows)| {
                let xs: Vec<f64> = rows.iter().map(|&r| self.p(r)[k]).collect();
                let t = if xs.is_empty() {
                    2.0
                } else {
                    pairwise_sum(&xs) / xs.len() as f64
                };
                t.max(2e-6)
            })
            .collect()
    }

    /// The raw confident joint (diagonal at least 1) and the rows counted off its diagonal.
    fn confident_joint(&self, thresholds: &[f64]) -> (Vec<Vec<u64>>, Vec<usize>) {
        let k = self.k;
        let cut: Vec<f64> = thresholds.iter().map(|t| t - 1e-6).collect();
        let mut cj = vec![vec![0u64; k]; k];
        let mut off = Vec::new();
        for r in 0..self.n() {
            let p = self.p(r);
            let mut confident = (0..k).filter(|&j| p[j] >= cut[j]);
            let Some(first) = confident.next() else {
                continue;
            };
            let guess = if confident.next().is_none() {
                first
            } else {
                first_argmax(p)
            };
            cj[self.labels[r]][guess] += 1;
            if guess != self.labels[r] {
                off.push(r);
            }
        }
        for (j, row) in cj.iter_mut().enumerate() {
            row[j] = row[j].max(1);
        }
        (cj, off)
    }
}

/// cleanlab's `calibrate_confident_joint`, then row totals preserved by rounding.
fn calibrate(cj: &[Vec<u64>], counts: &[usize], n: usize) -> Vec<Vec<u64>> {
    let k = cj.len();
    let c: Vec<Vec<f64>> = (0..k)
        .map(|i| {
            let rowsum = cj[i].iter().sum::<u64>() as f64;
            (0..k)
                .map(|j| cj[i][j] as f64 / rowsum.max(1e-100) * counts[i] as f64)
                .collect()
        })
        .collect();
    // numpy sums the (Fortran-ordered) matrix column by column.
    let column_major: Vec<f64> = (0..k)
        .flat_map(|j| (0..k).map(move |i| (i, j)))
        .map(|(i, j)| c[i][j])
        .collect();
    let total = pairwise_sum(&column_major);
    c.iter()
        .map(|row| {
            let scaled: Vec<f64> = row
                .iter()
                .map(|v| v / total.max(1e-100) * n as f64)
                .collect();
            round_preserving_sum(&scaled)
        })
        .collect()
}

/// The prune count matrix `[given][true]` (cleanlab's `_keep_at_least_n_per_class` and
/// `_reduce_prune_counts`).
fn prune_counts(cj: &[Vec<u64>], min_examples: usize, frac_noise: f64) -> Vec<Vec<u64>> {
    let k = cj.len();
    let mut out = vec![vec![0u64; k]; k];
    for g in 0..k {
        let diag = cj[g][g] as f64;
        let new_diag = diag.max(min_examples as f64);
        let nonzero = cj[g].iter().filter(|&&v| v != 0).count() as f64;
        let dec = (new_diag - diag) / (nonzero - 1.0).max(1.0);
        let m: Vec<f64> = (0..k)
            .map(|t| {
                if t == g {
                    new_diag
                } else {
                    (cj[g][t] as f64 - dec).max(0.0)
                }
            })
            .collect();
        let reduced: Vec<f64> = m.iter().map(|v| v * frac_noise).collect();
        let extra: Vec<f64> = (0..k)
            .map(|t| {
                if t == g {
                    m[g] - m[g]
                } else {
                    m[t] - reduced[t]
                }
            })
            .collect();
        let extra = pairwise_sum(&extra);
        for t in 0..k {
            let v = if t == g { m[g] + extra } else { reduced[t] };
            out[g][t] = v.trunc().max(0.0) as u64;
        }
    }
    out
}

/// Noise rates clipped to [0, 0.9999] off the diagonal, then each column normalised to 1
/// (cleanlab's `clip_noise_rates`). `pairwise` picks numpy's column sum order.
fn clip_noise_rates(m: &[Vec<f64>], pairwise: bool) -> Vec<Vec<f64>> {
    let k = m.len();
    let c: Vec<Vec<f64>> = (0..k)
        .map(|i| {
            (0..k)
                .map(|j| {
                    if i == j {
                        m[i][j]
                    } else {
                        m[i][j].clamp(0.0, 0.9999)
                    }
                })
                .collect()
        })
        .collect();
    let sums: Vec<f64> = (0..k)
        .map(|j| {
            let column: Vec<f64> = (0..k).map(|i| c[i][j]).collect();
            if pairwise {
                pairwise_sum(&column)
            } else {
                column.iter().fold(0.0, |s, x| s + x)
            }
        })
        .collect();
    (0..k)
        .map(|i| (0..k).map(|j| c[i][j] / sums[j].max(1e-100)).collect())
        .collect()
}

/// Confident learning over `labels` (each in `0..k`) and `probs` (row-major, `k` per row),
/// rows in canonical order. `k ≥ 1`.
pub fn find_label_issues(
    labels: &[usize],
    probs: &[f64],
    k: usize,
    options: &IssueOptions,
) -> LabelIssues {
    let rows = Rows { labels, probs, k };
    let n = rows.n();
    // The rows given each class, in row order, in one pass.
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (r, &l) in labels.iter().enumerate() {
        members[l].push(r);
    }
    let counts: Vec<usize> = members.iter().map(Vec::len).collect();
    let thresholds = rows.thresholds(&members);
    let (raw, off) = rows.confident_joint(&thresholds);
    let cj = calibrate(&raw, &counts, n);
    // Not an issue whatever the filter: the given label within 1e-6 of the largest.
    let kept: Vec<bool> = (0..n)
        .map(|r| {
            // first_argmax of p with 1e-6 added at the given label, without a copy.
            let (p, given) = (rows.p(r), labels[r]);
            let bumped = p[given] + 1e-6;
            p[..given].iter().all(|&v| v < bumped) && p[given + 1..].iter().all(|&v| v <= bumped)
        })
        .collect();
    let self_confidence: Vec<f64> = (0..n).map(|r| rows.p(r)[labels[r]]).collect();
    let normalized_margin: Vec<Option<f64>> = (0..n)
        .map(|r| {
            let p = rows.p(r);
            let others = (0..k).filter(|&j| j != labels[r]).map(|j| p[j]);
            others
                .reduce(f64::max)
                .map(|m| ((p[labels[r]] - m) + 1.0) / 2.0)
        })
        .collect();
    let min_ex = options.min_examples_per_class;
    let by_noise_rate = |pc: &[Vec<u64>]| {
        let mut mask = vec![false; n];
        for c in 0..k {
            if counts[c] <= min_ex || counts[c] <= 1 {
                continue;
            }
            for j in (0..k).filter(|&j| j != c && pc[c][j] > 0) {
                let keys: Vec<f64> = members[c]
                    .iter()
                    .map(|&r| -(rows.p(r)[j] - rows.p(r)[c]))
                    .collect();
                for i in smallest(&keys, pc[c][j] as usize) {
                    mask[members[c][i]] = true;
                }
            }
        }
        mask
    };
    let by_class = |pc: &[Vec<u64>]| {
        let mut mask = vec![false; n];
        for c in 0..k {
            if counts[c] <= min_ex || counts[c] <= 1 {
                continue;
            }
            let flag = (counts[c] as u64).saturating_sub(pc[c][c]) as usize;
            let keys: Vec<f64> = members[c].iter().map(|&r| rows.p(r)[c]).collect();
            for i in smallest(&keys, flag) {
                mask[members[c][i]] = true;
            }
        }
        mask
    };
    let reduced =
        |mask: Vec<bool>| -> Vec<bool> { mask.iter().zip(&kept).map(|(&m, &k)| m && !k).collect() };
    let mut confident_learning = vec![false; n];
    for &r in &off {
        confident_learning[r] = true;
    }
    let confident_learning = reduced(confident_learning);
    let lowest = |scores: Vec<f64>| {
        let flagged = confident_learning.iter().filter(|&&f| f).count();
        let mut mask = vec![false; n];
        for r in smallest(&scores, flagged) {
            mask[r] = true;
        }
        mask
    };
    let prune = || prune_counts(&cj, min_ex, options.frac_noise);
    let is_issue = match options.filter_by {
        FilterBy::PruneByNoiseRate => reduced(by_noise_rate(&prune())),
        FilterBy::PruneByClass => reduced(by_class(&prune())),
        FilterBy::Both => {
            let pc = prune();
            let a = by_noise_rate(&pc);
            let b = by_class(&pc);
            reduced(a.iter().zip(&b).map(|(&x, &y)| x && y).collect())
        }
        FilterBy::ConfidentLearning => confident_learning.clone(),
        FilterBy::PredictedNeqGiven => reduced(
            (0..n)
                .map(|r| first_argmax(rows.p(r)) != labels[r])
                .collect(),
        ),
        FilterBy::LowNormalizedMargin => lowest(
            normalized_margin
                .iter()
                .map(|m| m.unwrap_or(f64::NAN))
                .collect(),
        ),
        FilterBy::LowSelfConfidence => lowest(self_confidence.clone()),
    };
    let total = cj.iter().flatten().sum::<u64>() as f64;
    let joint = cj
        .iter()
        .map(|row| row.iter().map(|&v| v as f64 / total.max(1e-100)).collect())
        .collect();
    let row_sums: Vec<f64> = cj
        .iter()
        .map(|row| row.iter().sum::<u64>() as f64)
        .collect();
    let col_sums: Vec<f64> = (0..k)
        .map(|j| (0..k).map(|i| cj[i][j]).sum::<u64>() as f64)
        .collect();
    let noise: Vec<Vec<f64>> = (0..k)
        .map(|i| {
            (0..k)
                .map(|j| cj[i][j] as f64 / col_sums[j].max(1e-100))
                .collect()
        })
        .collect();
    let inverse: Vec<Vec<f64>> = (0..k)
        .map(|i| {
            (0..k)
                .map(|j| cj[j][i] as f64 / row_sums[j].max(1e-100))
                .collect()
        })
        .collect();
    LabelIssues {
        is_issue,
        self_confidence,
        normalized_margin,
        suggested: (0..n).map(|r| first_argmax(rows.p(r))).collect(),
        thresholds,
        confident_joint: cj,
        joint,
        noise_matrix: clip_noise_rates(&noise, false),
        inverse_noise_matrix: clip_noise_rates(&inverse, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Xoshiro256;

    #[test]
    fn pairwise_sum_matches_a_plain_sum_up_to_rounding_and_numpy_on_small_inputs() {
        let mut rng = Xoshiro256::seed_from_u64(3);
        for n in [0, 1, 7, 8, 9, 16, 127, 128, 129, 300, 1000] {
            let xs: Vec<f64> = (0..n).map(|_| rng.unit()).collect();
            let plain: f64 = xs.iter().sum();
            assert!((pairwise_sum(&xs) - plain).abs() < 1e-12 * (1.0 + plain));
        }
        // Below 8 values numpy adds left to right.
        let xs = [1e16, 1.0, -1e16, 1.0];
        assert_eq!(pairwise_sum(&xs), ((1e16 + 1.0) - 1e16) + 1.0);
    }

    #[test]
    fn rounding_preserves_row_totals_and_breaks_ties_by_position() {
        // [3, 0, 0, 1.5, 0, 1.5, 27]: half-even gives 2 + 2, one too many; the lower of
        // the two tied entries is lowered.
        assert_eq!(
            round_preserving_sum(&[3.0, 0.0, 0.0, 1.5, 0.0, 1.5, 27.0]),
            vec![3, 0, 0, 1, 0, 2, 27]
        );
        let r = round_preserving_sum(&[0.4, 0.4, 0.2]);
        assert_eq!(r.iter().sum::<u64>(), 1);
        assert_eq!(r, vec![0, 1, 0]);
    }

    /// A slow restatement of the default filter on random data: for each given label and
    /// each other class, flag the `prune[given][true]` rows with the largest margin, by
    /// brute force over all rows; then drop rows whose label is within 1e-6 of the max.
    #[test]
    fn prune_by_noise_rate_matches_a_direct_restatement() {
        for seed in 0..20 {
            let mut rng = Xoshiro256::seed_from_u64(seed);
            let k = 2 + (seed as usize % 4);
            let n = 30 + (seed as usize * 7) % 50;
            let mut labels = Vec::new();
            let mut probs = Vec::new();
            for _ in 0..n {
                let raw: Vec<f64> = (0..k).map(|_| rng.unit().powi(3)).collect();
                let s: f64 = raw.iter().sum();
                probs.extend(raw.iter().map(|v| v / s));
                labels.push(rng.below(k as u64) as usize);
            }
            let got = find_label_issues(&labels, &probs, k, &IssueOptions::default());
            let counts: Vec<usize> = (0..k)
                .map(|c| labels.iter().filter(|&&l| l == c).count())
                .collect();
            let pc = prune_counts(&got.confident_joint, 1, 1.0);
            let mut want = vec![false; n];
            for c in 0..k {
                if counts[c] <= 1 {
                    continue;
                }
                for j in 0..k {
                    if j == c {
                        continue;
                    }
                    let mut candidates: Vec<usize> = (0..n).filter(|&r| labels[r] == c).collect();
                    candidates.sort_by(|&a, &b| {
                        let m = |r: usize| probs[r * k + j] - probs[r * k + c];
                        m(b).partial_cmp(&m(a)).unwrap().then(a.cmp(&b))
                    });
                    for &r in candidates.iter().take(pc[c][j] as usize) {
                        want[r] = true;
                    }
                }
            }
            for r in 0..n {
                let p = &probs[r * k..(r + 1) * k];
                let top = p.iter().cloned().fold(f64::MIN, f64::max);
                if p[labels[r]] + 1e-6 >= top {
                    want[r] = false;
                }
            }
            assert_eq!(got.is_issue, want, "seed {seed}");
            // The calibrated joint keeps each label's row count.
            for c in 0..k {
                assert_eq!(
                    got.confident_joint[c].iter().sum::<u64>() as usize,
                    counts[c]
                );
            }
        }
    }
}
