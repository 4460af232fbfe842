//! Newton's method for the small dense concave problems (tie models, Plackett–Luce).
//!
//! Each step solves `(−∇²f) Δ = ∇f` by Cholesky and backtracks until the Armijo condition
//! holds; iteration stops when the largest coordinate of an accepted step is below `tol`.
//! A problem returns `−∞` from [`Concave::value`] outside its domain, which the line search
//! then avoids.

use super::bradley_terry::BtError;

pub(crate) trait Concave {
    fn value(&self, x: &[f64]) -> f64;
    /// The gradient and the negative Hessian (dense, row-major), which must be positive
    /// definite.
    fn derivatives(&self, x: &[f64]) -> (Vec<f64>, Vec<f64>);
}

/// Solve `a x = b` for symmetric positive definite `a` (row-major, size k) by Cholesky;
/// `None` when `a` is not positive definite.
fn solve_spd(mut a: Vec<f64>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let k = b.len();
    for j in 0..k {
        let mut diag = a[j * k + j];
        for p in 0..j {
            diag -= a[j * k + p] * a[j * k + p];
        }
        if diag.is_nan() || diag <= 0.0 {
            return None;
        }
        let diag = diag.sqrt();
        a[j * k + j] = diag;
        for i in j + 1..k {
            let mut v = a[i * k + j];
            for p in 0..j {
                v -= a[i * k + p] * a[j * k + p];
            }
            a[i * k + j] = v / diag;
        }
    }
    for i in 0..k {
        let mut v = b[i];
        for p in 0..i {
            v -= a[i * k + p] * b[p];
        }
        b[i] = v / a[i * k + i];
    }
    for i in (0..k).rev() {
        let mut v = b[i];
        for p in i + 1..k {
            v -= a[p * k + i] * b[p];
        }
        b[i] = v / a[i * k + i];
    }
    Some(b)
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
