//! Dense symmetric positive-definite systems by Cholesky factorisation, for the small
//! Newton systems and information matrices of the pairwise models.

/// Factor `a` (row-major, `k × k`, symmetric positive definite) in place: its lower
/// triangle becomes `L` with `a = L Lᵀ`. False when `a` is not positive definite.
pub(crate) fn cholesky(a: &mut [f64], k: usize) -> bool {
    for j in 0..k {
        let mut diag = a[j * k + j];
        for p in 0..j {
            diag -= a[j * k + p] * a[j * k + p];
        }
        if diag.is_nan() || diag <= 0.0 {
            return false;
        }
        let diag = diag.sqrt();
        a[j * k + j] = diag;
        for i in j + 1..k {
            let mut v = a[i * k + j];
            for p in 0..j {
                v -= a[i * k + p] * a[j * k + p];
            }
            a[i * k + j] = v / diag;
        }
    }
    true
}

/// Solve `L Lᵀ x = b` in place, `l` from [`cholesky`].
pub(crate) fn cholesky_solve(l: &[f64], k: usize, b: &mut [f64]) {
    for i in 0..k {
        let mut v = b[i];
        for p in 0..i {
            v -= l[i * k + p] * b[p];
        }
        b[i] = v / l[i * k + i];
    }
    for i in (0..k).rev() {
        let mut v = b[i];
        for p in i + 1..k {
            v -= l[p * k + i] * b[p];
        }
        b[i] = v / l[i * k + i];
    }
}

/// `a⁻¹ b` for symmetric positive-definite `a` (row-major); `None` when `a` is not.
pub(crate) fn solve_spd(mut a: Vec<f64>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let k = b.len();
    if !cholesky(&mut a, k) {
        return None;
    }
    cholesky_solve(&a, k, &mut b);
    Some(b)
}

/// Turn the covariance of `(s, β)` into that of `(s − mean(s), β)`: `P C P` with
/// `P = diag(I − J/n, I)`, where `n` is the number of strengths, which come first.
///
/// Ratings are reported relative to their mean, and only differences of strengths are
/// identified by the data. With a prior the information along the constant direction comes
/// from the prior alone, so the plain inverse carries a common-mode variance of `1/(λ n)` in
/// every strength: about 1.7 on LLMFAO with the default λ = 0.01, which would swamp the
/// intervals. With prior 0 the information is pinned along that direction before inverting;
/// centring removes the pin too, leaving the pseudo-inverse.
pub(crate) fn centre_strengths(cov: &mut [Vec<f64>], n: usize) {
    if n == 0 {
        return;
    }
    let m = cov.len();
    for j in 0..m {
        let mean = (0..n).map(|i| cov[i][j]).sum::<f64>() / n as f64;
        for row in cov.iter_mut().take(n) {
            row[j] -= mean;
        }
    }
    for row in cov.iter_mut() {
        let mean = row[..n].iter().sum::<f64>() / n as f64;
        for v in &mut row[..n] {
            *v -= mean;
        }
    }
}

/// The inverse of symmetric positive-definite `a` (row-major, `k × k`) as rows; `None` when
/// `a` is not positive definite.
pub(crate) fn invert_spd(mut a: Vec<f64>, k: usize) -> Option<Vec<Vec<f64>>> {
    if !cholesky(&mut a, k) {
        return None;
    }
    Some(
        (0..k)
            .map(|col| {
                let mut e = vec![0.0; k];
                e[col] = 1.0;
                cholesky_solve(&a, k, &mut e);
                e
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_and_inverts() {
        let a = vec![4.0, 2.0, 0.6, 2.0, 5.0, 1.0, 0.6, 1.0, 3.0];
        let x = solve_spd(a.clone(), vec![1.0, 2.0, 3.0]).unwrap();
        for i in 0..3 {
            let ax: f64 = (0..3).map(|j| a[i * 3 + j] * x[j]).sum();
            assert!((ax - [1.0, 2.0, 3.0][i]).abs() < 1e-12);
        }
        let inv = invert_spd(a.clone(), 3).unwrap();
        for i in 0..3 {
            for (j, _) in inv.iter().enumerate() {
                let v: f64 = (0..3).map(|p| a[i * 3 + p] * inv[p][j]).sum();
                assert!((v - f64::from(u8::from(i == j))).abs() < 1e-12);
            }
        }
        assert!(solve_spd(vec![1.0, 2.0, 2.0, 1.0], vec![1.0, 1.0]).is_none());
    }
}
