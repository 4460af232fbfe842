//! `rank_compare`: every pair of a Bradley–Terry fit's items compared, through the full
//! covariance of the fit or its bootstrap replicates, with Holm's correction.

use super::{spec, PairwiseAccumulator, ValueOrdered};
use datafusion::arrow::array::{ArrayRef, BooleanArray, Float64Array};
use datafusion::common::{exec_err, Result, ScalarValue};
use prefdb_stats::significance::{compare_by_bootstrap, compare_by_covariance, holm_over_pairs};
use std::sync::Arc;

/// Items up to which `rank_compare` lists its items × (items − 1) comparisons.
pub(crate) const RANK_COMPARE_MAX_ITEMS: usize = 1000;

impl PairwiseAccumulator {
    pub(crate) fn evaluate_rank_compare(&self, v: &ValueOrdered) -> Result<ScalarValue> {
        let n = v.len();
        if n > RANK_COMPARE_MAX_ITEMS {
            return exec_err!(
                "rank_compare: lists items × (items - 1) comparisons and supports up to {RANK_COMPARE_MAX_ITEMS} items, got {n}; compare a subset of the items (WHERE model_a IN (...) AND model_b IN (...))"
            );
        }
        // Per comparison: two item ids and six values, in the vectors and the Arrow arrays.
        let _workspace = self.budget.reserve(
            "rank_compare",
            "the comparisons",
            (n * n.saturating_sub(1)).saturating_mul(2 * 64),
        )?;
        let fit = self.fit(v)?;
        let comparisons = match (&fit.cov, &fit.boot) {
            (_, Some(boot)) => compare_by_bootstrap(&fit.strengths, boot),
            (cov, None) => compare_by_covariance(
                &fit.strengths,
                cov.as_ref().and_then(Option::as_ref).map(Vec::as_slice),
            ),
        };
        let significant = holm_over_pairs(&comparisons, 1.0 - self.config.confidence);
        let unit = fit.unit;
        let float = |f: &dyn Fn(usize) -> Option<f64>| -> ArrayRef {
            Arc::new((0..comparisons.len()).map(f).collect::<Float64Array>())
        };
        let columns: Vec<ArrayRef> = vec![
            v.take(comparisons.iter().map(|c| c.a)),
            v.take(comparisons.iter().map(|c| c.b)),
            float(&|k| Some(fit.ratings[comparisons[k].a] - fit.ratings[comparisons[k].b])),
            float(&|k| comparisons[k].se.map(|se| se * unit)),
            float(&|k| comparisons[k].z()),
            float(&|k| comparisons[k].p_value()),
            float(&|k| comparisons[k].p_better),
            Arc::new(BooleanArray::from(significant)),
        ];
        self.list_scalar(spec::RANK_COMPARE_FIELDS, v, columns)
    }
}
