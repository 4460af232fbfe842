//! The F quantiles invert the F distribution in both tails, grow with p, and turn into each
//! other under 1/F, as properties over degrees of freedom from 1/2 to 1e6 and probabilities
//! from 1e-100 to just below 1.

use prefdb_stats::special::{
    beta_power_terms, f_quantile, f_tails, f_upper_quantile, logistic_pair,
};
use proptest::prelude::*;

/// Degrees of freedom from 0.5 to 1e6, spread evenly in the logarithm (so mostly not
/// integers).
fn degrees() -> impl Strategy<Value = f64> {
    (-0.3f64..6.0).prop_map(|e| 10f64.powf(e))
}

/// Probabilities in (0, 1): half spread evenly in the logarithm down to 1e-100, half
/// uniform, so that both the far tails and the switch between tails at 1/2 are covered.
fn probability() -> impl Strategy<Value = f64> {
    prop_oneof![(-230.0f64..-1e-3).prop_map(f64::exp), (1e-9f64..1.0 - 1e-9),]
}

/// A quantile the test can use: a positive normal double with room to spare.
fn representable(x: f64) -> bool {
    x > 1e-290 && x < 1e290
}

/// The relative error a tail T of F(d1, d2) at x can have for reasons that are not the
/// solver's, as in `beta_quantile_properties.rs`: 1e-14 for the continued fraction and the
/// Stirling terms; ε |ln T| because T is the exponential of a logarithm; and x itself, whose
/// logit u = ln(d1 x / d2) the solver finds to about ε max(1, |u|), moving ln T by that
/// times d ln T / du = (x^a y^b / B(a, b)) / T.
fn tolerance(x: f64, d1: f64, d2: f64, tail: f64) -> f64 {
    let u = (d1 / d2 * x).ln();
    let (point, complement) = logistic_pair(u);
    let slope = beta_power_terms(point, complement, d1 / 2.0, d2 / 2.0) / tail;
    1e-14 + 4.0 * f64::EPSILON * (tail.ln().abs() + u.abs().max(1.0) * slope)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// P(F ≤ x) at x = f_quantile(p, d1, d2) is p.
    #[test]
    fn quantile_inverts_the_distribution(d1 in degrees(), d2 in degrees(), p in probability()) {
        let x = f_quantile(p, d1, d2);
        prop_assume!(representable(x));
        let (lower, _) = f_tails(x, d1, d2);
        let error = (lower - p).abs() / p;
        prop_assert!(
            error <= 10.0 * tolerance(x, d1, d2, lower),
            "d1={} d2={} p={:e}: x={:e}, P(F ≤ x)={:e}, relative error {:e}",
            d1, d2, p, x, lower, error
        );
    }

    /// P(F > x) at x = f_upper_quantile(q, d1, d2) is q, read from the upper tail itself.
    #[test]
    fn upper_quantile_inverts_the_upper_tail(d1 in degrees(), d2 in degrees(), q in probability()) {
        let x = f_upper_quantile(q, d1, d2);
        prop_assume!(representable(x));
        let (_, upper) = f_tails(x, d1, d2);
        let error = (upper - q).abs() / q;
        prop_assert!(
            error <= 10.0 * tolerance(x, d1, d2, upper),
            "d1={} d2={} q={:e}: x={:e}, P(F > x)={:e}, relative error {:e}",
            d1, d2, q, x, upper, error
        );
    }

    /// The quantile grows with p, and the upper quantile falls with q, including across the
    /// switch between the tails at 1/2.
    #[test]
    fn quantiles_are_monotone(d1 in degrees(), d2 in degrees(), p in probability(), r in probability()) {
        let (small, large) = if p < r { (p, r) } else { (r, p) };
        // Closer probabilities give quantiles within the solver's own error of each other.
        prop_assume!(large - small > 1e-9 * large);
        let (lower_small, lower_large) = (f_quantile(small, d1, d2), f_quantile(large, d1, d2));
        prop_assert!(
            lower_small <= lower_large,
            "d1={} d2={}: f_quantile({:e})={:e} > f_quantile({:e})={:e}",
            d1, d2, small, lower_small, large, lower_large
        );
        let (upper_small, upper_large) =
            (f_upper_quantile(small, d1, d2), f_upper_quantile(large, d1, d2));
        prop_assert!(
            upper_small >= upper_large,
            "d1={} d2={}: f_upper_quantile({:e})={:e} < f_upper_quantile({:e})={:e}",
            d1, d2, small, upper_small, large, upper_large
        );
    }

    /// 1/F ~ F(d2, d1): the p quantile of F(d1, d2) is 1 / the quantile of F(d2, d1) at
    /// 1 − p, that is its upper p quantile; and where 1 − p is exact (p ≥ 1/2), its plain
    /// quantile at 1 − p.
    #[test]
    fn reciprocal_swaps_the_degrees_and_the_tails(d1 in degrees(), d2 in degrees(), p in probability()) {
        let x = f_quantile(p, d1, d2);
        prop_assume!(representable(x));
        // Each side is good to about ε |ln x| (`f_quantile_reference.rs`).
        let bound = 1e-13 + 8.0 * f64::EPSILON * x.ln().abs();
        let swapped = f_upper_quantile(p, d2, d1);
        prop_assert!(
            (x * swapped - 1.0).abs() <= bound,
            "d1={} d2={} p={:e}: {:e} · {:e} = 1 + {:e}", d1, d2, p, x, swapped, x * swapped - 1.0
        );
        if p >= 0.5 {
            let swapped = f_quantile(1.0 - p, d2, d1);
            prop_assert!(
                (x * swapped - 1.0).abs() <= bound,
                "d1={} d2={} p={:e}: {:e} · {:e} = 1 + {:e}", d1, d2, p, x, swapped, x * swapped - 1.0
            );
        }
    }
}
