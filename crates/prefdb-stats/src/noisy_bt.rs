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
//! items and workers in value order. The fit is L-BFGS to a stationary point
//! ([`crate::optimize`]); crowd-kit's own fit does not reach one (its gradient assigns the
//! worker terms of only each worker's last row, one slot off), so its output is not the
//! model's optimum and is not reproduced.
//!
//! Only differences s_k − x₀ enter f, so ratings are reported as s_k − x₀: log-odds, centred
//! where the regularisation puts the anchor.

use crate::interrupt::Interrupted;
use crate::optimize::{lbfgs, Lbfgs};
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
    /// Stop when no gradient component exceeds tol × max(1, total weight).
    pub tol: f64,
}

impl Default for NoisyBtOptions {
    fn default() -> Self {
        Self {
            regularization: 1e-5,
            worker_prior: 0.5,
            seed: 0,
            max_iter: 10_000,
            tol: 1e-10,
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
    pub iterations: usize,
    pub converged: bool,
}

/// crowd-kit's starting point: `RandomState(seed).rand(1 + L + 2W)`.
pub fn start(items: usize, workers: usize, seed: u32) -> Vec<f64> {
    let mut mt = Mt19937::new(seed);
    (0..1 + items + 2 * workers)
        .map(|_| mt.random_sample())
        .collect()
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
        let (ya, yb) = (c.wins_a[r], c.wins_b[r]);
        let (sg, sg_not) = logistic_pair(x[g0 + wr]);
        let (sd, sd_not) = logistic_pair(x[a] - x[b]);
        let (sq, sq_not) = logistic_pair(x[q0 + wr]);
        let pa = sg * sd + sg_not * sq;
        let pb = sg * sd_not + sg_not * sq_not;
        // k = ∂ℓ/∂P(a), with P(b) = 1 − P(a); a zero count contributes nothing, even where
        // its probability is 0.
        let mut k = 0.0;
        if ya > 0.0 {
            f -= ya * pa.ln();
            k += ya / pa;
        }
        if yb > 0.0 {
            f -= yb * pb.ln();
            k -= yb / pb;
        }
        let dd = k * sg * sd * sd_not;
        grad[a] -= dd;
        grad[b] += dd;
        grad[q0 + wr] -= k * sg_not * sq * sq_not;
        grad[g0 + wr] -= k * sg * sg_not * (sd - sq);
    }
    let rho = o.regularization;
    if rho > 0.0 {
        for k in 1..=l {
            let u = x[k] - x[0];
            f -= rho * (log_sigmoid(u) + log_sigmoid(-u));
            // d/du −[log σ(u) + log σ(−u)] = 2σ(u) − 1 = tanh(u/2).
            let t = rho * (0.5 * u).tanh();
            grad[k] += t;
            grad[0] -= t;
        }
    }
    let alpha = o.worker_prior;
    if alpha > 0.0 {
        for k in q0..q0 + 2 * w {
            let u = x[k];
            f -= alpha * (log_sigmoid(u) + log_sigmoid(-u));
            grad[k] += alpha * (0.5 * u).tanh();
        }
    }
    f
}

/// Fit the model from crowd-kit's start.
pub fn noisy_bt(c: &CrowdComparisons, o: &NoisyBtOptions) -> Result<NoisyBt, Interrupted> {
    let (l, w) = (c.items, c.workers);
    let total: f64 = c.wins_a.iter().chain(&c.wins_b).sum();
    let fit = lbfgs(
        start(l, w, o.seed),
        |x, g| objective(c, o, x, g),
        &Lbfgs {
            gtol: o.tol * total.max(1.0),
            max_iter: o.max_iter,
            ..Lbfgs::default()
        },
    )?;
    let x = &fit.x;
    let sigmoid = |v: &f64| logistic_pair(*v).0;
    Ok(NoisyBt {
        rating: x[1..=l].iter().map(|s| s - x[0]).collect(),
        bias: x[1 + l..1 + l + w].iter().map(sigmoid).collect(),
        skill: x[1 + l + w..].iter().map(sigmoid).collect(),
        loss: fit.f,
        iterations: fit.iterations,
        converged: fit.converged,
    })
}

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
    fn start_is_numpy_random_state() {
        // np.random.seed(0); np.random.rand(3)
        let x = start(1, 1, 0);
        assert_eq!(
            x[..3],
            [0.5488135039273248, 0.7151893663724195, 0.6027633760716439]
        );
    }
}
