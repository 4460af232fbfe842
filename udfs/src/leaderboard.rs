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

/// A finished ranking in value order, before it is sorted into a leaderboard.
///
/// Every evaluation numbers its items in value order once ("canonical" ids: item `c` is the
/// `c`-th smallest value) and fits, bounds and counts by those ids. Equal ratings are
/// therefore listed by canonical id, which is item value order, and nothing is renumbered
/// back.
pub(crate) struct Ranking<'a> {
    pub items: &'a ItemInterner,
    /// The interner id of each canonical id: `ids[c]` is item `c`'s id in `items`.
    pub ids: &'a [usize],
    /// The rating of each canonical id, on the output scale.
    pub ratings: Vec<f64>,
    /// Ratings closer than this share a rank.
    pub rank_tolerance: f64,
    /// Weighted wins, losses, ties and battles per canonical id; NULL fields when absent.
    pub totals: Option<Vec<ItemTotals>>,
    /// `(ci_lower, ci_upper)` per canonical id; the rank range follows from them. NULL when
    /// absent.
    pub intervals: Option<Bounds>,
    /// The fitted tie parameter of `bt_rank`'s tie models, the same on every row; NULL
    /// when absent.
    pub tie_param: Option<f64>,
}

/// Values indexed by interner id, re-indexed by canonical id (`ids[c]` is canonical id
/// `c`'s interner id), for the online ratings, which replay in arrival ids.
pub(crate) fn by_canonical_id<T: Clone>(values: &[T], ids: &[usize]) -> Vec<T> {
    ids.iter().map(|&i| values[i].clone()).collect()
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
        // By rating descending, equal ratings by canonical id: item value order.
        let mut order: Vec<usize> = (0..self.ratings.len()).collect();
        order.sort_by(|&i, &j| {
            self.ratings[j]
                .total_cmp(&self.ratings[i])
                .then(i.cmp(&j))
        });
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
            self.items.take(order.iter().map(|&c| self.ids[c])),
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
