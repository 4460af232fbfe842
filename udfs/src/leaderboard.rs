//! The leaderboard list every ranking function returns: one struct per item with
//! `rank, item, rating, ci_lower, ci_upper, rank_lower, rank_upper, wins, losses, ties,
//! battles, tie_param` ([`LEADERBOARD_FIELDS`]).

use crate::items::ItemInterner;
use crate::spec::FieldType::{self, Float, Int};
use crate::spec::{struct_fields, OutField};
use datafusion::arrow::array::{
    Array, ArrayRef, Float64Array, Float64Builder, Int64Array, Int64Builder, ListArray, StructArray,
};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{Result, ScalarValue};
use prefdb_stats::calibration::scores::normal_upper_quantile;
use prefdb_stats::pairwise::{competition_ranks, ItemTotals};
use std::sync::Arc;

pub(crate) static LEADERBOARD_FIELDS: &[OutField] = &[
    OutField::new("rank", Int, "Competition rank by rating descending (1224: equal ratings share a rank)."),
    OutField::new("item", FieldType::Item, "The item."),
    OutField::new("rating", Float, "The item's rating; higher is better."),
    OutField::new("ci_lower", Float, "Lower end of the rating's interval at the chosen confidence; NULL when the call computes no intervals."),
    OutField::new("ci_upper", Float, "Upper end of the rating's interval; NULL when the call computes no intervals."),
    OutField::new("rank_lower", Int, "Best rank the intervals allow: 1 + the items whose lower bound is above this item's upper bound; NULL without intervals."),
    OutField::new("rank_upper", Int, "Worst rank the intervals allow: the items whose upper bound reaches this item's lower bound (itself included); NULL without intervals."),
    OutField::new("wins", Float, "Weighted wins (a fractional outcome splits a battle between wins and losses)."),
    OutField::new("losses", Float, "Weighted losses."),
    OutField::new("ties", Float, "Weighted ties."),
    OutField::new("battles", Float, "wins + losses + ties."),
    OutField::new("tie_param", Float, "The fitted tie parameter, the same on every row: nu with ties=davidson, theta with ties=rao_kupper, v for newman_rank; NULL otherwise, and with no decisive outcome."),
];

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
    /// The intervals reported instead of `intervals` when they differ (`anchor=`: relative
    /// to the anchor); the rank range still comes from `intervals`.
    pub reported: Option<Bounds>,
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

/// The rank range the intervals imply: the best rank is 1 + the number of items whose
/// lower bound is above this item's upper bound; the worst is the number of items whose
/// upper bound reaches this item's lower bound (itself included). NULL where a bound is.
pub(crate) fn rank_ranges(
    lower: &[Option<f64>],
    upper: &[Option<f64>],
) -> (Vec<Option<i64>>, Vec<Option<i64>>) {
    // Both counts by binary search in the sorted bounds: O(n log n) for any number of items.
    let sorted = |bounds: &[Option<f64>]| {
        let mut v: Vec<f64> = bounds.iter().flatten().copied().collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let (lowers, uppers) = (sorted(lower), sorted(upper));
    let ranks = |best: bool| -> Vec<Option<i64>> {
        lower
            .iter()
            .zip(upper)
            .map(|(&lo, &hi)| {
                let (lo, hi) = (lo?, hi?);
                Some(if best {
                    1 + (lowers.len() - lowers.partition_point(|&l| l <= hi)) as i64
                } else {
                    (uppers.len() - uppers.partition_point(|&u| u < lo)) as i64
                })
            })
            .collect()
    };
    (ranks(true), ranks(false))
}

/// Leaderboard entries built column by column, for one leaderboard or for one list per
/// group (a grouped query appends every group's entries here and builds one list array).
/// The optional columns are Arrow builders, which keep no validity bits until a NULL comes.
#[derive(Default)]
pub(crate) struct LeaderboardColumns {
    rank: Vec<i64>,
    /// The interner id of each entry's item.
    item: Vec<usize>,
    rating: Vec<f64>,
    ci_lower: Float64Builder,
    ci_upper: Float64Builder,
    rank_lower: Int64Builder,
    rank_upper: Int64Builder,
    wins: Float64Builder,
    losses: Float64Builder,
    ties: Float64Builder,
    battles: Float64Builder,
    tie_param: Float64Builder,
    /// Where each list ends, and whether it is non-NULL.
    offsets: Vec<i32>,
    valid: Vec<bool>,
}

impl LeaderboardColumns {
    /// Room for `entries` entries in `lists` lists.
    pub fn with_capacity(entries: usize, lists: usize) -> Self {
        let floats = || Float64Builder::with_capacity(entries);
        let ints = || Int64Builder::with_capacity(entries);
        Self {
            rank: Vec::with_capacity(entries),
            item: Vec::with_capacity(entries),
            rating: Vec::with_capacity(entries),
            ci_lower: floats(),
            ci_upper: floats(),
            rank_lower: ints(),
            rank_upper: ints(),
            wins: floats(),
            losses: floats(),
            ties: floats(),
            battles: floats(),
            tie_param: floats(),
            offsets: Vec::with_capacity(lists + 1),
            valid: Vec::with_capacity(lists),
        }
    }

    /// A NULL list (a group with no rows).
    pub fn push_null(&mut self) {
        self.close(false);
    }

    fn close(&mut self, valid: bool) {
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        self.offsets.push(self.rank.len() as i32);
        self.valid.push(valid);
    }

    /// The entries as one struct array, items taken from `items`.
    fn entries(mut self, items: &ItemInterner) -> Result<StructArray> {
        let floats = |b: &mut Float64Builder| Arc::new(b.finish()) as ArrayRef;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(self.rank)),
            items.take(self.item.into_iter()),
            Arc::new(Float64Array::from(self.rating)),
            floats(&mut self.ci_lower),
            floats(&mut self.ci_upper),
            Arc::new(self.rank_lower.finish()),
            Arc::new(self.rank_upper.finish()),
            floats(&mut self.wins),
            floats(&mut self.losses),
            floats(&mut self.ties),
            floats(&mut self.battles),
            floats(&mut self.tie_param),
        ];
        let fields = struct_fields(LEADERBOARD_FIELDS, &item_type(items));
        Ok(StructArray::try_new(fields, columns, None)?)
    }

    /// One list per [`Ranking::append_to`] or [`LeaderboardColumns::push_null`], in order.
    pub fn into_lists(mut self, items: &ItemInterner) -> Result<ArrayRef> {
        let offsets = std::mem::take(&mut self.offsets);
        let valid = std::mem::take(&mut self.valid);
        let offsets = if offsets.is_empty() { vec![0] } else { offsets };
        let entries = self.entries(items)?;
        let field = Arc::new(Field::new_list_field(entries.data_type().clone(), true));
        let nulls = valid.iter().any(|v| !v).then(|| NullBuffer::from(valid));
        Ok(Arc::new(ListArray::try_new(
            field,
            OffsetBuffer::new(offsets.into()),
            Arc::new(entries),
            nulls,
        )?))
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
        let items = self.items;
        let mut columns = LeaderboardColumns::default();
        self.append_to(&mut columns);
        columns.entries(items)
    }

    /// Append the entries, one per item in rank order, to `out` as one list.
    pub fn append_to(self, out: &mut LeaderboardColumns) {
        // By rating descending, equal ratings by canonical id: item value order.
        let mut order: Vec<usize> = (0..self.ratings.len()).collect();
        order.sort_by(|&i, &j| self.ratings[j].total_cmp(&self.ratings[i]).then(i.cmp(&j)));
        let n = order.len();
        let sorted: Vec<f64> = order.iter().map(|&i| self.ratings[i]).collect();
        out.rank
            .extend(competition_ranks(&sorted, self.rank_tolerance));
        out.item.extend(order.iter().map(|&c| self.ids[c]));
        out.rating.extend(sorted);
        match &self.intervals {
            Some((lower, upper)) => {
                let lower: Vec<Option<f64>> = order.iter().map(|&i| lower[i]).collect();
                let upper: Vec<Option<f64>> = order.iter().map(|&i| upper[i]).collect();
                let (best, worst) = rank_ranges(&lower, &upper);
                match &self.reported {
                    Some((lower, upper)) => {
                        out.ci_lower.extend(order.iter().map(|&i| lower[i]));
                        out.ci_upper.extend(order.iter().map(|&i| upper[i]));
                    }
                    None => {
                        out.ci_lower.extend(lower);
                        out.ci_upper.extend(upper);
                    }
                }
                out.rank_lower.extend(best);
                out.rank_upper.extend(worst);
            }
            None => {
                out.ci_lower.append_nulls(n);
                out.ci_upper.append_nulls(n);
                out.rank_lower.append_nulls(n);
                out.rank_upper.append_nulls(n);
            }
        }
        let totals = self.totals.as_ref();
        let total = |column: &mut Float64Builder, f: fn(&ItemTotals) -> f64| match totals {
            Some(t) => column.extend(order.iter().map(|&i| Some(f(&t[i])))),
            None => column.append_nulls(n),
        };
        total(&mut out.wins, |t| t.wins);
        total(&mut out.losses, |t| t.losses);
        total(&mut out.ties, |t| t.ties);
        total(&mut out.battles, |t| t.battles());
        match self.tie_param {
            Some(v) => out.tie_param.append_value_n(v, n),
            None => out.tie_param.append_nulls(n),
        }
        out.close(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The rank range straight from its definition, in O(n²).
    fn rank_range_by_definition(
        lower: &[Option<f64>],
        upper: &[Option<f64>],
    ) -> Vec<Option<(i64, i64)>> {
        (0..lower.len())
            .map(|i| {
                let (lo, hi) = (lower[i]?, upper[i]?);
                let best = 1 + lower.iter().flatten().filter(|&&l| l > hi).count() as i64;
                let worst = upper.iter().flatten().filter(|&&u| u >= lo).count() as i64;
                Some((best, worst))
            })
            .collect()
    }

    proptest! {
        #[test]
        fn rank_ranges_match_their_definition(
            bounds in prop::collection::vec(
                prop::option::weighted(0.9, (-3i32..3, 0i32..3)),
                0..40,
            )
        ) {
            // Few distinct values, signed zeros among them, so that ties are common.
            let value = |v: i32| if v == 0 { -0.0 } else { f64::from(v) };
            let lower: Vec<Option<f64>> = bounds.iter().map(|b| b.map(|(l, _)| value(l))).collect();
            let upper: Vec<Option<f64>> =
                bounds.iter().map(|b| b.map(|(l, w)| f64::from(l + w))).collect();
            let expected = rank_range_by_definition(&lower, &upper);
            let (best, worst) = rank_ranges(&lower, &upper);
            for (i, e) in expected.iter().enumerate() {
                let got = best[i].zip(worst[i]);
                prop_assert_eq!(got, *e, "item {}", i);
            }
        }
    }
}
