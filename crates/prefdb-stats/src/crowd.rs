//! Crowd truth inference: the consensus label of each task and the reliability of each
//! worker from long-form `(task, worker, label)` annotations, as crowd-kit 1.4.2 computes
//! them (Toloka's `crowdkit.aggregation.classification`).
//!
//! Tasks, workers and labels are dense ids in value order, and annotations come in a
//! canonical order (the SQL layer sorts them), so every result is a function of the data
//! alone. Ties between labels go to the lowest label id: crowd-kit's `idxmax` over its
//! sorted label columns. Each annotation has a weight, which counts it that many times
//! (crowd-kit has no weights; with weight 1 the methods are crowd-kit's).

use crate::interrupt::{self, Interrupted};

/// Annotations with dense ids.
#[derive(Debug, Clone, PartialEq)]
pub struct Annotations {
    pub tasks: usize,
    pub workers: usize,
    pub labels: usize,
    pub task: Vec<u32>,
    pub worker: Vec<u32>,
    pub label: Vec<u32>,
    pub weight: Vec<f64>,
}

impl Annotations {
    fn rows(&self) -> impl Iterator<Item = (usize, usize, usize, f64)> + '_ {
        (0..self.task.len()).map(|r| {
            (
                self.task[r] as usize,
                self.worker[r] as usize,
                self.label[r] as usize,
                self.weight[r],
            )
        })
    }

    /// Each task's total weight of annotations.
    pub fn per_task(&self) -> Vec<f64> {
        let mut n = vec![0.0; self.tasks];
        for (t, _, _, w) in self.rows() {
            n[t] += w;
        }
        n
    }

    /// Each worker's total weight of annotations.
    pub fn per_worker(&self) -> Vec<f64> {
        let mut n = vec![0.0; self.workers];
        for (_, w, _, x) in self.rows() {
            n[w] += x;
        }
        n
    }
}

/// A consensus: per task a distribution over labels, per worker a skill.
#[derive(Debug, Clone, PartialEq)]
pub struct Consensus {
    /// `tasks × labels`, row-major: each task's posterior (or vote share).
    pub probas: Vec<f64>,
    /// Each task's label: the first maximum of its row.
    pub label: Vec<usize>,
    /// Each worker's skill, on the method's scale.
    pub skill: Vec<f64>,
    /// Dawid–Skene: `workers × labels × labels`, `[worker][given][true]` = P(given | true),
    /// `None` (NaN) for a given label the worker never used.
    pub errors: Option<Vec<f64>>,
    /// Dawid–Skene and one-coin: the class priors.
    pub priors: Option<Vec<f64>>,
    /// EM iterations run (0 for the closed-form methods).
    pub iterations: usize,
}

/// Each row's first maximum.
fn argmax_rows(probas: &[f64], k: usize) -> Vec<usize> {
    probas
        .chunks(k)
        .map(|row| {
            let mut best = 0;
            for j in 1..k {
                if row[j] > row[best] {
                    best = j;
                }
            }
            best
        })
        .collect()
}

/// Weighted majority vote: `probas[t][l]` = the weight (times the worker's skill) of the
/// votes for `l` over all of `t`'s.
fn vote(a: &Annotations, skill: Option<&[f64]>) -> (Vec<f64>, Vec<usize>) {
    let k = a.labels;
    let mut score = vec![0.0; a.tasks * k];
    for (t, w, l, x) in a.rows() {
        score[t * k + l] += x * skill.map_or(1.0, |s| s[w]);
    }
    for row in score.chunks_mut(k) {
        let total: f64 = row.iter().sum();
        for v in row {
            *v /= total;
        }
    }
    let label = argmax_rows(&score, k);
    (score, label)
}

/// Each worker's accuracy against `label`: the weighted share of its annotations that
/// agree (crowd-kit's `get_accuracy`).
fn accuracy(a: &Annotations, label: &[usize]) -> Vec<f64> {
    let mut hit = vec![0.0; a.workers];
    let mut n = vec![0.0; a.workers];
    for (t, w, l, x) in a.rows() {
        if label[t] == l {
            hit[w] += x;
        }
        n[w] += x;
    }
    hit.iter().zip(&n).map(|(h, n)| h / n).collect()
}

/// crowd-kit's `MajorityVote`: vote shares; skill = accuracy against the majority.
pub fn majority_vote(a: &Annotations) -> Consensus {
    let (probas, label) = vote(a, None);
    let skill = accuracy(a, &label);
    Consensus {
        probas,
        label,
        skill,
        errors: None,
        priors: None,
        iterations: 0,
    }
}

/// crowd-kit's `Wawa`: a majority vote weighted by each worker's accuracy against the
/// plain majority.
pub fn wawa(a: &Annotations) -> Consensus {
    let (_, plain) = vote(a, None);
    let skill = accuracy(a, &plain);
    let (probas, label) = vote(a, Some(&skill));
    Consensus {
        probas,
        label,
        skill,
        errors: None,
        priors: None,
        iterations: 0,
    }
}

/// crowd-kit's `ZeroBasedSkill` schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZbsOptions {
    pub iterations: usize,
    pub lr_init: f64,
    pub lr_steps_to_reduce: usize,
    pub lr_reduce_factor: f64,
}

impl Default for ZbsOptions {
    fn default() -> Self {
        Self {
            iterations: 100,
            lr_init: 1.0,
            lr_steps_to_reduce: 20,
            lr_reduce_factor: 0.5,
        }
    }
}

/// crowd-kit's `ZeroBasedSkill`: skills start at 1/K + 1e-5 and move toward each worker's
/// accuracy against the skill-weighted vote, `s += lr (acc − s)`, the rate multiplied by
/// the factor before every `lr_steps_to_reduce`-th step; a fixed number of steps.
pub fn zero_based_skill(a: &Annotations, o: &ZbsOptions) -> Result<Consensus, Interrupted> {
    let mut skill = vec![1.0 / a.labels as f64 + 1e-5; a.workers];
    let mut lr = o.lr_init;
    for i in 1..=o.iterations {
        interrupt::check()?;
        if o.lr_steps_to_reduce > 0 && i % o.lr_steps_to_reduce == 0 {
            lr *= o.lr_reduce_factor;
        }
        let (_, label) = vote(a, Some(&skill));
        let acc = accuracy(a, &label);
        for (s, x) in skill.iter_mut().zip(&acc) {
            *s += lr * (x - *s);
        }
    }
    let (probas, label) = vote(a, Some(&skill));
    Ok(Consensus {
        probas,
        label,
        skill,
        errors: None,
        priors: None,
        iterations: o.iterations,
    })
}

/// The EM settings of Dawid–Skene and one-coin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EmOptions {
    pub max_iter: usize,
    /// Stop when the per-annotation lower bound rises by less than this.
    pub tol: f64,
}

impl Default for EmOptions {
    fn default() -> Self {
        Self {
            max_iter: 100,
            tol: 1e-5,
        }
    }
}

const EPS: f64 = 1e-10;

/// Error matrices `[worker][given][true]`; `observed[worker][given]`.
struct Errors {
    e: Vec<f64>,
    observed: Vec<bool>,
}

/// Dawid–Skene's M-step: per worker and given label it used, the posterior mass of each
/// true label, at least 1e-10, normalised over the labels the worker used.
fn ds_m_step(a: &Annotations, p: &[f64]) -> Errors {
    let k = a.labels;
    let mut c = vec![0.0; a.workers * k * k];
    let mut observed = vec![false; a.workers * k];
    for (t, w, l, x) in a.rows() {
        observed[w * k + l] = true;
        for j in 0..k {
            c[(w * k + l) * k + j] += x * p[t * k + j];
        }
    }
    for w in 0..a.workers {
        for j in 0..k {
            let mut total = 0.0;
            for l in 0..k {
                if observed[w * k + l] {
                    let v = &mut c[(w * k + l) * k + j];
                    *v = v.max(EPS);
                    total += *v;
                }
            }
            for l in 0..k {
                if observed[w * k + l] {
                    c[(w * k + l) * k + j] /= total;
                }
            }
        }
    }
    Errors { e: c, observed }
}

/// One-coin's M-step: each worker's skill is the mean posterior of the labels it gave; it
/// gives the true label with that probability and each other label with an equal share
/// of the rest, clipped to [1e-10, 1 − 1e-10].
fn one_coin_m_step(a: &Annotations, p: &[f64]) -> (Errors, Vec<f64>) {
    let k = a.labels;
    let mut s = vec![0.0; a.workers];
    let mut n = vec![0.0; a.workers];
    let mut observed = vec![false; a.workers * k];
    for (t, w, l, x) in a.rows() {
        s[w] += x * p[t * k + l];
        n[w] += x;
        observed[w * k + l] = true;
    }
    for (s, n) in s.iter_mut().zip(&n) {
        *s /= n;
    }
    let mut e = vec![0.0; a.workers * k * k];
    for w in 0..a.workers {
        for l in 0..k {
            for j in 0..k {
                let v = if l == j {
                    s[w]
                } else {
                    (1.0 - s[w]) / (k as f64 - 1.0)
                };
                e[(w * k + l) * k + j] = v.clamp(EPS, 1.0 - EPS);
            }
        }
    }
    (Errors { e, observed }, s)
}

/// The E-step (base 2, as crowd-kit): `P[t][c] ∝ prior[c] Π E[w][given][c]`.
fn ds_e_step(a: &Annotations, prior: &[f64], errors: &Errors) -> Vec<f64> {
    let k = a.labels;
    let mut ll = vec![0.0; a.tasks * k];
    // Each confusion entry's logarithm once, not once per annotation (the same values).
    let log_e: Vec<f64> = errors.e.iter().map(|v| v.log2()).collect();
    for (t, w, l, x) in a.rows() {
        let from = &log_e[(w * k + l) * k..(w * k + l + 1) * k];
        for (v, e) in ll[t * k..(t + 1) * k].iter_mut().zip(from) {
            *v += x * e;
        }
    }
    let log_prior: Vec<f64> = prior.iter().map(|p| p.max(EPS).log2()).collect();
    for row in ll.chunks_mut(k) {
        for (v, lp) in row.iter_mut().zip(&log_prior) {
            *v += lp;
        }
        let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let mut total = 0.0;
        for v in row.iter_mut() {
            *v = (*v - max).exp2();
            total += *v;
        }
        for v in row.iter_mut() {
            *v /= total;
        }
    }
    ll
}

fn column_means(p: &[f64], k: usize) -> Vec<f64> {
    let rows = p.len() / k;
    let mut m = vec![0.0; k];
    for row in p.chunks(k) {
        for (m, v) in m.iter_mut().zip(row) {
            *m += v;
        }
    }
    m.iter().map(|v| v / rows as f64).collect()
}

/// crowd-kit's stopping quantity ("evidence lower bound" per annotation): the expected
/// complete log-likelihood with the prior counted once per annotation, plus the entropy of
/// the posteriors clipped at 1e-10, over the total weight. Clips `p` in place, as crowd-kit.
fn lower_bound(a: &Annotations, p: &mut [f64], prior: &[f64], errors: &Errors) -> f64 {
    let k = a.labels;
    let lp: Vec<f64> = prior.iter().map(|v| v.max(EPS).ln()).collect();
    let log_e: Vec<f64> = errors.e.iter().map(|v| v.ln()).collect();
    let mut joint = 0.0;
    let mut n = 0.0;
    for (t, w, l, x) in a.rows() {
        for j in 0..k {
            joint += x * p[t * k + j] * (log_e[(w * k + l) * k + j] + lp[j]);
        }
        n += x;
    }
    let mut entropy = 0.0;
    for v in p.iter_mut() {
        *v = v.max(EPS);
        entropy -= *v * v.ln();
    }
    (joint + entropy) / n
}

/// Dawid–Skene (full confusion matrices) or its one-coin form, by EM from the majority
/// vote, as crowd-kit's `DawidSkene` and `OneCoinDawidSkene`: stop after the first
/// iteration whose lower bound rises by less than `tol` (the update is kept), or after
/// `max_iter`. Posteriors below 1e-10 read 1e-10, as crowd-kit's.
fn expectation_maximisation(
    a: &Annotations,
    o: &EmOptions,
    one_coin: bool,
) -> Result<Consensus, Interrupted> {
    let k = a.labels;
    let (mut p, _) = vote(a, None);
    let mut prior = column_means(&p, k);
    let m_step = |p: &[f64]| {
        if one_coin {
            let (e, s) = one_coin_m_step(a, p);
            (e, Some(s))
        } else {
            (ds_m_step(a, p), None)
        }
    };
    let (mut errors, mut skills) = m_step(&p);
    let mut bound = f64::NEG_INFINITY;
    let mut iterations = 0;
    for _ in 0..o.max_iter {
        interrupt::check()?;
        p = ds_e_step(a, &prior, &errors);
        prior = column_means(&p, k);
        (errors, skills) = m_step(&p);
        let new = lower_bound(a, &mut p, &prior, &errors);
        iterations += 1;
        if new - bound < o.tol {
            break;
        }
        bound = new;
    }
    let label = argmax_rows(&p, k);
    let skill = match skills {
        Some(s) => s,
        // Dawid–Skene: the probability of a correct label, P(given = true), averaged over
        // the priors; a label the worker never gave counts as never right.
        None => (0..a.workers)
            .map(|w| {
                (0..k)
                    .filter(|&c| errors.observed[w * k + c])
                    .map(|c| prior[c] * errors.e[(w * k + c) * k + c])
                    .sum()
            })
            .collect(),
    };
    let errors_out = (!one_coin).then(|| {
        (0..a.workers * k * k)
            .map(|i| {
                if errors.observed[i / k] {
                    errors.e[i]
                } else {
                    f64::NAN
                }
            })
            .collect()
    });
    Ok(Consensus {
        probas: p,
        label,
        skill,
        errors: errors_out,
        priors: Some(prior),
        iterations,
    })
}

/// crowd-kit's `DawidSkene`.
pub fn dawid_skene(a: &Annotations, o: &EmOptions) -> Result<Consensus, Interrupted> {
    expectation_maximisation(a, o, false)
}

/// crowd-kit's `OneCoinDawidSkene`.
pub fn one_coin(a: &Annotations, o: &EmOptions) -> Result<Consensus, Interrupted> {
    expectation_maximisation(a, o, true)
}

/// GLAD's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GladOptions {
    /// The most EM iterations.
    pub max_iter: usize,
    /// Stop when no ability or difficulty moves by more than this in an iteration.
    pub tol: f64,
}

impl Default for GladOptions {
    fn default() -> Self {
        Self {
            max_iter: 1000,
            tol: 1e-7,
        }
    }
}

/// GLAD's fit: the consensus, each worker's ability α (in `skill`) and each task's β, the
/// log of its inverse difficulty.
#[derive(Debug, Clone, PartialEq)]
pub struct Glad {
    pub consensus: Consensus,
    pub beta: Vec<f64>,
}

use crate::special::{log_sigmoid, sigmoid};

/// GLAD's E-step: `P[t][c] ∝ Π_r σ(x_r)` if the annotation says `c`, else
/// `σ(−x_r) / (K − 1)`, with `x_r = α_w e^{β_t}` and uniform label priors.
fn glad_e_step(a: &Annotations, alpha: &[f64], beta: &[f64]) -> Vec<f64> {
    let k = a.labels;
    let mut s = vec![0.0; a.tasks * k];
    let other = if k > 1 { (k as f64 - 1.0).ln() } else { 0.0 };
    for (t, w, l, x) in a.rows() {
        let z = alpha[w] * beta[t].exp();
        let (yes, no) = (log_sigmoid(z), log_sigmoid(-z) - other);
        for j in 0..k {
            s[t * k + j] += x * if j == l { yes } else { no };
        }
    }
    for row in s.chunks_mut(k) {
        let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let mut total = 0.0;
        for v in row.iter_mut() {
            *v = (*v - max).exp();
            total += *v;
        }
        for v in row.iter_mut() {
            *v /= total;
        }
    }
    s
}

/// The part of GLAD's expected log-likelihood that depends on one parameter, with its first
/// and second derivatives, for a 1-D Newton step. `terms` are (weight, posterior of the
/// given label, the other factor of x) for that parameter's annotations; `value` is the
/// parameter; `exp_scale` says whether it enters as e^value (β) or linearly (α).
fn glad_part(terms: &[(f64, f64, f64)], value: f64, exp_scale: bool) -> (f64, f64, f64) {
    let k = |v: f64| if exp_scale { v.exp() } else { v };
    let (mut f, mut g, mut h) = (0.0, 0.0, 0.0);
    for &(x, post, other) in terms {
        let z = other * k(value);
        let dz = if exp_scale { z } else { other };
        let d2z = if exp_scale { z } else { 0.0 };
        // post ln σ(z) + (1 − post) ln σ(−z), up to a constant.
        f += x * (post * log_sigmoid(z) + (1.0 - post) * log_sigmoid(-z));
        let s = sigmoid(z);
        g += x * (post - s) * dz;
        h += x * ((post - s) * d2z - s * (1.0 - s) * dz * dz);
    }
    // The N(1, 1) prior.
    f -= 0.5 * (value - 1.0) * (value - 1.0);
    g -= value - 1.0;
    h -= 1.0;
    (f, g, h)
}

/// One parameter's maximiser by Newton steps with backtracking (a gradient step where the
/// part is not concave).
fn maximise_part(terms: &[(f64, f64, f64)], start: f64, exp_scale: bool) -> f64 {
    let mut v = start;
    for _ in 0..100 {
        let (f, g, h) = glad_part(terms, v, exp_scale);
        if g.abs() < 1e-13 {
            break;
        }
        let step = if h < 0.0 {
            -g / h
        } else {
            g.signum() * g.abs().min(1.0)
        };
        let mut t = 1.0;
        let mut moved = false;
        for _ in 0..60 {
            let trial = v + t * step;
            if glad_part(terms, trial, exp_scale).0 >= f {
                moved = (trial - v).abs() > 0.0;
                v = trial;
                break;
            }
            t *= 0.5;
        }
        if !moved || (t * step).abs() < 1e-15 * (1.0 + v.abs()) {
            break;
        }
    }
    v
}

/// GLAD (Whitehill et al. 2009) as crowd-kit's model: `P(annotation = true label) =
/// σ(α_w e^{β_t})`, the other labels sharing the rest equally, uniform label priors, N(1, 1)
/// priors on α and β, all starting at 1. Generalised EM: each iteration maximises every α
/// given β, then every β given α (exact 1-D Newton steps), and the iterations stop when no
/// parameter moves by more than `tol`, at a fixed point of exact EM; the posteriors are then
/// recomputed from the final parameters.
pub fn glad(a: &Annotations, o: &GladOptions) -> Result<Glad, Interrupted> {
    let k = a.labels;
    let mut alpha = vec![1.0; a.workers];
    let mut beta = vec![1.0; a.tasks];
    let mut by_worker: Vec<Vec<usize>> = vec![Vec::new(); a.workers];
    let mut by_task: Vec<Vec<usize>> = vec![Vec::new(); a.tasks];
    for r in 0..a.task.len() {
        by_worker[a.worker[r] as usize].push(r);
        by_task[a.task[r] as usize].push(r);
    }
    let mut iterations = 0;
    for _ in 0..o.max_iter {
        interrupt::check()?;
        iterations += 1;
        let p = glad_e_step(a, &alpha, &beta);
        let post = |r: usize| p[a.task[r] as usize * k + a.label[r] as usize];
        let (old_alpha, old_beta) = (alpha.clone(), beta.clone());
        // One sweep: every ability given the difficulties, then every difficulty given the
        // abilities, each to its exact 1-D maximum. A generalised EM step: it raises the
        // expected log-likelihood without solving the M-step jointly, and its fixed points
        // are those of exact EM, which is where the iterations stop.
        for w in 0..a.workers {
            let terms: Vec<(f64, f64, f64)> = by_worker[w]
                .iter()
                .map(|&r| (a.weight[r], post(r), beta[a.task[r] as usize].exp()))
                .collect();
            alpha[w] = maximise_part(&terms, alpha[w], false);
        }
        for t in 0..a.tasks {
            let terms: Vec<(f64, f64, f64)> = by_task[t]
                .iter()
                .map(|&r| (a.weight[r], post(r), alpha[a.worker[r] as usize]))
                .collect();
            beta[t] = maximise_part(&terms, beta[t], true);
        }
        let change = alpha
            .iter()
            .zip(&old_alpha)
            .chain(beta.iter().zip(&old_beta))
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        if change < o.tol {
            break;
        }
    }
    let probas = glad_e_step(a, &alpha, &beta);
    let label = argmax_rows(&probas, k);
    Ok(Glad {
        consensus: Consensus {
            probas,
            label,
            skill: alpha,
            errors: None,
            priors: None,
            iterations,
        },
        beta,
    })
}

/// MACE's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MaceOptions {
    /// Variational EM iterations (always all of them, as crowd-kit).
    pub iterations: usize,
    /// The seed of the MT19937 draws that start the parameters (crowd-kit's random_state).
    pub seed: u32,
    /// The Beta prior on each worker's (spamming, knowing) probabilities.
    pub alpha: f64,
    pub beta: f64,
    /// The symmetric Dirichlet prior on each worker's spamming strategy.
    pub strategy_prior: f64,
}

impl Default for MaceOptions {
    fn default() -> Self {
        Self {
            iterations: 50,
            seed: 0,
            alpha: 0.5,
            beta: 0.5,
            strategy_prior: 10.0,
        }
    }
}

/// MACE's fit: the consensus with each worker's probability of knowing the answer as
/// `skill`, and its spamming strategy (`workers × labels`, the labels it picks when
/// spamming; rows sum to less than 1 under variational Bayes, as crowd-kit's).
#[derive(Debug, Clone, PartialEq)]
pub struct Mace {
    pub consensus: Consensus,
    pub strategy: Vec<f64>,
}

/// `exp(ψ(x + h))` over `exp(ψ(Σ(x + h)))`, per row: the variational "normalisation".
fn variational_rows(x: &[f64], width: usize, prior: f64) -> Vec<f64> {
    let mut out = vec![0.0; x.len()];
    for (row, o) in x.chunks(width).zip(out.chunks_mut(width)) {
        let total: f64 = row.iter().map(|v| v + prior).sum();
        let denominator = crate::special::digamma(total).exp();
        for (v, o) in row.iter().zip(o.iter_mut()) {
            *o = crate::special::digamma(v + prior).exp() / denominator;
        }
    }
    out
}

/// MACE (Hovy et al. 2013) with variational Bayes, as crowd-kit's `MACE(method="vb")`: each
/// annotation is either the true label (the worker knows it, probability `knowing`) or a
/// draw from the worker's spamming strategy. Workers and labels in value order, the start
/// drawn from MT19937 as numpy's `RandomState(seed)`, a fixed number of iterations.
/// crowd-kit reads its strategy matrix in another worker and label order than it writes it
/// (a defect); this is the model as published, with one consistent order.
pub fn mace(a: &Annotations, o: &MaceOptions) -> Result<Mace, Interrupted> {
    let (n, k) = (a.workers, a.labels);
    let mut mt = crate::rng::Mt19937::new(o.seed);
    let draws: Vec<f64> = (0..(2 * n).max(n * k))
        .map(|_| mt.random_sample())
        .collect();
    let normalise = |x: &mut [f64], width: usize| {
        for row in x.chunks_mut(width) {
            let total: f64 = row.iter().sum();
            row.iter_mut().for_each(|v| *v /= total);
        }
    };
    // (spamming, knowing) per worker, and the strategy: both from the start of one stream.
    let mut spam: Vec<f64> = draws[..2 * n].iter().map(|u| u * 1.5 + 1.0).collect();
    let mut theta: Vec<f64> = draws[..n * k].iter().map(|u| u * 1.5 + 1.0).collect();
    normalise(&mut spam, 2);
    normalise(&mut theta, k);
    let mut by_task: Vec<Vec<usize>> = vec![Vec::new(); a.tasks];
    for r in 0..a.task.len() {
        by_task[a.task[r] as usize].push(r);
    }
    // The E-step: each task's (scaled) joint over true labels, and each worker's expected
    // spamming and knowing counts and strategy counts.
    let e_step = |spam: &[f64], theta: &[f64]| {
        let mut g = vec![0.0; a.tasks * k];
        let mut counts = vec![0.0; n * 2];
        let mut strategy = vec![0.0; n * k];
        for t in 0..a.tasks {
            let row = &mut g[t * k..(t + 1) * k];
            for (l, v) in row.iter_mut().enumerate() {
                *v = by_task[t]
                    .iter()
                    .map(|&r| {
                        let (w, y) = (a.worker[r] as usize, a.label[r] as usize);
                        let f = spam[w * 2] * theta[w * k + y]
                            + if y == l { spam[w * 2 + 1] } else { 0.0 };
                        a.weight[r] * f.ln()
                    })
                    .sum();
            }
            // Scaled by the largest: every quantity below is a ratio of these.
            let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            row.iter_mut().for_each(|v| *v = (*v - max).exp());
            let total: f64 = row.iter().sum();
            for &r in &by_task[t] {
                let (w, y, x) = (a.worker[r] as usize, a.label[r] as usize, a.weight[r]);
                let base = spam[w * 2] * theta[w * k + y];
                // P(this annotation was spam) and P(it was known), given the task.
                let spammed = (0..k)
                    .map(|l| row[l] * base / (base + if y == l { spam[w * 2 + 1] } else { 0.0 }))
                    .sum::<f64>()
                    / total;
                let known = row[y] * spam[w * 2 + 1] / (base + spam[w * 2 + 1]) / total;
                counts[w * 2] += x * spammed;
                counts[w * 2 + 1] += x * known;
                strategy[w * k + y] += x * spammed;
            }
            row.iter_mut().for_each(|v| *v /= total);
        }
        (g, counts, strategy)
    };
    let (mut probas, mut counts, mut strategy) = e_step(&spam, &theta);
    for _ in 0..o.iterations {
        interrupt::check()?;
        let priors: Vec<f64> = (0..n).flat_map(|_| [o.alpha, o.beta]).collect();
        // The Beta prior differs between the two columns: (alpha, beta).
        spam = counts
            .chunks(2)
            .zip(priors.chunks(2))
            .flat_map(|(c, p)| {
                let total = crate::special::digamma(c[0] + p[0] + c[1] + p[1]).exp();
                [
                    crate::special::digamma(c[0] + p[0]).exp() / total,
                    crate::special::digamma(c[1] + p[1]).exp() / total,
                ]
            })
            .collect();
        theta = variational_rows(&strategy, k, o.strategy_prior);
        (probas, counts, strategy) = e_step(&spam, &theta);
    }
    let label = argmax_rows(&probas, k);
    Ok(Mace {
        consensus: Consensus {
            probas,
            label,
            skill: (0..n).map(|w| spam[w * 2 + 1]).collect(),
            errors: None,
            priors: None,
            iterations: o.iterations,
        },
        strategy: theta,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Xoshiro256;

    fn random(seed: u64, tasks: usize, workers: usize, k: usize) -> Annotations {
        let mut rng = Xoshiro256::seed_from_u64(seed);
        let truth: Vec<usize> = (0..tasks).map(|_| rng.below(k as u64) as usize).collect();
        let accuracy: Vec<f64> = (0..workers).map(|_| 0.3 + 0.7 * rng.unit()).collect();
        let mut a = Annotations {
            tasks,
            workers,
            labels: k,
            task: vec![],
            worker: vec![],
            label: vec![],
            weight: vec![],
        };
        for t in 0..tasks {
            for w in 0..workers {
                if rng.unit() < 0.6 || w == t % workers {
                    let l = if rng.unit() < accuracy[w] {
                        truth[t]
                    } else {
                        rng.below(k as u64) as usize
                    };
                    a.task.push(t as u32);
                    a.worker.push(w as u32);
                    a.label.push(l as u32);
                    a.weight.push(1.0);
                }
            }
        }
        a
    }

    /// The slow restatement of Dawid–Skene: the same EM written with plain probabilities
    /// (products, not base-2 logs), nested loops over annotations and maps keyed by
    /// (worker, given label), and the same stopping rule.
    #[test]
    fn dawid_skene_matches_a_direct_restatement() {
        use std::collections::BTreeMap;
        for seed in 0..5 {
            let a = random(seed, 30, 6, 3);
            let k = a.labels;
            let n = a.task.len();
            let fast = dawid_skene(&a, &EmOptions::default()).unwrap();
            // Majority-vote start.
            let mut p = vec![vec![0.0; k]; a.tasks];
            for r in 0..n {
                p[a.task[r] as usize][a.label[r] as usize] += 1.0;
            }
            for row in p.iter_mut() {
                let s: f64 = row.iter().sum();
                row.iter_mut().for_each(|v| *v /= s);
            }
            let mean = |p: &Vec<Vec<f64>>| -> Vec<f64> {
                (0..k)
                    .map(|j| p.iter().map(|r| r[j]).sum::<f64>() / p.len() as f64)
                    .collect()
            };
            let m_step = |p: &Vec<Vec<f64>>| {
                let mut e: BTreeMap<(usize, usize), Vec<f64>> = BTreeMap::new();
                for r in 0..n {
                    let cell = e
                        .entry((a.worker[r] as usize, a.label[r] as usize))
                        .or_insert(vec![0.0; k]);
                    for j in 0..k {
                        cell[j] += p[a.task[r] as usize][j];
                    }
                }
                for v in e.values_mut() {
                    v.iter_mut().for_each(|x| *x = x.max(1e-10));
                }
                for w in 0..a.workers {
                    for j in 0..k {
                        let total: f64 = e
                            .iter()
                            .filter(|((ww, _), _)| *ww == w)
                            .map(|(_, v)| v[j])
                            .sum();
                        for ((ww, _), v) in e.iter_mut() {
                            if *ww == w {
                                v[j] /= total;
                            }
                        }
                    }
                }
                e
            };
            let mut prior = mean(&p);
            let mut e = m_step(&p);
            let mut bound = f64::NEG_INFINITY;
            let mut iterations = 0;
            for _ in 0..100 {
                for t in 0..a.tasks {
                    let mut joint: Vec<f64> = prior.iter().map(|v| v.max(1e-10)).collect();
                    for r in (0..n).filter(|&r| a.task[r] as usize == t) {
                        let cell = &e[&(a.worker[r] as usize, a.label[r] as usize)];
                        for j in 0..k {
                            joint[j] *= cell[j];
                        }
                    }
                    let s: f64 = joint.iter().sum();
                    p[t] = joint.iter().map(|v| v / s).collect();
                }
                prior = mean(&p);
                e = m_step(&p);
                let mut value = 0.0;
                for r in 0..n {
                    let cell = &e[&(a.worker[r] as usize, a.label[r] as usize)];
                    for j in 0..k {
                        value +=
                            p[a.task[r] as usize][j] * (cell[j].ln() + prior[j].max(1e-10).ln());
                    }
                }
                for row in p.iter_mut() {
                    for v in row.iter_mut() {
                        *v = v.max(1e-10);
                        value -= *v * v.ln();
                    }
                }
                value /= n as f64;
                iterations += 1;
                if value - bound < 1e-5 {
                    break;
                }
                bound = value;
            }
            assert_eq!(fast.iterations, iterations, "seed {seed}");
            for t in 0..a.tasks {
                for j in 0..k {
                    assert!(
                        (fast.probas[t * k + j] - p[t][j]).abs() < 1e-9,
                        "seed {seed} task {t}"
                    );
                }
            }
        }
    }

    /// GLAD's result is a fixed point of EM: with its posteriors held fixed, the expected
    /// log-likelihood (written out directly here, by label, with the priors) is stationary
    /// in every ability and difficulty, by central differences.
    #[test]
    fn glad_is_a_stationary_point_of_its_objective() {
        for seed in 0..3 {
            let a = random(seed + 20, 20, 5, 3);
            let fit = glad(&a, &GladOptions::default()).unwrap();
            let k = a.labels;
            let p = &fit.consensus.probas;
            let q = |alpha: &[f64], beta: &[f64]| -> f64 {
                let mut total = 0.0;
                for r in 0..a.task.len() {
                    let (t, w, l) = (
                        a.task[r] as usize,
                        a.worker[r] as usize,
                        a.label[r] as usize,
                    );
                    let z = alpha[w] * beta[t].exp();
                    let right = 1.0 / (1.0 + (-z).exp());
                    for c in 0..k {
                        let like = if c == l {
                            right
                        } else {
                            (1.0 - right) / (k as f64 - 1.0)
                        };
                        total += p[t * k + c] * like.ln();
                    }
                }
                let prior = |v: &f64| -0.5 * (v - 1.0) * (v - 1.0);
                total + alpha.iter().map(prior).sum::<f64>() + beta.iter().map(prior).sum::<f64>()
            };
            let (alpha, beta) = (fit.consensus.skill.clone(), fit.beta.clone());
            let h = 1e-5;
            for i in 0..alpha.len() + beta.len() {
                let shifted = |d: f64| {
                    let (mut a2, mut b2) = (alpha.clone(), beta.clone());
                    if i < alpha.len() {
                        a2[i] += d;
                    } else {
                        b2[i - alpha.len()] += d;
                    }
                    q(&a2, &b2)
                };
                let derivative = (shifted(h) - shifted(-h)) / (2.0 * h);
                assert!(
                    derivative.abs() < 1e-4,
                    "seed {seed} parameter {i}: {derivative}"
                );
            }
        }
    }

    #[test]
    fn majority_vote_breaks_ties_toward_the_lowest_label_and_counts_weights() {
        let a = Annotations {
            tasks: 2,
            workers: 3,
            labels: 2,
            task: vec![0, 0, 1, 1, 1],
            worker: vec![0, 1, 0, 1, 2],
            label: vec![1, 0, 1, 0, 1],
            weight: vec![1.0, 1.0, 1.0, 3.0, 1.0],
        };
        let c = majority_vote(&a);
        assert_eq!(c.label, vec![0, 0]);
        assert_eq!(c.probas, vec![0.5, 0.5, 0.6, 0.4]);
        // Worker 0 disagrees twice, worker 1 agrees on 4 weight, worker 2 disagrees.
        assert_eq!(c.skill, vec![0.0, 1.0, 0.0]);
    }

    #[test]
    fn one_coin_skills_are_mean_posteriors_of_given_labels() {
        let a = random(9, 25, 5, 4);
        let c = one_coin(&a, &EmOptions::default()).unwrap();
        let k = a.labels;
        for w in 0..a.workers {
            let rows: Vec<usize> = (0..a.task.len())
                .filter(|&r| a.worker[r] as usize == w)
                .collect();
            // The skill comes from the posteriors before the final clip; they differ from
            // the reported ones by at most 1e-10 per entry.
            let mean = rows
                .iter()
                .map(|&r| c.probas[a.task[r] as usize * k + a.label[r] as usize])
                .sum::<f64>()
                / rows.len() as f64;
            assert!((mean - c.skill[w]).abs() < 1e-9, "worker {w}");
        }
    }
}
