//! The many-facet Rasch rating-scale model with two facets (Linacre 1989; Andrich 1978):
//! item difficulty and rater severity from ordinal ratings, by joint maximum likelihood.
//!
//! A rating in category `k` of `0..=M` (the SQL layer maps the smallest rating to 0) of item
//! `i` by rater `j` has
//!
//! ```text
//! P(k | i, j) ∝ exp(Σ_{h=1..k} −(δ_i + s_j + τ_h)),   so   log P(k) / P(k − 1) = −(δ_i + s_j + τ_k)
//! ```
//!
//! with item difficulty `δ`, rater severity `s` and the scale's thresholds `τ` (higher
//! difficulty or severity, lower ratings). The likelihood does not change when every `δ`
//! moves by `c` and every `s` by `−c`, or every `τ` by `c` and every `δ` by `−c`; the
//! constraints are a mean severity of 0 and thresholds summing to 0.
//!
//! An item or rater whose every rating is the lowest category, or every rating the highest,
//! has an infinite estimate: such elements are set aside with their rows, repeatedly (setting
//! an item aside can leave a rater with only extreme ratings), and the model is fitted to the
//! rest. The rest must be connected (every item linked to every other through shared raters)
//! and use every category, or the estimates are not identified.
//!
//! Fit: block Newton steps in turn on the items, the raters (then centred) and the thresholds
//! (a dense `M × M` step, then centred), each element's step limited to one logit, until no
//! element's score residual (observed minus expected rating total) exceeds `tol`.

use crate::interrupt::{self, Interrupted};

/// Ratings in long form, one entry per row, in a canonical order.
#[derive(Debug, Clone, Copy)]
pub struct RatingRows<'a> {
    pub items: usize,
    pub raters: usize,
    /// `M`: categories are `0..=M`.
    pub steps: usize,
    pub item: &'a [u32],
    pub rater: &'a [u32],
    pub category: &'a [u32],
    /// How many times each row counts (0 counts nothing).
    pub weight: &'a [f64],
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RaschOptions {
    pub max_iter: usize,
    /// Stop when no item's, rater's or threshold's score residual exceeds this.
    pub tol: f64,
}

impl Default for RaschOptions {
    fn default() -> Self {
        Self {
            max_iter: 1000,
            tol: 1e-9,
        }
    }
}

/// One item's or rater's estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measure {
    /// Difficulty (items) or severity (raters), in logits.
    pub measure: f64,
    /// `1 / sqrt(Σ w Var)`: the model standard error, from the information on this element
    /// alone.
    pub se: f64,
    /// Information-weighted mean square: `Σ w (x − E)² / Σ w Var`.
    pub infit: f64,
    /// Unweighted mean square: the weighted mean of `(x − E)² / Var`.
    pub outfit: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RaschFit {
    /// Per item, `None` when set aside (only extreme ratings, or none left).
    pub items: Vec<Option<Measure>>,
    pub raters: Vec<Option<Measure>>,
    /// `τ_1..τ_M`, empty when every element was set aside.
    pub thresholds: Vec<f64>,
    /// Per threshold, `1 / sqrt(Σ w P(x ≥ h) P(x < h))`.
    pub threshold_se: Vec<f64>,
    /// Per category, the weight of the rows fitted.
    pub kept: Vec<f64>,
    /// The log-likelihood of the rows fitted.
    pub loglik: f64,
    pub iterations: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RaschError {
    /// No fitted row is in this category (its threshold is not identified).
    MissingCategory(usize),
    /// The fitted rows fall into this many unlinked subsets.
    Disconnected(usize),
    NotConverged {
        iterations: usize,
        residual: f64,
    },
    /// An estimate passed [`LIMIT`] logits: the likelihood has no finite maximum (the
    /// ratings order the items and raters perfectly, a Guttman pattern, for example).
    NoFiniteMaximum,
    Interrupted,
}

impl From<Interrupted> for RaschError {
    fn from(_: Interrupted) -> Self {
        RaschError::Interrupted
    }
}

/// The category probabilities at location `a = δ + s`, written into `p` (`M + 1` entries);
/// returns the mean and variance of the category.
fn categories(a: f64, tau: &[f64], p: &mut [f64]) -> (f64, f64) {
    let mut z = 0.0;
    p[0] = 0.0;
    for (h, t) in tau.iter().enumerate() {
        z -= a + t;
        p[h + 1] = z;
    }
    let top = p.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut total = 0.0;
    for v in p.iter_mut() {
        *v = (*v - top).exp();
        total += *v;
    }
    let (mut mean, mut square) = (0.0, 0.0);
    for (k, v) in p.iter_mut().enumerate() {
        *v /= total;
        mean += k as f64 * *v;
        square += (k * k) as f64 * *v;
    }
    (mean, (square - mean * mean).max(0.0))
}

/// Sets aside, repeatedly, the items and raters whose every remaining rating is the lowest
/// category or every one the highest; the rows still fitted.
fn set_aside(rows: &RatingRows, item_out: &mut [bool], rater_out: &mut [bool]) -> Vec<bool> {
    let m = rows.steps as u32;
    let n = rows.item.len();
    let mut kept: Vec<bool> = rows.weight.iter().map(|&w| w > 0.0).collect();
    loop {
        // Per element: (rows, rows at the lowest, rows at the highest).
        let mut by_item = vec![(0usize, 0usize, 0usize); rows.items];
        let mut by_rater = vec![(0usize, 0usize, 0usize); rows.raters];
        for r in (0..n).filter(|&r| kept[r]) {
            let k = rows.category[r];
            for e in [
                &mut by_item[rows.item[r] as usize],
                &mut by_rater[rows.rater[r] as usize],
            ] {
                e.0 += 1;
                e.1 += (k == 0) as usize;
                e.2 += (k == m) as usize;
            }
        }
        let mut changed = false;
        for (out, counts) in [(&mut *item_out, &by_item), (&mut *rater_out, &by_rater)] {
            for (o, &(all, low, high)) in out.iter_mut().zip(counts) {
                if !*o && (all == 0 || low == all || high == all) {
                    *o = true;
                    changed |= all > 0;
                }
            }
        }
        if !changed {
            return kept;
        }
        for r in 0..n {
            kept[r] &= !item_out[rows.item[r] as usize] && !rater_out[rows.rater[r] as usize];
        }
    }
}

/// The number of linked subsets among the elements with fitted rows.
fn subsets(rows: &RatingRows, kept: &[bool]) -> usize {
    let mut parent: Vec<usize> = (0..rows.items + rows.raters).collect();
    fn root(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    let mut used = vec![false; parent.len()];
    for r in (0..kept.len()).filter(|&r| kept[r]) {
        let (a, b) = (rows.item[r] as usize, rows.items + rows.rater[r] as usize);
        used[a] = true;
        used[b] = true;
        let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
        if ra != rb {
            parent[ra.max(rb)] = ra.min(rb);
        }
    }
    (0..parent.len())
        .filter(|&x| used[x] && root(&mut parent, x) == x)
        .count()
}

/// Solves `a x = b` for a symmetric positive definite `a` (row-major `n × n`) by Cholesky;
/// `None` if it is not positive definite.
fn solve_spd(a: &[f64], b: &[f64]) -> Option<Vec<f64>> {
    let n = b.len();
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= l[i * n + k] * l[j * n + k];
            }
            if i == j {
                if s <= 0.0 || !s.is_finite() {
                    return None;
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    let mut y = vec![0.0; n];
    for i in 0..n {
        let s: f64 = (0..i).map(|k| l[i * n + k] * y[k]).sum();
        y[i] = (b[i] - s) / l[i * n + i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| l[k * n + i] * x[k]).sum();
        x[i] = (y[i] - s) / l[i * n + i];
    }
    Some(x)
}

/// The largest step an element takes in one iteration, in logits.
const MAX_STEP: f64 = 1.0;

/// No finite estimate comes near this many logits (odds of e³⁰, about 10¹³); an estimate
/// past it is running off to infinity.
pub const LIMIT: f64 = 30.0;

/// Fits the model; see the module documentation.
pub fn rasch(rows: &RatingRows, options: &RaschOptions) -> Result<RaschFit, RaschError> {
    let (ni, nj, m) = (rows.items, rows.raters, rows.steps);
    let mut item_out = vec![false; ni];
    let mut rater_out = vec![false; nj];
    let kept = set_aside(rows, &mut item_out, &mut rater_out);
    let fitted: Vec<usize> = (0..kept.len()).filter(|&r| kept[r]).collect();
    let mut counts = vec![0.0; m + 1];
    for &r in &fitted {
        counts[rows.category[r] as usize] += rows.weight[r];
    }
    if fitted.is_empty() {
        return Ok(RaschFit {
            items: vec![None; ni],
            raters: vec![None; nj],
            thresholds: Vec::new(),
            threshold_se: Vec::new(),
            kept: counts,
            loglik: 0.0,
            iterations: 0,
        });
    }
    if let Some(k) = counts.iter().position(|&c| c == 0.0) {
        return Err(RaschError::MissingCategory(k));
    }
    let linked = subsets(rows, &kept);
    if linked > 1 {
        return Err(RaschError::Disconnected(linked));
    }
    let (mut delta, mut sev, mut tau) = (vec![0.0; ni], vec![0.0; nj], vec![0.0; m]);
    let raters_kept = rater_out.iter().filter(|&&o| !o).count() as f64;
    let mut p = vec![0.0; m + 1];
    let mut iterations = 0;
    loop {
        interrupt::check()?;
        if iterations == options.max_iter {
            let residual = largest_residual(rows, &fitted, &delta, &sev, &tau);
            return Err(RaschError::NotConverged {
                iterations,
                residual,
            });
        }
        iterations += 1;
        let mut residual: f64 = 0.0;
        // Items, then raters: each element's Newton step on its own score.
        for facet in 0..2 {
            let size = if facet == 0 { ni } else { nj };
            let (mut score, mut info) = (vec![0.0; size], vec![0.0; size]);
            for &r in &fitted {
                let (i, j) = (rows.item[r] as usize, rows.rater[r] as usize);
                let (e, v) = categories(delta[i] + sev[j], &tau, &mut p);
                let w = rows.weight[r];
                let at = if facet == 0 { i } else { j };
                score[at] += w * (rows.category[r] as f64 - e);
                info[at] += w * v;
            }
            let values = if facet == 0 { &mut delta } else { &mut sev };
            let out = if facet == 0 { &item_out } else { &rater_out };
            for x in (0..size).filter(|&x| !out[x]) {
                residual = residual.max(score[x].abs());
                if info[x] > 0.0 {
                    values[x] -= (score[x] / info[x]).clamp(-MAX_STEP, MAX_STEP);
                }
            }
        }
        let centre = (0..nj)
            .filter(|&j| !rater_out[j])
            .map(|j| sev[j])
            .sum::<f64>()
            / raters_kept;
        for (j, s) in sev.iter_mut().enumerate() {
            if !rater_out[j] {
                *s -= centre;
            }
        }
        for (i, d) in delta.iter_mut().enumerate() {
            if !item_out[i] {
                *d += centre;
            }
        }
        // Thresholds: gradient Σ w (P(x ≥ h) − [x ≥ h]), information the covariance of the
        // step indicators.
        let mut gradient = vec![0.0; m];
        let mut info = vec![0.0; m * m];
        let mut above = vec![0.0; m];
        for &r in &fitted {
            let (i, j) = (rows.item[r] as usize, rows.rater[r] as usize);
            categories(delta[i] + sev[j], &tau, &mut p);
            let w = rows.weight[r];
            let k = rows.category[r] as usize;
            // above[h] = P(x ≥ h + 1)
            let mut tail = 0.0;
            for h in (0..m).rev() {
                tail += p[h + 1];
                above[h] = tail;
            }
            for h in 0..m {
                gradient[h] += w * (above[h] - (k > h) as u8 as f64);
                for g in 0..=h {
                    // P(x ≥ max) − P(x ≥ h) P(x ≥ g), max(h, g) = h.
                    info[h * m + g] += w * (above[h] - above[h] * above[g]);
                }
            }
        }
        for h in 0..m {
            for g in 0..h {
                info[g * m + h] = info[h * m + g];
            }
        }
        residual = residual.max(gradient.iter().fold(0.0, |a: f64, g| a.max(g.abs())));
        // Maximising: τ ← τ − H⁻¹ g with H = −info.
        if let Some(step) = solve_spd(&info, &gradient) {
            let largest = step.iter().fold(0.0, |a: f64, s| a.max(s.abs()));
            let scale = if largest > MAX_STEP {
                MAX_STEP / largest
            } else {
                1.0
            };
            for (t, s) in tau.iter_mut().zip(&step) {
                *t += scale * s;
            }
        }
        let centre = tau.iter().sum::<f64>() / m as f64;
        for t in tau.iter_mut() {
            *t -= centre;
        }
        for (i, d) in delta.iter_mut().enumerate() {
            if !item_out[i] {
                *d -= centre;
            }
        }
        let largest = delta
            .iter()
            .chain(&sev)
            .chain(&tau)
            .fold(0.0, |a: f64, x| a.max(x.abs()));
        if largest > LIMIT {
            return Err(RaschError::NoFiniteMaximum);
        }
        if residual <= options.tol {
            break;
        }
    }
    Ok(summarise(
        rows, &fitted, &item_out, &rater_out, delta, sev, tau, counts, iterations,
    ))
}

/// The largest score residual of any item, rater or threshold.
fn largest_residual(
    rows: &RatingRows,
    fitted: &[usize],
    delta: &[f64],
    sev: &[f64],
    tau: &[f64],
) -> f64 {
    let m = tau.len();
    let mut p = vec![0.0; m + 1];
    let mut by_item = vec![0.0; delta.len()];
    let mut by_rater = vec![0.0; sev.len()];
    let mut by_step = vec![0.0; m];
    for &r in fitted {
        let (i, j) = (rows.item[r] as usize, rows.rater[r] as usize);
        let (e, _) = categories(delta[i] + sev[j], tau, &mut p);
        let (w, k) = (rows.weight[r], rows.category[r] as usize);
        by_item[i] += w * (k as f64 - e);
        by_rater[j] += w * (k as f64 - e);
        let mut tail = 0.0;
        for h in (0..m).rev() {
            tail += p[h + 1];
            by_step[h] += w * (tail - (k > h) as u8 as f64);
        }
    }
    by_item
        .iter()
        .chain(&by_rater)
        .chain(&by_step)
        .fold(0.0, |a: f64, x| a.max(x.abs()))
}

#[allow(clippy::too_many_arguments)]
fn summarise(
    rows: &RatingRows,
    fitted: &[usize],
    item_out: &[bool],
    rater_out: &[bool],
    delta: Vec<f64>,
    sev: Vec<f64>,
    tau: Vec<f64>,
    kept: Vec<f64>,
    iterations: usize,
) -> RaschFit {
    let m = tau.len();
    let mut p = vec![0.0; m + 1];
    // Per element: Σ w Var, Σ w (x − E)², Σ w (x − E)² / Var, Σ w.
    let mut by_item = vec![[0.0; 4]; delta.len()];
    let mut by_rater = vec![[0.0; 4]; sev.len()];
    let mut step_info = vec![0.0; m];
    let mut loglik = 0.0;
    for &r in fitted {
        let (i, j) = (rows.item[r] as usize, rows.rater[r] as usize);
        let (e, v) = categories(delta[i] + sev[j], &tau, &mut p);
        let (w, k) = (rows.weight[r], rows.category[r] as usize);
        let d2 = (k as f64 - e).powi(2);
        for acc in [&mut by_item[i], &mut by_rater[j]] {
            acc[0] += w * v;
            acc[1] += w * d2;
            acc[2] += w * d2 / v;
            acc[3] += w;
        }
        loglik += w * p[k].ln();
        let mut tail = 0.0;
        for h in (0..m).rev() {
            tail += p[h + 1];
            step_info[h] += w * tail * (1.0 - tail);
        }
    }
    let measures = |values: &[f64], out: &[bool], acc: &[[f64; 4]]| -> Vec<Option<Measure>> {
        (0..values.len())
            .map(|x| {
                (!out[x]).then(|| Measure {
                    measure: values[x],
                    se: 1.0 / acc[x][0].sqrt(),
                    infit: acc[x][1] / acc[x][0],
                    outfit: acc[x][2] / acc[x][3],
                })
            })
            .collect()
    };
    RaschFit {
        items: measures(&delta, item_out, &by_item),
        raters: measures(&sev, rater_out, &by_rater),
        threshold_se: step_info.iter().map(|i| 1.0 / i.sqrt()).collect(),
        thresholds: tau,
        kept,
        loglik,
        iterations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Xoshiro256;

    /// Draws a category from the model.
    fn draw(rng: &mut Xoshiro256, a: f64, tau: &[f64]) -> u32 {
        let mut p = vec![0.0; tau.len() + 1];
        categories(a, tau, &mut p);
        let u = rng.unit();
        let mut c = 0.0;
        for (k, q) in p.iter().enumerate() {
            c += q;
            if u < c {
                return k as u32;
            }
        }
        tau.len() as u32
    }

    struct Owned {
        items: usize,
        raters: usize,
        steps: usize,
        item: Vec<u32>,
        rater: Vec<u32>,
        category: Vec<u32>,
        weight: Vec<f64>,
    }

    impl Owned {
        fn rows(&self) -> RatingRows<'_> {
            RatingRows {
                items: self.items,
                raters: self.raters,
                steps: self.steps,
                item: &self.item,
                rater: &self.rater,
                category: &self.category,
                weight: &self.weight,
            }
        }
    }

    fn generated(seed: u64, items: usize, raters: usize, tau: &[f64]) -> Owned {
        let mut rng = Xoshiro256::seed_from_u64(seed);
        let delta: Vec<f64> = (0..items).map(|_| 2.0 * rng.unit() - 1.0).collect();
        let sev: Vec<f64> = (0..raters).map(|_| 2.0 * rng.unit() - 1.0).collect();
        let mut o = Owned {
            items,
            raters,
            steps: tau.len(),
            item: Vec::new(),
            rater: Vec::new(),
            category: Vec::new(),
            weight: Vec::new(),
        };
        for i in 0..items {
            for j in 0..raters {
                if rng.unit() < 0.8 {
                    o.item.push(i as u32);
                    o.rater.push(j as u32);
                    o.category.push(draw(&mut rng, delta[i] + sev[j], tau));
                    o.weight.push(1.0);
                }
            }
        }
        o
    }

    /// At the fit every score equation holds, by a plain recomputation: each item's and
    /// rater's expected rating total equals the observed, and each threshold's expected count
    /// above it equals the observed; and the constraints hold.
    #[test]
    fn the_fit_solves_the_likelihood_equations() {
        for seed in 0..8 {
            let tau = [[-1.0, 1.0].as_slice(), &[-1.5, -0.2, 0.4, 1.3], &[0.0]][seed as usize % 3];
            let o = generated(seed, 12 + seed as usize, 3 + seed as usize % 4, tau);
            let fit = rasch(&o.rows(), &RaschOptions::default()).unwrap();
            let m = o.steps;
            let d = |i: usize| fit.items[i].map(|x| x.measure);
            let s = |j: usize| fit.raters[j].map(|x| x.measure);
            let mut item_sum = vec![0.0; o.items];
            let mut rater_sum = vec![0.0; o.raters];
            let mut step_sum = vec![0.0; m];
            for r in 0..o.item.len() {
                let (i, j) = (o.item[r] as usize, o.rater[r] as usize);
                let (Some(di), Some(sj)) = (d(i), s(j)) else {
                    continue;
                };
                // Probabilities straight from the definition.
                let mut w: Vec<f64> = vec![1.0];
                for h in 0..m {
                    let last = *w.last().unwrap();
                    w.push(last * (-(di + sj + fit.thresholds[h])).exp());
                }
                let total: f64 = w.iter().sum();
                let e: f64 = w
                    .iter()
                    .enumerate()
                    .map(|(k, v)| k as f64 * v / total)
                    .sum();
                let k = o.category[r] as f64;
                item_sum[i] += k - e;
                rater_sum[j] += k - e;
                for h in 0..m {
                    let above: f64 = w[h + 1..].iter().sum::<f64>() / total;
                    step_sum[h] += above - (o.category[r] as usize > h) as u8 as f64;
                }
            }
            for x in item_sum.iter().chain(&rater_sum).chain(&step_sum) {
                assert!(x.abs() < 1e-7, "seed {seed}: score residual {x}");
            }
            let kept: Vec<f64> = (0..o.raters).filter_map(s).collect();
            assert!(kept.iter().sum::<f64>().abs() < 1e-9, "seed {seed}");
            assert!(
                fit.thresholds.iter().sum::<f64>().abs() < 1e-9,
                "seed {seed}"
            );
        }
    }

    /// Extreme elements are set aside in rounds: an item rated only at the top, then the
    /// rater who rated only that item.
    #[test]
    fn extreme_elements_are_set_aside_in_rounds() {
        let mut o = generated(3, 10, 3, &[-0.5, 0.5]);
        // Item 10: every rating at the top, from raters 0 and 3; rater 3 rated nothing else.
        o.items = 11;
        o.raters = 4;
        for j in [0u32, 3] {
            o.item.push(10);
            o.rater.push(j);
            o.category.push(2);
            o.weight.push(1.0);
        }
        let fit = rasch(&o.rows(), &RaschOptions::default()).unwrap();
        assert!(fit.items[10].is_none());
        assert!(fit.raters[3].is_none());
        // The same fit as without those rows (the generated rows may have extreme items of
        // their own: they are set aside alike).
        let mut without = generated(3, 10, 3, &[-0.5, 0.5]);
        without.items = 11;
        without.raters = 4;
        let plain = rasch(&without.rows(), &RaschOptions::default()).unwrap();
        assert!(fit.items.iter().filter(|x| x.is_some()).count() >= 8);
        for (a, b) in fit
            .items
            .iter()
            .chain(&fit.raters)
            .zip(plain.items.iter().chain(&plain.raters))
        {
            match (a, b) {
                (Some(a), Some(b)) => assert!((a.measure - b.measure).abs() < 1e-9),
                (None, None) => {}
                _ => panic!("set aside differently"),
            }
        }
    }

    #[test]
    fn unidentified_data_is_refused() {
        // Two raters with disjoint items: two subsets.
        let o = Owned {
            items: 2,
            raters: 2,
            steps: 1,
            item: vec![0, 0, 1, 1],
            rater: vec![0, 0, 1, 1],
            category: vec![0, 1, 0, 1],
            weight: vec![1.0; 4],
        };
        assert_eq!(
            rasch(&o.rows(), &RaschOptions::default()),
            Err(RaschError::Disconnected(2))
        );
        // Category 1 of 0..=2 never used.
        let o = Owned {
            items: 2,
            raters: 1,
            steps: 2,
            item: vec![0, 0, 1, 1],
            rater: vec![0; 4],
            category: vec![0, 2, 0, 2],
            weight: vec![1.0; 4],
        };
        assert_eq!(
            rasch(&o.rows(), &RaschOptions::default()),
            Err(RaschError::MissingCategory(1))
        );
        // A Guttman pattern: no element is extreme, but the ratings order items and raters
        // perfectly, so the likelihood rises without end.
        let o = Owned {
            items: 4,
            raters: 3,
            steps: 2,
            item: vec![0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3],
            rater: vec![0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2],
            category: vec![2, 2, 1, 1, 2, 1, 1, 0, 1, 1, 0, 0],
            weight: vec![1.0; 12],
        };
        assert_eq!(
            rasch(&o.rows(), &RaschOptions::default()),
            Err(RaschError::NoFiniteMaximum)
        );
        // Everything extreme: nothing fitted, no error.
        let o = Owned {
            items: 1,
            raters: 1,
            steps: 1,
            item: vec![0, 0],
            rater: vec![0, 0],
            category: vec![1, 1],
            weight: vec![1.0; 2],
        };
        let fit = rasch(&o.rows(), &RaschOptions::default()).unwrap();
        assert!(fit.items[0].is_none() && fit.thresholds.is_empty());
    }
}
