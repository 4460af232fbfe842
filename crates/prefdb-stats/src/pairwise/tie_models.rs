//! Bradley–Terry with ties as a parameter of the model.
//!
//! With log-strengths `s` and `d = s_i − s_j`:
//!
//! - **Davidson (1970)**, tie parameter `ν ≥ 0`:
//!   `P(i ≻ j) = e^{s_i} / D`, `P(tie) = ν e^{(s_i + s_j)/2} / D`,
//!   `D = e^{s_i} + e^{s_j} + ν e^{(s_i + s_j)/2}`. Dividing by `e^{(s_i+s_j)/2}`, the three
//!   outcomes are a softmax over the logits `(d/2, −d/2, ln ν)`.
//! - **Rao & Kupper (1967)**, tie parameter `θ ≥ 1`:
//!   `P(i ≻ j) = e^{s_i} / (e^{s_i} + θ e^{s_j}) = 1 / (1 + e^{κ − d})` with `κ = ln θ`, and
//!   `P(tie) = (θ² − 1) e^{s_i + s_j} / ((e^{s_i} + θ e^{s_j})(e^{s_j} + θ e^{s_i}))`, so
//!   `log P(tie) = ln(θ² − 1) − softplus(κ − d) − softplus(κ + d)`.
//!
//! Both log-likelihoods are jointly concave in `(s, ln ν)` and `(s, κ)` (a log-sum-exp and
//! softplus terms, plus `ln(e^{2κ} − 1)`, which is concave). We maximise them, with the same
//! Gaussian prior on `s` as [`super::bradley_terry`], by Newton's method on all parameters
//! at once with a backtracking line search; the dense `(n + 1)²` system is fine for the
//! hundreds of items a leaderboard has. With prior 0 the likelihood only sees differences,
//! and adding the all-ones matrix to the `s` block pins the step to mean zero.
//!
//! Degenerate data: with no ties the tie parameter's MLE is its boundary (ν = 0, θ = 1) and
//! the model is plain Bradley–Terry with ties ignored, which is what we fit. With no decisive
//! outcome it is infinite; every item then has the same strength and the parameter is
//! reported as `None`.

use super::bradley_terry::{
    check_mle_exists_for, fit_bradley_terry, BtError, BtOptions, TieHandling,
};
use super::fisher::fisher_covariance;
use super::linalg::{centre_strengths, invert_spd};
use super::newton::{maximise, Concave};
use super::PairOutcomes;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TieModel {
    Davidson,
    RaoKupper,
}

impl TieModel {
    /// With no ties the tie parameter's MLE is its boundary (ν = 0, θ = 1), where the model
    /// is plain Bradley–Terry with ties ignored: the options of that fit when `tie_param` is
    /// there, else `None`.
    pub(crate) fn at_boundary(self, tie_param: f64, opts: &BtOptions) -> Option<BtOptions> {
        let boundary = match self {
            TieModel::Davidson => 0.0,
            TieModel::RaoKupper => 1.0,
        };
        (tie_param == boundary).then_some(BtOptions {
            ties: TieHandling::Ignore,
            ..*opts
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TieFit {
    /// Log-strengths, mean zero.
    pub strengths: Vec<f64>,
    /// ν (Davidson) or θ (Rao–Kupper); `None` when every outcome is a tie (infinite).
    pub tie_param: Option<f64>,
    pub iterations: usize,
}

/// Log-likelihood of one pair and its derivatives in `d` and the tie coordinate `τ`
/// (`ln ν` or `κ = ln θ`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PairTerms {
    pub ll: f64,
    pub g_d: f64,
    pub g_t: f64,
    pub h_dd: f64,
    pub h_dt: f64,
    pub h_tt: f64,
}

fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

pub(crate) fn pair_terms(model: TieModel, d: f64, tau: f64, wa: f64, wb: f64, t: f64) -> PairTerms {
    match model {
        TieModel::Davidson => {
            let x = d / 2.0;
            let z = [x, -x, tau];
            let max = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = z.iter().map(|v| (v - max).exp()).collect();
            let sum: f64 = e.iter().sum();
            let lse = max + sum.ln();
            let (p1, p2, p3) = (e[0] / sum, e[1] / sum, e[2] / sum);
            let m = wa + wb + t;
            let g_x = (wa - wb) - m * (p1 - p2);
            let h_xx = -m * ((p1 + p2) - (p1 - p2) * (p1 - p2));
            PairTerms {
                ll: (wa - wb) * x + t * tau - m * lse,
                g_d: 0.5 * g_x,
                g_t: t - m * p3,
                h_dd: 0.25 * h_xx,
                h_dt: 0.5 * m * p3 * (p1 - p2),
                h_tt: -m * p3 * (1.0 - p3),
            }
        }
        TieModel::RaoKupper => {
            let (ca, cb) = (wa + t, wb + t);
            let (u, v) = (tau - d, tau + d);
            let (su, sv) = (sigmoid(u), sigmoid(v));
            let (du, dv) = (su * (1.0 - su), sv * (1.0 - sv));
            let q = (-2.0 * tau).exp(); // e^{−2κ}
            let log_theta2_m1 = 2.0 * tau + (-q).ln_1p();
            PairTerms {
                ll: -ca * softplus(u) - cb * softplus(v) + t * log_theta2_m1,
                g_d: ca * su - cb * sv,
                g_t: -ca * su - cb * sv + t * 2.0 / (1.0 - q),
                h_dd: -ca * du - cb * dv,
                h_dt: ca * du - cb * dv,
                h_tt: -ca * du - cb * dv - t * 4.0 * q / ((1.0 - q) * (1.0 - q)),
            }
        }
    }
}

struct Problem<'a> {
    n: usize,
    pairs: &'a [PairOutcomes],
    model: TieModel,
    prior: f64,
}

impl Problem<'_> {
    fn feasible(&self, tau: f64) -> bool {
        tau.is_finite() && (self.model == TieModel::Davidson || tau > 0.0)
    }

    fn objective(&self, x: &[f64]) -> f64 {
        let tau = x[self.n];
        if !self.feasible(tau) {
            return f64::NEG_INFINITY;
        }
        let mut f = -0.5 * self.prior * x[..self.n].iter().map(|s| s * s).sum::<f64>();
        for p in self.pairs {
            let d = x[p.a as usize] - x[p.b as usize];
            f += pair_terms(self.model, d, tau, p.a_wins, p.b_wins, p.ties).ll;
        }
        f
    }

    /// Gradient and negative Hessian (dense, row-major, size n + 1).
    fn derivatives(&self, x: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let (n, m) = (self.n, self.n + 1);
        let tau = x[n];
        let mut g = vec![0.0; m];
        let mut h = vec![0.0; m * m];
        for i in 0..n {
            g[i] = -self.prior * x[i];
            h[i * m + i] = self.prior;
        }
        for p in self.pairs {
            let (a, b) = (p.a as usize, p.b as usize);
            let t = pair_terms(self.model, x[a] - x[b], tau, p.a_wins, p.b_wins, p.ties);
            g[a] += t.g_d;
            g[b] -= t.g_d;
            g[n] += t.g_t;
            h[a * m + a] -= t.h_dd;
            h[b * m + b] -= t.h_dd;
            h[a * m + b] += t.h_dd;
            h[b * m + a] += t.h_dd;
            h[a * m + n] -= t.h_dt;
            h[n * m + a] -= t.h_dt;
            h[b * m + n] += t.h_dt;
            h[n * m + b] += t.h_dt;
            h[n * m + n] -= t.h_tt;
        }
        if self.prior == 0.0 {
            // Only differences are identified: pin the step's mean (see the module docs).
            for i in 0..n {
                for j in 0..n {
                    h[i * m + j] += 1.0;
                }
            }
        }
        (g, h)
    }
}

/// Fit a tie model for items `0..n_items`. `opts.ties` is not used; `opts.prior`,
/// `max_iter` and `tol` are.
pub fn fit_tie_model(
    n_items: usize,
    pairs: &[PairOutcomes],
    model: TieModel,
    opts: &BtOptions,
) -> Result<TieFit, BtError> {
    fit_tie_model_from(n_items, pairs, model, opts, None)
}

/// [`fit_tie_model`] with Newton started from `start` (the fit of similar data, such as the
/// full data for a bootstrap replicate) when it has a finite tie parameter above the
/// boundary; otherwise from equal strengths.
pub fn fit_tie_model_from(
    n_items: usize,
    pairs: &[PairOutcomes],
    model: TieModel,
    opts: &BtOptions,
    start: Option<&TieFit>,
) -> Result<TieFit, BtError> {
    let pairs: Vec<PairOutcomes> = pairs.iter().filter(|p| p.a != p.b).copied().collect();
    let ties: f64 = pairs.iter().map(|p| p.ties).sum();
    let decisive: f64 = pairs.iter().map(|p| p.a_wins + p.b_wins).sum();
    let boundary = match model {
        TieModel::Davidson => 0.0,
        TieModel::RaoKupper => 1.0,
    };
    if ties == 0.0 || n_items <= 1 {
        let fit = fit_bradley_terry(
            n_items,
            &pairs,
            &BtOptions {
                ties: TieHandling::Ignore,
                ..*opts
            },
        )?;
        return Ok(TieFit {
            strengths: fit.strengths,
            tie_param: Some(boundary),
            iterations: fit.iterations,
        });
    }
    if decisive == 0.0 {
        return Ok(TieFit {
            strengths: vec![0.0; n_items],
            tie_param: None,
            iterations: 0,
        });
    }
    if opts.prior == 0.0 {
        check_mle_exists_for(n_items, &pairs, TieHandling::Half)?;
    }
    let problem = Problem {
        n: n_items,
        pairs: &pairs,
        model,
        prior: opts.prior,
    };
    let warm = start.and_then(|f| {
        let tau = f.tie_param?.ln();
        (f.strengths.len() == n_items && problem.feasible(tau)).then(|| {
            let mut x = f.strengths.clone();
            x.push(tau);
            x
        })
    });
    // Otherwise start at equal strengths with the tie parameter that is the MLE there.
    let x = warm.unwrap_or_else(|| {
        let share = ties / (ties + decisive);
        let mut x = vec![0.0; n_items + 1];
        x[n_items] = match model {
            TieModel::Davidson => (2.0 * share / (1.0 - share)).ln(),
            TieModel::RaoKupper => ((1.0 + share) / (1.0 - share)).ln(),
        };
        x
    });
    let (x, iterations) = maximise(&problem, x, opts.max_iter, opts.tol)?;
    let mean = x[..n_items].iter().sum::<f64>() / n_items as f64;
    Ok(TieFit {
        strengths: x[..n_items].iter().map(|s| s - mean).collect(),
        tie_param: Some(x[n_items].exp()),
        iterations,
    })
}

/// Covariance of the fitted log-strengths (dense, `n × n`) from the observed information of
/// the joint fit, the tie parameter profiled out: the strengths block of the inverse of the
/// `(n + 1)²` negative Hessian at `fit`. This block does not depend on how the tie parameter
/// is parameterised. As in [`super::fisher::fisher_covariance`], it is the covariance of the
/// centred strengths; with prior 0 (the Hessian's null vector is (1, …, 1, 0)) that is the
/// pseudo-inverse's block.
///
/// When the data have no ties the fit is plain Bradley–Terry with ties ignored (the tie
/// parameter sits on its boundary), and so is the covariance. `None` when every outcome is a
/// tie (the strengths are not identified) or the information is singular.
pub fn tie_model_covariance(
    n_items: usize,
    pairs: &[PairOutcomes],
    model: TieModel,
    opts: &BtOptions,
    fit: &TieFit,
) -> Option<Vec<Vec<f64>>> {
    let pairs: Vec<PairOutcomes> = pairs.iter().filter(|p| p.a != p.b).copied().collect();
    let tie_param = fit.tie_param?;
    if let Some(opts) = model.at_boundary(tie_param, opts) {
        return fisher_covariance(n_items, &pairs, &fit.strengths, &opts);
    }
    let problem = Problem {
        n: n_items,
        pairs: &pairs,
        model,
        prior: opts.prior,
    };
    let mut x = fit.strengths.clone();
    x.push(tie_param.ln());
    // With prior 0, `derivatives` pins the strengths block along the constant direction,
    // which centring removes again.
    let (_, h) = problem.derivatives(&x);
    let mut inverse = invert_spd(h, n_items + 1)?;
    centre_strengths(&mut inverse, n_items);
    Some(
        inverse[..n_items]
            .iter()
            .map(|row| row[..n_items].to_vec())
            .collect(),
    )
}

impl Concave for Problem<'_> {
    fn value(&self, x: &[f64]) -> f64 {
        self.objective(x)
    }

    fn derivatives(&self, x: &[f64]) -> (Vec<f64>, Vec<f64>) {
        Problem::derivatives(self, x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pairwise::test_support::{opts, pair};

    /// Two items: the MLE has closed forms. Davidson: e^{d/2} : e^{-d/2} : ν = w : l : t
    /// up to a common factor, so d = ln(w / l) and ν = t / sqrt(w l). Rao–Kupper:
    /// P(win) = w / N and P(loss) = l / N give θ from 1/(1 + θ r) = w/N with r = e^{-d}.
    #[test]
    fn two_items_closed_form() {
        let p = [pair(0, 1, 6.0, 2.0, 4.0)];
        let dv = fit_tie_model(2, &p, TieModel::Davidson, &opts(0.0)).unwrap();
        let d = dv.strengths[0] - dv.strengths[1];
        assert!((d - 3f64.ln()).abs() < 1e-9, "{d}");
        assert!((dv.tie_param.unwrap() - 4.0 / 12f64.sqrt()).abs() < 1e-9);
        let rk = fit_tie_model(2, &p, TieModel::RaoKupper, &opts(0.0)).unwrap();
        let (d, theta) = (rk.strengths[0] - rk.strengths[1], rk.tie_param.unwrap());
        // P(0 wins) = 1 / (1 + θ e^{-d}) = 6/12 and P(1 wins) = 1 / (1 + θ e^{d}) = 2/12.
        assert!((1.0 / (1.0 + theta * (-d).exp()) - 0.5).abs() < 1e-9);
        assert!((1.0 / (1.0 + theta * d.exp()) - 2.0 / 12.0).abs() < 1e-9);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let p = [
            pair(0, 1, 3.0, 1.0, 2.0),
            pair(1, 2, 2.0, 2.0, 1.0),
            pair(0, 2, 4.0, 0.5, 0.5),
        ];
        for model in [TieModel::Davidson, TieModel::RaoKupper] {
            let problem = Problem {
                n: 3,
                pairs: &p,
                model,
                prior: 0.1,
            };
            let x = vec![0.3, -0.2, 0.1, 0.4];
            let (g, h) = problem.derivatives(&x);
            let eps = 1e-6;
            for i in 0..4 {
                let mut up = x.clone();
                up[i] += eps;
                let mut down = x.clone();
                down[i] -= eps;
                let numeric = (problem.objective(&up) - problem.objective(&down)) / (2.0 * eps);
                assert!((numeric - g[i]).abs() < 1e-6, "{model:?} g[{i}]");
                let (gu, _) = problem.derivatives(&up);
                let (gd, _) = problem.derivatives(&down);
                for j in 0..4 {
                    let numeric = -(gu[j] - gd[j]) / (2.0 * eps);
                    assert!(
                        (numeric - h[j * 4 + i]).abs() < 1e-5,
                        "{model:?} h[{j}][{i}]"
                    );
                }
            }
        }
    }

    #[test]
    fn degenerate_tie_counts() {
        let none = [pair(0, 1, 3.0, 1.0, 0.0)];
        let f = fit_tie_model(2, &none, TieModel::Davidson, &opts(0.01)).unwrap();
        assert_eq!(f.tie_param, Some(0.0));
        let f = fit_tie_model(2, &none, TieModel::RaoKupper, &opts(0.01)).unwrap();
        assert_eq!(f.tie_param, Some(1.0));
        let all = [pair(0, 1, 0.0, 0.0, 5.0)];
        let f = fit_tie_model(2, &all, TieModel::Davidson, &opts(0.01)).unwrap();
        assert_eq!((f.strengths, f.tie_param), (vec![0.0, 0.0], None));
    }

    /// Two items under Davidson are a multinomial over the logits (d/2, −d/2, ln ν), so the
    /// information of (d, ln ν) is N Aᵀ (diag p − p pᵀ) A with A the map to the logits; the
    /// variance of d is the (d, d) entry of its inverse.
    #[test]
    fn two_item_davidson_variance_is_the_multinomial_one() {
        let (w, l, t) = (6.0, 2.0, 4.0);
        let p = [pair(0, 1, w, l, t)];
        let fit = fit_tie_model(2, &p, TieModel::Davidson, &opts(0.0)).unwrap();
        let cov = tie_model_covariance(2, &p, TieModel::Davidson, &opts(0.0), &fit).unwrap();
        let var_d = cov[0][0] + cov[1][1] - 2.0 * cov[0][1];
        let total = w + l + t;
        let probs = [w / total, l / total, t / total];
        let a = [[0.5, 0.0], [-0.5, 0.0], [0.0, 1.0]];
        let mut info = [[0.0; 2]; 2];
        for r in 0..2 {
            for c in 0..2 {
                for i in 0..3 {
                    for j in 0..3 {
                        let k = if i == j { probs[i] } else { 0.0 } - probs[i] * probs[j];
                        info[r][c] += total * a[i][r] * k * a[j][c];
                    }
                }
            }
        }
        let det = info[0][0] * info[1][1] - info[0][1] * info[1][0];
        let expected = info[1][1] / det;
        assert!((var_d - expected).abs() < 1e-9, "{var_d} vs {expected}");
        // Centred: the two strengths are ±d/2.
        assert!((cov[0][0] - expected / 4.0).abs() < 1e-9);
    }

    #[test]
    fn covariance_without_ties_is_bradley_terrys_and_all_ties_has_none() {
        let none = [
            pair(0, 1, 3.0, 1.0, 0.0),
            pair(1, 2, 2.0, 1.0, 0.0),
            pair(0, 2, 2.0, 1.0, 0.0),
        ];
        for model in [TieModel::Davidson, TieModel::RaoKupper] {
            let fit = fit_tie_model(3, &none, model, &opts(0.01)).unwrap();
            let cov = tie_model_covariance(3, &none, model, &opts(0.01), &fit).unwrap();
            let bt_opts = BtOptions {
                ties: TieHandling::Ignore,
                ..opts(0.01)
            };
            let bt = fit_bradley_terry(3, &none, &bt_opts).unwrap();
            assert_eq!(
                cov,
                fisher_covariance(3, &none, &bt.strengths, &bt_opts).unwrap()
            );
        }
        let all = [pair(0, 1, 0.0, 0.0, 5.0)];
        let fit = fit_tie_model(2, &all, TieModel::Davidson, &opts(0.01)).unwrap();
        assert_eq!(
            tie_model_covariance(2, &all, TieModel::Davidson, &opts(0.01), &fit),
            None
        );
    }
}
