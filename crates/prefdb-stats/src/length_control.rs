//! AlpacaEval 2.0's length-controlled win rate (Dubois, Galambosi, Liang and Hashimoto 2024,
//! "Length-Controlled AlpacaEval"), as `alpaca_eval` 0.6.6 computes it
//! (`alpaca_eval/metrics/glm_winrate.py`).
//!
//! For one model against the baseline, row `i` is one instruction with the judge's preference
//! `p_i ∈ [0, 1]` (the probability that the model's output wins), the length difference
//! `ℓ_i` (model minus baseline, in characters) and the instruction's difficulty `g_i`. The GLM
//!
//! ```text
//! P(model wins row i) = σ(θ + φ·tanh(ℓ_i / sd(ℓ)) + ψ·g_i)
//! ```
//!
//! is fitted by L1-penalised logistic regression with soft labels, no intercept:
//! minimise `C Σ w_i CE(p_i, σ(x_i·β)) + |β|₁`, the objective liblinear solves. The length
//! differences are scaled, not centred: `sd` is their sample standard deviation (n − 1) over
//! the model's rows.
//! The length-controlled win rate is the prediction at no length difference,
//! `100 · mean_i σ(θ + ψ g_i)`, averaged over every row including those without a
//! preference.
//!
//! alpaca_eval chooses `C` among `logspace(-4, 4, 10)` by 5-fold grouped cross-validation
//! (scikit-learn's `LogisticRegressionCV` with `GroupKFold`, one row per group): with `n`
//! training rows, row `r` is in fold `(n − 1 − r) mod k` (GroupKFold deals the equal-sized
//! groups, last first, to the lightest fold); the score of a fold is
//! `mean_i w_i [p_i log q_i + (1 − p_i) log(1 − q_i)]` over its rows, `q` clipped to
//! `[1e-15, 1 − 1e-15]`; the first `C` with the highest sum of fold scores is refitted on
//! every row.
//!
//! Its leaderboard default (`length_controlled_v1`) adds "gamed" versions of the baseline
//! (the baseline prompted to be verbose or concise) to the training rows with the model's
//! indicator at 0 and weight `λ / (number of gamed models)`, `λ = 0.2`: they pull φ and ψ
//! toward what the baseline's own length changes show, while θ is fitted by the model's rows
//! alone.
//!
//! The fit here solves the penalised problem to convergence (proximal Newton over three
//! coefficients), where liblinear stops at its tolerance; the two agree to about 1e-4.

use crate::interrupt::{self, Interrupted};

/// One judged instruction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Annotation {
    /// The probability that the model's output is preferred, in `[0, 1]`; `None` when the
    /// instruction has no annotation (it still counts in the length scale and the average).
    pub preference: Option<f64>,
    /// The model's output length minus the baseline's.
    pub length_diff: f64,
    /// The instruction's difficulty `g` (0 when the model leaves it out).
    pub difficulty: f64,
}

/// How the penalty `C` is chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Penalty {
    /// This `C`.
    Fixed(f64),
    /// alpaca_eval's grouped cross-validation over `logspace(-4, 4, 10)` with this many folds.
    CrossValidated { folds: usize },
}

/// The GLM's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LcOptions {
    pub penalty: Penalty,
    /// Whether the difficulty term is in the model (alpaca_eval's `minimal` GLM leaves it
    /// out).
    pub difficulty: bool,
    /// λ: the total weight of the gamed baselines' rows, shared equally among them.
    pub gamed_weight: f64,
}

/// The fitted GLM and its prediction at no length difference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LcFit {
    /// `100 · mean σ(θ + ψ g_i)`.
    pub lc_win_rate: f64,
    /// 100 × the standard error of the mean of those predictions (alpaca_eval's
    /// `lc_standard_error`: their spread over instructions); `None` for one row.
    pub lc_standard_error: Option<f64>,
    /// θ.
    pub coef_model: f64,
    /// φ, for the length difference model minus baseline: positive when the judge favours
    /// longer outputs.
    pub coef_length: f64,
    /// ψ (0 without the difficulty term).
    pub coef_difficulty: f64,
    /// The penalty `C` the coefficients were fitted with.
    pub c: f64,
}

/// alpaca_eval's raw head-to-head figures (`get_winrate`) over the rows with a preference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WinRate {
    /// `100 · mean p`; `None` without annotations.
    pub win_rate: Option<f64>,
    /// 100 × the standard error of that mean; `None` below two annotations.
    pub standard_error: Option<f64>,
    /// The win rate with each preference rounded to a win, a loss or (exactly 1/2) a draw.
    pub discrete_win_rate: Option<f64>,
    /// Annotations with `p > 1/2`.
    pub n_wins: usize,
    /// Annotations with `p < 1/2`.
    pub n_wins_base: usize,
    /// Annotations with `p = 1/2` exactly.
    pub n_draws: usize,
    /// Annotations.
    pub n_total: usize,
}

/// The penalties alpaca_eval's cross-validation tries: `10^(-4 + 8 j / 9)`, `j = 0..10`
/// (scikit-learn's `Cs=10`).
pub fn penalty_grid() -> [f64; 10] {
    std::array::from_fn(|j| 10f64.powf(-4.0 + 8.0 * j as f64 / 9.0))
}

fn mean_and_sem(values: impl Iterator<Item = f64> + Clone) -> (Option<f64>, Option<f64>) {
    let n = values.clone().count();
    if n == 0 {
        return (None, None);
    }
    let mean = values.clone().sum::<f64>() / n as f64;
    if n < 2 {
        return (Some(mean), None);
    }
    let ss: f64 = values.map(|v| (v - mean) * (v - mean)).sum();
    (
        Some(mean),
        Some((ss / (n - 1) as f64).sqrt() / (n as f64).sqrt()),
    )
}

/// The raw win rate of `rows` (alpaca_eval's `get_winrate`).
pub fn win_rate(rows: &[Annotation]) -> WinRate {
    let p = rows.iter().filter_map(|r| r.preference);
    let (mean, sem) = mean_and_sem(p.clone());
    let discrete = p.clone().map(|v| match v.partial_cmp(&0.5) {
        Some(std::cmp::Ordering::Greater) => 1.0,
        Some(std::cmp::Ordering::Less) => 0.0,
        _ => 0.5,
    });
    WinRate {
        win_rate: mean.map(|m| 100.0 * m),
        standard_error: sem.map(|s| 100.0 * s),
        discrete_win_rate: mean_and_sem(discrete).0.map(|m| 100.0 * m),
        n_wins: p.clone().filter(|&v| v > 0.5).count(),
        n_wins_base: p.clone().filter(|&v| v < 0.5).count(),
        n_draws: p.clone().filter(|&v| v == 0.5).count(),
        n_total: p.count(),
    }
}

/// One training row: features (model indicator, tanh of the standardised length
/// difference, difficulty), soft label and weight.
#[derive(Debug, Clone, Copy)]
struct Row {
    x: [f64; 3],
    p: f64,
    w: f64,
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// `tanh(ℓ / sd(ℓ))` for each row: the differences are scaled, not centred; `sd` is pandas'
/// `std()` (about the mean, n − 1). No spread (one row, or all equal): 0.
fn length_features(rows: &[Annotation]) -> Vec<f64> {
    let n = rows.len();
    let sd = if n < 2 {
        0.0
    } else {
        let mean = rows.iter().map(|r| r.length_diff).sum::<f64>() / n as f64;
        let ss: f64 = rows.iter().map(|r| (r.length_diff - mean).powi(2)).sum();
        (ss / (n - 1) as f64).sqrt()
    };
    rows.iter()
        .map(|r| {
            if sd > 0.0 && sd.is_finite() {
                (r.length_diff / sd).tanh()
            } else {
                0.0
            }
        })
        .collect()
}

/// The training rows: each gamed baseline's annotated rows (indicator 0), then the model's
/// (indicator 1), as alpaca_eval stacks them.
fn training_rows(model: &[Annotation], gamed: &[&[Annotation]], o: &LcOptions) -> Vec<Row> {
    let mut out = Vec::new();
    let gamed_w = if gamed.is_empty() {
        0.0
    } else {
        o.gamed_weight / gamed.len() as f64
    };
    for (rows, indicator, w) in gamed
        .iter()
        .map(|g| (*g, 0.0, gamed_w))
        .chain(std::iter::once((model, 1.0, 1.0)))
    {
        for (r, t) in rows.iter().zip(length_features(rows)) {
            if let Some(p) = r.preference {
                let g = if o.difficulty { r.difficulty } else { 0.0 };
                out.push(Row {
                    x: [indicator, t, g],
                    p,
                    w,
                });
            }
        }
    }
    out
}

/// The smooth part of the objective, `C Σ w_i CE(p_i, σ(x_i·β))`, with its gradient and
/// Hessian.
fn smooth(rows: &[&Row], beta: &[f64; 3], c: f64) -> (f64, [f64; 3], [[f64; 3]; 3]) {
    let (mut f, mut g, mut h) = (0.0, [0.0; 3], [[0.0; 3]; 3]);
    for r in rows {
        let z = r.x[0] * beta[0] + r.x[1] * beta[1] + r.x[2] * beta[2];
        // CE = log(1 + e^z) - p z, computed without overflow.
        let softplus = if z > 0.0 {
            z + (-z).exp().ln_1p()
        } else {
            z.exp().ln_1p()
        };
        f += r.w * (softplus - r.p * z);
        let q = sigmoid(z);
        let s = r.w * (q - r.p);
        let v = r.w * q * (1.0 - q);
        for j in 0..3 {
            g[j] += s * r.x[j];
            for k in 0..3 {
                h[j][k] += v * r.x[j] * r.x[k];
            }
        }
    }
    for j in 0..3 {
        g[j] *= c;
        for k in 0..3 {
            h[j][k] *= c;
        }
    }
    (c * f, g, h)
}

fn l1(beta: &[f64; 3]) -> f64 {
    beta.iter().map(|b| b.abs()).sum()
}

fn soft_threshold(v: f64, t: f64) -> f64 {
    if v > t {
        v - t
    } else if v < -t {
        v + t
    } else {
        0.0
    }
}

/// The minimiser of `C Σ w_i CE(p_i, σ(x_i·β)) + |β|₁` over `rows` by proximal Newton: each
/// step minimises the quadratic model plus the L1 term exactly (coordinate descent over three
/// coefficients), then backtracks until the objective falls enough.
fn fit_l1(rows: &[&Row], c: f64) -> Result<[f64; 3], Interrupted> {
    let mut beta = [0.0; 3];
    let (mut f, mut g, mut h) = smooth(rows, &beta, c);
    for _ in 0..200 {
        interrupt::check()?;
        // The quadratic model's minimiser, by cyclic coordinate descent from Δ = 0.
        let mut d = [0.0; 3];
        for _ in 0..1000 {
            let mut moved = 0.0f64;
            for j in 0..3 {
                if h[j][j] <= 0.0 {
                    continue; // a feature that is 0 on every row: its gradient is 0 too.
                }
                let r = g[j]
                    + (0..3)
                        .filter(|&k| k != j)
                        .map(|k| h[j][k] * d[k])
                        .sum::<f64>();
                let u = soft_threshold(beta[j] - r / h[j][j], 1.0 / h[j][j]);
                let new = u - beta[j];
                moved = moved.max((new - d[j]).abs());
                d[j] = new;
            }
            if moved <= 1e-15 * (1.0 + l1(&beta)) {
                break;
            }
        }
        let step_size = d.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if step_size <= 1e-13 * (1.0 + l1(&beta)) {
            break;
        }
        // The predicted decrease, for the Armijo condition.
        let target = l1(&[beta[0] + d[0], beta[1] + d[1], beta[2] + d[2]]);
        let delta = g.iter().zip(&d).map(|(a, b)| a * b).sum::<f64>() + target - l1(&beta);
        let mut t = 1.0;
        let mut accepted = false;
        for _ in 0..60 {
            let trial = [beta[0] + t * d[0], beta[1] + t * d[1], beta[2] + t * d[2]];
            let (ft, gt, ht) = smooth(rows, &trial, c);
            if ft + l1(&trial) <= f + l1(&beta) + 1e-4 * t * delta {
                beta = trial;
                (f, g, h) = (ft, gt, ht);
                accepted = true;
                break;
            }
            t *= 0.5;
        }
        if !accepted {
            break; // no further decrease is representable.
        }
    }
    Ok(beta)
}

/// The cross-validation score of `beta` on `rows` (scikit-learn's scorer as alpaca_eval
/// defines it: the mean of the weighted log-likelihood, higher is better).
fn fold_score(rows: &[&Row], beta: &[f64; 3]) -> f64 {
    let sum: f64 = rows
        .iter()
        .map(|r| {
            let z = r.x[0] * beta[0] + r.x[1] * beta[1] + r.x[2] * beta[2];
            let q = sigmoid(z).clamp(1e-15, 1.0 - 1e-15);
            r.w * (r.p * q.ln() + (1.0 - r.p) * (1.0 - q).ln())
        })
        .sum();
    sum / rows.len() as f64
}

/// The `C` alpaca_eval's cross-validation picks, or `None` with fewer rows than folds.
fn cross_validate(rows: &[Row], folds: usize) -> Result<Option<f64>, Interrupted> {
    let n = rows.len();
    if folds < 2 || n < folds {
        return Ok(None);
    }
    let fold_of = |r: usize| (n - 1 - r) % folds;
    let mut best: Option<(f64, f64)> = None;
    for c in penalty_grid() {
        let mut total = 0.0;
        for k in 0..folds {
            let train: Vec<&Row> = (0..n)
                .filter(|&r| fold_of(r) != k)
                .map(|r| &rows[r])
                .collect();
            let test: Vec<&Row> = (0..n)
                .filter(|&r| fold_of(r) == k)
                .map(|r| &rows[r])
                .collect();
            let beta = fit_l1(&train, c)?;
            total += fold_score(&test, &beta);
        }
        // The first C with the highest total, as numpy's argmax.
        if best.is_none_or(|(_, s)| total > s) {
            best = Some((c, total));
        }
    }
    Ok(best.map(|(c, _)| c))
}

/// The length-controlled win rate of `model`'s rows against the baseline, regularised toward
/// the `gamed` baselines' rows (none: alpaca_eval's `noreg` and `minimal` GLMs). `None` when
/// the model has no annotated row, or cross-validation has fewer training rows than folds.
pub fn length_controlled(
    model: &[Annotation],
    gamed: &[&[Annotation]],
    options: &LcOptions,
) -> Result<Option<LcFit>, Interrupted> {
    if model.iter().all(|r| r.preference.is_none()) {
        return Ok(None);
    }
    let rows = training_rows(model, gamed, options);
    let c = match options.penalty {
        Penalty::Fixed(c) => c,
        Penalty::CrossValidated { folds } => match cross_validate(&rows, folds)? {
            Some(c) => c,
            None => return Ok(None),
        },
    };
    let all: Vec<&Row> = rows.iter().collect();
    let beta = fit_l1(&all, c)?;
    let predictions = model.iter().map(|r| {
        let g = if options.difficulty {
            r.difficulty
        } else {
            0.0
        };
        sigmoid(beta[0] + beta[2] * g)
    });
    let (mean, sem) = mean_and_sem(predictions);
    Ok(Some(LcFit {
        lc_win_rate: 100.0 * mean.unwrap_or(f64::NAN),
        lc_standard_error: sem.map(|s| 100.0 * s),
        coef_model: beta[0],
        coef_length: beta[1],
        coef_difficulty: beta[2],
        c,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Xoshiro256;

    fn random_rows(seed: u64, n: usize) -> Vec<Annotation> {
        let mut rng = Xoshiro256::seed_from_u64(seed);
        (0..n)
            .map(|i| Annotation {
                preference: (i % 11 != 3).then(|| rng.unit()),
                length_diff: (rng.unit() - 0.4) * 900.0,
                difficulty: rng.unit() * 2.0 - 1.0,
            })
            .collect()
    }

    /// The slow, obviously correct minimiser: proximal gradient descent (ISTA) with a fixed
    /// step below 1 / the Lipschitz constant, for many iterations.
    fn ista(rows: &[&Row], c: f64) -> [f64; 3] {
        let lipschitz: f64 = c * rows
            .iter()
            .map(|r| 0.25 * r.w * r.x.iter().map(|v| v * v).sum::<f64>())
            .sum::<f64>();
        let step = 1.0 / lipschitz;
        let mut beta = [0.0; 3];
        for _ in 0..1_000_000 {
            let (_, g, _) = smooth(rows, &beta, c);
            let mut moved = 0.0f64;
            for j in 0..3 {
                let new = soft_threshold(beta[j] - step * g[j], step);
                moved = moved.max((new - beta[j]).abs());
                beta[j] = new;
            }
            if moved < 1e-14 {
                break;
            }
        }
        beta
    }

    #[test]
    fn proximal_newton_matches_proximal_gradient_on_random_data() {
        for seed in 0..3 {
            let model = random_rows(seed, 30);
            let gamed = random_rows(seed + 100, 30);
            let options = LcOptions {
                penalty: Penalty::Fixed(1.0),
                difficulty: true,
                gamed_weight: 0.2,
            };
            let rows = training_rows(&model, &[&gamed], &options);
            let all: Vec<&Row> = rows.iter().collect();
            for c in [0.01, 0.3, 2.0, 10.0] {
                let fast = fit_l1(&all, c).unwrap();
                let slow = ista(&all, c);
                for j in 0..3 {
                    assert!(
                        (fast[j] - slow[j]).abs() < 1e-7,
                        "seed {seed} C {c}: {fast:?} vs {slow:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_small_penalty_gives_exact_zeros_and_a_half() {
        let model = random_rows(7, 30);
        let options = LcOptions {
            penalty: Penalty::Fixed(1e-4),
            difficulty: true,
            gamed_weight: 0.2,
        };
        let fit = length_controlled(&model, &[], &options).unwrap().unwrap();
        assert_eq!(
            (fit.coef_model, fit.coef_length, fit.coef_difficulty),
            (0.0, 0.0, 0.0)
        );
        assert_eq!(fit.lc_win_rate, 50.0);
        assert_eq!(fit.lc_standard_error, Some(0.0));
    }

    #[test]
    fn folds_deal_rows_from_the_last() {
        // GroupKFold with 12 equal groups and 5 folds: groups 11, 10, ..., 7 go to folds 0..4,
        // then 6 to fold 0, and so on.
        let n = 12;
        let fold_of = |r: usize| (n - 1 - r) % 5;
        assert_eq!(
            (0..n).map(fold_of).collect::<Vec<_>>(),
            [1, 0, 4, 3, 2, 1, 0, 4, 3, 2, 1, 0]
        );
    }

    #[test]
    fn win_rate_counts_as_alpaca_eval() {
        let rows: Vec<Annotation> = [Some(1.0), Some(0.5), Some(0.2), None, Some(0.7)]
            .into_iter()
            .map(|p| Annotation {
                preference: p,
                length_diff: 0.0,
                difficulty: 0.0,
            })
            .collect();
        let w = win_rate(&rows);
        assert_eq!(
            (w.n_wins, w.n_wins_base, w.n_draws, w.n_total),
            (2, 1, 1, 4)
        );
        assert!((w.win_rate.unwrap() - 60.0).abs() < 1e-12);
        assert!((w.discrete_win_rate.unwrap() - 62.5).abs() < 1e-12);
    }

    #[test]
    fn no_annotation_gives_no_fit() {
        let rows = [Annotation {
            preference: None,
            length_diff: 1.0,
            difficulty: 0.0,
        }];
        let options = LcOptions {
            penalty: Penalty::CrossValidated { folds: 5 },
            difficulty: false,
            gamed_weight: 0.2,
        };
        assert_eq!(length_controlled(&rows, &[], &options).unwrap(), None);
    }
}
