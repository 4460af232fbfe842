//! Newton's method for the small dense concave problems (tie models, Plackett–Luce).
//!
//! Each step solves `(−∇²f) Δ = ∇f` by Cholesky and backtracks until the Armijo condition
//! holds; iteration stops when the largest coordinate of an accepted step is below `tol`.
//! A problem returns `−∞` from [`Concave::value`] outside its domain, which the line search
//! then avoids.

use super::bradley_terry::BtError;
use super::linalg::solve_spd;

pub(crate) trait Concave {
    fn value(&self, x: &[f64]) -> f64;
    /// The gradient and the negative Hessian (dense, row-major), which must be positive
    /// definite.
    fn derivatives(&self, x: &[f64]) -> (Vec<f64>, Vec<f64>);
}

/// Maximise `problem` from `x`; returns the maximiser and the number of steps.
pub(crate) fn maximise(
    problem: &impl Concave,
    mut x: Vec<f64>,
    max_iter: usize,
    tol: f64,
) -> Result<(Vec<f64>, usize), BtError> {
    let mut f = problem.value(&x);
    let mut last_step = f64::INFINITY;
    for iteration in 1..=max_iter {
        crate::interrupt::check()?;
        let (g, h) = problem.derivatives(&x);
        let Some(step) = solve_spd(h, g.clone()) else {
            return Err(BtError::NotConverged {
                iterations: iteration,
                last_step,
            });
        };
        let slope: f64 = g.iter().zip(&step).map(|(a, b)| a * b).sum();
        let mut alpha = 1.0;
        let (mut candidate, mut f_new);
        loop {
            candidate = x
                .iter()
                .zip(&step)
                .map(|(v, s)| v + alpha * s)
                .collect::<Vec<_>>();
            f_new = problem.value(&candidate);
            if f_new >= f + 1e-4 * alpha * slope || alpha < 1e-12 {
                break;
            }
            alpha *= 0.5;
        }
        last_step = step.iter().map(|s| (alpha * s).abs()).fold(0.0, f64::max);
        if f_new >= f {
            x = candidate;
            f = f_new;
        }
        if last_step < tol {
            return Ok((x, iteration));
        }
    }
    Err(BtError::NotConverged {
        iterations: max_iter,
        last_step,
    })
}
