//! The one-pass tally of exact coincidence counts from long-form ratings.
//!
//! Krippendorff's alpha, percent agreement and Gwet's coefficients all follow from how many
//! pairable values each unit (item) has in each category. For unweighted ratings on a short
//! scale these counts are exact integers, tallied here in one pass over the ratings
//! (integer arithmetic only, so the result is the same in any row order).

use super::ExactCoincidences;

/// Categories up to which the tally keeps exact per-size pair counts.
pub const MAX_TALLY_CATEGORIES: usize = 64;

/// Long-form ratings as parallel columns of dense ids: rating `r` is `values[r]` given by
/// rater `raters[r]` to item `items[r]`; `category[value]` is a value's category,
/// `0..categories`.
#[derive(Debug, Clone, Copy)]
pub struct TallyInput<'a> {
    pub items: &'a [u32],
    pub raters: &'a [u32],
    pub values: &'a [u32],
    pub category: &'a [usize],
}

/// A rater gave an item two different values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RaterConflict {
    pub item: u32,
    pub rater: u32,
}

/// The exact coincidence counts of `ratings` over `n_items` items, `n_raters` raters and
/// `categories` (at most [`MAX_TALLY_CATEGORIES`]) categories. A rater's repeated rating of
/// an item with the same value counts once; a different value is a [`RaterConflict`].
///
/// Ids are usually handed out in order of first appearance, so a table stored grouped by
/// item arrives with non-decreasing item ids and is tallied in place. The tally stops at the
/// first decrease; then the ratings are put in item order by a counting sort and tallied
/// afresh.
pub fn tally_coincidences(
    n_items: usize,
    n_raters: usize,
    categories: usize,
    ratings: TallyInput<'_>,
) -> Result<ExactCoincidences, RaterConflict> {
    assert!(
        categories <= MAX_TALLY_CATEGORIES,
        "too many categories to tally"
    );
    let TallyInput {
        items,
        raters,
        values,
        category,
    } = ratings;
    let category_of = |value: u32| category[value as usize] as u32;
    let in_place = items
        .iter()
        .zip(raters)
        .zip(values)
        .map(|((&item, &rater), &value)| (item, rater, category_of(value)));
    let mut tally = UnitTally::new(categories, n_raters);
    let mut outcome = tally.tally(in_place);
    if let Err(TallyStop::Unsorted) = outcome {
        let mut cursor = vec![0u32; n_items + 1];
        for &item in items {
            cursor[item as usize + 1] += 1;
        }
        for i in 0..n_items {
            cursor[i + 1] += cursor[i];
        }
        let mut by_item = vec![(0u32, 0u32, 0u32); items.len()];
        for ((&item, &rater), &value) in items.iter().zip(raters).zip(values) {
            let slot = &mut cursor[item as usize];
            by_item[*slot as usize] = (item, rater, category_of(value));
            *slot += 1;
        }
        tally = UnitTally::new(categories, n_raters);
        outcome = tally.tally(by_item.into_iter());
    }
    match outcome {
        Ok(()) => Ok(tally.exact),
        Err(TallyStop::Conflict(item, rater)) => Err(RaterConflict { item, rater }),
        // The counting sort leaves every item id in order.
        Err(TallyStop::Unsorted) => unreachable!("ratings out of item order after sorting"),
    }
}

/// Exact coincidence counts from (item, rater, category) ratings in increasing item order,
/// one unit at a time. Each rater's first rating of a unit is counted by category; a per-rater
/// stamp finds repeats without clearing anything between units. When the unit closes its
/// pairs go to [`ExactCoincidences`]. Categories number at most
/// [`MAX_TALLY_CATEGORIES`].
struct UnitTally {
    /// Per rater: the last item it rated (high half) and the category it gave (low half).
    stamp: Vec<u64>,
    q: usize,
    exact: ExactCoincidences,
}

/// Why a tally stopped.
enum TallyStop {
    /// A rater gave an item two different values: (item, rater).
    Conflict(u32, u32),
    /// An item id smaller than the one before: the ratings need sorting first.
    Unsorted,
}

impl UnitTally {
    fn new(categories: usize, raters: usize) -> Self {
        debug_assert!(categories <= MAX_TALLY_CATEGORIES);
        Self {
            stamp: vec![u64::MAX; raters],
            q: categories,
            exact: ExactCoincidences::new(categories),
        }
    }

    /// Whether this is `rater`'s first rating of `item`; a repeat of the same category is
    /// not, and a different category is a conflict.
    #[inline]
    fn first_rating(stamp: &mut [u64], item: u32, rater: u32, c: u32) -> Result<bool, TallyStop> {
        let stamp = &mut stamp[rater as usize];
        let mark = (u64::from(item) << 32) | u64::from(c);
        if *stamp >> 32 == u64::from(item) {
            return if *stamp == mark {
                Ok(false)
            } else {
                Err(TallyStop::Conflict(item, rater))
            };
        }
        *stamp = mark;
        Ok(true)
    }

    /// Tally every rating; item ids must not decrease.
    fn tally(&mut self, ratings: impl Iterator<Item = (u32, u32, u32)>) -> Result<(), TallyStop> {
        // Scales of up to 16 categories are counted densely, one instance per length so
        // that the loops unroll.
        macro_rules! dense {
            ($($q:literal)*) => {
                match self.q {
                    $($q => self.tally_with(DenseCounts::<$q>([0; $q]), ratings),)*
                    _ => self.tally_with(SparseCounts::default(), ratings),
                }
            };
        }
        dense!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)
    }

    /// The tally loop: a unit closes when the item id changes.
    fn tally_with(
        &mut self,
        mut unit: impl UnitCounts,
        ratings: impl Iterator<Item = (u32, u32, u32)>,
    ) -> Result<(), TallyStop> {
        let (stamp, exact) = (&mut self.stamp[..], &mut self.exact);
        let mut current = None;
        for (item, rater, c) in ratings {
            if current != Some(item) {
                if current > Some(item) {
                    return Err(TallyStop::Unsorted);
                }
                unit.close(exact);
                current = Some(item);
            }
            if Self::first_rating(stamp, item, rater, c)? {
                unit.count(c as usize);
            }
        }
        unit.close(exact);
        Ok(())
    }
}

/// One unit's category counts while it is being tallied.
trait UnitCounts {
    fn count(&mut self, c: usize);
    /// Add the unit's pairs to `exact` and start the next unit.
    fn close(&mut self, exact: &mut ExactCoincidences);
}

/// Every category of a short scale (`Q` of them): all `Q²` pairs per unit, with no branch
/// on which categories occur (such branches mispredict on real data).
struct DenseCounts<const Q: usize>([u64; Q]);

impl<const Q: usize> UnitCounts for DenseCounts<Q> {
    #[inline]
    fn count(&mut self, c: usize) {
        self.0[c] += 1;
    }

    #[inline]
    fn close(&mut self, exact: &mut ExactCoincidences) {
        exact.add_dense_unit(&self.0);
        self.0 = [0; Q];
    }
}

/// The categories present in the unit, for scales of more than 16 categories.
struct SparseCounts {
    counts: [u64; MAX_TALLY_CATEGORIES],
    present: Vec<usize>,
}

impl Default for SparseCounts {
    fn default() -> Self {
        Self {
            counts: [0; MAX_TALLY_CATEGORIES],
            present: Vec::new(),
        }
    }
}

impl UnitCounts for SparseCounts {
    #[inline]
    fn count(&mut self, c: usize) {
        if self.counts[c] == 0 {
            self.present.push(c);
        }
        self.counts[c] += 1;
    }

    fn close(&mut self, exact: &mut ExactCoincidences) {
        exact.add_unit(&self.counts, &self.present);
        for &c in &self.present {
            self.counts[c] = 0;
        }
        self.present.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same counts whatever the order of the ratings, for dense and sparse scales.
    #[test]
    fn order_does_not_change_the_tally() {
        for q in [2usize, 5, 16, 17, 40] {
            let mut items = Vec::new();
            let mut raters = Vec::new();
            let mut values = Vec::new();
            for item in 0..30u32 {
                for rater in 0..4u32 {
                    if (item + rater) % 5 != 0 {
                        items.push(item);
                        raters.push(rater);
                        values.push((item * 7 + rater * 3) % q as u32);
                    }
                }
            }
            let category: Vec<usize> = (0..q).collect();
            let input = |items: &[u32], raters: &[u32], values: &[u32]| {
                let ratings = TallyInput {
                    items,
                    raters,
                    values,
                    category: &category,
                };
                format!("{:?}", tally_coincidences(30, 4, q, ratings).unwrap())
            };
            let sorted = input(&items, &raters, &values);
            items.reverse();
            raters.reverse();
            values.reverse();
            assert_eq!(sorted, input(&items, &raters, &values), "q = {q}");
        }
    }

    #[test]
    fn a_rater_giving_two_values_is_a_conflict() {
        let category = [0usize, 1];
        let ratings = TallyInput {
            items: &[0, 0, 1],
            raters: &[3, 3, 0],
            values: &[0, 1, 1],
            category: &category,
        };
        assert_eq!(
            tally_coincidences(2, 4, 2, ratings).unwrap_err(),
            RaterConflict { item: 0, rater: 3 }
        );
    }
}
