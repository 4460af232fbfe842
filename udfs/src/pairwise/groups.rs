//! The pairwise family under `GROUP BY`: one [`GroupsAccumulator`] keeps every group's
//! counts.
//!
//! Without it DataFusion builds one [`Accumulator`](datafusion::logical_expr::Accumulator)
//! per group, hands each its rows in slices, and turns each partial state into scalar
//! values: a leaderboard per prompt (100,000 groups) spent most of its time there. Here the
//! items of all groups are interned once, into one dictionary, and each group keeps only
//! the counts of the pairs it has seen ([`PairTable`], in shared item ids), so a row costs
//! two dictionary lookups and one count update in its group: through a small hash map while
//! the group has few pairs, straight into a triangular table of counts once it has many.
//!
//! A group is evaluated exactly as the per-group accumulator evaluates it, in value order
//! ([`ValueOrdered`]): the shared dictionary is put in value order once per evaluation, and
//! a group's items in value order are its shared ids sorted by that position. Its counts
//! are renamed to those ids (copies, no arithmetic). So grouped and ungrouped results are
//! the same bit for bit, however rows are split into groups, batches and partitions.

use super::{
    check_finite_counts, group_ids, read_votes, PairwiseAccumulator, PairwiseFunction,
    ValueOrdered, UNSEEN,
};
use crate::items::{forget_local, local_id, ItemInterner};
use crate::leaderboard::LeaderboardColumns;
use crate::state::{each_row_as_a_group, lists, StateRows};
use datafusion::arrow::array::{
    new_empty_array, Array, ArrayRef, BooleanArray, Float64Array, UInt32Array,
};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{EmitTo, GroupsAccumulator};
use prefdb_stats::pairwise::{PairCounts, PairOutcomes, PairTable};
use std::sync::Arc;

/// How many votes ahead [`PairwiseGroups::update_batch`] asks for the cell a vote will be
/// counted in: enough to cover a miss to memory at a few nanoseconds per vote.
const PREFETCH_AHEAD: usize = 16;

pub(crate) struct PairwiseGroups {
    /// The function, its options and its dictionary of every group's items; its own
    /// `counts` stay empty.
    shared: PairwiseAccumulator,
    /// Each group's counts, in the shared item ids.
    groups: Vec<PairTable>,
    /// Scratch: the local id of each shared id while one group is read, else [`UNSEEN`].
    local: Vec<u32>,
    /// Pairs over all groups, for [`GroupsAccumulator::size`].
    pairs: usize,
    /// Scratch: one batch's votes, `(group, a, b, a_wins, b_wins, ties)`.
    votes: Vec<(usize, u32, u32, f64, f64, f64)>,
}

impl PairwiseGroups {
    pub(crate) fn new(shared: PairwiseAccumulator) -> Self {
        Self {
            shared,
            groups: Vec::new(),
            local: Vec::new(),
            pairs: 0,
            votes: Vec::new(),
        }
    }

    /// The groups `emit_to` names, which leave the accumulator.
    fn take(&mut self, emit_to: EmitTo) -> Vec<PairTable> {
        let groups = emit_to.take_needed(&mut self.groups);
        self.pairs -= groups.iter().map(PairTable::len).sum::<usize>();
        groups
    }

    /// Append `counts` to a state in ids local to the group (numbered in order of first
    /// appearance): its items' shared ids to `items`, its pairs to `pairs`.
    fn localise(&mut self, group: &[PairOutcomes], items: &mut Vec<usize>, pairs: &mut StatePairs) {
        self.local.resize(self.shared.items.len(), UNSEEN);
        let first = items.len();
        for p in group {
            pairs.a.push(local_id(&mut self.local, items, first, p.a));
            pairs.b.push(local_id(&mut self.local, items, first, p.b));
            pairs.a_wins.push(p.a_wins);
            pairs.b_wins.push(p.b_wins);
            pairs.ties.push(p.ties);
        }
        forget_local(&mut self.local, &items[first..]);
    }
}

/// The pair columns of a state, every group's pairs one after another.
struct StatePairs {
    a: Vec<u32>,
    b: Vec<u32>,
    a_wins: Vec<f64>,
    b_wins: Vec<f64>,
    ties: Vec<f64>,
}

impl StatePairs {
    fn with_capacity(pairs: usize) -> Self {
        Self {
            a: Vec::with_capacity(pairs),
            b: Vec::with_capacity(pairs),
            a_wins: Vec::with_capacity(pairs),
            b_wins: Vec::with_capacity(pairs),
            ties: Vec::with_capacity(pairs),
        }
    }
}

impl std::fmt::Debug for PairwiseGroups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PairwiseGroups")
            .field("function", &self.shared.function.name())
            .field("groups", &self.groups.len())
            .finish()
    }
}

impl GroupsAccumulator for PairwiseGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.groups.resize_with(total_num_groups, PairTable::new);
        // The batch's votes are read first and counted after, in a loop of a few
        // instructions per vote: with many groups each count is a cache miss, and a short
        // loop lets the processor wait for many of them at once.
        let votes = &mut self.votes;
        votes.clear();
        read_votes(
            self.shared.function,
            self.shared.layout,
            values,
            &mut self.shared.items,
            |row| opt_filter.is_none_or(|f| f.is_valid(row) && f.value(row)),
            |row, a, b, a_wins, b_wins, ties| {
                votes.push((group_indices[row], a, b, a_wins, b_wins, ties));
            },
        )?;
        for (i, &(group, a, b, a_wins, b_wins, ties)) in votes.iter().enumerate() {
            // A few votes ahead, the cell that vote will count in starts loading: with
            // twenty categories of a hundred models the tables outgrow the processor's
            // nearer caches, and each count otherwise waits for its cell.
            if let Some(&(group, a, b, ..)) = votes.get(i + PREFETCH_AHEAD) {
                self.groups[group].prefetch(a, b);
            }
            let counts = &mut self.groups[group];
            let before = counts.len();
            counts.add(a, b, a_wins, b_wins, ties);
            // A table that sums its arrived votes can shrink.
            self.pairs = self.pairs - before + counts.len();
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let groups = self.take(emit_to);
        if groups.is_empty() {
            return Ok(new_empty_array(&self.shared.return_type));
        }
        let items = &self.shared.items;
        let positions = items.value_positions();
        self.local.resize(items.len(), UNSEEN);
        let ordered = |pairs: &[PairOutcomes], local: &mut Vec<u32>| {
            ValueOrdered::of_group(items, &positions, local, pairs)
        };
        let function = self.shared.function;
        if matches!(
            function,
            PairwiseFunction::BtRank | PairwiseFunction::NewmanRank
        ) {
            // Every group's leaderboard goes straight into one set of columns, sized first:
            // with a hundred thousand groups they hold millions of entries. A triangle's
            // bound spares listing its pairs twice.
            let entries = groups
                .iter()
                .map(|counts| {
                    counts
                        .item_bound()
                        .unwrap_or_else(|| group_ids(&counts.seen(), &mut self.local).len())
                })
                .sum();
            let mut columns = LeaderboardColumns::with_capacity(entries, groups.len());
            for counts in &groups {
                let v = ordered(&counts.pairs(), &mut self.local);
                if v.ids.is_empty() {
                    columns.push_null();
                    continue;
                }
                check_finite_counts(function.name(), &v.pairs)?;
                self.shared.rank(&v)?.append_to(&mut columns);
            }
            return columns.into_lists(items);
        }
        let results = groups
            .iter()
            .map(|counts| {
                self.shared
                    .evaluate_ordered(&ordered(&counts.pairs(), &mut self.local))
            })
            .collect::<Result<Vec<_>>>()?;
        ScalarValue::iter_to_array(results)
    }

    /// The same six list columns as the per-group state: each group's items, then its
    /// pairs in ids local to the group.
    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let groups = self.take(emit_to);
        // Sized first: a group has at most twice as many items as pairs, and usually fewer.
        let total = groups.iter().map(PairTable::len).sum();
        let mut pairs = StatePairs::with_capacity(total);
        let mut items = Vec::with_capacity(total);
        let (mut item_offsets, mut pair_offsets) = (vec![0i32], vec![0i32]);
        item_offsets.reserve(groups.len());
        pair_offsets.reserve(groups.len());
        for counts in &groups {
            self.localise(&counts.pairs(), &mut items, &mut pairs);
            item_offsets.push(items.len() as i32);
            pair_offsets.push(pairs.a.len() as i32);
        }
        let items = self
            .shared
            .items
            .keyed(items.into_iter().map(|i| i as u32).collect());
        Ok(vec![
            lists(items, item_offsets),
            lists(Arc::new(UInt32Array::from(pairs.a)), pair_offsets.clone()),
            lists(Arc::new(UInt32Array::from(pairs.b)), pair_offsets.clone()),
            lists(
                Arc::new(Float64Array::from(pairs.a_wins)),
                pair_offsets.clone(),
            ),
            lists(
                Arc::new(Float64Array::from(pairs.b_wins)),
                pair_offsets.clone(),
            ),
            lists(Arc::new(Float64Array::from(pairs.ties)), pair_offsets),
        ])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.groups.resize_with(total_num_groups, PairTable::new);
        let name = self.shared.function.name();
        let rows = StateRows::new(name, values, 6)?;
        let items = rows.keyed_items(0, &mut self.shared.items)?;
        for row in rows.rows() {
            let index = row.index();
            let group = group_indices
                .get(index)
                .copied()
                .ok_or_else(|| row.corrupt("more state rows than group indices"))?;
            let id_map = row.item_ids(0, &items)?;
            let (a, b) = (row.ids(1, &id_map)?, row.ids(2, &id_map)?);
            let (a_wins, b_wins, ties) = (row.counts(3)?, row.counts(4)?, row.counts(5)?);
            let n = row.same_length(&[a.len(), b.len(), a_wins.len(), b_wins.len(), ties.len()])?;
            let counts = &mut self.groups[group];
            let before = counts.len();
            // Pairs new to the group are likely: a prompt's votes meet in one state, and a
            // day's fill its triangle at once.
            counts.reserve(n, self.shared.items.len());
            for k in 0..n {
                counts.add(a[k], b[k], a_wins.value(k), b_wins.value(k), ties.value(k));
            }
            self.pairs = self.pairs - before + counts.len();
        }
        Ok(())
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let fresh = self
            .shared
            .with_counts(ItemInterner::new(self.shared.kind()), PairCounts::new());
        each_row_as_a_group(PairwiseGroups::new(fresh), values, opt_filter)
    }

    /// Estimated: a listed pair costs its entry and its hash-map slot, at the tables' load;
    /// a triangle holds at most four 24-byte cells per pair seen, which is less.
    fn size(&self) -> usize {
        const PAIR: usize = 2 * (std::mem::size_of::<prefdb_stats::pairwise::PairOutcomes>() + 17);
        std::mem::size_of_val(self)
            + self.shared.items.heap_size()
            + self.local.capacity() * 4
            + self.votes.capacity() * std::mem::size_of::<(usize, u32, u32, f64, f64, f64)>()
            + self.groups.capacity() * std::mem::size_of::<PairTable>()
            + self.pairs * PAIR
    }
}
