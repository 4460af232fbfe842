//! Unconstrained smooth minimisation: limited-memory BFGS with a strong-Wolfe line search.
//!
//! For models whose parameters are too many for a dense Newton step and whose objective is
//! not convex (`noisy_bt`'s mixture of a Bradley–Terry choice and a worker's own coin).
//! Nocedal & Wright, *Numerical Optimization* (2nd ed.): the two-loop recursion (Alg. 7.4)
//! with H₀ = (sᵀy / yᵀy) I, and the bracketing line search of Alg. 3.5 / 3.6 with
//! safeguarded cubic interpolation.
//!
//! Near a minimum the objective's rounding (a sum over many rows) hides decreases far
//! smaller than the gradient still shows, and a plain Armijo test then rejects good steps.
//! So a step is also accepted under Hager & Zhang's approximate Wolfe conditions (2005):
//! the value no more than `1e-12 |f|` above the start and the slope along the step small,
//! which uses the gradient, whose precision does not degrade there.

use crate::interrupt::{self, Interrupted};
use std::collections::VecDeque;

/// What `lbfgs` does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lbfgs {
    /// Correction pairs kept.
    pub memory: usize,
    /// The most iterations (line searches).
    pub max_iter: usize,
    /// Stop when no gradient component exceeds this in absolute value.
    pub gtol: f64,
}

impl Default for Lbfgs {
    fn default() -> Self {
        Self {
            memory: 10,
            max_iter: 10_000,
            gtol: 1e-8,
        }
    }
}

/// Where `lbfgs` stopped.
#[derive(Debug, Clone, PartialEq)]
pub struct Minimum {
    pub x: Vec<f64>,
    pub f: f64,
    /// The largest gradient component in absolute value at `x`.
    pub gradient_max: f64,
    pub iterations: usize,
    /// Objective evaluations, the first included.
    pub evaluations: usize,
    /// The gradient test was met (rather than the iteration limit or a line search that
    /// could not improve, which happens when the objective's rounding is all that is left).
    pub converged: bool,
}

const C1: f64 = 1e-4;
const C2: f64 = 0.9;
const MAX_TRIALS: usize = 40;
/// How far above the start an approximate-Wolfe step's value may be, relative to |f|.
const VALUE_SLACK: f64 = 1e-12;

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn max_abs(a: &[f64]) -> f64 {
    a.iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// Minimise `f` from `x`. `fg(x, g)` returns f(x) and writes ∇f(x) into `g`; a non-finite
/// value means "outside the domain" and makes the line search step back.
pub fn lbfgs<F>(mut x: Vec<f64>, mut fg: F, o: &Lbfgs) -> Result<Minimum, Interrupted>
where
    F: FnMut(&[f64], &mut [f64]) -> f64,
{
    let n = x.len();
    let mut g = vec![0.0; n];
    let mut f = fg(&x, &mut g);
    let mut evaluations = 1;
    let mut pairs: VecDeque<(Vec<f64>, Vec<f64>, f64)> = VecDeque::with_capacity(o.memory);
    let mut iterations = 0;
    let mut d = vec![0.0; n];
    let mut x_new = vec![0.0; n];
    let mut g_new = vec![0.0; n];
    let done = |f: f64, x: Vec<f64>, g: &[f64], iterations, evaluations, converged| Minimum {
        x,
        f,
        gradient_max: max_abs(g),
        iterations,
        evaluations,
        converged,
    };
    loop {
        if max_abs(&g) <= o.gtol {
            return Ok(done(f, x, &g, iterations, evaluations, true));
        }
        if iterations >= o.max_iter || !f.is_finite() {
            return Ok(done(f, x, &g, iterations, evaluations, false));
        }
        interrupt::check()?;
        direction(&pairs, &g, &mut d);
        let mut slope = dot(&g, &d);
        if !(slope < 0.0) {
            pairs.clear();
            direction(&pairs, &g, &mut d);
            slope = dot(&g, &d);
        }
        // The first step of a steepest-descent direction moves no coordinate by more than 1.
        let first = if pairs.is_empty() {
            (1.0 / max_abs(&d)).min(1.0)
        } else {
            1.0
        };
        let search = LineSearch {
            x: &x,
            d: &d,
            f0: f,
            slope0: slope,
        };
        let found = search.run(first, &mut fg, &mut x_new, &mut g_new, &mut evaluations);
        let Some((step, f_new)) = found else {
            if pairs.is_empty() {
                return Ok(done(f, x, &g, iterations, evaluations, false));
            }
            // Forget the curvature pairs and try steepest descent.
            pairs.clear();
            continue;
        };
        iterations += 1;
        let s: Vec<f64> = d.iter().map(|v| v * step).collect();
        let y: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > f64::EPSILON * dot(&y, &y) {
            if pairs.len() == o.memory {
                pairs.pop_front();
            }
            pairs.push_back((s, y, 1.0 / sy));
        }
        std::mem::swap(&mut x, &mut x_new);
        std::mem::swap(&mut g, &mut g_new);
        f = f_new;
    }
}

/// d = −H g by the two-loop recursion; −g with no pairs.
fn direction(pairs: &VecDeque<(Vec<f64>, Vec<f64>, f64)>, g: &[f64], d: &mut [f64]) {
    for (di, gi) in d.iter_mut().zip(g) {
        *di = -gi;
    }
    let mut alpha = vec![0.0; pairs.len()];
    for (k, (s, y, rho)) in pairs.iter().enumerate().rev() {
        let a = rho * dot(s, d);
        alpha[k] = a;
        for (di, yi) in d.iter_mut().zip(y) {
            *di -= a * yi;
        }
    }
    if let Some((s, y, _)) = pairs.back() {
        let gamma = dot(s, y) / dot(y, y);
        for di in d.iter_mut() {
            *di *= gamma;
        }
    }
    for (k, (s, y, rho)) in pairs.iter().enumerate() {
        let b = rho * dot(y, d);
        for (di, si) in d.iter_mut().zip(s) {
            *di += (alpha[k] - b) * si;
        }
    }
}

struct LineSearch<'a> {
    x: &'a [f64],
    d: &'a [f64],
    f0: f64,
    slope0: f64,
}

/// A trial point: step, value, slope along d.
#[derive(Clone, Copy)]
struct Trial {
    step: f64,
    f: f64,
    slope: f64,
}

impl LineSearch<'_> {
    fn eval<F>(
        &self,
        step: f64,
        fg: &mut F,
        x: &mut [f64],
        g: &mut [f64],
        count: &mut usize,
    ) -> Trial
    where
        F: FnMut(&[f64], &mut [f64]) -> f64,
    {
        for ((xi, x0), di) in x.iter_mut().zip(self.x).zip(self.d) {
            *xi = x0 + step * di;
        }
        let f = fg(x, g);
        *count += 1;
        let slope = dot(g, self.d);
        if f.is_finite() && slope.is_finite() {
            Trial { step, f, slope }
        } else {
            Trial {
                step,
                f: f64::INFINITY,
                slope: f64::NAN,
            }
        }
    }

    /// Sufficient decrease, or its approximate-Wolfe form.
    fn decreases(&self, t: &Trial) -> bool {
        t.f <= self.f0 + C1 * t.step * self.slope0
            || (t.f <= self.f0 + VALUE_SLACK * self.f0.abs()
                && t.slope <= (2.0 * C1 - 1.0) * self.slope0)
    }

    fn curvature(&self, t: &Trial) -> bool {
        t.slope.abs() <= -C2 * self.slope0
    }

    /// The accepted step and value, with x and g left at that point; `None` when no step
    /// in `MAX_TRIALS` evaluations is acceptable.
    fn run<F>(
        &self,
        first: f64,
        fg: &mut F,
        x: &mut [f64],
        g: &mut [f64],
        count: &mut usize,
    ) -> Option<(f64, f64)>
    where
        F: FnMut(&[f64], &mut [f64]) -> f64,
    {
        let start = Trial {
            step: 0.0,
            f: self.f0,
            slope: self.slope0,
        };
        let mut prev = start;
        let mut step = first;
        for trial in 0..MAX_TRIALS {
            let t = self.eval(step, fg, x, g, count);
            if !self.decreases(&t) || (trial > 0 && t.f >= prev.f) {
                return self.zoom(prev, t, fg, x, g, count, MAX_TRIALS - trial - 1);
            }
            if self.curvature(&t) {
                return Some((t.step, t.f));
            }
            if t.slope >= 0.0 {
                return self.zoom(t, prev, fg, x, g, count, MAX_TRIALS - trial - 1);
            }
            prev = t;
            step *= 4.0;
        }
        None
    }

    /// Nocedal & Wright's zoom: `lo` satisfies sufficient decrease and has the lower value
    /// of the two; the minimiser sought lies between `lo` and `hi`.
    #[allow(clippy::too_many_arguments)]
    fn zoom<F>(
        &self,
        mut lo: Trial,
        mut hi: Trial,
        fg: &mut F,
        x: &mut [f64],
        g: &mut [f64],
        count: &mut usize,
        budget: usize,
    ) -> Option<(f64, f64)>
    where
        F: FnMut(&[f64], &mut [f64]) -> f64,
    {
        for _ in 0..budget {
            let width = hi.step - lo.step;
            if width.abs() <= f64::EPSILON * lo.step.abs().max(hi.step.abs()) {
                break;
            }
            let step = interpolate(&lo, &hi).unwrap_or(lo.step + 0.5 * width);
            let t = self.eval(step, fg, x, g, count);
            if !self.decreases(&t) || t.f >= lo.f {
                hi = t;
            } else {
                if self.curvature(&t) {
                    return Some((t.step, t.f));
                }
                if t.slope * (hi.step - lo.step) >= 0.0 {
                    hi = lo;
                }
                lo = t;
            }
        }
        // Out of trials: the best point found, if it is below the start.
        if lo.step > 0.0 && lo.f < self.f0 {
            let t = self.eval(lo.step, fg, x, g, count);
            return Some((t.step, t.f));
        }
        None
    }
}

/// The minimiser of the cubic through `lo` and `hi` (values and slopes), if it lies well
/// inside the interval: at least a tenth of its width from either end.
fn interpolate(lo: &Trial, hi: &Trial) -> Option<f64> {
    if !hi.f.is_finite() || !hi.slope.is_finite() {
        return None;
    }
    let (a, b) = (lo.step, hi.step);
    let d1 = lo.slope + hi.slope - 3.0 * (lo.f - hi.f) / (a - b);
    let disc = d1 * d1 - lo.slope * hi.slope;
    if !(disc >= 0.0) {
        return None;
    }
    let d2 = (b - a).signum() * disc.sqrt();
    let step = b - (b - a) * (hi.slope + d2 - d1) / (hi.slope - lo.slope + 2.0 * d2);
    let (low, high) = (a.min(b), a.max(b));
    let margin = 0.1 * (high - low);
    (step.is_finite() && step >= low + margin && step <= high - margin).then_some(step)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Rosenbrock function in n dimensions.
    fn rosenbrock(x: &[f64], g: &mut [f64]) -> f64 {
        let mut f = 0.0;
        g.iter_mut().for_each(|v| *v = 0.0);
        for i in 0..x.len() - 1 {
            let (a, b) = (1.0 - x[i], x[i + 1] - x[i] * x[i]);
            f += a * a + 100.0 * b * b;
            g[i] += -2.0 * a - 400.0 * x[i] * b;
            g[i + 1] += 200.0 * b;
        }
        f
    }

    #[test]
    fn finds_rosenbrock_minimum() {
        let m = lbfgs(
            vec![-1.2, 1.0, -1.2, 1.0, 0.5],
            rosenbrock,
            &Lbfgs {
                gtol: 1e-10,
                ..Lbfgs::default()
            },
        )
        .unwrap();
        assert!(m.converged, "{m:?}");
        for v in &m.x {
            assert!((v - 1.0).abs() < 1e-9, "{m:?}");
        }
        assert!(m.iterations < 200, "{m:?}");
    }

    #[test]
    fn quadratic_is_exact_and_domain_errors_step_back() {
        // f = Σ k (x_k − k)², +∞ for x_0 > 3: the first steepest-descent step is capped at 1
        // per coordinate, later steps may overshoot into the forbidden region.
        let f = |x: &[f64], g: &mut [f64]| {
            if x[0] > 3.0 {
                return f64::INFINITY;
            }
            let mut f = 0.0;
            for k in 0..x.len() {
                let w = (k + 1) as f64;
                f += w * (x[k] - w) * (x[k] - w);
                g[k] = 2.0 * w * (x[k] - w);
            }
            f
        };
        let m = lbfgs(vec![0.0; 6], f, &Lbfgs::default()).unwrap();
        assert!(m.converged);
        for (k, v) in m.x.iter().enumerate() {
            assert!((v - (k + 1) as f64).abs() < 1e-8, "{m:?}");
        }
    }

    #[test]
    fn stationary_start_stops_at_once() {
        let m = lbfgs(vec![1.0; 3], rosenbrock, &Lbfgs::default()).unwrap();
        assert_eq!((m.iterations, m.evaluations, m.converged), (0, 1, true));
    }

    #[test]
    fn iteration_limit_reports_not_converged() {
        let m = lbfgs(
            vec![-1.2, 1.0],
            rosenbrock,
            &Lbfgs {
                max_iter: 3,
                ..Lbfgs::default()
            },
        )
        .unwrap();
        assert_eq!(m.iterations, 3);
        assert!(!m.converged);
    }
}
