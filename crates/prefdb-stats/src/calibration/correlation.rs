//! Rank correlations with two-sided p-values, as SciPy's `spearmanr` and
//! `kendalltau(method="asymptotic")` compute them.

use super::scores::midranks;
use crate::special::{erfc, student_t_two_sided};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Correlation {
    pub statistic: f64,
    pub p_value: f64,
}

fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| (sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0))
}

/// Spearman's ρ: Pearson's r of the midranks; p-value from t = ρ √((n − 2) / (1 − ρ²)) with
/// n − 2 degrees of freedom. `None` for fewer than 3 pairs or a constant input.
pub fn spearman(x: &[f64], y: &[f64]) -> Option<Correlation> {
    if x.len() < 3 {
        return None;
    }
    let rho = pearson(&midranks(x), &midranks(y))?;
    let df = x.len() as f64 - 2.0;
    let p_value = if rho.abs() >= 1.0 {
        0.0
    } else {
        student_t_two_sided(rho * (df / (1.0 - rho * rho)).sqrt(), df)
    };
    Some(Correlation {
        statistic: rho,
        p_value,
    })
}

/// Sizes of runs of equal values in sorted data: Σ t(t−1)/2 and the two sums the variance
/// of τ needs.
#[derive(Default, Clone, Copy)]
struct TieSums {
    pairs: f64,
    v1: f64,
    v2: f64,
    v3: f64,
}

fn add_run(sums: &mut TieSums, t: f64) {
    sums.pairs += t * (t - 1.0) / 2.0;
    sums.v1 += t * (t - 1.0) * (2.0 * t + 5.0);
    sums.v2 += t * (t - 1.0);
    sums.v3 += t * (t - 1.0) * (t - 2.0);
}

/// Kendall's τ-b in O(n log n) (Knight 1966): sort by (x, y), count joint and x ties, then
/// count discordant pairs as the swaps of a merge sort on y. The p-value is SciPy's
/// asymptotic normal approximation with the tie-corrected variance. `None` for fewer than 2
/// pairs or a constant input.
pub fn kendall_tau_b(x: &[f64], y: &[f64]) -> Option<Correlation> {
    let n = x.len();
    if n < 2 {
        return None;
    }
    // `+ 0.0` turns -0.0 into 0.0: `total_cmp` orders them apart, which would split a run of
    // x ties and leave its y values unsorted (a tie counted as discordant).
    let mut pairs: Vec<(f64, f64)> = x.iter().zip(y).map(|(&a, &b)| (a + 0.0, b + 0.0)).collect();
    pairs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let (mut x_ties, mut joint_ties) = (TieSums::default(), 0.0);
    let (mut i, mut j) = (0, 0);
    while i < n {
        while j < n && pairs[j].0 == pairs[i].0 {
            j += 1;
        }
        add_run(&mut x_ties, (j - i) as f64);
        // Joint ties within this x run.
        let mut k = i;
        while k < j {
            let mut m = k;
            while m < j && pairs[m].1 == pairs[k].1 {
                m += 1;
            }
            let t = (m - k) as f64;
            joint_ties += t * (t - 1.0) / 2.0;
            k = m;
        }
        i = j;
    }
    let mut ys: Vec<f64> = pairs.iter().map(|p| p.1).collect();
    let swaps = merge_sort_swaps(&mut ys);
    let mut y_ties = TieSums::default();
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j < n && ys[j] == ys[i] {
            j += 1;
        }
        add_run(&mut y_ties, (j - i) as f64);
        i = j;
    }
    let nf = n as f64;
    let total = nf * (nf - 1.0) / 2.0;
    let denominator = ((total - x_ties.pairs) * (total - y_ties.pairs)).sqrt();
    if denominator == 0.0 {
        return None;
    }
    let con_minus_dis = total - x_ties.pairs - y_ties.pairs + joint_ties - 2.0 * swaps;
    let tau = (con_minus_dis / denominator).clamp(-1.0, 1.0);
    let variance = (nf * (nf - 1.0) * (2.0 * nf + 5.0) - x_ties.v1 - y_ties.v1) / 18.0
        + x_ties.v2 * y_ties.v2 / (2.0 * nf * (nf - 1.0))
        + if n > 2 {
            x_ties.v3 * y_ties.v3 / (9.0 * nf * (nf - 1.0) * (nf - 2.0))
        } else {
            0.0
        };
    let z = con_minus_dis / variance.sqrt();
    Some(Correlation {
        statistic: tau,
        p_value: erfc(z.abs() / std::f64::consts::SQRT_2),
    })
}

/// Sort `v` ascending by merge sort and return the number of inversions (strictly greater
/// earlier elements), i.e. the discordant pairs among pairs not tied in y.
fn merge_sort_swaps(v: &mut [f64]) -> f64 {
    let n = v.len();
    let mut buffer = v.to_vec();
    let mut swaps = 0.0;
    let mut width = 1;
    while width < n {
        let mut start = 0;
        while start < n {
            let mid = (start + width).min(n);
            let end = (start + 2 * width).min(n);
            let (mut i, mut j, mut k) = (start, mid, start);
            while i < mid && j < end {
                if v[j] < v[i] {
                    buffer[k] = v[j];
                    swaps += (mid - i) as f64;
                    j += 1;
                } else {
                    buffer[k] = v[i];
                    i += 1;
                }
                k += 1;
            }
            buffer[k..k + (mid - i)].copy_from_slice(&v[i..mid]);
            k += mid - i;
            buffer[k..k + (end - j)].copy_from_slice(&v[j..end]);
            start = end;
        }
        v.copy_from_slice(&buffer);
        width *= 2;
    }
    swaps
}

#[cfg(test)]
mod tests {
    use super::*;

    /// O(n²) τ-b straight from the definition.
    fn tau_b_naive(x: &[f64], y: &[f64]) -> f64 {
        let (mut s, mut tx, mut ty, mut total) = (0.0, 0.0, 0.0, 0.0);
        for i in 0..x.len() {
            for j in (i + 1)..x.len() {
                let dx = (x[i] - x[j]).signum() * f64::from(u8::from(x[i] != x[j]));
                let dy = (y[i] - y[j]).signum() * f64::from(u8::from(y[i] != y[j]));
                s += dx * dy;
                total += 1.0;
                tx += f64::from(u8::from(x[i] == x[j]));
                ty += f64::from(u8::from(y[i] == y[j]));
            }
        }
        s / ((total - tx) * (total - ty)).sqrt()
    }

    #[test]
    fn knight_matches_the_definition_with_ties() {
        let x = [1.0, 2.0, 2.0, 3.0, 4.0, 4.0, 5.0, 1.0];
        let y = [2.0, 1.0, 3.0, 3.0, 5.0, 4.0, 4.0, 2.0];
        let fast = kendall_tau_b(&x, &y).unwrap().statistic;
        assert!((fast - tau_b_naive(&x, &y)).abs() < 1e-12, "{fast}");
        assert_eq!(kendall_tau_b(&[1.0, 1.0], &[1.0, 2.0]), None);
    }

    #[test]
    fn signed_zeros_are_one_value() {
        // SciPy's kendalltau gives 0.8164965809277261 (0.0 and -0.0 tie).
        let x = [0.0, -0.0, 0.99];
        let y = [-1.2, -0.5, 0.7];
        let tau = kendall_tau_b(&x, &y).unwrap().statistic;
        assert!((tau - 0.816_496_580_927_726_1).abs() < 1e-12, "{tau}");
        assert!((tau - tau_b_naive(&x, &y)).abs() < 1e-12);
    }

    #[test]
    fn knight_matches_the_definition_on_random_data_with_signed_zeros() {
        // A small deterministic generator: values from {-1, -0.0, 0.0, 0.5, 1, ...} so that
        // ties, and ties between signed zeros, are frequent.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let palette = [-1.0, -0.0, 0.0, 0.5, 1.0, 2.0, -0.5];
        for case in 0..300 {
            let n = 2 + (next() % 40) as usize;
            let x: Vec<f64> = (0..n).map(|_| palette[(next() % 7) as usize]).collect();
            let y: Vec<f64> = (0..n).map(|_| palette[(next() % 7) as usize]).collect();
            let naive = tau_b_naive(&x, &y);
            match kendall_tau_b(&x, &y) {
                Some(c) => assert!(
                    (c.statistic - naive).abs() < 1e-12,
                    "case {case}: {} vs {naive} on {x:?} {y:?}",
                    c.statistic
                ),
                None => assert!(naive.is_nan(), "case {case}: None vs {naive}"),
            }
        }
    }
}
