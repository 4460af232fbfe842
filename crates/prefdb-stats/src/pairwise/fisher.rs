//! Analytic standard errors of Bradley–Terry log-strengths from the observed Fisher
//! information.
//!
//! At the fit, the negative Hessian of the penalised log-likelihood is
//! `H = λI + Σ_pairs n_ab p_ab (1 − p_ab) (e_a − e_b)(e_a − e_b)ᵀ`. Ratings are reported
//! relative to their mean, so the covariance returned is that of the centred strengths,
//! `C H⁻¹ C` with `C = I − J/n` ([`centre_strengths`]): with λ > 0 this drops the common-mode
//! variance `1/(λn)` that only the prior determines. With λ = 0, `H` is singular along the
//! constant vector (only differences are identified); it is inverted as `H + J/n` (the graph
//! is connected whenever the MLE exists) and centring leaves the pseudo-inverse. Variances of
//! differences `s_i − s_j` are the same either way.

use super::bradley_terry::{BtOptions, TieHandling};
use super::linalg::{centre_strengths, invert_spd};
use super::PairOutcomes;

/// Covariance of the fitted log-strengths (dense, `n × n`), or `None` when it is singular.
pub fn fisher_covariance(
    n: usize,
    pairs: &[PairOutcomes],
    strengths: &[f64],
    opts: &BtOptions,
) -> Option<Vec<Vec<f64>>> {
    let tie_share = match opts.ties {
        TieHandling::Half => 1.0,
        TieHandling::Ignore => 0.0,
    };
    let mut h = vec![vec![0.0; n]; n];
    for (i, row) in h.iter_mut().enumerate() {
        row[i] = opts.prior;
    }
    for p in pairs.iter().filter(|p| p.a != p.b) {
        let (a, b) = (p.a as usize, p.b as usize);
        let total = p.a_wins + p.b_wins + tie_share * p.ties;
        let prob = 1.0 / (1.0 + (strengths[b] - strengths[a]).exp());
        let c = total * prob * (1.0 - prob);
        h[a][a] += c;
        h[b][b] += c;
        h[a][b] -= c;
        h[b][a] -= c;
    }
    let centre = opts.prior == 0.0;
    if centre {
        let shift = 1.0 / n as f64;
        h.iter_mut().flatten().for_each(|x| *x += shift);
    }
    let mut inverse = invert_spd(h.concat(), n)?;
    centre_strengths(&mut inverse, n);
    Some(inverse)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pairwise::fit_bradley_terry;

    #[test]
    fn two_items_match_the_binomial_variance() {
        // 3 wins to 1: the MLE of d = s_a - s_b is ln 3 with variance 1 / (n p (1 - p)).
        let pairs = [PairOutcomes {
            a: 0,
            b: 1,
            a_wins: 3.0,
            b_wins: 1.0,
            ties: 0.0,
        }];
        let opts = BtOptions {
            prior: 0.0,
            ..Default::default()
        };
        let fit = fit_bradley_terry(2, &pairs, &opts).unwrap();
        let cov = fisher_covariance(2, &pairs, &fit.strengths, &opts).unwrap();
        let var_diff = cov[0][0] + cov[1][1] - 2.0 * cov[0][1];
        assert!(
            (var_diff - 1.0 / (4.0 * 0.75 * 0.25)).abs() < 1e-9,
            "{var_diff}"
        );
    }
}
