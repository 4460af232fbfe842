//! Running sums that do not depend on the order of their terms.
//!
//! A floating-point sum depends on the order of its additions, so sums kept per partition
//! and merged give last-bit differences between one machine and another partitioning (or a
//! cluster). The calibration scorers' terms are bounded (a probability, a Brier term, a log
//! loss of at most −ln(5e−324) ≈ 744.4), so they are summed instead as integers in units of
//! 2⁻⁶⁴: [`fixed`] rounds a term to that grid, integer addition is exact and associative,
//! and [`unfixed`] rounds the total back once. A term of at least 2⁻¹² (a probability of
//! 0.00025) is on the grid already and converts exactly; a smaller one moves by at most
//! 2⁻⁶⁵ ≈ 2.7e−20. An i128 holds the sum of 10¹⁶ terms of the largest size.

/// 1.0 in the sums' unit (2⁻⁶⁴).
pub const FIXED_ONE: i128 = 1 << 64;

const SCALE: f64 = 18_446_744_073_709_551_616.0; // 2^64

/// `x` (finite, |x| < 2⁶³) in units of 2⁻⁶⁴, rounded to the nearest (halves away from zero).
#[inline]
pub fn fixed(x: f64) -> i128 {
    (x * SCALE).round() as i128
}

/// A sum in units of 2⁻⁶⁴ as the nearest f64.
#[inline]
pub fn unfixed(sum: i128) -> f64 {
    // i128 → f64 rounds to nearest; dividing by a power of two is exact.
    sum as f64 / SCALE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_on_the_grid_convert_exactly() {
        for x in [
            0.0,
            1.0,
            0.5,
            0.1,
            0.9,
            1.0 / 3.0,
            744.44,
            2f64.powi(-12),
            0.25 + 2f64.powi(-60),
        ] {
            assert_eq!(unfixed(fixed(x)), x, "{x}");
        }
        assert_eq!(fixed(1.0), FIXED_ONE);
        // Below 2^-12 a term moves by at most half a unit.
        for x in [1e-10, 3e-17, 5e-324, 2f64.powi(-70)] {
            assert!((unfixed(fixed(x)) - x).abs() <= 2f64.powi(-65), "{x}");
        }
    }

    #[test]
    fn sums_do_not_depend_on_order() {
        // Terms whose float sum depends on the order of addition.
        let terms: Vec<f64> = (0..1000)
            .map(|i| ((i * 7919) % 1000) as f64 / 997.0)
            .collect();
        let forward: i128 = terms.iter().map(|&x| fixed(x)).sum();
        let backward: i128 = terms.iter().rev().map(|&x| fixed(x)).sum();
        let halves: i128 = terms[..333].iter().map(|&x| fixed(x)).sum::<i128>()
            + terms[333..].iter().map(|&x| fixed(x)).sum::<i128>();
        assert_eq!(forward, backward);
        assert_eq!(forward, halves);
        let float_forward: f64 = terms.iter().sum();
        let float_backward: f64 = terms.iter().rev().sum();
        assert_ne!(
            float_forward, float_backward,
            "the example should show the float problem"
        );
        // And the fixed sum is the exact sum, correctly rounded: compare with a
        // compensated sum.
        let (mut s, mut c) = (0.0f64, 0.0f64);
        for &x in &terms {
            let y = x - c;
            let t = s + y;
            c = (t - s) - y;
            s = t;
        }
        assert!((unfixed(forward) - s).abs() <= s * f64::EPSILON);
    }
}
