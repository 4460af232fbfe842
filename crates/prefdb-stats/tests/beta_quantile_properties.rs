//! The beta quantiles invert the regularised incomplete beta, in both tails and at every
//! scale, as properties.

use prefdb_stats::calibration::scores::{beta_quantile, beta_upper_quantile};
use prefdb_stats::special::{beta_power_terms, incomplete_beta_tails};
use proptest::prelude::*;

/// Shapes from 0.5 to 1e9, spread evenly in the logarithm.
fn shape() -> impl Strategy<Value = f64> {
    (-0.3f64..9.0).prop_map(|e| 10f64.powf(e))
}

/// Tail probabilities from 1e-250 to just below 1, spread evenly in the logarithm.
fn probability() -> impl Strategy<Value = f64> {
    (-575.0f64..-1e-3).prop_map(f64::exp)
}

/// The relative error a tail T at x can have for reasons that are not the solver's: 1e-14
/// for the continued fraction and the Stirling terms; |ln T| ε because T is the exponential
/// of a logarithm of that size; and x itself being a double, since moving x by an ulp or two
/// moves T by pdf · 2ε x / T = 2ε (x^a y^b / B(a, b)) / (y T), which dominates for large
/// shapes.
fn tolerance(x: f64, a: f64, b: f64, tail: f64) -> f64 {
    let y = 1.0 - x;
    let rounding = 4.0 * f64::EPSILON * beta_power_terms(x, y, a, b) / (y * tail);
    1e-14 + 4.0 * f64::EPSILON * tail.ln().abs() + rounding
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// I_x(a, b) at x = beta_quantile(p, a, b) is p, to within ten times `tolerance`.
    #[test]
    fn lower_quantile_inverts_the_lower_tail(a in shape(), b in shape(), p in probability()) {
        let x = beta_quantile(p, a, b);
        // Quantiles below the smallest normal double cannot be represented.
        prop_assume!(x > 1e-300 && x < 1.0);
        let (lower, _) = incomplete_beta_tails(x, 1.0 - x, a, b);
        let error = (lower - p).abs() / p;
        prop_assert!(
            error <= 10.0 * tolerance(x, a, b, lower),
            "a={} b={} p={:e}: x={:e}, I_x={:e}, relative error {:e}", a, b, p, x, lower, error
        );
    }

    /// 1 − I_x(a, b) at x = beta_upper_quantile(q, a, b) is q, read from the complementary
    /// tail itself (never 1 − I_x, which would cancel for small q).
    #[test]
    fn upper_quantile_inverts_the_upper_tail(a in shape(), b in shape(), q in probability()) {
        let x = beta_upper_quantile(q, a, b);
        // An upper quantile within a few ulps of 1 is as close to 1 as a double gets, and the
        // tail there can be far from q (the true quantile is closer still).
        prop_assume!(x > 1e-300 && x < 1.0 - 4.0 * f64::EPSILON);
        let (_, upper) = incomplete_beta_tails(x, 1.0 - x, a, b);
        let error = (upper - q).abs() / q;
        prop_assert!(
            error <= 10.0 * tolerance(x, a, b, upper),
            "a={} b={} q={:e}: x={:e}, 1 − I_x={:e}, relative error {:e}", a, b, q, x, upper, error
        );
    }

    /// The two quantiles are mirror images: the upper q quantile of Beta(a, b) is one minus
    /// the lower q quantile of Beta(b, a).
    #[test]
    fn quantiles_mirror_under_swapping_the_shapes(a in shape(), b in shape(), q in probability()) {
        let upper = beta_upper_quantile(q, a, b);
        let mirrored = 1.0 - beta_quantile(q, b, a);
        prop_assert!(
            (upper - mirrored).abs() <= 1e-12 * upper.max(1e-300) + 2.0 * f64::EPSILON,
            "a={} b={} q={:e}: {:e} vs {:e}", a, b, q, upper, mirrored
        );
    }
}
