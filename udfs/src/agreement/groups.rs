//! The long-form agreement functions under `GROUP BY` (agreement per aspect, per batch of
//! annotations ...): one [`GroupsAccumulator`] for all groups.
//!
//! Items, raters and labels of every group are interned once, into dictionaries shared by
//! all groups, and each group keeps only its ratings as triples of shared ids. A batch is
//! read as an ungrouped query reads it (integer items and raters with numeric labels
//! column at a time, other layouts row by row), and each rating is then appended to its
//! group. DataFusion's per-group adapter instead cut every batch into one batch per group
//! and kept a dictionary per group, which with a thousand groups cost three times the
//! ungrouped query.
//!
//! A group leaves (as a partial state, or to be evaluated) renumbered in ids local to it,
//! with its own dictionaries: exactly the state and the accumulator a per-group
//! accumulator would have held, up to the numbering, which evaluation does not see (it
//! works in value order). So every result is the per-group one, bit for bit.

use super::{LongForm, RatingColumns, RatingsAccumulator};
use crate::state::{each_row_as_a_group, lists, StateRows};
use datafusion::arrow::array::{
    new_empty_array, Array, ArrayRef, AsArray, BooleanArray, Float64Array, UInt32Array,
};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{Accumulator, EmitTo, GroupsAccumulator};
use std::sync::Arc;

/// A local id not yet given.
const UNSEEN: u32 = u32::MAX;

/// One group's ratings in the shared ids.
#[derive(Debug, Default)]
struct GroupRatings {
    /// (item, rater, value); rater is 0 for `fleiss_kappa`.
    ratings: Vec<[u32; 3]>,
    /// For `fleiss_kappa` after merging counted states: each rating's count. Empty while
    /// every count is 1.
    counts: Vec<f64>,
}

impl GroupRatings {
    #[inline]
    fn push(&mut self, rating: [u32; 3], count: f64) {
        if count != 1.0 && self.counts.len() < self.ratings.len() {
            self.counts.resize(self.ratings.len(), 1.0);
        }
        self.ratings.push(rating);
        if !self.counts.is_empty() || count != 1.0 {
            self.counts.push(count);
        }
    }

    fn bytes(&self) -> usize {
        self.ratings.capacity() * 12 + self.counts.capacity() * 8
    }
}

/// Groups renumbered in local ids, one after another: each group's dictionary entries (as
/// shared ids) and its ratings.
#[derive(Default)]
struct Localised {
    items: Vec<usize>,
    raters: Vec<usize>,
    values: Vec<usize>,
    item: Vec<u32>,
    rater: Vec<u32>,
    value: Vec<u32>,
    counts: Vec<f64>,
}

#[derive(Debug)]
pub(crate) struct RatingsGroups {
    template: LongForm,
    /// The dictionaries of every group. Its own ratings are scratch: a batch's ratings on
    /// their way to their groups.
    shared: RatingsAccumulator,
    groups: Vec<GroupRatings>,
    return_type: DataType,
    /// Scratch for [`RatingsGroups::rows_by_group`], zero between batches.
    start: Vec<usize>,
    /// Scratch: the local id of each shared item, rater and value while one group is
    /// renumbered, else [`UNSEEN`].
    local: [Vec<u32>; 3],
    /// Bytes the groups' ratings hold.
    held: usize,
}

impl RatingsGroups {
    pub(crate) fn new(template: LongForm, return_type: DataType) -> Self {
        Self {
            shared: template.fresh(),
            template,
            groups: Vec::new(),
            return_type,
            start: Vec::new(),
            local: Default::default(),
            held: 0,
        }
    }

    /// The rows `opt_filter` keeps, in group order, each group's in their original order:
    /// a counting sort that touches only the groups present in the batch.
    fn rows_by_group(
        &mut self,
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
    ) -> Vec<usize> {
        let keep = |row: usize| opt_filter.is_none_or(|f| f.is_valid(row) && f.value(row));
        self.start.resize(self.groups.len(), 0);
        let mut present = Vec::new();
        for (row, &g) in group_indices.iter().enumerate() {
            if keep(row) {
                if self.start[g] == 0 {
                    present.push(g);
                }
                self.start[g] += 1;
            }
        }
        present.sort_unstable();
        // Counts become each group's first position.
        let mut next = 0;
        for &g in &present {
            let count = self.start[g];
            self.start[g] = next;
            next += count;
        }
        let mut rows = vec![0; next];
        for (row, &g) in group_indices.iter().enumerate() {
            if keep(row) {
                rows[self.start[g]] = row;
                self.start[g] += 1;
            }
        }
        for &g in &present {
            self.start[g] = 0;
        }
        rows
    }

    /// Moves the scratch ratings of `shared` into group `g`, the row `k` of the scratch
    /// into `groups[g(k)]`.
    fn distribute(&mut self, group_of: impl Fn(usize) -> usize) {
        let [item, rater, value] = self.shared.ratings.columns();
        let counts = &self.shared.counts;
        for k in 0..item.len() {
            let group = &mut self.groups[group_of(k)];
            let before = group.bytes();
            let count = counts.get(k).copied().unwrap_or(1.0);
            group.push([item[k], rater[k], value[k]], count);
            self.held += group.bytes() - before;
        }
        self.shared.ratings.clear();
        self.shared.counts.clear();
    }

    /// The groups `emit_to` names, which leave the accumulator.
    fn take(&mut self, emit_to: EmitTo) -> Vec<GroupRatings> {
        let groups = emit_to.take_needed(&mut self.groups);
        self.held -= groups.iter().map(GroupRatings::bytes).sum::<usize>();
        groups
    }

    /// Appends `group` to `out` in ids local to it, numbered in order of first appearance.
    fn localise(&mut self, group: &GroupRatings, out: &mut Localised) {
        let has_rater = self.template.function().has_rater();
        let lens = [
            self.shared.items.len(),
            self.shared.raters.len(),
            self.shared.values.len(),
        ];
        for (local, len) in self.local.iter_mut().zip(lens) {
            local.resize(len, UNSEEN);
        }
        let [items, raters, values] = &mut self.local;
        let first = [out.items.len(), out.raters.len(), out.values.len()];
        let id = |local: &mut [u32], dictionary: &mut Vec<usize>, first: usize, shared: u32| {
            let slot = &mut local[shared as usize];
            if *slot == UNSEEN {
                *slot = (dictionary.len() - first) as u32;
                dictionary.push(shared as usize);
            }
            *slot
        };
        out.item.reserve(group.ratings.len());
        out.rater.reserve(group.ratings.len());
        out.value.reserve(group.ratings.len());
        for &[item, rater, value] in &group.ratings {
            out.item.push(id(items, &mut out.items, first[0], item));
            out.rater.push(match has_rater {
                true => id(raters, &mut out.raters, first[1], rater),
                false => 0,
            });
            out.value.push(id(values, &mut out.values, first[2], value));
        }
        out.counts.extend_from_slice(&group.counts);
        for &i in &out.items[first[0]..] {
            items[i] = UNSEEN;
        }
        for &r in &out.raters[first[1]..] {
            raters[r] = UNSEEN;
        }
        for &v in &out.values[first[2]..] {
            values[v] = UNSEEN;
        }
    }

    /// The accumulator a per-group accumulator would hold for `group`, up to numbering.
    fn accumulator_of(&mut self, group: GroupRatings) -> Result<RatingsAccumulator> {
        let mut local = Localised::default();
        self.localise(&group, &mut local);
        let mut acc = self.template.fresh();
        // Fresh dictionaries given distinct values: each id is its position.
        acc.items
            .intern_array(&self.shared.items.take(local.items.into_iter()))?;
        acc.raters
            .intern_array(&self.shared.raters.take(local.raters.into_iter()))?;
        acc.values
            .intern_all(&self.shared.values.take(local.values.into_iter()))?;
        acc.ratings.item = local.item;
        acc.ratings.rater = local.rater;
        acc.ratings.value = local.value;
        acc.counts = group.counts;
        Ok(acc)
    }
}

impl GroupsAccumulator for RatingsGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.groups
            .resize_with(total_num_groups, GroupRatings::default);
        let function = self.template.function();
        if opt_filter.is_none() && self.shared.numeric_columns(values) {
            // Integer items and raters, numeric labels, no NULLs: the batch is interned
            // column at a time, one rating per row.
            let items = values[0].as_primitive::<Int64Type>().values();
            let raters = function
                .has_rater()
                .then(|| values[1].as_primitive::<Int64Type>().values().as_ref());
            let labels = self.shared.numeric_labels(&values[function.label_arg()])?;
            self.shared.add_numeric(items, raters, labels.values())?;
            self.distribute(|row| group_indices[row]);
            return Ok(());
        }
        // Row by row, each group's run of rows in their order: a NULL row adds nothing.
        let rows = self.rows_by_group(group_indices, opt_filter);
        let columns = RatingColumns::new(function, values)?;
        for run in rows.chunk_by(|&x, &y| group_indices[x] == group_indices[y]) {
            self.shared.add_rows(&columns, run.iter().copied())?;
            let group = group_indices[run[0]];
            self.distribute(|_| group);
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let groups = self.take(emit_to);
        if groups.is_empty() {
            return Ok(new_empty_array(&self.return_type));
        }
        let results = groups
            .into_iter()
            .map(|g| self.accumulator_of(g)?.evaluate())
            .collect::<Result<Vec<_>>>()?;
        ScalarValue::iter_to_array(results)
    }

    /// Each group's state, as one row per group in the per-group layout: its dictionaries,
    /// its ratings in ids into them, its counts.
    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let groups = self.take(emit_to);
        let mut out = Localised::default();
        let mut offsets: [Vec<i32>; 5] = Default::default();
        for o in &mut offsets {
            o.reserve(groups.len() + 1);
            o.push(0);
        }
        for group in &groups {
            self.localise(group, &mut out);
            let ends = [
                out.items.len(),
                out.raters.len(),
                out.values.len(),
                out.item.len(),
                out.counts.len(),
            ];
            for (o, end) in offsets.iter_mut().zip(ends) {
                o.push(end as i32);
            }
        }
        let [items, raters, values, ratings, counts] = offsets;
        let shared = &self.shared;
        Ok(vec![
            lists(shared.items.take(out.items.into_iter()), items),
            lists(shared.raters.take(out.raters.into_iter()), raters),
            lists(shared.values.take(out.values.into_iter()), values),
            lists(Arc::new(UInt32Array::from(out.item)), ratings.clone()),
            lists(Arc::new(UInt32Array::from(out.rater)), ratings.clone()),
            lists(Arc::new(UInt32Array::from(out.value)), ratings),
            lists(Arc::new(Float64Array::from(out.counts)), counts),
        ])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.groups
            .resize_with(total_num_groups, GroupRatings::default);
        let name = self.template.function().name();
        for row in StateRows::new(name, values, 7)?.rows() {
            let g = group_indices
                .get(row.index())
                .copied()
                .ok_or_else(|| row.corrupt("more state rows than group indices"))?;
            let state = self.shared.read_state(&row)?;
            let group = &mut self.groups[g];
            let before = group.bytes();
            group.ratings.reserve(state.len());
            for k in 0..state.len() {
                group.push(state.rating(k), state.count(k));
            }
            self.held += group.bytes() - before;
        }
        Ok(())
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let fresh = RatingsGroups::new(self.template.clone(), self.return_type.clone());
        each_row_as_a_group(fresh, values, opt_filter)
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self.shared.size()
            + self.held
            + self.groups.capacity() * std::mem::size_of::<GroupRatings>()
            + self.start.capacity() * std::mem::size_of::<usize>()
            + self.local.iter().map(|l| l.capacity() * 4).sum::<usize>()
    }
}
