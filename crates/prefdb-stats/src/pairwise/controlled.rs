//! Bradley–Terry with covariates: style and length control.
//!
//! Each battle `r` between `a` and `b` carries a feature vector `x_r` (for example the
//! normalised length difference of the two responses, as in Chatbot Arena's style control,
//! or a constant 1 for a first-position effect). The model is the logistic regression
//!
//! ```text
//! logit P(a beats b) = (s_a − s_b) + βᵀ x_r
//! ```
//!
//! with the same Gaussian prior on `s` as [`super::bradley_terry`] and, by default, none on
//! `β`. A tie counts as half a win for each side (the response is 0.5). The ratings `s` are
//! then "controlled" for the features: what remains once their effect is taken out.
//!
//! [`ControlledOptions`] add arena-rank's contextual model (`ContextualBradleyTerry`):
//! features z-scored over the battles, a ridge `½ R W |β|²` with `W` the sum of the fit's
//! weights (arena-rank's `reg` on its mean loss), LMArena's reweighting of pairs, and the
//! sandwich covariance with arena-rank's correction of `G` for the ridge.
//!
//! The penalised log-likelihood is concave; Newton's method on `(s, β)` with the dense
//! Hessian finds it. Standard errors come from the observed Fisher information at the fit:
//! `(−∇²f)⁻¹`, and with prior 0, where only differences of `s` are identified, the
//! pseudo-inverse under the mean-zero constraint `(−∇²f + J/n)⁻¹ − J/n`, `J` the all-ones
//! matrix on the `s` block (β's variances do not depend on the constraint).

use super::bradley_terry::{BtError, BtOptions};
use super::linalg::{centre_strengths, invert_spd};
use super::newton::{maximise, Concave};
use super::sandwich::Meat;

/// Battles in columns: item ids, a's score (1, 0, 0.5), weights, and `p` features per
/// battle, row-major.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Battles {
    pub a: Vec<u32>,
    pub b: Vec<u32>,
    pub score_a: Vec<f64>,
    pub weight: Vec<f64>,
    pub features: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ControlledFit {
    /// Log-strengths, mean zero.
    pub strengths: Vec<f64>,
    pub coefficients: Vec<f64>,
    /// Covariance of `(s, β)`, dense; `None` when the information is singular.
    pub covariance: Option<Vec<Vec<f64>>>,
    pub iterations: usize,
}

struct Problem<'a> {
    n: usize,
    p: usize,
    battles: &'a Battles,
    prior: f64,
    /// Precision of the ridge on `β` (`R W`); 0 for none.
    ridge: f64,
}

/// arena-rank's contextual options; the default is the plain controlled model.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ControlledOptions {
    /// z-score each feature over the battles (frequency-weighted, population variance); a
    /// constant feature becomes 0.
    pub normalize: bool,
    /// `R`: the ridge `½ R W |β|²`, `W` the sum of the fit's weights.
    pub coef_reg: f64,
    /// `reweight=pair` with this floor: a battle of pair `{a, b}` weighs
    /// `1 / max(n_pair, floor)` times its weight, `n_pair` the pair's summed weight.
    pub reweight: Option<f64>,
    /// The covariance: [`Meat::Expected`] the inverse of the penalised information,
    /// [`Meat::Observed`] the sandwich.
    pub meat: Meat,
}

fn log_sigmoid(x: f64) -> f64 {
    -((-x.abs()).exp().ln_1p() + (-x).max(0.0))
}

impl Problem<'_> {
    fn eta(&self, x: &[f64], r: usize) -> f64 {
        let b = self.battles;
        let f = &b.features[r * self.p..(r + 1) * self.p];
        x[b.a[r] as usize] - x[b.b[r] as usize]
            + f.iter().zip(&x[self.n..]).map(|(u, v)| u * v).sum::<f64>()
    }

    fn negative_hessian(&self, x: &[f64], centre: bool) -> Vec<f64> {
        let (n, m) = (self.n, self.n + self.p);
        let b = self.battles;
        let mut h = vec![0.0; m * m];
        for i in 0..n {
            h[i * m + i] = self.prior;
        }
        for k in n..m {
            h[k * m + k] = self.ridge;
        }
        // z = e_a − e_b ⊕ f: accumulate c · z zᵀ using its sparsity in the s block.
        let mut idx: Vec<(usize, f64)> = Vec::with_capacity(2 + self.p);
        for r in 0..b.a.len() {
            let prob = 1.0 / (1.0 + (-self.eta(x, r)).exp());
            let c = b.weight[r] * prob * (1.0 - prob);
            idx.clear();
            idx.push((b.a[r] as usize, 1.0));
            idx.push((b.b[r] as usize, -1.0));
            for (k, &f) in b.features[r * self.p..(r + 1) * self.p].iter().enumerate() {
                idx.push((n + k, f));
            }
            for &(i, zi) in &idx {
                for &(j, zj) in &idx {
                    h[i * m + j] += c * zi * zj;
                }
            }
        }
        if centre {
            for i in 0..n {
                for j in 0..n {
                    h[i * m + j] += 1.0 / n as f64;
                }
            }
        }
        h
    }
}

impl Concave for Problem<'_> {
    fn value(&self, x: &[f64]) -> f64 {
        let b = self.battles;
        let mut f = -0.5 * self.prior * x[..self.n].iter().map(|s| s * s).sum::<f64>()
            - 0.5 * self.ridge * x[self.n..].iter().map(|c| c * c).sum::<f64>();
        for r in 0..b.a.len() {
            let eta = self.eta(x, r);
            let y = b.score_a[r];
            f += b.weight[r] * (y * log_sigmoid(eta) + (1.0 - y) * log_sigmoid(-eta));
        }
        f
    }

    fn derivatives(&self, x: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let (n, p) = (self.n, self.p);
        let b = self.battles;
        let mut g = vec![0.0; n + p];
        for i in 0..n {
            g[i] = -self.prior * x[i];
        }
        for k in 0..p {
            g[n + k] = -self.ridge * x[n + k];
        }
        for r in 0..b.a.len() {
            let prob = 1.0 / (1.0 + (-self.eta(x, r)).exp());
            let resid = b.weight[r] * (b.score_a[r] - prob);
            g[b.a[r] as usize] += resid;
            g[b.b[r] as usize] -= resid;
            for (k, &f) in b.features[r * p..(r + 1) * p].iter().enumerate() {
                g[n + k] += resid * f;
            }
        }
        (g, self.negative_hessian(x, self.prior == 0.0))
    }
}

/// Fit `n_items` strengths and `n_features` coefficients. `opts.ties` is not used (ties
/// are scores of 0.5 in `battles`).
pub fn fit_controlled(
    n_items: usize,
    n_features: usize,
    battles: &Battles,
    opts: &BtOptions,
) -> Result<ControlledFit, BtError> {
    fit_controlled_with(
        n_items,
        n_features,
        battles,
        opts,
        &ControlledOptions::default(),
    )
}

/// Each battle's factor under `reweight=pair`: `1 / max(n_pair, floor)`.
fn pair_factors(battles: &Battles, floor: f64) -> Vec<f64> {
    let key = |r: usize| {
        let (a, b) = (battles.a[r], battles.b[r]);
        (a.min(b), a.max(b))
    };
    let mut totals: std::collections::HashMap<(u32, u32), f64> = Default::default();
    for r in 0..battles.a.len() {
        *totals.entry(key(r)).or_default() += battles.weight[r];
    }
    (0..battles.a.len())
        .map(|r| 1.0 / totals[&key(r)].max(floor))
        .collect()
}

/// z-score every feature column over the battles, weighted by `weight` (population
/// variance); a constant column becomes 0.
fn normalised(features: &[f64], p: usize, weight: &[f64]) -> Vec<f64> {
    let mut out = features.to_vec();
    let total: f64 = weight.iter().sum();
    for k in 0..p {
        let column = || features.iter().skip(k).step_by(p).zip(weight);
        let mean = column().map(|(x, w)| w * x).sum::<f64>() / total;
        let var = column().map(|(x, w)| w * (x - mean).powi(2)).sum::<f64>() / total;
        let sd = if var > 0.0 { var.sqrt() } else { 1.0 };
        for x in out.iter_mut().skip(k).step_by(p) {
            *x = (*x - mean) / sd;
        }
    }
    out
}

/// [`fit_controlled`] with arena-rank's contextual options.
pub fn fit_controlled_with(
    n_items: usize,
    n_features: usize,
    battles: &Battles,
    opts: &BtOptions,
    contextual: &ControlledOptions,
) -> Result<ControlledFit, BtError> {
    let (n, p) = (n_items, n_features);
    let factors = contextual
        .reweight
        .map(|floor| pair_factors(battles, floor));
    // The battles the fit sees: reweighted, with normalised features.
    let fitted = Battles {
        weight: match &factors {
            Some(f) => battles.weight.iter().zip(f).map(|(w, f)| w * f).collect(),
            None => battles.weight.clone(),
        },
        features: match contextual.normalize {
            true => normalised(&battles.features, p, &battles.weight),
            false => battles.features.clone(),
        },
        ..battles.clone()
    };
    let total_weight: f64 = fitted.weight.iter().sum();
    let problem = Problem {
        n,
        p,
        battles: &fitted,
        prior: opts.prior,
        ridge: contextual.coef_reg * total_weight,
    };
    let (x, iterations) = maximise(&problem, vec![0.0; n + p], opts.max_iter, opts.tol)?;
    let mean = x[..n].iter().sum::<f64>() / n.max(1) as f64;
    let mut centred = x.clone();
    for s in &mut centred[..n] {
        *s -= mean;
    }
    let m = n + p;
    let centre = opts.prior == 0.0;
    let covariance = match contextual.meat {
        // The covariance of the centred strengths and the coefficients (see
        // `centre_strengths`).
        Meat::Expected => invert_spd(problem.negative_hessian(&centred, centre), m).map(|mut c| {
            centre_strengths(&mut c, n);
            c
        }),
        Meat::Observed => {
            // arena-rank's sandwich: H is the information of the likelihood (and the prior
            // on s) without the ridge; G sums the battles' squared weighted scores, and
            // takes off its correction for the ridge, (R W / N)² β βᵀ, N the number of
            // votes.
            let unpenalised = Problem {
                ridge: 0.0,
                ..problem
            };
            let h = unpenalised.negative_hessian(&centred, centre);
            let mut g = vec![0.0; m * m];
            let mut z = Vec::with_capacity(2 + p);
            for r in 0..battles.a.len() {
                let eta = unpenalised.eta(&centred, r);
                let prob = 1.0 / (1.0 + (-eta).exp());
                let rho = factors.as_ref().map_or(1.0, |f| f[r]);
                let c = battles.weight[r] * (rho * (fitted.score_a[r] - prob)).powi(2);
                z.clear();
                z.push((battles.a[r] as usize, 1.0));
                z.push((battles.b[r] as usize, -1.0));
                z.extend((0..p).map(|k| (n + k, fitted.features[r * p + k])));
                for &(i, zi) in &z {
                    for &(j, zj) in &z {
                        g[i * m + j] += c * zi * zj;
                    }
                }
            }
            let votes: f64 = battles.weight.iter().sum();
            let scale = (contextual.coef_reg * total_weight / votes).powi(2);
            for i in 0..p {
                for j in 0..p {
                    g[(n + i) * m + n + j] -= scale * centred[n + i] * centred[n + j];
                }
            }
            super::sandwich::sandwich(h, &g, m, n)
        }
    };
    Ok(ControlledFit {
        strengths: centred[..n].to_vec(),
        coefficients: centred[n..].to_vec(),
        covariance,
        iterations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With no features the model is Bradley–Terry with ties as half wins.
    #[test]
    fn without_features_it_is_bradley_terry() {
        let battles = Battles {
            a: vec![0, 0, 0, 1],
            b: vec![1, 1, 1, 0],
            score_a: vec![1.0, 1.0, 1.0, 1.0],
            weight: vec![1.0; 4],
            features: vec![],
        };
        let opts = BtOptions {
            prior: 0.0,
            ..BtOptions::default()
        };
        let fit = fit_controlled(2, 0, &battles, &opts).unwrap();
        assert!((fit.strengths[0] - fit.strengths[1] - 3f64.ln()).abs() < 1e-9);
        // Var(s_0 − s_1) = 1 / (N p (1 − p)) = 1 / (4 · 3/16).
        let c = fit.covariance.unwrap();
        let var = c[0][0] + c[1][1] - 2.0 * c[0][1];
        assert!((var - 4.0 / 3.0).abs() < 1e-9, "{var}");
    }

    /// With the default prior and no features the covariance is bt_rank's: that of the
    /// centred strengths, without the prior's common-mode variance.
    #[test]
    fn covariance_with_the_prior_is_bradley_terrys() {
        let battles = Battles {
            a: vec![0, 0, 1, 2, 2, 0],
            b: vec![1, 2, 2, 0, 1, 1],
            score_a: vec![1.0, 1.0, 0.0, 0.5, 1.0, 0.0],
            weight: vec![1.0; 6],
            features: vec![],
        };
        let opts = BtOptions::default();
        let fit = fit_controlled(3, 0, &battles, &opts).unwrap();
        let mut counts = super::super::PairCounts::new();
        for r in 0..6 {
            let s = battles.score_a[r];
            let (win, loss, tie) = if s == 0.5 {
                (0.0, 0.0, 1.0)
            } else {
                (s, 1.0 - s, 0.0)
            };
            counts.add(battles.a[r], battles.b[r], win, loss, tie);
        }
        let bt = super::super::fit_bradley_terry(3, counts.pairs(), &opts).unwrap();
        let expected =
            super::super::fisher_covariance(3, counts.pairs(), &bt.strengths, &opts).unwrap();
        let c = fit.covariance.unwrap();
        for i in 0..3 {
            assert!(
                c[i].iter().take(3).sum::<f64>().abs() < 1e-12,
                "rows sum to 0"
            );
            for j in 0..3 {
                assert!((c[i][j] - expected[i][j]).abs() < 1e-9, "{i},{j}");
            }
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let battles = Battles {
            a: vec![0, 1, 2, 0],
            b: vec![1, 2, 0, 2],
            score_a: vec![1.0, 0.0, 0.5, 1.0],
            weight: vec![1.0, 2.0, 1.0, 0.5],
            features: vec![0.3, 1.0, -0.2, 1.0, 0.9, 1.0, -0.5, 1.0],
        };
        let problem = Problem {
            n: 3,
            p: 2,
            battles: &battles,
            prior: 0.2,
            ridge: 0.7,
        };
        let x = vec![0.1, -0.3, 0.2, 0.4, -0.1];
        let (g, h) = problem.derivatives(&x);
        let eps = 1e-6;
        for i in 0..5 {
            let mut up = x.clone();
            up[i] += eps;
            let mut down = x.clone();
            down[i] -= eps;
            assert!(
                ((problem.value(&up) - problem.value(&down)) / (2.0 * eps) - g[i]).abs() < 1e-6
            );
            let (gu, _) = problem.derivatives(&up);
            let (gd, _) = problem.derivatives(&down);
            for j in 0..5 {
                assert!((-(gu[j] - gd[j]) / (2.0 * eps) - h[j * 5 + i]).abs() < 1e-5);
            }
        }
    }
}
