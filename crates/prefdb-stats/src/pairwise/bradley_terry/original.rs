//! The Bradley–Terry kernel as it was before the direct solver (commit 18a0a1c): one Newton
//! fit over all items, every system solved by Jacobi-preconditioned conjugate gradients to a
//! relative residual of 1e-12, and a line search that evaluates `f` at every trial point.
//! Kept verbatim, apart from this header and [`fit`], as the reference the tests hold the
//! current kernel to.

use super::{check_mle_exists, effective_edges, validate_options, BtError, BtFit, BtOptions, Edge};
use crate::pairwise::PairOutcomes;

/// What `fit_bradley_terry_from` computed.
pub(crate) fn fit(
    n_items: usize,
    pairs: &[PairOutcomes],
    opts: &BtOptions,
    start: Option<&[f64]>,
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
    newton(n_items, &edges, opts, start, 1e-12)
}

use crate::special::{log_sigmoid, sigmoid};

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
