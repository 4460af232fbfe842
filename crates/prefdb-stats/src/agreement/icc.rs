//! Intraclass correlation (Shrout & Fleiss 1979; McGraw & Wong 1996) from a complete
//! targets × raters table, with F tests and confidence intervals as pingouin's
//! `intraclass_corr` reports them.

use crate::special::{f_sf, f_upper_quantile};

/// The six Shrout–Fleiss forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IccForm {
    /// One-way random, single rater: ICC(1,1).
    Icc1,
    /// Two-way random, absolute agreement, single rater: ICC(A,1).
    Icc2,
    /// Two-way mixed, consistency, single rater: ICC(C,1).
    Icc3,
    Icc1k,
    Icc2k,
    Icc3k,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IccResult {
    pub icc: f64,
    pub f: f64,
    pub df1: f64,
    pub df2: f64,
    pub p_value: f64,
    pub ci_lower: f64,
    pub ci_upper: f64,
}

/// ICC of `scores[target][rater]` (every cell present) with a two-sided `confidence`
/// interval. `None` with fewer than two targets or raters.
pub fn icc(scores: &[Vec<f64>], form: IccForm, confidence: f64) -> Option<IccResult> {
    let n = scores.len();
    let k = scores.first().map_or(0, Vec::len);
    if n < 2 || k < 2 {
        return None;
    }
    let (nf, kf) = (n as f64, k as f64);
    let grand = scores.iter().flatten().sum::<f64>() / (nf * kf);
    let target_means: Vec<f64> = scores.iter().map(|r| r.iter().sum::<f64>() / kf).collect();
    let rater_means: Vec<f64> = (0..k)
        .map(|j| scores.iter().map(|r| r[j]).sum::<f64>() / nf)
        .collect();
    let ss_total: f64 = scores.iter().flatten().map(|x| (x - grand).powi(2)).sum();
    let ss_targets = kf
        * target_means
            .iter()
            .map(|m| (m - grand).powi(2))
            .sum::<f64>();
    let ss_raters = nf * rater_means.iter().map(|m| (m - grand).powi(2)).sum::<f64>();
    let ss_error = ss_total - ss_targets - ss_raters;
    let df_targets = nf - 1.0;
    let df_raters = kf - 1.0;
    let df_error = df_targets * df_raters;
    let df_within = nf * (kf - 1.0);
    let msb = ss_targets / df_targets;
    let msj = ss_raters / df_raters;
    let mse = ss_error / df_error;
    let msw = (ss_raters + ss_error) / df_within;

    // The upper (1 − confidence) / 2 critical value, from that tail probability itself: as
    // 1 − (1 − confidence) / 2 it would lose the digits of a confidence close to 1.
    let tail = (1.0 - confidence) / 2.0;
    let upper = |d1: f64, d2: f64| f_upper_quantile(tail, d1, d2);
    // ICC1 (one-way) and ICC3 (two-way, consistency) share their form and differ only in
    // the error mean square and its degrees of freedom: MSW on n(k-1), or MSE on (n-1)(k-1).
    let consistency = |ms: f64, df2: f64, average: bool| {
        let f = msb / ms;
        let fl = f / upper(df_targets, df2);
        let fu = f * upper(df2, df_targets);
        if average {
            ((msb - ms) / msb, f, df2, 1.0 - 1.0 / fl, 1.0 - 1.0 / fu)
        } else {
            let single = |x: f64| (x - 1.0) / (x + kf - 1.0);
            (
                (msb - ms) / (msb + (kf - 1.0) * ms),
                f,
                df2,
                single(fl),
                single(fu),
            )
        }
    };
    let result = |icc, f: f64, df2, lo, hi| IccResult {
        icc,
        f,
        df1: df_targets,
        df2,
        p_value: f_sf(f, df_targets, df2),
        ci_lower: lo,
        ci_upper: hi,
    };
    Some(match form {
        IccForm::Icc1 | IccForm::Icc1k => {
            let (icc, f, df2, lo, hi) = consistency(msw, df_within, form == IccForm::Icc1k);
            result(icc, f, df2, lo, hi)
        }
        IccForm::Icc3 | IccForm::Icc3k => {
            let (icc, f, df2, lo, hi) = consistency(mse, df_error, form == IccForm::Icc3k);
            result(icc, f, df2, lo, hi)
        }
        IccForm::Icc2 | IccForm::Icc2k => {
            let (f, df2) = (msb / mse, df_error);
            let icc2 = (msb - mse) / (msb + (kf - 1.0) * mse + kf * (msj - mse) / nf);
            // Satterthwaite degrees of freedom for the absolute-agreement interval.
            let fj = msj / mse;
            let a = nf * (1.0 + (kf - 1.0) * icc2) - kf * icc2;
            let vn = df_error * (kf * icc2 * fj + a).powi(2);
            let vd = df_targets * kf * kf * icc2 * icc2 * fj * fj + a * a;
            let v = vn / vd;
            let f2u = upper(df_targets, v);
            let f2l = upper(v, df_targets);
            let denominator = kf * msj + (kf * nf - kf - nf) * mse;
            let lo = nf * (msb - f2u * mse) / (f2u * denominator + nf * msb);
            let hi = nf * (f2l * msb - mse) / (denominator + nf * f2l * msb);
            if form == IccForm::Icc2 {
                result(icc2, f, df2, lo, hi)
            } else {
                let icc2k = (msb - mse) / (msb + (msj - mse) / nf);
                let scale = |x: f64| x * kf / (1.0 + x * (kf - 1.0));
                result(icc2k, f, df2, scale(lo), scale(hi))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// At confidences close to 1 the F critical values come from the tail (1 − c) / 2 itself
    /// (`f_upper_quantile`), so the intervals stay finite and keep widening with c.
    #[test]
    fn intervals_widen_and_stay_finite_as_confidence_nears_one() {
        let scores: Vec<Vec<f64>> = (0..12)
            .map(|t| (0..4).map(|r| f64::from(t * 3 + r * (t % 5))).collect())
            .collect();
        for form in [
            IccForm::Icc1,
            IccForm::Icc2,
            IccForm::Icc3,
            IccForm::Icc1k,
            IccForm::Icc2k,
            IccForm::Icc3k,
        ] {
            let mut previous: Option<IccResult> = None;
            for confidence in [0.95, 0.9999999, 1.0 - 1e-12, 1.0 - 1e-15] {
                let r = icc(&scores, form, confidence).unwrap();
                assert!(
                    r.ci_lower.is_finite() && r.ci_upper.is_finite(),
                    "{form:?} {r:?}"
                );
                assert!(r.ci_lower < r.icc && r.icc < r.ci_upper, "{form:?} {r:?}");
                if let Some(p) = previous {
                    assert!(
                        r.ci_lower < p.ci_lower && r.ci_upper > p.ci_upper,
                        "{form:?} {r:?}"
                    );
                }
                previous = Some(r);
            }
        }
    }
}
