//! Sandwich (robust) covariances, and the inverse-propensity reweighting of pairs that
//! LMArena's leaderboard uses.
//!
//! A fit maximises `Σ_r w_r ℓ_r(θ)` (less a prior). With `H` the negative Hessian of that
//! objective at the fit and `G = Σ_r w_r² u_r u_rᵀ` the sum of outer products of the rows'
//! weighted scores `w_r u_r = w_r ∇ℓ_r`, the sandwich covariance is `H⁻¹ G H⁻¹` (Huber 1967;
//! White 1982). It stays right when the model is wrong, and when the weights are importance
//! weights rather than counts.
//!
//! Weights come in two kinds here, and `G` treats them differently:
//! - a row's **weight column** is a frequency weight (the number of votes the row stands
//!   for), as in the fit, Fisher intervals and the bootstrap: `f` votes add `f u uᵀ`;
//! - the **reweighting factor** `ρ` of `reweight=pair` is an importance weight: it scales
//!   the score, so it enters `G` squared.
//!
//! With `pairs` already scaled by `ρ` (the counts the fit sees), a cell of count `c'` (so
//! `c'/ρ` votes) adds `ρ c' u uᵀ` to `G`. All rows of one (pair, outcome) cell share their
//! score, so `G` is summed from the merged pair table without a pass over the rows.
//!
//! The **model-based** covariance under importance weights (`Meat::Expected`, what
//! `se=fisher` reports once pairs are reweighted) replaces each cell's `u uᵀ` by its
//! expectation, the information: `G_F = Σ_pairs ρ I_pair`. Without reweighting it is `H`
//! less the prior, and `se=fisher` keeps the plain inverse `H⁻¹`.
//!
//! With prior 0 only differences of strengths are identified. `H` is pinned along the
//! constant direction before inverting, which the scores never point along (`G 1 = 0`), so
//! the product is the pseudo-inverse sandwich `H⁺ G H⁺`; every covariance returned is that
//! of the centred strengths, as [`super::fisher_covariance`]'s.

use super::bradley_terry::{BtOptions, TieHandling};
use super::linalg::{centre_strengths, invert_spd};
use super::plackett_luce::Ranking;
use super::tie_models::{pair_terms, TieFit, TieModel};
use super::PairOutcomes;

/// Which middle the sandwich has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Meat {
    /// The observed scores' outer products: the robust (sandwich) covariance.
    Observed,
    /// Their expectation under the model, the information: the model-based covariance of an
    /// importance-weighted fit (and, without importance weights, Fisher's inverse).
    #[default]
    Expected,
}

/// Each pair's factor under `reweight=pair`: `1 / max(n_pair, min_pair_count)`, with
/// `n_pair` the pair's weighted number of votes (arena-rank's `reweighted=True`).
pub fn pair_reweights(pairs: &[PairOutcomes], min_pair_count: f64) -> Vec<f64> {
    pairs
        .iter()
        .map(|p| 1.0 / p.total().max(min_pair_count))
        .collect()
}

/// `pairs` with every count multiplied by its pair's factor.
pub fn scale_pairs(pairs: &[PairOutcomes], factors: &[f64]) -> Vec<PairOutcomes> {
    pairs
        .iter()
        .zip(factors)
        .map(|(p, &f)| PairOutcomes {
            a_wins: p.a_wins * f,
            b_wins: p.b_wins * f,
            ties: p.ties * f,
            ..*p
        })
        .collect()
}

/// Adds `c (e_a − e_b)(e_a − e_b)ᵀ` to the `k × k` row-major `m`.
fn add_difference(m: &mut [f64], k: usize, a: usize, b: usize, c: f64) {
    m[a * k + a] += c;
    m[b * k + b] += c;
    m[a * k + b] -= c;
    m[b * k + a] -= c;
}

/// `a b` for row-major `k × k` matrices.
fn multiply(a: &[f64], b: &[f64], k: usize) -> Vec<f64> {
    let mut c = vec![0.0; k * k];
    for i in 0..k {
        let row = &mut c[i * k..(i + 1) * k];
        for l in 0..k {
            let x = a[i * k + l];
            if x != 0.0 {
                for (c, &y) in row.iter_mut().zip(&b[l * k..(l + 1) * k]) {
                    *c += x * y;
                }
            }
        }
    }
    c
}

/// `c` with each pair of mirrored entries replaced by their mean.
fn symmetrised(mut c: Vec<f64>, k: usize) -> Vec<f64> {
    for i in 0..k {
        for j in 0..i {
            let mean = 0.5 * (c[i * k + j] + c[j * k + i]);
            c[i * k + j] = mean;
            c[j * k + i] = mean;
        }
    }
    c
}

/// `H⁻¹ G H⁻¹` for the negative Hessian `h` (`k × k`, row-major, pinned along the constant
/// strengths when they are only identified up to a shift) and the meat `g`, with the first
/// `n` coordinates (the strengths) centred; `None` when `h` is singular.
pub(crate) fn sandwich(h: Vec<f64>, g: &[f64], k: usize, n: usize) -> Option<Vec<Vec<f64>>> {
    let inverse = invert_spd(h, k)?.concat();
    let product = symmetrised(multiply(&inverse, &multiply(g, &inverse, k), k), k);
    let mut cov: Vec<Vec<f64>> = product.chunks_exact(k).map(<[f64]>::to_vec).collect();
    centre_strengths(&mut cov, n);
    Some(cov)
}

/// The share of a tie that enters the likelihood.
fn tie_share(ties: TieHandling) -> f64 {
    match ties {
        TieHandling::Half => 1.0,
        TieHandling::Ignore => 0.0,
    }
}

/// The negative Hessian of the Bradley–Terry objective over `pairs` at `strengths`, pinned
/// along the constant direction when the prior is 0.
fn bt_information(
    n: usize,
    pairs: &[PairOutcomes],
    strengths: &[f64],
    opts: &BtOptions,
) -> Vec<f64> {
    let share = tie_share(opts.ties);
    let mut h = vec![0.0; n * n];
    for i in 0..n {
        h[i * n + i] = opts.prior;
    }
    for p in pairs.iter().filter(|p| p.a != p.b) {
        let (a, b) = (p.a as usize, p.b as usize);
        let prob = win_probability(strengths, a, b);
        let total = p.a_wins + p.b_wins + share * p.ties;
        add_difference(&mut h, n, a, b, total * prob * (1.0 - prob));
    }
    if opts.prior == 0.0 {
        let shift = 1.0 / n as f64;
        h.iter_mut().for_each(|x| *x += shift);
    }
    h
}

fn win_probability(strengths: &[f64], a: usize, b: usize) -> f64 {
    1.0 / (1.0 + (strengths[b] - strengths[a]).exp())
}

/// The covariance of Bradley–Terry strengths (`ties` half or ignore) fitted to `pairs`,
/// the counts the fit saw (already multiplied by `factors` when pairs are reweighted).
/// [`Meat::Observed`] is the sandwich; [`Meat::Expected`] with `factors` the model-based
/// covariance of the reweighted fit, and without them the plain inverse information
/// ([`super::fisher_covariance`]).
pub fn bt_covariance(
    n: usize,
    pairs: &[PairOutcomes],
    factors: Option<&[f64]>,
    strengths: &[f64],
    opts: &BtOptions,
    meat: Meat,
) -> Option<Vec<Vec<f64>>> {
    if meat == Meat::Expected && factors.is_none() {
        return super::fisher_covariance(n, pairs, strengths, opts);
    }
    let share = tie_share(opts.ties);
    let mut g = vec![0.0; n * n];
    for (k, p) in pairs.iter().enumerate().filter(|(_, p)| p.a != p.b) {
        let (a, b) = (p.a as usize, p.b as usize);
        let rho = factors.map_or(1.0, |f| f[k]);
        let prob = win_probability(strengths, a, b);
        let c = match meat {
            // A win of a has score 1 − p, a win of b −p, a tie 1/2 − p.
            Meat::Observed => {
                p.a_wins * (1.0 - prob).powi(2)
                    + p.b_wins * prob * prob
                    + share * p.ties * (0.5 - prob).powi(2)
            }
            Meat::Expected => (p.a_wins + p.b_wins + share * p.ties) * prob * (1.0 - prob),
        };
        add_difference(&mut g, n, a, b, rho * c);
    }
    sandwich(bt_information(n, pairs, strengths, opts), &g, n, n)
}

/// The same for a tie model (Davidson or Rao–Kupper), over the strengths and the tie
/// parameter jointly; the strengths' block is returned. `None` when every outcome is a tie
/// or the information is singular. When the data have no ties the fit is plain
/// Bradley–Terry with ties ignored, and so is the covariance.
pub fn tie_model_covariance_with(
    n: usize,
    pairs: &[PairOutcomes],
    factors: Option<&[f64]>,
    model: TieModel,
    opts: &BtOptions,
    fit: &TieFit,
    meat: Meat,
) -> Option<Vec<Vec<f64>>> {
    if meat == Meat::Expected && factors.is_none() {
        return super::tie_model_covariance(n, pairs, model, opts, fit);
    }
    let tie_param = fit.tie_param?;
    if let Some(opts) = model.at_boundary(tie_param, opts) {
        return bt_covariance(n, pairs, factors, &fit.strengths, &opts, meat);
    }
    let (k, tau) = (n + 1, tie_param.ln());
    let mut h = vec![0.0; k * k];
    let mut g = vec![0.0; k * k];
    for i in 0..n {
        h[i * k + i] = opts.prior;
    }
    // Adds c z zᵀ with z = (e_a − e_b) g_d + e_τ g_t.
    let add_score = |m: &mut [f64], a: usize, b: usize, g_d: f64, g_t: f64, c: f64| {
        add_difference(m, k, a, b, c * g_d * g_d);
        m[a * k + n] += c * g_d * g_t;
        m[n * k + a] += c * g_d * g_t;
        m[b * k + n] -= c * g_d * g_t;
        m[n * k + b] -= c * g_d * g_t;
        m[n * k + n] += c * g_t * g_t;
    };
    for (idx, p) in pairs.iter().enumerate().filter(|(_, p)| p.a != p.b) {
        let (a, b) = (p.a as usize, p.b as usize);
        let d = fit.strengths[a] - fit.strengths[b];
        let rho = factors.map_or(1.0, |f| f[idx]);
        let t = pair_terms(model, d, tau, p.a_wins, p.b_wins, p.ties);
        // The negative Hessian of the pair.
        add_difference(&mut h, k, a, b, -t.h_dd);
        h[a * k + n] -= t.h_dt;
        h[n * k + a] -= t.h_dt;
        h[b * k + n] += t.h_dt;
        h[n * k + b] += t.h_dt;
        h[n * k + n] -= t.h_tt;
        match meat {
            Meat::Observed => {
                for (count, unit) in [
                    (p.a_wins, (1.0, 0.0, 0.0)),
                    (p.b_wins, (0.0, 1.0, 0.0)),
                    (p.ties, (0.0, 0.0, 1.0)),
                ] {
                    if count != 0.0 {
                        let u = pair_terms(model, d, tau, unit.0, unit.1, unit.2);
                        add_score(&mut g, a, b, u.g_d, u.g_t, rho * count);
                    }
                }
            }
            Meat::Expected => {
                add_difference(&mut g, k, a, b, -rho * t.h_dd);
                g[a * k + n] -= rho * t.h_dt;
                g[n * k + a] -= rho * t.h_dt;
                g[b * k + n] += rho * t.h_dt;
                g[n * k + b] += rho * t.h_dt;
                g[n * k + n] -= rho * t.h_tt;
            }
        }
    }
    if opts.prior == 0.0 {
        for i in 0..n {
            for j in 0..n {
                h[i * k + j] += 1.0 / n as f64;
            }
        }
    }
    let cov = sandwich(h, &g, k, n)?;
    Some(cov[..n].iter().map(|row| row[..n].to_vec()).collect())
}

/// The sandwich covariance of Plackett–Luce strengths: `G` sums each ranking's score (the
/// gradient of its log-likelihood, Breslow's convention for tied groups) times its weight,
/// a frequency weight.
pub fn plackett_luce_sandwich(
    n: usize,
    rankings: &[Ranking],
    strengths: &[f64],
    opts: &BtOptions,
) -> Option<Vec<Vec<f64>>> {
    let (h, scores) = super::plackett_luce::information_and_scores(n, rankings, strengths, opts);
    let mut g = vec![0.0; n * n];
    for (r, score) in rankings.iter().zip(&scores) {
        for &(i, x) in score {
            for &(j, y) in score {
                g[i as usize * n + j as usize] += r.weight * x * y;
            }
        }
    }
    let shift = if opts.prior == 0.0 {
        1.0 / n as f64
    } else {
        0.0
    };
    sandwich(h.iter().map(|v| v + shift).collect(), &g, n, n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pairwise::test_support::{opts, pair};
    use crate::pairwise::{fit_bradley_terry, fit_plackett_luce, fit_tie_model};

    use proptest::prelude::*;

    /// The sandwich the slow way: every vote a row of its own with its own score vector,
    /// dense `H` and `G` summed row by row, `H + J/n` inverted by Gauss–Jordan, the triple
    /// product written out, then centred.
    fn sandwich_by_rows(
        n: usize,
        pairs: &[PairOutcomes],
        factors: &[f64],
        s: &[f64],
        prior: f64,
    ) -> Vec<Vec<f64>> {
        let mut h = vec![vec![0.0; n]; n];
        let mut g = vec![vec![0.0; n]; n];
        for (i, row) in h.iter_mut().enumerate() {
            row[i] = prior;
            if prior == 0.0 {
                // The pin along the constant direction, which centring removes.
                row.iter_mut().for_each(|v| *v += 1.0 / n as f64);
            }
        }
        for (p, &rho) in pairs.iter().zip(factors) {
            let (a, b) = (p.a as usize, p.b as usize);
            let prob = 1.0 / (1.0 + (s[b] - s[a]).exp());
            // Whole votes: the counts here are integers.
            for (count, y) in [(p.a_wins, 1.0), (p.b_wins, 0.0), (p.ties, 0.5)] {
                for _ in 0..count as usize {
                    let mut u = vec![0.0; n];
                    u[a] = rho * (y - prob);
                    u[b] = -rho * (y - prob);
                    for i in 0..n {
                        for j in 0..n {
                            g[i][j] += u[i] * u[j];
                        }
                    }
                    let c = rho * prob * (1.0 - prob);
                    h[a][a] += c;
                    h[b][b] += c;
                    h[a][b] -= c;
                    h[b][a] -= c;
                }
            }
        }
        // Gauss–Jordan inverse.
        let mut aug: Vec<Vec<f64>> = h
            .iter()
            .enumerate()
            .map(|(i, row)| {
                let mut r = row.clone();
                r.extend((0..n).map(|j| if i == j { 1.0 } else { 0.0 }));
                r
            })
            .collect();
        for col in 0..n {
            let pivot = (col..n)
                .max_by(|&x, &y| aug[x][col].abs().total_cmp(&aug[y][col].abs()))
                .unwrap();
            aug.swap(col, pivot);
            let d = aug[col][col];
            aug[col].iter_mut().for_each(|v| *v /= d);
            for r in 0..n {
                if r != col {
                    let f = aug[r][col];
                    let pivot_row = aug[col].clone();
                    aug[r]
                        .iter_mut()
                        .zip(&pivot_row)
                        .for_each(|(v, p)| *v -= f * p);
                }
            }
        }
        let k: Vec<Vec<f64>> = aug.into_iter().map(|r| r[n..].to_vec()).collect();
        let mut m = vec![vec![0.0; n]; n];
        for i in 0..n {
            for j in 0..n {
                for x in 0..n {
                    for y in 0..n {
                        m[i][j] += k[i][x] * g[x][y] * k[y][j];
                    }
                }
            }
        }
        // Centre: C M C with C = I − J/n.
        let c = |i: usize, j: usize| if i == j { 1.0 } else { 0.0 } - 1.0 / n as f64;
        (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| {
                        let mut v = 0.0;
                        for x in 0..n {
                            for y in 0..n {
                                v += c(i, x) * m[x][y] * c(y, j);
                            }
                        }
                        v
                    })
                    .collect()
            })
            .collect()
    }

    proptest! {
        /// On random pair tables (votes, ties, reweighting and priors), the sandwich from the
        /// merged table equals the one summed vote by vote.
        #[test]
        fn sandwich_equals_the_row_by_row_sum(
            n in 2usize..6,
            cells in prop::collection::vec((0u32..6, 0u32..6, 0u32..4, 0u32..4, 0u32..3), 1..12),
            prior_zero in any::<bool>(),
            reweight in any::<bool>(),
        ) {
            let mut table = crate::pairwise::PairCounts::new();
            // A chain of split decisions keeps every item connected.
            for i in 1..n as u32 {
                table.add(i - 1, i, 1.0, 1.0, 0.0);
            }
            for &(x, y, w, l, t) in &cells {
                let (a, b) = (x % n as u32, y % n as u32);
                if a != b {
                    table.add(a, b, w as f64, l as f64, t as f64);
                }
            }
            let pairs: Vec<PairOutcomes> = table.pairs().to_vec();
            let prior = if prior_zero { 0.0 } else { 0.3 };
            let factors = if reweight { pair_reweights(&pairs, 3.0) } else { vec![1.0; pairs.len()] };
            let fitted = scale_pairs(&pairs, &factors);
            // Any strengths will do: the identity holds at every point, not only the fit.
            let s: Vec<f64> = (0..n).map(|i| 0.3 * i as f64 - 0.5).collect();
            let o = opts(prior);
            let fast = bt_covariance(n, &fitted, reweight.then_some(&factors[..]), &s, &o, Meat::Observed)
                .expect("a connected comparison graph has a positive-definite information");
            let slow = sandwich_by_rows(n, &pairs, &factors, &s, prior);
            for i in 0..n {
                for j in 0..n {
                    let scale = slow[i][i].abs().max(slow[j][j].abs()).max(1e-12);
                    prop_assert!((fast[i][j] - slow[i][j]).abs() <= 1e-9 * scale,
                        "{i},{j}: {} vs {}", fast[i][j], slow[i][j]);
                }
            }
        }
    }

    fn var_diff(c: &[Vec<f64>], i: usize, j: usize) -> f64 {
        c[i][i] + c[j][j] - 2.0 * c[i][j]
    }

    /// Two items, no ties: the sandwich of a saturated binomial equals its Fisher
    /// variance, 1 / (N p (1 − p)).
    #[test]
    fn two_items_without_ties_equal_fisher() {
        let pairs = [pair(0, 1, 3.0, 1.0, 0.0)];
        let o = opts(0.0);
        let s = fit_bradley_terry(2, &pairs, &o).unwrap().strengths;
        let c = bt_covariance(2, &pairs, None, &s, &o, Meat::Observed).unwrap();
        assert!((var_diff(&c, 0, 1) - 4.0 / 3.0).abs() < 1e-12);
    }

    /// Two items with ties as half wins: with w wins, l losses and t ties the MLE is
    /// p = (w + t/2) / N, and the robust variance of d = logit p is
    /// Σ (y − p)² / (N p (1 − p))², by the delta method on the mean of the y's.
    #[test]
    fn two_items_with_ties_have_the_closed_form() {
        let (w, l, t) = (5.0, 2.0, 3.0);
        let pairs = [pair(0, 1, w, l, t)];
        let o = opts(0.0);
        let s = fit_bradley_terry(2, &pairs, &o).unwrap().strengths;
        let c = bt_covariance(2, &pairs, None, &s, &o, Meat::Observed).unwrap();
        let n = w + l + t;
        let p = (w + t / 2.0) / n;
        let meat = w * (1.0 - p).powi(2) + l * p * p + t * (0.5 - p).powi(2);
        let expected = meat / (n * p * (1.0 - p)).powi(2);
        assert!((var_diff(&c, 0, 1) - expected).abs() < 1e-12, "{c:?}");
        // Smaller than Fisher's: ties are less variable than a coin with the same mean.
        assert!(var_diff(&c, 0, 1) < 1.0 / (n * p * (1.0 - p)));
    }

    /// A factor common to every pair changes neither the fit nor the sandwich.
    #[test]
    fn a_common_factor_leaves_the_sandwich_alone() {
        let pairs = [
            pair(0, 1, 3.0, 1.0, 1.0),
            pair(1, 2, 2.0, 2.0, 0.0),
            pair(0, 2, 1.0, 2.0, 2.0),
        ];
        let o = opts(0.0);
        let factors = [0.02; 3];
        let scaled = scale_pairs(&pairs, &factors);
        let s = fit_bradley_terry(3, &pairs, &o).unwrap().strengths;
        let s2 = fit_bradley_terry(3, &scaled, &o).unwrap().strengths;
        let plain = bt_covariance(3, &pairs, None, &s, &o, Meat::Observed).unwrap();
        let weighted = bt_covariance(3, &scaled, Some(&factors), &s2, &o, Meat::Observed).unwrap();
        let fisher = bt_covariance(3, &pairs, None, &s, &o, Meat::Expected).unwrap();
        let model = bt_covariance(3, &scaled, Some(&factors), &s2, &o, Meat::Expected).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                assert!((plain[i][j] - weighted[i][j]).abs() < 1e-9);
                assert!((fisher[i][j] - model[i][j]).abs() < 1e-9);
            }
        }
    }

    /// A tie model's sandwich with Davidson's ν: on one pair the strengths' variance is
    /// the delta-method variance from the multinomial, which here has a closed form only
    /// through the fit, so it is checked against the same formula evaluated numerically:
    /// the observed meat of a correctly specified saturated model equals its information.
    #[test]
    fn saturated_tie_model_sandwich_equals_fisher() {
        let pairs = [pair(0, 1, 6.0, 3.0, 2.0)];
        let o = opts(0.0);
        let fit = fit_tie_model(2, &pairs, TieModel::Davidson, &o).unwrap();
        let fisher =
            crate::pairwise::tie_model_covariance(2, &pairs, TieModel::Davidson, &o, &fit).unwrap();
        let robust = tie_model_covariance_with(
            2,
            &pairs,
            None,
            TieModel::Davidson,
            &o,
            &fit,
            Meat::Observed,
        )
        .unwrap();
        assert!((var_diff(&fisher, 0, 1) - var_diff(&robust, 0, 1)).abs() < 1e-9);
    }

    /// Rankings of two items are Bradley–Terry comparisons, and so are their sandwiches.
    #[test]
    fn plackett_luce_on_pairs_is_bradley_terry() {
        let ranking = |a: u32, b: u32| Ranking {
            groups: vec![vec![a], vec![b]],
            weight: 1.0,
        };
        let mut rankings = vec![ranking(0, 1); 3];
        rankings.push(ranking(1, 0));
        rankings.push(ranking(1, 2));
        rankings.push(ranking(2, 1));
        rankings.push(ranking(2, 0));
        rankings.push(ranking(0, 2));
        let o = opts(0.0);
        let (s, _) = fit_plackett_luce(3, &rankings, &o).unwrap();
        let pl = plackett_luce_sandwich(3, &rankings, &s, &o).unwrap();
        let pairs = [
            pair(0, 1, 3.0, 1.0, 0.0),
            pair(1, 2, 1.0, 1.0, 0.0),
            pair(0, 2, 1.0, 1.0, 0.0),
        ];
        let bt = bt_covariance(3, &pairs, None, &s, &o, Meat::Observed).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                assert!((pl[i][j] - bt[i][j]).abs() < 1e-9, "{pl:?} {bt:?}");
            }
        }
    }
}
