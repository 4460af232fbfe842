//! NoisyBT: Bradley–Terry from a crowd whose workers sometimes answer by their own coin.
//!
//! crowd-kit's `NoisyBradleyTerry` model (Bugakova et al., crowd-kit 1.4.2
//! `aggregation/pairwise/noisy_bt.py`), fitted to its optimum. A worker w compares items a
//! and b; with probability σ(g_w) (its skill) it answers by Bradley–Terry, otherwise it picks
//! the first-shown item with probability σ(q_w) (its bias):
//!
//! ```text
//! P(a) = σ(g_w) σ(s_a − s_b) + (1 − σ(g_w)) σ(q_w),   P(b) = 1 − P(a)
//! ```
//!
//! The objective, minimised over x = [x₀, s₁..s_L, q₁..q_W, g₁..g_W]:
//!
//! ```text
//! f(x) = −Σ_rows c [y log P(a) + (1 − y) log P(b)]
//!        − ρ Σ_k [log σ(s_k − x₀) + log σ(x₀ − s_k)]
//!        − α Σ_w [log σ(q_w) + log σ(−q_w) + log σ(g_w) + log σ(−g_w)]
//! ```
//!
//! with y the first item's score (1 win, 0 loss, ½ tie) and c the row's weight. The ρ term
//! is crowd-kit's regularisation toward the anchor x₀, with the sign crowd-kit's gradient
//! uses (its loss adds it with the opposite sign, which rewards divergence); the α term is a
//! Beta(α, α) prior on every skill and bias, which keeps a worker who always agrees with the
//! ranking, or always picks one side, at a finite point (α = 0 is crowd-kit's model).
//!
//! The start is crowd-kit's: numpy's `RandomState(seed).rand(1 + L + 2W)` in that layout,
//! items and workers in value order. The fit is L-BFGS ([`crate::optimize`]), then Newton
//! steps, which settle the directions only the regularisation holds (the common level of the
//! ratings; items far out) where L-BFGS's gradient test would leave errors of gradient /
//! curvature; crowd-kit's own fit does not reach one (its gradient assigns the
//! worker terms of only each worker's last row, one slot off), so its output is not the
//! model's optimum and is not reproduced.
//!
//! Only differences s_k − x₀ enter f, so ratings are reported as s_k − x₀: log-odds, centred
//! where the regularisation puts the anchor.

use crate::interrupt::{self, Interrupted};
use crate::optimize::{lbfgs, Lbfgs};
use crate::pairwise::linalg::solve_spd;
use crate::rng::Mt19937;
use crate::special::{log_sigmoid, logistic_pair};

/// Comparisons by workers, merged per (worker, first item, second item).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CrowdComparisons {
    pub items: usize,
    pub workers: usize,
    pub worker: Vec<u32>,
    pub a: Vec<u32>,
    pub b: Vec<u32>,
    /// Σ weight × score of the first item.
    pub wins_a: Vec<f64>,
    /// Σ weight × (1 − score).
    pub wins_b: Vec<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoisyBtOptions {
    /// ρ: crowd-kit's regularization_ratio.
    pub regularization: f64,
    /// α of the Beta(α, α) prior on skills and biases.
    pub worker_prior: f64,
    pub seed: u32,
    pub max_iter: usize,
    /// Stop L-BFGS when no gradient component exceeds tol × max(1, total weight).
    pub tol: f64,
    /// Newton steps after L-BFGS.
    pub polish: bool,
}

impl Default for NoisyBtOptions {
    fn default() -> Self {
        Self {
            regularization: 1e-5,
            worker_prior: 0.5,
            seed: 0,
            max_iter: 10_000,
            tol: 1e-10,
            polish: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NoisyBt {
    /// s_k − x₀ per item.
    pub rating: Vec<f64>,
    /// σ(g_w) per worker.
    pub skill: Vec<f64>,
    /// σ(q_w) per worker: P(first item) when not answering by skill.
    pub bias: Vec<f64>,
    /// f at the optimum.
    pub loss: f64,
    /// L-BFGS iterations.
    pub iterations: usize,
    /// Newton steps taken after L-BFGS.
    pub newton_steps: usize,
    pub converged: bool,
}

/// crowd-kit's starting point: `RandomState(seed).rand(1 + L + 2W)`.
pub fn start(items: usize, workers: usize, seed: u32) -> Vec<f64> {
    let mut mt = Mt19937::new(seed);
    (0..1 + items + 2 * workers)
        .map(|_| mt.random_sample())
        .collect()
}

/// One merged row's terms at x: its value −ℓ, the gradient of −ℓ in (d, q, g) and, when
/// asked, its Hessian there (d = s_a − s_b, q and g the worker's).
struct RowTerms {
    f: f64,
    grad: [f64; 3],
    hess: [[f64; 3]; 3],
}

fn row_terms(d: f64, q: f64, g: f64, wins: (f64, f64), hessian: bool) -> RowTerms {
    let (ya, yb) = wins;
    let (sg, sg_not) = logistic_pair(g);
    let (sd, sd_not) = logistic_pair(d);
    let (sq, sq_not) = logistic_pair(q);
    let pa = sg * sd + sg_not * sq;
    let pb = sg * sd_not + sg_not * sq_not;
    // k1 = ∂ℓ/∂P(a) with P(b) = 1 − P(a); a zero count contributes nothing, even where its
    // probability is 0.
    let (mut f, mut k1, mut k2) = (0.0, 0.0, 0.0);
    if ya > 0.0 {
        f -= ya * pa.ln();
        k1 += ya / pa;
        k2 += ya / (pa * pa);
    }
    if yb > 0.0 {
        f -= yb * pb.ln();
        k1 -= yb / pb;
        k2 += yb / (pb * pb);
    }
    // ∂P(a)/∂(d, q, g).
    let (dd, dq, dg) = (sd * sd_not, sq * sq_not, sg * sg_not);
    let v = [sg * dd, sg_not * dq, dg * (sd - sq)];
    let grad = [-k1 * v[0], -k1 * v[1], -k1 * v[2]];
    let mut hess = [[0.0; 3]; 3];
    if hessian {
        // ∂²P(a): ∂dd = σ(g) σ''(d), ∂qq = (1 − σ(g)) σ''(q), ∂gg = σ''(g) (σ(d) − σ(q)),
        // ∂dg = σ'(g) σ'(d), ∂qg = −σ'(g) σ'(q), ∂dq = 0; σ'' = σ'(1 − 2σ).
        let m = [
            [sg * dd * (sd_not - sd), 0.0, dg * dd],
            [0.0, sg_not * dq * (sq_not - sq), -dg * dq],
            [dg * dd, -dg * dq, dg * (sg_not - sg) * (sd - sq)],
        ];
        // −ℓ'' = k2 v vᵀ − k1 ∂²P(a).
        for i in 0..3 {
            for j in 0..3 {
                hess[i][j] = k2 * v[i] * v[j] - k1 * m[i][j];
            }
        }
    }
    RowTerms { f, grad, hess }
}

/// The penalty −c [log σ(u) + log σ(−u)], its derivative c tanh(u/2) and second derivative
/// (c/2) sech²(u/2).
fn penalty(c: f64, u: f64) -> (f64, f64, f64) {
    let t = (0.5 * u).tanh();
    (
        -c * (log_sigmoid(u) + log_sigmoid(-u)),
        c * t,
        0.5 * c * (1.0 - t * t),
    )
}

/// f(x), and its gradient written into `grad`.
pub fn objective(c: &CrowdComparisons, o: &NoisyBtOptions, x: &[f64], grad: &mut [f64]) -> f64 {
    let (l, w) = (c.items, c.workers);
    let (q0, g0) = (1 + l, 1 + l + w);
    grad.iter_mut().for_each(|v| *v = 0.0);
    let mut f = 0.0;
    for r in 0..c.worker.len() {
        let (wr, a, b) = (
            c.worker[r] as usize,
            1 + c.a[r] as usize,
            1 + c.b[r] as usize,
        );
        let t = row_terms(
            x[a] - x[b],
            x[q0 + wr],
            x[g0 + wr],
            (c.wins_a[r], c.wins_b[r]),
            false,
        );
        f += t.f;
        grad[a] += t.grad[0];
        grad[b] -= t.grad[0];
        grad[q0 + wr] += t.grad[1];
        grad[g0 + wr] += t.grad[2];
    }
    if o.regularization > 0.0 {
        for k in 1..=l {
            let (p, dp, _) = penalty(o.regularization, x[k] - x[0]);
            f += p;
            grad[k] += dp;
            grad[0] -= dp;
        }
    }
    if o.worker_prior > 0.0 {
        for k in q0..q0 + 2 * w {
            let (p, dp, _) = penalty(o.worker_prior, x[k]);
            f += p;
            grad[k] += dp;
        }
    }
    f
}

/// The most items for the Newton polish: its Schur complement is a dense items × items
/// matrix.
pub const MAX_POLISH_ITEMS: usize = 2000;
/// The most multiply-adds the polish's Schur complement may take per step (Σ over workers of
/// the square of the items each compared).
const MAX_POLISH_WORK: usize = 500_000_000;

/// The Newton step from `x` with x₀ held fixed (f does not change when x₀ and every s move
/// together), from the gradient `grad` at `x`. Each worker's (q, g) block is eliminated
/// (Schur complement), which leaves a dense items × items system. `None` when the Hessian
/// is not positive definite there.
fn newton_step(
    c: &CrowdComparisons,
    o: &NoisyBtOptions,
    by_worker: &[Vec<usize>],
    x: &[f64],
    grad: &[f64],
) -> Option<Vec<f64>> {
    let (l, w) = (c.items, c.workers);
    let (q0, g0) = (1 + l, 1 + l + w);
    let mut schur = vec![0.0; l * l];
    let mut rhs: Vec<f64> = grad[1..=l].iter().map(|v| -v).collect();
    for k in 0..l {
        schur[k * l + k] += penalty(o.regularization, x[1 + k] - x[0]).2;
    }
    // Per worker: H_ww⁻¹ (row-major 2 × 2), its gradient, and its coupling to the items.
    let mut eliminated: Vec<([f64; 4], [f64; 2], Vec<(usize, [f64; 2])>)> = Vec::with_capacity(w);
    let mut coupling = vec![[0.0; 2]; l];
    let mut touched = vec![false; l];
    let mut list = Vec::new();
    for (wr, rows) in by_worker.iter().enumerate() {
        let (q, g) = (x[q0 + wr], x[g0 + wr]);
        let mut h = [
            penalty(o.worker_prior, q).2,
            0.0,
            0.0,
            penalty(o.worker_prior, g).2,
        ];
        for &r in rows {
            let (a, b) = (c.a[r] as usize, c.b[r] as usize);
            let t = row_terms(x[1 + a] - x[1 + b], q, g, (c.wins_a[r], c.wins_b[r]), true);
            let hd = t.hess[0][0];
            schur[a * l + a] += hd;
            schur[b * l + b] += hd;
            schur[a * l + b] -= hd;
            schur[b * l + a] -= hd;
            for (item, sign) in [(a, 1.0), (b, -1.0)] {
                coupling[item][0] += sign * t.hess[0][1];
                coupling[item][1] += sign * t.hess[0][2];
                if !touched[item] {
                    touched[item] = true;
                    list.push(item);
                }
            }
            h[0] += t.hess[1][1];
            h[1] += t.hess[1][2];
            h[2] += t.hess[2][1];
            h[3] += t.hess[2][2];
        }
        let det = h[0] * h[3] - h[1] * h[2];
        if !(h[0] > 0.0 && det > 0.0 && det.is_finite()) {
            return None;
        }
        let inv = [h[3] / det, -h[1] / det, -h[2] / det, h[0] / det];
        let gw = [grad[q0 + wr], grad[g0 + wr]];
        let solve = |v: [f64; 2]| [inv[0] * v[0] + inv[1] * v[1], inv[2] * v[0] + inv[3] * v[1]];
        // rhs_s += C H⁻¹ g_w; S −= C H⁻¹ Cᵀ.
        let hg = solve(gw);
        let mut couplings = Vec::with_capacity(list.len());
        for &i in &list {
            let ci = coupling[i];
            rhs[i] += ci[0] * hg[0] + ci[1] * hg[1];
            let u = solve(ci);
            for &j in &list {
                let cj = coupling[j];
                schur[i * l + j] -= u[0] * cj[0] + u[1] * cj[1];
            }
            couplings.push((i, ci));
        }
        for &i in &list {
            coupling[i] = [0.0; 2];
            touched[i] = false;
        }
        list.clear();
        eliminated.push((inv, gw, couplings));
    }
    let ds = solve_spd(schur, rhs)?;
    let mut step = vec![0.0; x.len()];
    step[1..=l].copy_from_slice(&ds);
    for (wr, (inv, gw, couplings)) in eliminated.iter().enumerate() {
        // δw = H⁻¹ (−g_w − Cᵀ δs).
        let mut v = [-gw[0], -gw[1]];
        for &(i, ci) in couplings {
            v[0] -= ci[0] * ds[i];
            v[1] -= ci[1] * ds[i];
        }
        step[q0 + wr] = inv[0] * v[0] + inv[1] * v[1];
        step[g0 + wr] = inv[2] * v[0] + inv[3] * v[1];
    }
    step.iter().all(|v| v.is_finite()).then_some(step)
}

/// Newton steps from `x` while each lowers the value or, where the value is flat, the largest
/// gradient component: from an L-BFGS point they reach the stationary point to rounding, along directions (the common level of
/// the ratings, which only ρ holds) where L-BFGS's own tolerance would leave errors of
/// gradient / curvature. Skipped above [`MAX_POLISH_ITEMS`] items or [`MAX_POLISH_WORK`].
fn polish(
    c: &CrowdComparisons,
    o: &NoisyBtOptions,
    x: &mut Vec<f64>,
) -> Result<(f64, usize, f64), Interrupted> {
    let mut grad = vec![0.0; x.len()];
    let mut f = objective(c, o, x, &mut grad);
    let mut by_worker: Vec<Vec<usize>> = vec![Vec::new(); c.workers];
    for (r, &wr) in c.worker.iter().enumerate() {
        by_worker[wr as usize].push(r);
    }
    let work: usize = by_worker
        .iter()
        .map(|rows| (2 * rows.len()).min(c.items).pow(2))
        .sum();
    if c.items > MAX_POLISH_ITEMS || work > MAX_POLISH_WORK {
        return Ok((f, 0, max_abs(&grad)));
    }
    let mut steps = 0;
    let mut grad_new = vec![0.0; x.len()];
    for _ in 0..MAX_NEWTON_STEPS {
        interrupt::check()?;
        let Some(step) = newton_step(c, o, &by_worker, x, &grad) else {
            break;
        };
        let x_new: Vec<f64> = x.iter().zip(&step).map(|(a, b)| a + b).collect();
        let f_new = objective(c, o, &x_new, &mut grad_new);
        let (before, after) = (max_abs(&grad), max_abs(&grad_new));
        // Far out, a lower value; near the optimum, where the value is flat to rounding, a
        // smaller gradient.
        let lower = f_new < f - 1e-12 * f.abs().max(1.0);
        let flatter = after < before && f_new <= f + 1e-9 * f.abs().max(1.0);
        if !(lower || flatter) {
            break;
        }
        *x = x_new;
        f = f_new;
        std::mem::swap(&mut grad, &mut grad_new);
        steps += 1;
    }
    Ok((f, steps, max_abs(&grad)))
}

const MAX_NEWTON_STEPS: usize = 20;

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// Fit the model from crowd-kit's start: L-BFGS to a loose tolerance, then Newton steps,
/// which converge quadratically once the Hessian is positive definite. If they stop short of
/// the tolerance (the Hessian is indefinite that far out, or the items are too many), L-BFGS
/// goes on to a tolerance ten times tighter and Newton is tried again, down to the
/// tolerance itself.
pub fn noisy_bt(c: &CrowdComparisons, o: &NoisyBtOptions) -> Result<NoisyBt, Interrupted> {
    let (l, w) = (c.items, c.workers);
    let total: f64 = c.wins_a.iter().chain(&c.wins_b).sum();
    let gtol = o.tol * total.max(1.0);
    let mut stage_tol = if o.polish {
        gtol.max(LOOSE_TOL * total.max(1.0))
    } else {
        gtol
    };
    let mut x = start(l, w, o.seed);
    let (mut iterations, mut newton_steps) = (0, 0);
    loop {
        let fit = lbfgs(
            x,
            |x, g| objective(c, o, x, g),
            &Lbfgs {
                gtol: stage_tol,
                max_iter: o.max_iter - iterations,
                ..Lbfgs::default()
            },
        )?;
        iterations += fit.iterations;
        x = fit.x;
        let (mut loss, mut gradient) = (fit.f, fit.gradient_max);
        if o.polish {
            let (f, steps, g) = polish(c, o, &mut x)?;
            (loss, gradient) = (f, g);
            newton_steps += steps;
        }
        let converged = gradient <= gtol;
        if converged || stage_tol <= gtol || iterations >= o.max_iter {
            let sigmoid = |v: &f64| logistic_pair(*v).0;
            return Ok(NoisyBt {
                rating: x[1..=l].iter().map(|s| s - x[0]).collect(),
                bias: x[1 + l..1 + l + w].iter().map(sigmoid).collect(),
                skill: x[1 + l + w..].iter().map(sigmoid).collect(),
                loss,
                iterations,
                newton_steps,
                converged,
            });
        }
        stage_tol = (stage_tol / 10.0).max(gtol);
    }
}

/// The first L-BFGS run's tolerance per unit of weight when Newton steps follow.
const LOOSE_TOL: f64 = 1e-5;

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> CrowdComparisons {
        // 4 items, 3 workers: w0 follows the order 0 > 1 > 2 > 3 with a few errors, w1
        // always picks the first item, w2 mixes.
        let rows: &[(u32, u32, u32, f64)] = &[
            (0, 0, 1, 1.0),
            (0, 1, 2, 1.0),
            (0, 2, 3, 1.0),
            (0, 3, 0, 0.0),
            (0, 1, 0, 1.0),
            (0, 2, 1, 0.0),
            (0, 0, 2, 1.0),
            (0, 3, 1, 0.5),
            (1, 0, 1, 1.0),
            (1, 3, 0, 1.0),
            (1, 2, 1, 1.0),
            (1, 1, 3, 1.0),
            (2, 0, 3, 1.0),
            (2, 3, 2, 1.0),
            (2, 1, 2, 0.0),
            (2, 2, 0, 0.0),
        ];
        CrowdComparisons {
            items: 4,
            workers: 3,
            worker: rows.iter().map(|r| r.0).collect(),
            a: rows.iter().map(|r| r.1).collect(),
            b: rows.iter().map(|r| r.2).collect(),
            wins_a: rows.iter().map(|r| r.3).collect(),
            wins_b: rows.iter().map(|r| 1.0 - r.3).collect(),
        }
    }

    #[test]
    fn gradient_matches_central_differences() {
        let c = data();
        let o = NoisyBtOptions {
            regularization: 0.3,
            ..NoisyBtOptions::default()
        };
        let x = start(4, 3, 7);
        let mut g = vec![0.0; x.len()];
        objective(&c, &o, &x, &mut g);
        let mut scratch = vec![0.0; x.len()];
        for k in 0..x.len() {
            let h = 1e-6;
            let (mut up, mut down) = (x.clone(), x.clone());
            up[k] += h;
            down[k] -= h;
            let numeric = (objective(&c, &o, &up, &mut scratch)
                - objective(&c, &o, &down, &mut scratch))
                / (2.0 * h);
            assert!((numeric - g[k]).abs() < 1e-7, "{k}: {numeric} vs {}", g[k]);
        }
    }

    #[test]
    fn fit_is_stationary_and_ranks_the_order() {
        let c = data();
        let fit = noisy_bt(&c, &NoisyBtOptions::default()).unwrap();
        assert!(fit.converged);
        let r = &fit.rating;
        assert!(r[0] > r[1] && r[1] > r[2] && r[2] > r[3], "{r:?}");
        // w1 always picks the first item: low skill, high bias.
        assert!(fit.bias[1] > 0.8 && fit.skill[1] < fit.skill[0], "{fit:?}");
        // The shift of x₀ and every s leaves f unchanged; ratings are relative to x₀.
        let mut g = vec![0.0; 1 + 4 + 6];
        let mut x = start(4, 3, 0);
        let f0 = objective(&c, &NoisyBtOptions::default(), &x, &mut g);
        for v in &mut x[0..5] {
            *v += 3.0;
        }
        let f1 = objective(&c, &NoisyBtOptions::default(), &x, &mut g);
        assert!((f0 - f1).abs() < 1e-12);
    }

    #[test]
    fn newton_step_is_the_dense_newton_step() {
        // At the L-BFGS point, the Schur-complement step equals the step from the dense
        // Hessian (central differences of the analytic gradient) with x₀ fixed.
        let c = data();
        let o = NoisyBtOptions {
            regularization: 0.01,
            ..NoisyBtOptions::default()
        };
        let x = lbfgs(
            start(4, 3, 0),
            |x, g| objective(&c, &o, x, g),
            &Lbfgs::default(),
        )
        .unwrap()
        .x;
        let n = x.len();
        let mut grad = vec![0.0; n];
        objective(&c, &o, &x, &mut grad);
        let (mut up, mut down) = (vec![0.0; n], vec![0.0; n]);
        let mut dense = vec![0.0; (n - 1) * (n - 1)];
        for j in 1..n {
            let h = 1e-5;
            let (mut xu, mut xd) = (x.clone(), x.clone());
            xu[j] += h;
            xd[j] -= h;
            objective(&c, &o, &xu, &mut up);
            objective(&c, &o, &xd, &mut down);
            for i in 1..n {
                dense[(i - 1) * (n - 1) + j - 1] = (up[i] - down[i]) / (2.0 * h);
            }
        }
        let expected = solve_spd(dense, grad[1..].iter().map(|v| -v).collect()).unwrap();
        let mut by_worker = vec![Vec::new(); 3];
        for (r, &w) in c.worker.iter().enumerate() {
            by_worker[w as usize].push(r);
        }
        let step = newton_step(&c, &o, &by_worker, &x, &grad).unwrap();
        assert_eq!(step[0], 0.0);
        for i in 1..n {
            let scale = expected[i - 1].abs().max(1e-6);
            assert!(
                (step[i] - expected[i - 1]).abs() < 1e-5 * scale,
                "{i}: {} vs {}",
                step[i],
                expected[i - 1]
            );
        }
    }

    #[test]
    fn polish_reaches_rounding() {
        let c = data();
        let o = NoisyBtOptions::default();
        let fit = noisy_bt(&c, &o).unwrap();
        assert!(fit.newton_steps > 0, "{fit:?}");
        let mut x = start(4, 3, 0);
        x = lbfgs(x, |x, g| objective(&c, &o, x, g), &Lbfgs::default())
            .unwrap()
            .x;
        polish(&c, &o, &mut x).unwrap();
        let mut grad = vec![0.0; x.len()];
        objective(&c, &o, &x, &mut grad);
        assert!(max_abs(&grad) < 1e-12, "{grad:?}");
    }

    #[test]
    fn start_is_numpy_random_state() {
        // np.random.seed(0); np.random.rand(3)
        let x = start(1, 1, 0);
        assert_eq!(
            x[..3],
            [0.5488135039273248, 0.7151893663724195, 0.6027633760716439]
        );
    }
}
