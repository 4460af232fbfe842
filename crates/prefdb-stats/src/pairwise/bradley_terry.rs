//! Bradley–Terry maximum-likelihood (or maximum-a-posteriori) ratings.
//!
//! Model (Bradley & Terry 1952; Zermelo 1929): `P(i beats j) = 1 / (1 + exp(-(s_i - s_j)))`.
//!
//! We maximise the penalised log-likelihood
//!
//! ```text
//! f(s) = Σ_pairs [ w_ab · log σ(s_a − s_b) + w_ba · log σ(s_b − s_a) ] − (λ/2) · Σ_i s_i²
//! ```
//!
//! where `w_ab` is the weighted number of wins of `a` over `b` (plus half the ties under
//! [`TieHandling::Half`]) and `λ` is the precision of an independent Gaussian prior
//! `s_i ~ N(0, 1/λ)`. `λ = 0` is the pure MLE.
//!
//! Identifiability: the likelihood only sees differences `s_i − s_j`. With `λ > 0` the
//! stationarity condition summed over items gives `λ · Σ s_i = 0`, so the optimum has mean
//! zero by itself. With `λ = 0` we fix the mean at zero explicitly (every step is projected
//! onto the mean-zero subspace). The MLE exists and is unique iff the directed "beat" graph is
//! strongly connected (Ford 1957; Hunter 2004, assumption 1); otherwise we return
//! [`BtError::MleDoesNotExist`] instead of diverging.
//!
//! Solver: Newton's method with a backtracking (Armijo) line search. The Newton system is
//! solved by Jacobi-preconditioned conjugate gradients using Hessian-vector products, which
//! cost O(pairs) each, so no dense n×n matrix is ever formed. The objective is concave, so
//! the line search makes the iteration globally convergent, and near the optimum it converges
//! quadratically: large rating spreads (where MM crawls) take a handful of iterations.

use super::PairOutcomes;
use std::fmt;

/// How ties enter the likelihood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TieHandling {
    /// A tie is half a win for each side (Chatbot Arena's convention).
    Half,
    /// Ties are dropped from the likelihood (they are still reported in the counts).
    Ignore,
}

/// Default prior precision λ on natural-log strengths: sd = 10 (≈ 1737 Elo points).
///
/// It is weak enough to move an item with more than a few comparisons by far less than the
/// sampling error, and strong enough to keep the degenerate cases finite: an item that never
/// lost or never won, and disconnected comparison graphs.
pub const DEFAULT_PRIOR: f64 = 0.01;
pub const DEFAULT_MAX_ITER: usize = 100;
/// Convergence threshold on the largest change of a log-strength in one Newton step.
pub const DEFAULT_TOL: f64 = 1e-10;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BtOptions {
    pub ties: TieHandling,
    /// Gaussian prior precision λ ≥ 0.
    pub prior: f64,
    pub max_iter: usize,
    pub tol: f64,
}

impl Default for BtOptions {
    fn default() -> Self {
        Self {
            ties: TieHandling::Half,
            prior: DEFAULT_PRIOR,
            max_iter: DEFAULT_MAX_ITER,
            tol: DEFAULT_TOL,
        }
    }
}

/// Fitted log-strengths `s` (mean zero), indexed by item id.
#[derive(Debug, Clone, PartialEq)]
pub struct BtFit {
    pub strengths: Vec<f64>,
    pub iterations: usize,
}

/// Why the pure MLE (`prior = 0`) does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MleObstacle {
    NeverLost,
    NeverWon,
    /// The items are not all reachable from one another through "beat" relations.
    NotStronglyConnected,
}

#[derive(Debug, Clone, PartialEq)]
pub enum BtError {
    MleDoesNotExist {
        item: u32,
        obstacle: MleObstacle,
    },
    NotConverged {
        iterations: usize,
        last_step: f64,
    },
    InvalidOption(String),
    InvalidCounts {
        a: u32,
        b: u32,
    },
    /// No step along the Newton direction improves the objective in floating point: the
    /// likelihood is flat where the fit is (a tiny prior with separable data).
    Stalled {
        iterations: usize,
        last_step: f64,
    },
    /// The statement was cancelled ([`crate::interrupt`]).
    Interrupted,
}

impl From<crate::interrupt::Interrupted> for BtError {
    fn from(_: crate::interrupt::Interrupted) -> Self {
        BtError::Interrupted
    }
}

impl fmt::Display for BtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BtError::MleDoesNotExist { obstacle, .. } => {
                let why = match obstacle {
                    MleObstacle::NeverLost => "an item never lost",
                    MleObstacle::NeverWon => "an item never won",
                    MleObstacle::NotStronglyConnected => {
                        "the comparison graph is not strongly connected"
                    }
                };
                write!(
                    f,
                    "the maximum-likelihood ratings do not exist because {why}; use prior > 0"
                )
            }
            BtError::NotConverged {
                iterations,
                last_step,
            } => write!(
                f,
                "did not converge in {iterations} iterations (last step {last_step:.3e}); raise max_iter or tol"
            ),
            BtError::Stalled {
                iterations,
                last_step,
            } => write!(
                f,
                "stopped at iteration {iterations}: no step improves the fit in floating point (last step {last_step:.3e}); the likelihood is flat there, as when a prior near 0 lets the ratings of items that never lost or never won run off to infinity; use a larger prior"
            ),
            BtError::Interrupted => write!(f, "{}", crate::interrupt::Interrupted),
            BtError::InvalidOption(msg) => f.write_str(msg),
            BtError::InvalidCounts { a, b } => write!(
                f,
                "pair ({a}, {b}) has a negative or non-finite count"
            ),
        }
    }
}

impl std::error::Error for BtError {}

/// One pair's effective win weights under the chosen tie handling.
#[derive(Debug, Clone, Copy)]
struct Edge {
    a: usize,
    b: usize,
    w_ab: f64,
    w_ba: f64,
}

/// Fit Bradley–Terry log-strengths for items `0..n_items`.
pub fn fit_bradley_terry(
    n_items: usize,
    pairs: &[PairOutcomes],
    opts: &BtOptions,
) -> Result<BtFit, BtError> {
    fit_bradley_terry_from(n_items, pairs, opts, None)
}

/// As [`fit_bradley_terry`], with Newton started from `start` (for example a nearby fit,
/// as the bootstrap does). The optimum does not depend on the start.
pub fn fit_bradley_terry_from(
    n_items: usize,
    pairs: &[PairOutcomes],
    opts: &BtOptions,
    start: Option<&[f64]>,
) -> Result<BtFit, BtError> {
    fit_with_cg_tolerance(n_items, pairs, opts, start, EXACT_CG)
}

/// Relative residual to which conjugate gradients solve each Newton system in a normal fit:
/// the direction is exact to rounding.
const EXACT_CG: f64 = 1e-12;

/// As [`fit_bradley_terry_from`], with each Newton system solved only to relative residual
/// `cg_tolerance` (an inexact Newton method). Near the optimum the error then shrinks by
/// about `cg_tolerance` per step on top of Newton's quadratic rate, so a tolerance well
/// below `opts.tol` ends at the same precision with far fewer conjugate-gradient steps.
/// The bootstrap uses it for its replicate fits.
pub(crate) fn fit_with_cg_tolerance(
    n_items: usize,
    pairs: &[PairOutcomes],
    opts: &BtOptions,
    start: Option<&[f64]>,
    cg_tolerance: f64,
) -> Result<BtFit, BtError> {
    validate_options(opts)?;
    let edges = effective_edges(n_items, pairs, opts.ties)?;
    if n_items <= 1 {
        return Ok(BtFit {
            strengths: vec![0.0; n_items],
            iterations: 0,
        });
    }
    if opts.prior == 0.0 {
        check_mle_exists(n_items, &edges)?;
    }
    newton(n_items, &edges, opts, start, cg_tolerance)
}

fn validate_options(opts: &BtOptions) -> Result<(), BtError> {
    if !(opts.prior.is_finite() && opts.prior >= 0.0) {
        return Err(BtError::InvalidOption(format!(
            "prior must be a finite number >= 0, got {}",
            opts.prior
        )));
    }
    if !(opts.tol.is_finite() && opts.tol > 0.0) {
        return Err(BtError::InvalidOption(format!(
            "tol must be a finite number > 0, got {}",
            opts.tol
        )));
    }
    if opts.max_iter == 0 {
        return Err(BtError::InvalidOption("max_iter must be >= 1".into()));
    }
    Ok(())
}

fn effective_edges(
    n_items: usize,
    pairs: &[PairOutcomes],
    ties: TieHandling,
) -> Result<Vec<Edge>, BtError> {
    let tie_share = match ties {
        TieHandling::Half => 0.5,
        TieHandling::Ignore => 0.0,
    };
    let mut edges = Vec::with_capacity(pairs.len());
    for p in pairs {
        let counts_ok = [p.a_wins, p.b_wins, p.ties]
            .iter()
            .all(|c| c.is_finite() && *c >= 0.0);
        let ids_ok = (p.a as usize) < n_items && (p.b as usize) < n_items;
        if !counts_ok || !ids_ok {
            return Err(BtError::InvalidCounts { a: p.a, b: p.b });
        }
        if p.a == p.b {
            continue; // a self-comparison carries no information about differences
        }
        let w_ab = p.a_wins + tie_share * p.ties;
        let w_ba = p.b_wins + tie_share * p.ties;
        if w_ab + w_ba > 0.0 {
            edges.push(Edge {
                a: p.a as usize,
                b: p.b as usize,
                w_ab,
                w_ba,
            });
        }
    }
    Ok(edges)
}

/// The pure MLE exists iff every item can reach every other item along "i beat j" edges.
/// [`BtError::MleDoesNotExist`] when the pure MLE (prior 0) does not exist for `pairs`
/// with ties counted as `ties` says.
pub(crate) fn check_mle_exists_for(
    n: usize,
    pairs: &[PairOutcomes],
    ties: TieHandling,
) -> Result<(), BtError> {
    check_mle_exists(n, &effective_edges(n, pairs, ties)?)
}

fn check_mle_exists(n: usize, edges: &[Edge]) -> Result<(), BtError> {
    let mut won = vec![false; n];
    let mut lost = vec![false; n];
    let mut beats: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut beaten_by: Vec<Vec<usize>> = vec![Vec::new(); n];
    for e in edges {
        if e.w_ab > 0.0 {
            won[e.a] = true;
            lost[e.b] = true;
            beats[e.a].push(e.b);
            beaten_by[e.b].push(e.a);
        }
        if e.w_ba > 0.0 {
            won[e.b] = true;
            lost[e.a] = true;
            beats[e.b].push(e.a);
            beaten_by[e.a].push(e.b);
        }
    }
    if let Some(i) = (0..n).find(|&i| !lost[i]) {
        return Err(BtError::MleDoesNotExist {
            item: i as u32,
            obstacle: MleObstacle::NeverLost,
        });
    }
    if let Some(i) = (0..n).find(|&i| !won[i]) {
        return Err(BtError::MleDoesNotExist {
            item: i as u32,
            obstacle: MleObstacle::NeverWon,
        });
    }
    // Strongly connected iff item 0 reaches everyone and everyone reaches item 0.
    for adjacency in [&beats, &beaten_by] {
        let reached = reachable_from(0, adjacency);
        if let Some(i) = reached.iter().position(|r| !r) {
            return Err(BtError::MleDoesNotExist {
                item: i as u32,
                obstacle: MleObstacle::NotStronglyConnected,
            });
        }
    }
    Ok(())
}

fn reachable_from(start: usize, adjacency: &[Vec<usize>]) -> Vec<bool> {
    let mut seen = vec![false; adjacency.len()];
    let mut stack = vec![start];
    seen[start] = true;
    while let Some(i) = stack.pop() {
        for &j in &adjacency[i] {
            if !seen[j] {
                seen[j] = true;
                stack.push(j);
            }
        }
    }
    seen
}

/// `log σ(x)`, stable for large |x|.
fn log_sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        -(-x).exp().ln_1p()
    } else {
        x - x.exp().ln_1p()
    }
}

fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

struct Objective<'a> {
    n: usize,
    edges: &'a [Edge],
    prior: f64,
}

impl Objective<'_> {
    fn value(&self, s: &[f64]) -> f64 {
        let mut f = 0.0;
        for e in self.edges {
            let d = s[e.a] - s[e.b];
            // log σ(−d) = log σ(d) − d: one logarithm per edge.
            let ls = log_sigmoid(d);
            f += e.w_ab * ls + e.w_ba * (ls - d);
        }
        f - 0.5 * self.prior * s.iter().map(|x| x * x).sum::<f64>()
    }

    /// Gradient of `f` into `grad`, and each edge's curvature `n_ab · p · (1 − p)` into
    /// `curv`: the negative Hessian is `λI + Σ_e curv_e (e_a − e_b)(e_a − e_b)ᵀ`.
    fn gradient(&self, s: &[f64], grad: &mut [f64], curv: &mut [f64]) {
        for (g, x) in grad.iter_mut().zip(s) {
            *g = -self.prior * x;
        }
        for (e, c) in self.edges.iter().zip(curv.iter_mut()) {
            let p = sigmoid(s[e.a] - s[e.b]);
            let flow = e.w_ab * (1.0 - p) - e.w_ba * p;
            grad[e.a] += flow;
            grad[e.b] -= flow;
            *c = (e.w_ab + e.w_ba) * p * (1.0 - p);
        }
    }

    /// `out = H v` for the negative Hessian described in [`Objective::gradient`].
    fn hessian_times(&self, curv: &[f64], v: &[f64], out: &mut [f64]) {
        let shift = self.system_shift();
        for (o, x) in out.iter_mut().zip(v) {
            *o = shift * x;
        }
        for (e, c) in self.edges.iter().zip(curv) {
            let t = c * (v[e.a] - v[e.b]);
            out[e.a] += t;
            out[e.b] -= t;
        }
    }

    /// The diagonal shift of the Newton system: the prior, or with `prior = 0` a tiny ridge.
    /// Without a prior the Hessian is singular along the constant vector (only differences
    /// are identified); the ridge keeps conjugate gradients well defined, and the component
    /// it affects is removed when the step is centred.
    fn system_shift(&self) -> f64 {
        if self.prior > 0.0 {
            self.prior
        } else {
            1e-10
        }
    }

    fn hessian_diagonal(&self, curv: &[f64]) -> Vec<f64> {
        let mut diag = vec![self.system_shift(); self.n];
        for (e, c) in self.edges.iter().zip(curv) {
            diag[e.a] += c;
            diag[e.b] += c;
        }
        diag
    }
}

fn dot(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).map(|(a, b)| a * b).sum()
}

fn center(x: &mut [f64]) {
    let mean = x.iter().sum::<f64>() / x.len() as f64;
    x.iter_mut().for_each(|v| *v -= mean);
}

/// Solve `H d = g` by Jacobi-preconditioned conjugate gradients.
fn newton_direction(obj: &Objective, curv: &[f64], grad: &[f64], cg_tolerance: f64) -> Vec<f64> {
    let n = obj.n;
    let diag: Vec<f64> = obj
        .hessian_diagonal(curv)
        .into_iter()
        .map(|d| if d > 0.0 { d } else { 1.0 })
        .collect();
    let mut x = vec![0.0; n];
    let mut r = grad.to_vec();
    let mut z: Vec<f64> = r.iter().zip(&diag).map(|(r, d)| r / d).collect();
    let mut p = z.clone();
    let mut rz = dot(&r, &z);
    let mut hp = vec![0.0; n];
    let target = cg_tolerance * dot(grad, grad).sqrt();
    for _ in 0..(2 * n + 20) {
        obj.hessian_times(curv, &p, &mut hp);
        let php = dot(&p, &hp);
        if php <= 0.0 || !php.is_finite() {
            break;
        }
        let alpha = rz / php;
        for i in 0..n {
            x[i] += alpha * p[i];
            r[i] -= alpha * hp[i];
        }
        if dot(&r, &r).sqrt() <= target {
            break;
        }
        for i in 0..n {
            z[i] = r[i] / diag[i];
        }
        let rz_next = dot(&r, &z);
        let beta = rz_next / rz;
        rz = rz_next;
        for i in 0..n {
            p[i] = z[i] + beta * p[i];
        }
    }
    x
}

fn newton(
    n: usize,
    edges: &[Edge],
    opts: &BtOptions,
    start: Option<&[f64]>,
    cg_tolerance: f64,
) -> Result<BtFit, BtError> {
    let obj = Objective {
        n,
        edges,
        prior: opts.prior,
    };
    let mut s = match start {
        Some(start) if start.len() == n && start.iter().all(|v| v.is_finite()) => start.to_vec(),
        _ => vec![0.0; n],
    };
    let mut grad = vec![0.0; n];
    let mut curv = vec![0.0; edges.len()];
    let mut trial = vec![0.0; n];
    let mut f = obj.value(&s);
    let mut last_step = f64::INFINITY;
    for iteration in 1..=opts.max_iter {
        crate::interrupt::check()?;
        obj.gradient(&s, &mut grad, &mut curv);
        let mut d = newton_direction(&obj, &curv, &grad, cg_tolerance);
        if opts.prior == 0.0 {
            center(&mut d);
        }
        let d_max = d.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        // slope = gᵀH⁻¹g, the squared Newton decrement: twice the predicted gain of the step.
        let slope = dot(&grad, &d);
        if !(slope.is_finite() && d_max.is_finite()) {
            return Err(BtError::NotConverged {
                iterations: iteration,
                last_step,
            });
        }
        // Once the predicted gain is below what f can resolve in floating point, Newton is in
        // its quadratic phase: take full steps without a line search until they are below tol.
        let resolvable = slope > 1e-13 * f.abs().max(1.0);
        let mut t = 1.0;
        if resolvable {
            loop {
                for i in 0..n {
                    trial[i] = s[i] + t * d[i];
                }
                let f_trial = obj.value(&trial);
                if f_trial >= f + 1e-4 * t * slope {
                    f = f_trial;
                    break;
                }
                t *= 0.5;
                if t < 1e-12 {
                    return Err(BtError::Stalled {
                        iterations: iteration,
                        last_step,
                    });
                }
            }
        } else {
            // f is only used to decide whether gains are resolvable; once they are not, a
            // Newton step cannot make them so again, so f is left as it is.
            for i in 0..n {
                trial[i] = s[i] + d[i];
            }
        }
        std::mem::swap(&mut s, &mut trial);
        last_step = t * d_max;
        if last_step <= opts.tol {
            return Ok(finish(s, iteration));
        }
    }
    Err(BtError::NotConverged {
        iterations: opts.max_iter,
        last_step,
    })
}

fn finish(mut s: Vec<f64>, iterations: usize) -> BtFit {
    center(&mut s);
    BtFit {
        strengths: s,
        iterations,
    }
}

/// Convert a natural-log strength to the Elo-like display scale Chatbot Arena uses:
/// `rating = base + scale · s / ln 10`.
pub fn to_elo_scale(s: f64, scale: f64, base: f64) -> f64 {
    base + scale * s / std::f64::consts::LN_10
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pairwise::test_support::pair;

    fn mle() -> BtOptions {
        BtOptions {
            prior: 0.0,
            ..Default::default()
        }
    }

    #[test]
    fn two_items_mle_is_log_odds() {
        // 3 wins against 1: s_a - s_b = ln 3, mean zero.
        let fit = fit_bradley_terry(2, &[pair(0, 1, 3.0, 1.0, 0.0)], &mle()).unwrap();
        let d = fit.strengths[0] - fit.strengths[1];
        assert!((d - 3f64.ln()).abs() < 1e-12, "{d}");
        assert!((fit.strengths[0] + fit.strengths[1]).abs() < 1e-14);
    }

    #[test]
    fn ties_half_versus_ignore() {
        let pairs = [pair(0, 1, 2.0, 1.0, 2.0)];
        let half = fit_bradley_terry(2, &pairs, &mle()).unwrap();
        assert!(((half.strengths[0] - half.strengths[1]) - (3.0f64 / 2.0).ln()).abs() < 1e-12);
        let ignore = BtOptions {
            ties: TieHandling::Ignore,
            ..mle()
        };
        let ign = fit_bradley_terry(2, &pairs, &ignore).unwrap();
        assert!(((ign.strengths[0] - ign.strengths[1]) - 2f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn prior_zero_rejects_undefeated_item() {
        let err = fit_bradley_terry(2, &[pair(0, 1, 3.0, 0.0, 0.0)], &mle()).unwrap_err();
        assert_eq!(
            err,
            BtError::MleDoesNotExist {
                item: 0,
                obstacle: MleObstacle::NeverLost
            }
        );
    }

    #[test]
    fn prior_zero_rejects_disconnected_graph() {
        let pairs = [pair(0, 1, 1.0, 1.0, 0.0), pair(2, 3, 1.0, 1.0, 0.0)];
        let err = fit_bradley_terry(4, &pairs, &mle()).unwrap_err();
        assert!(matches!(
            err,
            BtError::MleDoesNotExist {
                obstacle: MleObstacle::NotStronglyConnected,
                ..
            }
        ));
    }

    #[test]
    fn default_prior_keeps_degenerate_data_finite() {
        let undefeated =
            fit_bradley_terry(2, &[pair(0, 1, 5.0, 0.0, 0.0)], &BtOptions::default()).unwrap();
        assert!(undefeated.strengths.iter().all(|s| s.is_finite()));
        assert!(undefeated.strengths[0] > undefeated.strengths[1]);
        let disconnected = [pair(0, 1, 3.0, 1.0, 0.0), pair(2, 3, 1.0, 3.0, 0.0)];
        let fit = fit_bradley_terry(4, &disconnected, &BtOptions::default()).unwrap();
        assert!(fit.strengths.iter().all(|s| s.is_finite()));
        assert!(fit.strengths.iter().sum::<f64>().abs() < 1e-12);
    }

    #[test]
    fn single_and_empty() {
        assert_eq!(
            fit_bradley_terry(0, &[], &BtOptions::default())
                .unwrap()
                .strengths,
            Vec::<f64>::new()
        );
        assert_eq!(
            fit_bradley_terry(1, &[], &mle()).unwrap().strengths,
            vec![0.0]
        );
    }

    #[test]
    fn large_spread_converges_fast() {
        // A chain where each item beats the next 999 times out of 1000: a spread of
        // ~7 natural-log units per step, where MM would need thousands of iterations.
        let n = 20;
        let pairs: Vec<_> = (0..n - 1)
            .map(|i| pair(i, i + 1, 999.0, 1.0, 0.0))
            .collect();
        let fit = fit_bradley_terry(n as usize, &pairs, &mle()).unwrap();
        assert!(fit.iterations < 60, "{}", fit.iterations);
        for i in 0..(n as usize - 1) {
            let d = fit.strengths[i] - fit.strengths[i + 1];
            assert!((d - 999f64.ln()).abs() < 1e-8, "{d}");
        }
    }

    #[test]
    fn rejects_bad_options_and_counts() {
        let bad = BtOptions {
            prior: -1.0,
            ..Default::default()
        };
        assert!(matches!(
            fit_bradley_terry(2, &[], &bad),
            Err(BtError::InvalidOption(_))
        ));
        let nan = [pair(0, 1, f64::NAN, 1.0, 0.0)];
        assert!(matches!(
            fit_bradley_terry(2, &nan, &BtOptions::default()),
            Err(BtError::InvalidCounts { .. })
        ));
    }
}
