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
//! Solver: Newton's method with a backtracking (Armijo) line search. The objective is concave,
//! so the line search makes the iteration globally convergent, and near the optimum it
//! converges quadratically: large rating spreads (where MM crawls) take a handful of
//! iterations. The Newton system is a weighted graph Laplacian plus `λI`. On a small sparse
//! comparison graph (one prompt's votes in a grouped query) it is factored directly by a
//! sparse `L D Lᵀ` in a minimum-degree order (`linalg::GraphLdl`), which hardly fills in on such
//! graphs; otherwise (dense graphs, or more than a few hundred items) it is solved by
//! Jacobi-preconditioned conjugate gradients using Hessian-vector products, which cost
//! O(pairs) each, so no dense n×n matrix is ever formed. Both give the same steps up to
//! rounding, hence the same optimum.

use super::linalg::{dot, DenseLaplacian, GraphLdl, DENSE_MAX_ITEMS};
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

/// As [`fit_bradley_terry_from`], with each Newton system that conjugate gradients solve
/// solved only to relative residual `cg_tolerance` (an inexact Newton method). Near the
/// optimum the error then shrinks by about `cg_tolerance` per step on top of Newton's
/// quadratic rate, so a tolerance well below `opts.tol` ends at the same precision with far
/// fewer conjugate-gradient steps. The bootstrap uses it for its replicate fits. Systems
/// solved directly (small sparse graphs, see [`Solver`]) are exact regardless.
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
    let objective = Objective {
        n: n_items,
        edges: &edges,
        prior: opts.prior,
    };
    let mut workspace = Workspace::default();
    let solver = Solver {
        method: Method::choose(
            n_items,
            edges.iter().map(|e| (e.a, e.b)),
            &mut workspace.ldl,
        ),
        cg_tolerance,
    };
    let start = start.filter(|s| s.len() == n_items && s.iter().all(|v| v.is_finite()));
    let mut s = start.map_or_else(|| vec![0.0; n_items], <[f64]>::to_vec);
    let iterations = newton(
        &objective,
        &mut s,
        start.is_none(),
        opts,
        solver,
        &mut workspace,
    )?;
    Ok(finish(s, iterations))
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

struct Objective<'a> {
    n: usize,
    edges: &'a [Edge],
    prior: f64,
}

impl Objective<'_> {
    /// Each edge's `e^−|s_a − s_b|` into `at.decay`: the one exponential that
    /// [`Objective::value`] and [`Objective::gradient`] share.
    fn decays(&self, s: &[f64], at: &mut PointDerivatives) {
        scaled_exponentials(s, &mut at.scaled);
        for (e, z) in self.edges.iter().zip(at.decay.iter_mut()) {
            *z = decay(&at.scaled, s, e);
        }
    }

    /// `f(s)`, given the edges' [`Objective::decays`] at `s`.
    fn value(&self, s: &[f64], decay: &[f64]) -> f64 {
        let mut f = 0.0;
        for (e, &z) in self.edges.iter().zip(decay) {
            let d = s[e.a] - s[e.b];
            // log σ(d) = min(d, 0) − ln(1 + e^−|d|), stable for large |d|; and
            // log σ(−d) = log σ(d) − d: one logarithm per edge.
            let ls = if d >= 0.0 { -z.ln_1p() } else { d - z.ln_1p() };
            f += e.w_ab * ls + e.w_ba * (ls - d);
        }
        f - 0.5 * self.prior * s.iter().map(|x| x * x).sum::<f64>()
    }

    /// `f(0)`, where every decay is 1, so no exponential is needed.
    fn value_at_origin(&self, decay: &mut [f64]) -> f64 {
        let ls = -(1.0f64).ln_1p();
        decay.fill(1.0);
        self.edges
            .iter()
            .fold(0.0, |f, e| f + (e.w_ab * ls + e.w_ba * ls))
    }

    /// Gradient of `f` at `s` into `grad`, given the edges' [`Objective::decays`] there, and
    /// each edge's curvature `n_ab · p · (1 − p)` into `curv`: the negative Hessian is
    /// `λI + Σ_e curv_e (e_a − e_b)(e_a − e_b)ᵀ`.
    fn gradient(&self, s: &[f64], decay: &[f64], grad: &mut [f64], curv: &mut [f64]) {
        for (g, x) in grad.iter_mut().zip(s) {
            *g = -self.prior * x;
        }
        for ((e, c), &z) in self.edges.iter().zip(curv.iter_mut()).zip(decay) {
            self.add_edge_terms(e, s[e.a] - s[e.b], z, grad, c);
        }
    }

    /// [`Objective::decays`] and [`Objective::gradient`] at `s` in one pass over the edges.
    fn derivatives(&self, s: &[f64], at: &mut PointDerivatives) {
        for (g, x) in at.grad.iter_mut().zip(s) {
            *g = -self.prior * x;
        }
        scaled_exponentials(s, &mut at.scaled);
        let edges = self
            .edges
            .iter()
            .zip(at.curv.iter_mut())
            .zip(at.decay.iter_mut());
        for ((e, c), z) in edges {
            *z = decay(&at.scaled, s, e);
            self.add_edge_terms(e, s[e.a] - s[e.b], *z, &mut at.grad, c);
        }
    }

    /// Edge `e`'s share of the gradient, and its curvature into `curv`, at `d = s_a − s_b`
    /// with `z = e^−|d|`.
    #[inline(always)]
    fn add_edge_terms(&self, e: &Edge, d: f64, z: f64, grad: &mut [f64], curv: &mut f64) {
        // p = σ(d) from z = e^−|d|, without cancellation on either side.
        let p = if d >= 0.0 {
            1.0 / (1.0 + z)
        } else {
            z / (1.0 + z)
        };
        let flow = e.w_ab * (1.0 - p) - e.w_ba * p;
        grad[e.a] += flow;
        grad[e.b] -= flow;
        *curv = (e.w_ab + e.w_ba) * p * (1.0 - p);
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

    /// The diagonal shift of the Newton system for conjugate gradients: the prior, or with
    /// `prior = 0` a tiny ridge. Without a prior the Hessian is singular along the constant
    /// vector (only differences are identified); the ridge keeps conjugate gradients well
    /// defined, and the component it affects is removed when the step is centred.
    fn system_shift(&self) -> f64 {
        if self.prior > 0.0 {
            self.prior
        } else {
            1e-10
        }
    }

    fn hessian_diagonal(&self, curv: &[f64], diag: &mut Vec<f64>) {
        diag.clear();
        diag.resize(self.n, self.system_shift());
        for (e, c) in self.edges.iter().zip(curv) {
            diag[e.a] += c;
            diag[e.b] += c;
        }
    }
}

fn center(x: &mut [f64]) {
    let mean = x.iter().sum::<f64>() / x.len() as f64;
    x.iter_mut().for_each(|v| *v -= mean);
}

/// `e^(s_i − max s)` per item into `scaled`: one exponential per item, from which
/// [`decay`] gives each edge's without one per edge (a dense graph has fifty times more
/// edges than items).
fn scaled_exponentials(s: &[f64], scaled: &mut Vec<f64>) {
    let top = s.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
    scaled.clear();
    scaled.extend(s.iter().map(|&v| (v - top).exp()));
}

/// Edge `e`'s `e^−|s_a − s_b|` as the ratio of its ends' [`scaled_exponentials`], which is
/// accurate to a few ulps while the smaller is a normal number; past that (ends more than
/// about 700 apart on the log scale) by its own exponential.
#[inline(always)]
fn decay(scaled: &[f64], s: &[f64], e: &Edge) -> f64 {
    let (x, y) = (scaled[e.a], scaled[e.b]);
    let (low, high) = if x < y { (x, y) } else { (y, x) };
    if low >= f64::MIN_POSITIVE {
        low / high
    } else {
        (-(s[e.a] - s[e.b]).abs()).exp()
    }
}

/// The vectors of one Newton fit, allocated once for all its steps.
#[derive(Debug, Default)]
struct Workspace {
    /// The current point's gradient, curvatures and decays, then the trial point's.
    here: PointDerivatives,
    trial: PointDerivatives,
    trial_s: Vec<f64>,
    direction: Vec<f64>,
    cg: CgVectors,
    ldl: GraphLdl,
    dense: DenseLaplacian,
}

/// What [`Objective::derivatives`] gives at one point.
#[derive(Debug, Default)]
struct PointDerivatives {
    grad: Vec<f64>,
    curv: Vec<f64>,
    decay: Vec<f64>,
    /// Scratch for [`scaled_exponentials`].
    scaled: Vec<f64>,
}

impl Workspace {
    fn resize(&mut self, n: usize, edges: usize) {
        for v in [
            &mut self.here.grad,
            &mut self.trial.grad,
            &mut self.trial_s,
            &mut self.direction,
        ] {
            v.clear();
            v.resize(n, 0.0);
        }
        for v in [
            &mut self.here.curv,
            &mut self.here.decay,
            &mut self.trial.curv,
            &mut self.trial.decay,
        ] {
            v.clear();
            v.resize(edges, 0.0);
        }
    }
}

/// The vectors of [`newton_direction`].
#[derive(Debug, Default)]
struct CgVectors {
    diag: Vec<f64>,
    r: Vec<f64>,
    z: Vec<f64>,
    p: Vec<f64>,
    hp: Vec<f64>,
}

/// Solve `H x = g` by Jacobi-preconditioned conjugate gradients.
fn newton_direction(
    obj: &Objective,
    curv: &[f64],
    grad: &[f64],
    cg_tolerance: f64,
    v: &mut CgVectors,
    x: &mut [f64],
) {
    let n = obj.n;
    obj.hessian_diagonal(curv, &mut v.diag);
    for d in &mut v.diag {
        *d = if *d > 0.0 { *d } else { 1.0 };
    }
    x.fill(0.0);
    v.r.clear();
    v.r.extend_from_slice(grad);
    v.z.clear();
    v.z.extend(v.r.iter().zip(&v.diag).map(|(r, d)| r / d));
    v.p.clone_from(&v.z);
    let mut rz = dot(&v.r, &v.z);
    v.hp.clear();
    v.hp.resize(n, 0.0);
    let target = cg_tolerance * dot(grad, grad).sqrt();
    for _ in 0..(2 * n + 20) {
        obj.hessian_times(curv, &v.p, &mut v.hp);
        let php = dot(&v.p, &v.hp);
        if php <= 0.0 || !php.is_finite() {
            break;
        }
        let alpha = rz / php;
        let steps = x.iter_mut().zip(&v.p).zip(v.r.iter_mut().zip(&v.hp));
        for ((x, p), (r, hp)) in steps {
            *x += alpha * p;
            *r -= alpha * hp;
        }
        if dot(&v.r, &v.r).sqrt() <= target {
            break;
        }
        for i in 0..n {
            v.z[i] = v.r[i] / v.diag[i];
        }
        let rz_next = dot(&v.r, &v.z);
        let beta = rz_next / rz;
        rz = rz_next;
        for i in 0..n {
            v.p[i] = v.z[i] + beta * v.p[i];
        }
    }
}

/// How a Newton fit solves its systems.
#[derive(Debug, Clone, Copy)]
struct Solver {
    method: Method,
    cg_tolerance: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    /// By the factorisation the workspace's [`GraphLdl`] was analysed for.
    Graph,
    /// By a dense Cholesky factorisation ([`DenseLaplacian`]).
    Dense,
    /// By conjugate gradients.
    ConjugateGradients,
}

/// A direct solve is used when factoring the Newton system costs at most this many
/// multiply-adds per item and edge. Conjugate gradients cost a few multiply-adds per item
/// and edge per step and take tens to hundreds of steps; a factorisation that fills in
/// densely (a dense or an expander-like graph) is left to them or to the dense solve.
const DIRECT_COST_PER_UNKNOWN: usize = 16;

/// A dense factorisation (`n³/6` multiply-adds) is used when it costs at most this many per
/// item and edge: about as many as the conjugate-gradient steps of one Newton system. On a
/// complete graph that holds up to about 190 items.
const DENSE_COST_PER_UNKNOWN: usize = 64;

impl Method {
    /// The cheapest way to solve the Newton systems of a graph of `n` items and `edges`
    /// (ends in `0..n`), analysing `ldl` for it when that is the way.
    fn choose(
        n: usize,
        edges: impl ExactSizeIterator<Item = (usize, usize)> + Clone,
        ldl: &mut GraphLdl,
    ) -> Method {
        let unknowns = n + edges.len();
        if ldl.analyse(n, edges, DIRECT_COST_PER_UNKNOWN * unknowns) {
            Method::Graph
        } else if n <= DENSE_MAX_ITEMS && n * n * n / 6 <= DENSE_COST_PER_UNKNOWN * unknowns {
            Method::Dense
        } else {
            Method::ConjugateGradients
        }
    }
}

/// Maximise `obj` by Newton's method from `s` (all zeros when `at_origin`), in place; the
/// number of steps taken. `ws.ldl` must have been analysed for `obj`'s graph when
/// `solver.method` is [`Method::Graph`].
///
/// Each step is accepted by Armijo's test `f(s + t d) ≥ f(s) + 10⁻⁴ t gᵀd`, halving `t` from
/// 1 until it holds. The gradient at `s + d` is needed for the next step anyway, and it
/// usually settles the full step without `f`: along the step `φ(t) = f(s + t d)` is concave,
/// so `φ(1) − φ(0) ≥ φ'(1)`, and `φ'(1) ≥ 10⁻⁴ φ'(0)` implies the test. Only when that
/// fails are the logarithms of `f` computed. The accepted steps are those of the plain
/// line search.
fn newton(
    obj: &Objective,
    s: &mut Vec<f64>,
    at_origin: bool,
    opts: &BtOptions,
    solver: Solver,
    ws: &mut Workspace,
) -> Result<usize, BtError> {
    let n = obj.n;
    ws.resize(n, obj.edges.len());
    let Workspace {
        here,
        trial,
        trial_s,
        direction: d,
        cg,
        ldl,
        dense,
    } = ws;
    let mut f = if at_origin {
        obj.value_at_origin(&mut here.decay)
    } else {
        obj.decays(s, here);
        obj.value(s, &here.decay)
    };
    // `f` is the objective at the last point a line search accepted (or the start), as the
    // resolvability test wants it. After a step the gradient accepted that value is not known
    // (`f_known` false) and `f` is an earlier one; since f < 0 rises step by step, the
    // earlier magnitude bounds the unknown one from above.
    let mut f_known = true;
    obj.gradient(s, &here.decay, &mut here.grad, &mut here.curv);
    let mut last_step = f64::INFINITY;
    let mut factored = false;
    for iteration in 1..=opts.max_iter {
        crate::interrupt::check()?;
        // After a step of δ the Hessian has moved by O(δ), so the last factor still gives a
        // step whose error is O(δ) times the current error (a chord step): once δ ≤ √tol
        // that is far below tol and the factorisation can be skipped. Without a prior the
        // system is singular along the constant vector: the factorisation pins one item, and
        // keeps the ridge conjugate gradients use, which also damps the step of an item whose
        // only curvature has underflowed as the original kernel did. The step is centred
        // below either way.
        let reuse = factored && last_step <= opts.tol.sqrt();
        let ground = opts.prior == 0.0;
        factored = reuse
            || match solver.method {
                Method::Graph => ldl.factor(obj.system_shift(), &here.curv, ground),
                Method::Dense => {
                    let ends = obj.edges.iter().map(|e| (e.a, e.b));
                    dense.factor(n, obj.system_shift(), ends, &here.curv, ground)
                }
                Method::ConjugateGradients => false,
            };
        if factored {
            match solver.method {
                Method::Dense => dense.solve(&here.grad, d),
                _ => ldl.solve(&here.grad, d),
            }
        } else {
            newton_direction(obj, &here.curv, &here.grad, solver.cg_tolerance, cg, d);
        }
        if opts.prior == 0.0 {
            center(d);
        }
        let d_max = d.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        // slope = gᵀH⁻¹g, the squared Newton decrement: twice the predicted gain of the step.
        let slope = dot(&here.grad, d);
        if !(slope.is_finite() && d_max.is_finite()) {
            return Err(BtError::NotConverged {
                iterations: iteration,
                last_step,
            });
        }
        // Once the predicted gain is below what f can resolve in floating point, Newton is in
        // its quadratic phase: take full steps without a line search until they are below tol.
        let resolvable = |f: f64| slope > 1e-13 * f.abs().max(1.0);
        if !f_known && !resolvable(f) {
            f = obj.value(s, &here.decay);
            f_known = true;
        }
        for i in 0..n {
            trial_s[i] = s[i] + d[i];
        }
        let mut t = 1.0;
        if !resolvable(f) && d_max <= opts.tol {
            std::mem::swap(s, trial_s);
            return Ok(iteration);
        }
        obj.derivatives(trial_s, trial);
        if !resolvable(f) {
            // f is only used to decide whether gains are resolvable; once they are not, a
            // Newton step cannot make them so again, so f is left as it is.
        } else if dot(&trial.grad, d) >= 1e-4 * slope {
            f_known = false;
        } else {
            if !f_known {
                f = obj.value(s, &here.decay);
            }
            let mut f_trial = obj.value(trial_s, &trial.decay);
            while f_trial < f + 1e-4 * t * slope {
                t *= 0.5;
                if t < 1e-12 {
                    return Err(BtError::Stalled {
                        iterations: iteration,
                        last_step,
                    });
                }
                for i in 0..n {
                    trial_s[i] = s[i] + t * d[i];
                }
                obj.decays(trial_s, trial);
                f_trial = obj.value(trial_s, &trial.decay);
            }
            if t < 1.0 {
                obj.gradient(trial_s, &trial.decay, &mut trial.grad, &mut trial.curv);
            }
            f = f_trial;
            f_known = true;
        }
        std::mem::swap(s, trial_s);
        std::mem::swap(here, trial);
        last_step = t * d_max;
        if last_step <= opts.tol {
            return Ok(iteration);
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
mod original;

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

    use proptest::prelude::*;

    /// The current kernel and the original one ([`super::original`]) agree: strengths equal
    /// to 1e-9 relative (1e-9 absolute near zero), or the same error.
    fn same_as_original(
        n: usize,
        pairs: &[PairOutcomes],
        opts: &BtOptions,
        start: Option<&[f64]>,
    ) -> Result<(), TestCaseError> {
        let new = fit_bradley_terry_from(n, pairs, opts, start);
        let old = super::original::fit(n, pairs, opts, start);
        match (&new, &old) {
            (Ok(new), Ok(old)) => {
                for (i, (x, y)) in new.strengths.iter().zip(&old.strengths).enumerate() {
                    prop_assert!(
                        (x - y).abs() <= 1e-9 * y.abs().max(1.0),
                        "item {i}: {x} against {y} (prior {}, ties {:?})",
                        opts.prior,
                        opts.ties
                    );
                }
            }
            // The step sizes in these come from different floating-point paths; a step near
            // tol is rounding, and the last of `max_iter` steps can fall on either side.
            (
                Err(BtError::NotConverged {
                    iterations: i,
                    last_step: x,
                }),
                Err(BtError::NotConverged {
                    iterations: j,
                    last_step: y,
                }),
            ) => prop_assert!(
                i == j && ((x - y).abs() <= 1e-3 * y.abs() || x.max(*y) <= 1e3 * opts.tol),
                "{new:?} against {old:?}"
            ),
            (Ok(_), Err(BtError::NotConverged { last_step, .. }))
            | (Err(BtError::NotConverged { last_step, .. }), Ok(_))
                if *last_step <= 1e3 * opts.tol => {}
            (Err(new), Err(old)) => prop_assert_eq!(new, old),
            _ => prop_assert!(false, "{new:?} against {old:?}"),
        }
        Ok(())
    }

    /// A weighted count: often none, often one vote, sometimes fractional.
    fn count() -> impl Strategy<Value = f64> {
        prop_oneof![3 => Just(0.0), 3 => Just(1.0), 1 => Just(2.0), 2 => 0.0..5.0f64]
    }

    /// Pairs among `n` items, self-comparisons and both orders of a pair included.
    fn pairs_among(
        n: usize,
        len: std::ops::Range<usize>,
    ) -> impl Strategy<Value = Vec<PairOutcomes>> {
        let one = (0..n as u32, 0..n as u32, count(), count(), count())
            .prop_map(|(a, b, x, y, t)| pair(a, b, x, y, t));
        prop::collection::vec(one, len)
    }

    /// A sparse comparison graph: about as many pairs as items, so several components and
    /// items with no games are common, as in one prompt's votes.
    fn sparse_problem() -> impl Strategy<Value = (usize, Vec<PairOutcomes>)> {
        (2usize..120).prop_flat_map(|n| (Just(n), pairs_among(n, 0..n + 20)))
    }

    /// A strongly connected one (a ring with wins both ways, plus random pairs), where the
    /// maximum-likelihood fit exists.
    fn connected_problem() -> impl Strategy<Value = (usize, Vec<PairOutcomes>)> {
        (2usize..50).prop_flat_map(|n| {
            let ring = prop::collection::vec((1.0..4.0f64, 1.0..4.0f64, count()), n);
            (Just(n), ring, pairs_among(n, 0..n)).prop_map(|(n, ring, extra)| {
                let mut pairs: Vec<_> = ring
                    .into_iter()
                    .enumerate()
                    .map(|(i, (x, y, t))| pair(i as u32, ((i + 1) % n) as u32, x, y, t))
                    .collect();
                pairs.extend(extra);
                (n, pairs)
            })
        })
    }

    fn ties(ignore: bool) -> TieHandling {
        if ignore {
            TieHandling::Ignore
        } else {
            TieHandling::Half
        }
    }

    /// A start away from the optimum, as the bootstrap passes.
    fn warm_start(n: usize) -> Vec<f64> {
        (0..n).map(|i| 2.0 * (0.7 * i as f64).sin()).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn matches_original_on_sparse_problems(
            (n, pairs) in sparse_problem(),
            prior in prop_oneof![Just(0.01), Just(1e-3), Just(1e-5), Just(1.0), Just(0.0)],
            ignore_ties in any::<bool>(),
            warm in any::<bool>(),
            max_iter in prop_oneof![4 => Just(100usize), 1 => 1usize..8],
        ) {
            let opts = BtOptions { prior, ties: ties(ignore_ties), max_iter, ..BtOptions::default() };
            let start = warm.then(|| warm_start(n));
            same_as_original(n, &pairs, &opts, start.as_deref())?;
        }

        #[test]
        fn matches_original_without_prior(
            (n, pairs) in connected_problem(),
            ignore_ties in any::<bool>(),
            warm in any::<bool>(),
        ) {
            let opts = BtOptions { prior: 0.0, ties: ties(ignore_ties), ..BtOptions::default() };
            let start = warm.then(|| warm_start(n));
            same_as_original(n, &pairs, &opts, start.as_deref())?;
        }
    }

    #[test]
    fn each_graph_gets_its_cheapest_solver() {
        let mut ldl = GraphLdl::default();
        let complete = |n: usize| -> Vec<(usize, usize)> {
            (0..n)
                .flat_map(|a| (a + 1..n).map(move |b| (a, b)))
                .collect()
        };
        let ring = |n: usize| -> Vec<(usize, usize)> {
            (0..n)
                .flat_map(|a| [(a, (a * 7 + 3) % n), (a, (a * 13 + 1) % n)])
                .collect()
        };
        let path: Vec<_> = (0..99).map(|a| (a, a + 1)).collect();
        for (n, edges, method) in [
            (100, path, Method::Graph),
            (100, complete(100), Method::Dense),
            (180, complete(180), Method::Dense),
            (200, complete(200), Method::ConjugateGradients),
            (600, complete(600), Method::ConjugateGradients),
            (400, ring(400), Method::ConjugateGradients),
        ] {
            assert_eq!(
                Method::choose(n, edges.iter().copied(), &mut ldl),
                method,
                "{n} items"
            );
        }
    }

    /// Graphs the sparse direct solver declines (dense ones, which the dense factorisation
    /// takes, and sparse ones beyond its size limit, which keep conjugate gradients) agree
    /// with the original too.
    #[test]
    fn matches_original_on_large_problems() {
        let mut rng = crate::rng::Xoshiro256::seed_from_u64(5);
        let mut votes = |a: u32, b: u32| {
            let x = (rng.next_u64() % 20) as f64;
            let y = (rng.next_u64() % 20) as f64;
            pair(a, b, x + 1.0, y + 1.0, (x + y) % 3.0)
        };
        let dense: Vec<_> = (0..60)
            .flat_map(|a| (a + 1..60).map(move |b| (a, b)))
            .map(|(a, b)| votes(a, b))
            .collect();
        let sparse: Vec<_> = (0..400u32)
            .flat_map(|a| [(a, (a * 7 + 3) % 400), (a, (a * 13 + 1) % 400)])
            .map(|(a, b)| votes(a, b))
            .collect();
        for (n, pairs) in [(60, dense), (400, sparse)] {
            for prior in [0.01, 0.0] {
                let opts = BtOptions {
                    prior,
                    ..BtOptions::default()
                };
                same_as_original(n, &pairs, &opts, None).unwrap();
            }
        }
    }
}
