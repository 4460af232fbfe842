//! Plackett–Luce ratings from rankings (K-wise votes, ranked lists, partial top-k lists).
//!
//! A ranking of items lists them best first. Plackett–Luce (Luce 1959; Plackett 1975) reads
//! it as successive choices: the first item is chosen from all listed items with
//! probability `e^{s_i} / Σ_listed e^{s_j}`, the second from the rest, and so on. Items not
//! listed in a ranking play no part in it, so a partial list is a ranking of the listed
//! items.
//!
//! Tied positions use Breslow's convention (from the Cox partial likelihood, which has the
//! same form): every item of a tied group counts as chosen from the group together with
//! everything ranked below it, `Σ_{i ∈ G} s_i − |G| log Σ_{j ∈ G ∪ below} e^{s_j}`. Without
//! ties this is exactly Plackett–Luce.
//!
//! The penalised log-likelihood (the same Gaussian prior as Bradley–Terry) is concave; we
//! maximise it by Newton's method with the dense Hessian. With prior 0 the maximum exists
//! iff the "ranked above" graph is strongly connected (Hunter 2004), which is checked first.

use super::bradley_terry::{check_mle_exists_for, BtError, BtOptions, TieHandling};
use super::newton::{maximise, Concave};
use super::PairOutcomes;

/// One ranking: groups of tied item ids, best first, and its weight.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranking {
    pub groups: Vec<Vec<u32>>,
    pub weight: f64,
}

struct Problem<'a> {
    n: usize,
    rankings: &'a [Ranking],
    prior: f64,
}

impl Problem<'_> {
    /// Calls `stage(weight, chosen, risk_set)` for every choice stage of every ranking.
    fn stages(&self, mut stage: impl FnMut(f64, &[u32], &[u32])) {
        let mut risk: Vec<u32> = Vec::new();
        for r in self.rankings {
            risk.clear();
            // Walk from the worst group up, so the risk set only grows.
            for group in r.groups.iter().rev() {
                risk.extend_from_slice(group);
                stage(r.weight, group, &risk);
            }
        }
    }
}

fn log_sum_exp(x: &[f64], ids: &[u32]) -> f64 {
    let max = ids
        .iter()
        .map(|&i| x[i as usize])
        .fold(f64::NEG_INFINITY, f64::max);
    max + ids
        .iter()
        .map(|&i| (x[i as usize] - max).exp())
        .sum::<f64>()
        .ln()
}

impl Concave for Problem<'_> {
    fn value(&self, x: &[f64]) -> f64 {
        let mut f = -0.5 * self.prior * x.iter().map(|s| s * s).sum::<f64>();
        self.stages(|w, chosen, risk| {
            if risk.len() > 1 {
                let lse = log_sum_exp(x, risk);
                f += w * chosen.iter().map(|&i| x[i as usize] - lse).sum::<f64>();
            }
        });
        f
    }

    fn derivatives(&self, x: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let (g, mut h) = self.gradient_and_information(x);
        if self.prior == 0.0 {
            for v in h.iter_mut() {
                *v += 1.0;
            }
        }
        (g, h)
    }
}

impl Problem<'_> {
    /// The gradient and the negative Hessian (the observed information), without the
    /// all-ones shift Newton adds when the prior is 0.
    fn gradient_and_information(&self, x: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let n = self.n;
        let mut g: Vec<f64> = x.iter().map(|s| -self.prior * s).collect();
        let mut h = vec![0.0; n * n];
        for i in 0..n {
            h[i * n + i] = self.prior;
        }
        let mut p = Vec::new();
        self.stages(|w, chosen, risk| {
            if risk.len() < 2 {
                return;
            }
            let lse = log_sum_exp(x, risk);
            p.clear();
            p.extend(risk.iter().map(|&j| (x[j as usize] - lse).exp()));
            let c = w * chosen.len() as f64;
            for &i in chosen {
                g[i as usize] += w;
            }
            for (a, &i) in risk.iter().enumerate() {
                g[i as usize] -= c * p[a];
                for (b, &j) in risk.iter().enumerate() {
                    let cov = if a == b {
                        p[a] - p[a] * p[a]
                    } else {
                        -p[a] * p[b]
                    };
                    h[i as usize * n + j as usize] += c * cov;
                }
            }
        });
        (g, h)
    }
}

/// The observed information at `strengths` (without the all-ones pin) and each ranking's
/// unweighted score, the gradient of its log-likelihood, as `(item, value)` entries.
pub(crate) fn information_and_scores(
    n_items: usize,
    rankings: &[Ranking],
    strengths: &[f64],
    opts: &BtOptions,
) -> (Vec<f64>, Vec<Vec<(u32, f64)>>) {
    let problem = Problem {
        n: n_items,
        rankings,
        prior: opts.prior,
    };
    let (_, h) = problem.gradient_and_information(strengths);
    let mut dense = vec![0.0; n_items];
    let mut risk: Vec<u32> = Vec::new();
    let scores = rankings
        .iter()
        .map(|r| {
            risk.clear();
            for group in r.groups.iter().rev() {
                risk.extend_from_slice(group);
                if risk.len() < 2 {
                    continue;
                }
                let lse = log_sum_exp(strengths, &risk);
                for &i in group {
                    dense[i as usize] += 1.0;
                }
                let c = group.len() as f64;
                for &j in &risk {
                    dense[j as usize] -= c * (strengths[j as usize] - lse).exp();
                }
            }
            // `risk` now lists every item of the ranking once.
            risk.iter()
                .map(|&i| (i, std::mem::take(&mut dense[i as usize])))
                .collect()
        })
        .collect();
    (h, scores)
}

/// The pairwise outcomes a set of rankings implies: each item beats every item ranked
/// below it and ties with the rest of its group, weighted by the ranking's weight.
pub fn implied_pairs(rankings: &[Ranking]) -> Vec<PairOutcomes> {
    let mut counts = super::PairCounts::new();
    for r in rankings {
        for (gi, group) in r.groups.iter().enumerate() {
            for (k, &i) in group.iter().enumerate() {
                for &j in &group[k + 1..] {
                    counts.add(i, j, 0.0, 0.0, r.weight);
                }
                for lower in &r.groups[gi + 1..] {
                    for &j in lower {
                        counts.add(i, j, r.weight, 0.0, 0.0);
                    }
                }
            }
        }
    }
    counts.pairs().to_vec()
}

/// Plackett–Luce log-strengths (mean zero) for items `0..n_items`. `opts.ties` is not used.
pub fn fit_plackett_luce(
    n_items: usize,
    rankings: &[Ranking],
    opts: &BtOptions,
) -> Result<(Vec<f64>, usize), BtError> {
    if n_items <= 1 {
        return Ok((vec![0.0; n_items], 0));
    }
    if opts.prior == 0.0 {
        check_mle_exists_for(n_items, &implied_pairs(rankings), TieHandling::Half)?;
    }
    let problem = Problem {
        n: n_items,
        rankings,
        prior: opts.prior,
    };
    let (x, iterations) = maximise(&problem, vec![0.0; n_items], opts.max_iter, opts.tol)?;
    let mean = x.iter().sum::<f64>() / n_items as f64;
    Ok((x.iter().map(|s| s - mean).collect(), iterations))
}

/// Covariance of the centred log-strengths from the observed information `I` at
/// `strengths`: `C I⁻¹ C` with `C = I − J/n`, or with prior 0 (only differences identified)
/// the pseudo-inverse, from `(I + J/n)⁻¹` centred. `None` when the information is singular.
pub fn plackett_luce_covariance(
    n_items: usize,
    rankings: &[Ranking],
    strengths: &[f64],
    opts: &BtOptions,
) -> Option<Vec<Vec<f64>>> {
    let problem = Problem {
        n: n_items,
        rankings,
        prior: opts.prior,
    };
    let (_, h) = problem.gradient_and_information(strengths);
    let centre = opts.prior == 0.0;
    let shift = if centre { 1.0 / n_items as f64 } else { 0.0 };
    let mut cov = super::linalg::invert_spd(h.iter().map(|v| v + shift).collect(), n_items)?;
    super::linalg::centre_strengths(&mut cov, n_items);
    Some(cov)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pairwise::test_support::opts;

    fn ranking(groups: &[&[u32]]) -> Ranking {
        Ranking {
            groups: groups.iter().map(|g| g.to_vec()).collect(),
            weight: 1.0,
        }
    }

    /// Rankings of two items are Bradley–Terry comparisons.
    #[test]
    fn pairs_reduce_to_bradley_terry() {
        let mut rs = vec![ranking(&[&[0], &[1]]); 3];
        rs.push(ranking(&[&[1], &[0]]));
        let (s, _) = fit_plackett_luce(2, &rs, &opts(0.0)).unwrap();
        assert!((s[0] - s[1] - 3f64.ln()).abs() < 1e-9);
    }

    #[test]
    fn gradient_and_hessian_match_finite_differences() {
        let rs = vec![
            ranking(&[&[0], &[1, 2], &[3]]),
            ranking(&[&[2], &[0], &[1]]),
            ranking(&[&[3, 1], &[0]]),
        ];
        let problem = Problem {
            n: 4,
            rankings: &rs,
            prior: 0.3,
        };
        let x = vec![0.2, -0.1, 0.4, -0.5];
        let (g, h) = problem.derivatives(&x);
        let eps = 1e-6;
        for i in 0..4 {
            let mut up = x.clone();
            up[i] += eps;
            let mut down = x.clone();
            down[i] -= eps;
            let numeric = (problem.value(&up) - problem.value(&down)) / (2.0 * eps);
            assert!((numeric - g[i]).abs() < 1e-6);
            let (gu, _) = problem.derivatives(&up);
            let (gd, _) = problem.derivatives(&down);
            for j in 0..4 {
                assert!((-(gu[j] - gd[j]) / (2.0 * eps) - h[j * 4 + i]).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn never_beaten_item_needs_a_prior() {
        let rs = vec![ranking(&[&[0], &[1], &[2]]), ranking(&[&[0], &[2], &[1]])];
        assert!(matches!(
            fit_plackett_luce(3, &rs, &opts(0.0)),
            Err(BtError::MleDoesNotExist { .. })
        ));
        let (s, _) = fit_plackett_luce(3, &rs, &opts(0.01)).unwrap();
        assert!(s[0] > s[1] && (s[1] - s[2]).abs() < 1e-9);
    }
}
