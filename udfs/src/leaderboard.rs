//! The leaderboard list every ranking function returns: one struct per item with
//! `rank, item, rating, ci_lower, ci_upper, rank_lower, rank_upper, wins, losses, ties,
//! battles, tie_param` (see [`crate::pairwise::leaderboard_fields`]).

use crate::items::ItemInterner;
use crate::pairwise::{interval_columns, leaderboard_fields};
use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, StructArray};
use datafusion::arrow::datatypes::{DataType, Fields};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{Result, ScalarValue};
use prefdb_stats::calibration::scores::normal_upper_quantile;
use prefdb_stats::pairwise::{competition_ranks, ItemTotals};
use std::sync::Arc;

/// `(ci_lower, ci_upper)` per item; `None` where an interval is undefined.
pub(crate) type Bounds = (Vec<Option<f64>>, Vec<Option<f64>>);

/// A finished ranking, indexed by item id, before it is sorted into a leaderboard.
pub(crate) struct Ranking<'a> {
    pub items: &'a ItemInterner,
    /// The rating of each item id, on the output scale.
    pub ratings: Vec<f64>,
    /// Ratings closer than this share a rank.
    pub rank_tolerance: f64,
    /// Weighted wins, losses, ties and battles per item id; NULL fields when absent.
    pub totals: Option<Vec<ItemTotals>>,
    /// `(ci_lower, ci_upper)` per item id; the rank range follows from them. NULL when
    /// absent.
    pub intervals: Option<Bounds>,
    /// The fitted tie parameter of `bt_rank`'s tie models, the same on every row; NULL
    /// when absent.
    pub tie_param: Option<f64>,
}

/// Values indexed by canonical id (`original[c]` is canonical id c's item id), re-indexed
/// by item id.
pub(crate) fn to_original_ids<T: Clone + Default>(canonical: Vec<T>, original: &[usize]) -> Vec<T> {
    let mut out = vec![T::default(); canonical.len()];
    for (value, &id) in canonical.into_iter().zip(original) {
        out[id] = value;
    }
    out
}

/// Normal-approximation intervals `rating ± z · sd · unit`, `z` the two-sided quantile of
/// `confidence`, from the covariance of the strengths (same ids as `ratings`); all NULL
/// when the covariance is singular.
pub(crate) fn fisher_bounds(
    ratings: &[f64],
    cov: Option<&Vec<Vec<f64>>>,
    confidence: f64,
    unit: f64,
) -> Bounds {
    let z = normal_upper_quantile((1.0 - confidence) / 2.0);
    let half = |c: usize| cov.map(|cov| z * cov[c][c].max(0.0).sqrt() * unit);
    (0..ratings.len())
        .map(|c| half(c).map(|h| (ratings[c] - h, ratings[c] + h)))
        .map(|b| (b.map(|b| b.0), b.map(|b| b.1)))
        .unzip()
}

pub(crate) fn item_type(items: &ItemInterner) -> DataType {
    match items {
        ItemInterner::Text { .. } => DataType::Utf8,
        ItemInterner::Integer { .. } => DataType::Int64,
    }
}

impl Ranking<'_> {
    /// The leaderboard list scalar.
    pub fn into_scalar(self) -> Result<ScalarValue> {
        let entries = self.into_entries()?;
        Ok(SingleRowListArrayBuilder::new(Arc::new(entries)).build_list_scalar())
    }

    /// The leaderboard entries, one struct per item in rank order.
    pub fn into_entries(self) -> Result<StructArray> {
        let order = self.items.order_by_rating(&self.ratings);
        let n = order.len();
        let sorted: Vec<f64> = order.iter().map(|&i| self.ratings[i]).collect();
        let ranks = competition_ranks(&sorted, self.rank_tolerance);
        let total = |f: fn(&ItemTotals) -> f64| -> ArrayRef {
            match &self.totals {
                Some(t) => Arc::new(Float64Array::from_iter_values(
                    order.iter().map(|&i| f(&t[i])),
                )),
                None => Arc::new(Float64Array::new_null(n)),
            }
        };
        let [ci_lower, ci_upper, rank_lower, rank_upper] = match &self.intervals {
            Some((lower, upper)) => interval_columns(
                order.iter().map(|&i| lower[i]).collect(),
                order.iter().map(|&i| upper[i]).collect(),
            ),
            None => [
                Arc::new(Float64Array::new_null(n)) as ArrayRef,
                Arc::new(Float64Array::new_null(n)),
                Arc::new(Int64Array::new_null(n)),
                Arc::new(Int64Array::new_null(n)),
            ],
        };
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(ranks)),
            self.items.take(order.iter().copied()),
            Arc::new(Float64Array::from(sorted)),
            ci_lower,
            ci_upper,
            rank_lower,
            rank_upper,
            total(|t| t.wins),
            total(|t| t.losses),
            total(|t| t.ties),
            total(|t| t.battles()),
            Arc::new(Float64Array::from(vec![self.tie_param; n])),
        ];
        let fields = Fields::from(leaderboard_fields(item_type(self.items)));
        Ok(StructArray::try_new(fields, columns, None)?)
    }
}
