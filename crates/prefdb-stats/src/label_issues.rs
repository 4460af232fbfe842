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

use std::ops::Range;

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
    pub normalized_margin: Option<Vec<f64>>,
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

/// The `m` smallest of a stream of keys offered at increasing positions, ties to the lower
/// position: the first `m` of a stable ascending sort (keys ordered by `total_cmp`), in
/// linear expected time and `O(m)` memory. Keys collect in a buffer; when it holds `2m`, a
/// selection keeps the `m` smallest, and from then on a key not below the largest kept is
/// rejected by one integer comparison (on random keys almost all of them).
struct Smallest {
    m: usize,
    kept: Vec<Keyed>,
    /// Whether a selection has been made (always, for `m = 0`): then `limit` holds.
    selected: bool,
    /// After the first selection, the largest key kept: later keys at or above it are out
    /// (an equal key comes later, so it sorts after the kept one).
    limit: i64,
}

/// A key (as [`total_order`]) and its position, ordered by key, then position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Keyed(i64, u32);

/// `x` as an integer that orders as `f64::total_cmp` orders (−0 below +0, NaNs at the
/// ends): the sign bit flips the rest of a negative number's bits.
#[inline]
fn total_order(x: f64) -> i64 {
    let bits = x.to_bits() as i64;
    bits ^ (((bits >> 63) as u64) >> 1) as i64
}

impl Smallest {
    fn new(m: usize) -> Self {
        Self {
            m,
            kept: Vec::new(),
            selected: m == 0,
            limit: i64::MIN,
        }
    }

    /// Offers `key` at `position`; positions must increase from one call to the next.
    #[inline]
    fn offer(&mut self, key: f64, position: u32) {
        let key = total_order(key);
        if self.selected && key >= self.limit {
            return;
        }
        self.kept.push(Keyed(key, position));
        if self.kept.len() >= 2 * self.m {
            self.select();
        }
    }

    /// Keeps the `m` smallest of the buffer.
    fn select(&mut self) {
        if self.kept.len() > self.m {
            self.kept.select_nth_unstable(self.m - 1);
            self.kept.truncate(self.m);
            self.limit = self.kept[self.m - 1].0;
            self.selected = true;
        }
    }

    /// Joins the selection of another range of positions.
    fn absorb(&mut self, other: Smallest) {
        self.kept.extend(other.kept);
        self.select();
    }

    /// The positions kept, in no particular order.
    fn positions(mut self) -> impl Iterator<Item = usize> {
        self.select();
        self.kept.into_iter().map(|k| k.1 as usize)
    }
}

/// The positions of the `m` smallest `keys`, ties to the lower position.
fn smallest(keys: impl Iterator<Item = f64>, m: usize) -> Vec<usize> {
    let mut s = Smallest::new(m);
    if m > 0 {
        for (i, key) in keys.enumerate() {
            s.offer(key, i as u32);
        }
    }
    s.positions().collect()
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

/// Rows at or above this are scanned on every core.
const PARALLEL_ROWS: usize = 1 << 16;

/// The length of the row ranges scanned in parallel.
fn chunk_len(n: usize) -> usize {
    let threads = match n >= PARALLEL_ROWS {
        true => std::thread::available_parallelism().map_or(1, |t| t.get().min(8)),
        false => 1,
    };
    n.div_ceil(threads).max(1)
}

/// `f` over each of `parts`, on its own thread when there are several; the results in order.
fn in_parallel<P: Send, R: Send>(parts: Vec<P>, f: impl Fn(P) -> R + Sync) -> Vec<R> {
    if parts.len() <= 1 {
        return parts.into_iter().map(f).collect();
    }
    std::thread::scope(|scope| {
        let f = &f;
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| scope.spawn(move || f(part)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// Per row: the argmax, the normalized margin (NaN with one class), whether the given label
/// is within 1e-6 of the largest probability (then no filter flags the row, except the two
/// low_* filters), and whether the confident joint counts the row off its diagonal.
struct Scanned {
    suggested: Vec<usize>,
    margin: Vec<f64>,
    kept: Vec<bool>,
    off_diagonal: Vec<bool>,
}

/// One range of [`Scanned`]'s rows, to be filled.
struct ScannedPart<'a> {
    suggested: &'a mut [usize],
    margin: &'a mut [f64],
    kept: &'a mut [bool],
    off_diagonal: &'a mut [bool],
}

impl Scanned {
    /// The rows in [`ranges`] of `len`, each with its range.
    fn chunks_mut(&mut self, len: usize) -> Vec<(Range<usize>, ScannedPart<'_>)> {
        let n = self.suggested.len();
        ranges(n, len)
            .zip(self.suggested.chunks_mut(len))
            .zip(self.margin.chunks_mut(len))
            .zip(self.kept.chunks_mut(len))
            .zip(self.off_diagonal.chunks_mut(len))
            .map(|((((range, suggested), margin), kept), off_diagonal)| {
                let part = ScannedPart {
                    suggested,
                    margin,
                    kept,
                    off_diagonal,
                };
                (range, part)
            })
            .collect()
    }
}

/// `0..n` in consecutive ranges of `len` (the last shorter).
fn ranges(n: usize, len: usize) -> impl Iterator<Item = Range<usize>> {
    (0..n).step_by(len.max(1)).map(move |s| s..(s + len).min(n))
}

/// Scans `rows` (with their `labels`) into `out`; the raw confident joint of the range.
/// Written without data-dependent branches (each row's loops select with comparisons),
/// so that the compiler keeps a row's ten-odd probabilities in registers.
fn scan(rows: &[&[f64]], labels: &[usize], cut: &[f64], out: ScannedPart<'_>) -> Vec<Vec<u64>> {
    let k = cut.len();
    let mut raw = vec![vec![0u64; k]; k];
    for (r, (p, &given)) in rows.iter().zip(labels).enumerate() {
        let p = &p[..k];
        // The argmax (first on ties), and the classes at or above their threshold: how
        // many, and the first.
        let (mut best, mut top) = (0, p[0]);
        let (mut confident, mut first) = (0usize, usize::MAX);
        for (j, (&v, &c)) in p.iter().zip(cut).enumerate() {
            let higher = v > top;
            best = if higher { j } else { best };
            top = if higher { v } else { top };
            let at_least = v >= c;
            confident += at_least as usize;
            first = first.min(if at_least { j } else { usize::MAX });
        }
        // The largest other probability, and whether the given label is within 1e-6 of
        // every other (strictly for the classes before it, which win a tie).
        let mine = p[given];
        let bumped = mine + 1e-6;
        let (before, after) = (&p[..given], &p[given + 1..]);
        let mut other = f64::NEG_INFINITY;
        let mut within = true;
        for &v in before {
            other = other.max(v);
            within &= v < bumped;
        }
        for &v in after {
            other = other.max(v);
            within &= v <= bumped;
        }
        out.suggested[r] = best;
        out.kept[r] = within;
        out.margin[r] = match k > 1 {
            true => ((mine - other) + 1.0) / 2.0,
            false => f64::NAN,
        };
        if confident > 0 {
            let guess = if confident == 1 { first } else { best };
            raw[given][guess] += 1;
            out.off_diagonal[r] = guess != given;
        }
    }
    raw
}

/// Confident learning over `labels` (each in `0..k`) and `probs` (row-major, `k` per row),
/// rows in canonical order. `k ≥ 1`.
pub fn find_label_issues(
    labels: &[usize],
    probs: &[f64],
    k: usize,
    options: &IssueOptions,
) -> LabelIssues {
    let rows: Vec<&[f64]> = probs.chunks_exact(k.max(1)).collect();
    find_label_issues_in(labels, &rows, k, options)
}

/// [`find_label_issues`] over rows held anywhere: `rows[r]` is row `r`'s `k` probabilities,
/// rows in canonical order. The rows are read once for the scores and the confident joint,
/// and once more by class for `prune_by_noise_rate`.
pub fn find_label_issues_in(
    labels: &[usize],
    rows: &[&[f64]],
    k: usize,
    options: &IssueOptions,
) -> LabelIssues {
    find_label_issues_ranged(labels, rows, k, options, chunk_len(labels.len()))
}

/// [`find_label_issues_in`] with the rows scanned in parallel ranges of `range` rows.
fn find_label_issues_ranged(
    labels: &[usize],
    rows: &[&[f64]],
    k: usize,
    options: &IssueOptions,
    range: usize,
) -> LabelIssues {
    let n = labels.len();
    let mut counts = vec![0usize; k];
    for &l in labels {
        counts[l] += 1;
    }
    // Each row's p[given], read on every core (one cache line per row, of rows held
    // anywhere).
    let mut self_confidence = vec![0.0; n];
    let parts = ranges(n, range)
        .zip(self_confidence.chunks_mut(range))
        .collect();
    in_parallel(parts, |(r, out): (Range<usize>, &mut [f64])| {
        for ((o, p), &l) in out.iter_mut().zip(&rows[r.clone()]).zip(&labels[r]) {
            *o = p[l];
        }
    });
    // Per class, the mean of p[class] over the rows given it (numpy's pairwise sum in row
    // order), at least 2e-6; 2 for a class no row is given.
    let mut given: Vec<Vec<f64>> = counts.iter().map(|&c| Vec::with_capacity(c)).collect();
    for (&sc, &l) in self_confidence.iter().zip(labels) {
        given[l].push(sc);
    }
    let thresholds: Vec<f64> = given
        .iter()
        .map(|xs| match xs.is_empty() {
            true => 2.0,
            false => (pairwise_sum(xs) / xs.len() as f64).max(2e-6),
        })
        .collect();
    drop(given);
    let cut: Vec<f64> = thresholds.iter().map(|t| t - 1e-6).collect();
    // One pass over the rows, in ranges on every core for large inputs: the raw confident
    // joint (integer counts, so the same whatever the split), and per row its argmax,
    // margin, whether the joint counts it off its diagonal and whether it is kept.
    let mut scanned = Scanned {
        suggested: vec![0; n],
        // Every row's margin is written by the scan: zeroed pages, touched in parallel.
        margin: vec![0.0; n],
        kept: vec![false; n],
        off_diagonal: vec![false; n],
    };
    let parts = scanned.chunks_mut(range);
    let mut raw = vec![vec![0u64; k]; k];
    for part in in_parallel(parts, |(r, out)| {
        scan(&rows[r.clone()], &labels[r], &cut, out)
    }) {
        for (total, counts) in raw.iter_mut().zip(part) {
            for (t, c) in total.iter_mut().zip(counts) {
                *t += c;
            }
        }
    }
    for (j, row) in raw.iter_mut().enumerate() {
        row[j] = row[j].max(1);
    }
    let Scanned {
        suggested,
        margin: margins,
        kept,
        off_diagonal,
    } = scanned;
    let normalized_margin = (k > 1).then_some(margins);
    let cj = calibrate(&raw, &counts, n);
    let min_ex = options.min_examples_per_class;
    let prunable = |c: usize| counts[c] > min_ex && counts[c] > 1;
    let by_noise_rate = |pc: &[Vec<u64>]| {
        // For each given label c and other class j, the pc[c][j] rows of label c with the
        // largest p[j] - p[c]. One more pass over the rows in order (sequential reads, where
        // a pass per label would wait on a cache miss per row), each row offering its keys
        // to its label's selections; a row's position is its row number, which orders the
        // rows of one label as their positions among that label's rows would.
        let targets: Vec<Vec<usize>> = (0..k)
            .map(|c| match prunable(c) {
                true => (0..k).filter(|&j| j != c && pc[c][j] > 0).collect(),
                false => Vec::new(),
            })
            .collect();
        let parts = in_parallel(ranges(n, range).collect(), |rs: Range<usize>| {
            let mut selections: Vec<Vec<Smallest>> = targets
                .iter()
                .enumerate()
                .map(|(c, js)| {
                    js.iter()
                        .map(|&j| Smallest::new(pc[c][j] as usize))
                        .collect()
                })
                .collect();
            for r in rs {
                let (p, c) = (rows[r], labels[r]);
                let pc = p[c];
                for (s, &j) in selections[c].iter_mut().zip(&targets[c]) {
                    s.offer(-(p[j] - pc), r as u32);
                }
            }
            selections
        });
        // Each range's selections joined: the smallest of the union.
        let mut parts = parts.into_iter();
        let mut selections = parts.next().unwrap_or_default();
        for part in parts {
            for (mine, theirs) in selections
                .iter_mut()
                .flatten()
                .zip(part.into_iter().flatten())
            {
                mine.absorb(theirs);
            }
        }
        let mut mask = vec![false; n];
        for r in selections
            .into_iter()
            .flatten()
            .flat_map(Smallest::positions)
        {
            mask[r] = true;
        }
        mask
    };
    let by_class = |pc: &[Vec<u64>]| {
        // The rows given each class, in row order.
        let mut members: Vec<Vec<u32>> = counts.iter().map(|&c| Vec::with_capacity(c)).collect();
        for (r, &l) in labels.iter().enumerate() {
            members[l].push(r as u32);
        }
        let mut mask = vec![false; n];
        for c in (0..k).filter(|&c| prunable(c)) {
            let flag = (counts[c] as u64).saturating_sub(pc[c][c]) as usize;
            let keys = members[c].iter().map(|&r| self_confidence[r as usize]);
            for i in smallest(keys, flag) {
                mask[members[c][i] as usize] = true;
            }
        }
        mask
    };
    let reduced =
        |mask: Vec<bool>| -> Vec<bool> { mask.iter().zip(&kept).map(|(&m, &k)| m && !k).collect() };
    let confident_learning = reduced(off_diagonal);
    let lowest = |scores: &mut dyn Iterator<Item = f64>| {
        let flagged = confident_learning.iter().filter(|&&f| f).count();
        let mut mask = vec![false; n];
        for r in smallest(scores, flagged) {
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
        FilterBy::PredictedNeqGiven => {
            reduced(suggested.iter().zip(labels).map(|(s, l)| s != l).collect())
        }
        FilterBy::LowNormalizedMargin => match &normalized_margin {
            Some(m) => lowest(&mut m.iter().copied()),
            None => lowest(&mut std::iter::repeat_n(f64::NAN, n)),
        },
        FilterBy::LowSelfConfidence => lowest(&mut self_confidence.iter().copied()),
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
        suggested,
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

    /// Keys compare as integers exactly as `total_cmp` compares them, signed zeros and
    /// NaNs included.
    #[test]
    fn total_order_is_total_cmp() {
        let mut rng = Xoshiro256::seed_from_u64(17);
        let mut xs = vec![
            0.0,
            -0.0,
            1e-300,
            -1e-300,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
            1.0,
            -1.0,
            f64::MAX,
            f64::MIN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -f64::NAN,
        ];
        xs.extend((0..200).map(|_| (rng.unit() - 0.5) * 4.0));
        for &a in &xs {
            for &b in &xs {
                assert_eq!(
                    total_order(a).cmp(&total_order(b)),
                    a.total_cmp(&b),
                    "{a:e} against {b:e}"
                );
            }
        }
    }

    /// The bounded selection equals the first `m` of a stable sort, on keys with many exact
    /// ties and every `m` from none to more than all.
    #[test]
    fn smallest_is_the_head_of_a_stable_sort() {
        let mut rng = Xoshiro256::seed_from_u64(11);
        for case in 0..200 {
            let n = rng.below(60) as usize;
            let distinct = 1 + rng.below(if case % 2 == 0 { 4 } else { 1000 });
            let keys: Vec<f64> = (0..n)
                .map(|_| rng.below(distinct) as f64 - if case % 3 == 0 { 0.0 } else { 2.0 })
                .collect();
            let m = rng.below(n as u64 + 3) as usize;
            let mut got = smallest(keys.iter().copied(), m);
            got.sort_unstable();
            let mut want = stable_argsort(&keys);
            want.truncate(m);
            want.sort_unstable();
            assert_eq!(got, want, "case {case}: keys {keys:?}, m {m}");
        }
    }

    /// Rows scanned in parallel ranges give what one range gives, bit for bit, for every
    /// filter (each range keeps its own selections, which are then joined).
    #[test]
    fn ranges_scanned_in_parallel_change_nothing() {
        let mut rng = Xoshiro256::seed_from_u64(5);
        let (n, k) = (3001, 4);
        let mut labels = Vec::new();
        let mut probs = Vec::new();
        for _ in 0..n {
            // Quarters, so that exact ties straddle the ranges.
            let raw: Vec<f64> = (0..k).map(|_| rng.below(4) as f64).collect();
            let s: f64 = raw.iter().sum::<f64>().max(1.0);
            probs.extend(raw.iter().map(|v| v / s));
            labels.push(rng.below(k as u64) as usize);
        }
        let rows: Vec<&[f64]> = probs.chunks_exact(k).collect();
        for filter_by in [
            FilterBy::PruneByNoiseRate,
            FilterBy::PruneByClass,
            FilterBy::Both,
            FilterBy::ConfidentLearning,
            FilterBy::PredictedNeqGiven,
            FilterBy::LowNormalizedMargin,
            FilterBy::LowSelfConfidence,
        ] {
            let options = IssueOptions {
                filter_by,
                ..IssueOptions::default()
            };
            let one = find_label_issues_ranged(&labels, &rows, k, &options, n);
            for range in [1000, 1001, 1500] {
                let many = find_label_issues_ranged(&labels, &rows, k, &options, range);
                assert!(one == many, "{filter_by:?} in ranges of {range}");
            }
            assert!(
                one.is_issue.iter().any(|&i| i),
                "{filter_by:?} flags nothing"
            );
        }
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
