//! The long-form agreement functions under `GROUP BY` (agreement per aspect, per batch of
//! annotations ...): one [`GroupsAccumulator`] for all groups.
//!
//! Items, raters and labels of every group are interned once, into dictionaries shared by
//! all groups, and the ratings of every group are kept together, in arrival order, as
//! shared ids with the group of each. A batch is read as an ungrouped query reads it
//! (integer items and raters with numeric labels column at a time, other layouts row by
//! row) and appended. DataFusion's per-group adapter instead cut every batch into one batch
//! per group and kept a dictionary per group, which with a thousand groups cost three times
//! the ungrouped query.
//!
//! Groups leave after a counting sort of the store's runs (stretches of one group) by
//! group. As partial states, they are copied into group order and each is renumbered in
//! place in ids local to it, with its own dictionaries: exactly the state a per-group
//! accumulator would have held, up to the numbering. To be evaluated, each group's runs are
//! copied into one reused scratch group and renumbered the same way; the tallied
//! coefficients are computed from those ids by [`tally_value`], as the ungrouped
//! accumulator computes them, and the others by the accumulator the group would have had.
//! Evaluation works in value order, so the numbering is not seen and every result is the
//! per-group one, bit for bit.

use super::{
    rater_conflict, tally_value, LongForm, RatingColumns, RatingsAccumulator, TallyRatings,
};
use crate::items::{forget_local, local_id, UNSEEN};
use crate::state::{each_row_as_a_group, lists, StateRows};
use datafusion::arrow::array::{
    new_empty_array, Array, ArrayRef, AsArray, BooleanArray, Float64Array, UInt32Array,
};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{Accumulator, EmitTo, GroupsAccumulator};
use std::ops::Range;
use std::sync::Arc;

/// The dictionaries of groups renumbered in local ids, one group after another: the shared
/// ids of each group's items, raters and values, in order of first appearance.
#[derive(Default)]
struct LocalDictionaries {
    items: Vec<usize>,
    raters: Vec<usize>,
    values: Vec<usize>,
}

impl LocalDictionaries {
    fn clear(&mut self) {
        self.items.clear();
        self.raters.clear();
        self.values.clear();
    }

    fn lens(&self) -> [usize; 3] {
        [self.items.len(), self.raters.len(), self.values.len()]
    }
}

/// The groups taken out of the accumulator, their ratings moved into group order: group
/// `g`'s are `offsets[g]..offsets[g + 1]` of the columns, in arrival order. The ids are
/// shared ones until [`RatingsGroups::localise`] rewrites a group's in its local ids.
struct Taken {
    offsets: Vec<usize>,
    /// The (item, rater, value) ids of the taken ratings.
    columns: [Vec<u32>; 3],
    /// Each taken rating's count; empty when every count is 1.
    counts: Vec<f64>,
}

impl Taken {
    fn new() -> Self {
        Taken {
            offsets: vec![0],
            columns: Default::default(),
            counts: Vec::new(),
        }
    }

    /// Empty again, for reuse as scratch.
    fn clear(&mut self) {
        self.offsets.truncate(1);
        self.columns.iter_mut().for_each(Vec::clear);
        self.counts.clear();
    }

    /// Ends the group being filled.
    fn close_group(&mut self) {
        self.offsets.push(self.columns[0].len());
    }

    fn groups(&self) -> usize {
        self.offsets.len() - 1
    }

    fn range(&self, g: usize) -> Range<usize> {
        self.offsets[g]..self.offsets[g + 1]
    }
}

#[derive(Debug)]
pub(crate) struct RatingsGroups {
    template: LongForm,
    /// The dictionaries of every group, and the ratings of every group in arrival order.
    store: RatingsAccumulator,
    /// The group of each rating of `store`.
    group: Vec<u32>,
    /// Groups DataFusion has named so far.
    groups: usize,
    return_type: DataType,
    /// Scratch for [`RatingsGroups::rows_by_group`], zero between batches.
    start: Vec<usize>,
    /// Scratch: the local id of each shared item, rater and value while one group is
    /// renumbered, else [`UNSEEN`].
    local: [Vec<u32>; 3],
}

impl RatingsGroups {
    pub(crate) fn new(template: LongForm, return_type: DataType) -> Self {
        Self {
            store: template.fresh(),
            template,
            group: Vec::new(),
            groups: 0,
            return_type,
            start: Vec::new(),
            local: Default::default(),
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
        self.start.resize(self.groups, 0);
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

    /// How many groups `emit_to` names.
    fn emitted(&self, emit_to: EmitTo) -> usize {
        match emit_to {
            EmitTo::All => self.groups,
            EmitTo::First(n) => n.min(self.groups),
        }
    }

    /// Copies the store's ratings in `runs`, in order, to the end of `to`.
    fn copy_runs(&self, runs: &[Range<u32>], to: &mut Taken) {
        let columns = self.store.ratings.columns();
        for run in runs {
            let run = run.start as usize..run.end as usize;
            for (to, from) in to.columns.iter_mut().zip(columns) {
                to.extend_from_slice(&from[run.clone()]);
            }
            if !self.store.counts.is_empty() {
                to.counts.extend_from_slice(&self.store.counts[run.clone()]);
            }
        }
    }

    /// The first `n` groups, which leave the accumulator, as one `Taken` in group order:
    /// a counting sort of the store's runs by group, each run copied whole (a merged state
    /// row is one run, an item's ratings usually another), so that each group is then read
    /// front to back.
    fn take(&mut self, n: usize) -> Taken {
        let (offsets, runs) = self.runs_by_group();
        let mut taken = Taken::new();
        let total = runs[..offsets[n]].iter().map(|r| r.len()).sum();
        taken
            .columns
            .iter_mut()
            .for_each(|c| c.reserve_exact(total));
        if !self.store.counts.is_empty() {
            taken.counts.reserve_exact(total);
        }
        for g in 0..n {
            self.copy_runs(&runs[offsets[g]..offsets[g + 1]], &mut taken);
            taken.close_group();
        }
        self.forget(n);
        taken
    }

    /// Drops the first `n` groups from the store; the others keep their ratings in order and
    /// are numbered from 0.
    fn forget(&mut self, n: usize) {
        self.groups -= n;
        let store = &mut self.store;
        if self.groups == 0 {
            store.ratings.take_vecs();
            store.counts = Vec::new();
            self.group = Vec::new();
            return;
        }
        let [item, rater, value] = store.ratings.take_vecs();
        let counts = std::mem::take(&mut store.counts);
        let mut kept = 0;
        for k in 0..self.group.len() {
            let g = self.group[k] as usize;
            if g >= n {
                store.ratings.push(item[k], rater[k], value[k]);
                if !counts.is_empty() {
                    store.counts.push(counts[k]);
                }
                self.group[kept] = (g - n) as u32;
                kept += 1;
            }
        }
        self.group.truncate(kept);
    }

    /// The store's runs of ratings of one group, sorted by group (each group's in arrival
    /// order): group `g`'s are `runs[offsets[g]..offsets[g + 1]]`.
    /// Positions are `u32`, as group ids are.
    fn runs_by_group(&self) -> (Vec<usize>, Vec<Range<u32>>) {
        let mut offsets = vec![0usize; self.groups + 1];
        for run in self.group.chunk_by(|a, b| a == b) {
            offsets[run[0] as usize + 1] += 1;
        }
        for g in 0..self.groups {
            offsets[g + 1] += offsets[g];
        }
        let mut next = offsets.clone();
        let mut runs = vec![0..0; offsets[self.groups]];
        let mut start = 0;
        for run in self.group.chunk_by(|a, b| a == b) {
            let g = run[0] as usize;
            let end = start + run.len() as u32;
            runs[next[g]] = start..end;
            next[g] += 1;
            start = end;
        }
        (offsets, runs)
    }

    /// Rewrites group `g`'s ratings in `taken` in ids local to the group, numbered in order
    /// of first appearance, and appends its dictionaries (as shared ids) to `out`.
    fn localise(&mut self, taken: &mut Taken, g: usize, out: &mut LocalDictionaries) {
        let has_rater = self.template.function().has_rater();
        let lens = [
            self.store.items.len(),
            self.store.raters.len(),
            self.store.values.len(),
        ];
        for (local, len) in self.local.iter_mut().zip(lens) {
            local.resize(len, UNSEEN);
        }
        let [items, raters, values] = &mut self.local;
        let first = out.lens();
        let range = taken.range(g);
        let [item, rater, value] = &mut taken.columns;
        // An item's ratings usually arrive together: its last local id is reused.
        let mut last = (UNSEEN, UNSEEN);
        for id in &mut item[range.clone()] {
            if *id != last.0 {
                last = (*id, local_id(items, &mut out.items, first[0], *id));
            }
            *id = last.1;
        }
        // Without a rater column (fleiss_kappa) every rater id is 0 already.
        if has_rater {
            for id in &mut rater[range.clone()] {
                *id = local_id(raters, &mut out.raters, first[1], *id);
            }
        }
        for id in &mut value[range] {
            *id = local_id(values, &mut out.values, first[2], *id);
        }
        forget_local(items, &out.items[first[0]..]);
        forget_local(raters, &out.raters[first[1]..]);
        forget_local(values, &out.values[first[2]..]);
    }

    /// Group `g`'s value, as a per-group accumulator would give it. `local` is scratch.
    fn evaluate_group(
        &mut self,
        taken: &mut Taken,
        g: usize,
        local: &mut LocalDictionaries,
    ) -> Result<ScalarValue> {
        local.clear();
        self.localise(taken, g, local);
        let function = self.template.function();
        let range = taken.range(g);
        if function.tallied() && taken.counts.is_empty() {
            // Straight from the local ids, without building the group's dictionaries.
            let store = &self.store;
            let (category, numbers) = store.values.sorted_subset(&local.values);
            let ratings = TallyRatings {
                columns: taken.columns.each_ref().map(|c| &c[range.clone()]),
                items: local.items.len(),
                raters: local.raters.len(),
                category: &category,
                numbers: &numbers,
            };
            match tally_value(function, &self.template.config, ratings) {
                Ok(Some(value)) => return Ok(ScalarValue::Float64(value)),
                Ok(None) => {}
                Err(c) => {
                    let item = local.items[c.item as usize];
                    let rater = local.raters[c.rater as usize];
                    return Err(rater_conflict(
                        function,
                        &store.items,
                        item,
                        &store.raters,
                        rater,
                    ));
                }
            }
        }
        self.accumulator_of(taken, g, local)?.evaluate()
    }

    /// The accumulator a per-group accumulator would hold for group `g` of `taken`, once
    /// localised with its dictionaries `local`, up to numbering.
    fn accumulator_of(
        &self,
        taken: &Taken,
        g: usize,
        local: &LocalDictionaries,
    ) -> Result<RatingsAccumulator> {
        let mut acc = self.template.fresh();
        // Fresh dictionaries given distinct values: each id is its position.
        let store = &self.store;
        acc.items
            .intern_array(&store.items.take(local.items.iter().copied()))?;
        acc.raters
            .intern_array(&store.raters.take(local.raters.iter().copied()))?;
        acc.values
            .intern_all(&store.values.take(local.values.iter().copied()))?;
        let range = taken.range(g);
        let [item, rater, value] = taken.columns.each_ref().map(|c| c[range.clone()].to_vec());
        acc.ratings.item = item;
        acc.ratings.rater = rater;
        acc.ratings.value = value;
        if !taken.counts.is_empty() {
            acc.counts = taken.counts[range].to_vec();
        }
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
        self.groups = self.groups.max(total_num_groups);
        let function = self.template.function();
        if opt_filter.is_none() && self.store.numeric_columns(values) {
            // Integer items and raters, numeric labels, no NULLs: the batch is interned
            // column at a time, one rating per row.
            let items = values[0].as_primitive::<Int64Type>().values();
            let raters = function
                .has_rater()
                .then(|| values[1].as_primitive::<Int64Type>().values().as_ref());
            let labels = self.store.numeric_labels(&values[function.label_arg()])?;
            self.store.add_numeric(items, raters, labels.values())?;
            self.group.extend(group_indices.iter().map(|&g| g as u32));
            return Ok(());
        }
        // Row by row, each group's run of rows in their order: a NULL row adds nothing.
        let rows = self.rows_by_group(group_indices, opt_filter);
        let columns = RatingColumns::new(function, values)?;
        for run in rows.chunk_by(|&x, &y| group_indices[x] == group_indices[y]) {
            self.store.add_rows(&columns, run.iter().copied())?;
            let added = self.store.ratings.len() - self.group.len();
            let g = group_indices[run[0]] as u32;
            self.group.extend(std::iter::repeat_n(g, added));
        }
        Ok(())
    }

    /// The groups leave one at a time: each group's runs are copied into one scratch group
    /// that is reused, so nothing of the store's size is allocated again.
    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let n = self.emitted(emit_to);
        if n == 0 {
            return Ok(new_empty_array(&self.return_type));
        }
        let (offsets, runs) = self.runs_by_group();
        let mut scratch = Taken::new();
        let mut local = LocalDictionaries::default();
        let mut results = Vec::with_capacity(n);
        for g in 0..n {
            scratch.clear();
            self.copy_runs(&runs[offsets[g]..offsets[g + 1]], &mut scratch);
            scratch.close_group();
            results.push(self.evaluate_group(&mut scratch, 0, &mut local)?);
        }
        self.forget(n);
        ScalarValue::iter_to_array(results)
    }

    /// Each group's state, as one row per group in the per-group layout: its dictionaries,
    /// its ratings in ids into them, its counts.
    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let n = self.emitted(emit_to);
        let mut taken = self.take(n);
        let mut out = LocalDictionaries::default();
        let mut offsets: [Vec<i32>; 3] = Default::default();
        for o in &mut offsets {
            o.reserve(taken.groups() + 1);
            o.push(0);
        }
        for g in 0..taken.groups() {
            self.localise(&mut taken, g, &mut out);
            for (o, end) in offsets.iter_mut().zip(out.lens()) {
                o.push(end as i32);
            }
        }
        let [items, raters, values] = offsets;
        let ratings: Vec<i32> = taken.offsets.iter().map(|&o| o as i32).collect();
        let counts = match taken.counts.is_empty() {
            true => vec![0; ratings.len()],
            false => ratings.clone(),
        };
        let store = &self.store;
        let [item, rater, value] = taken.columns;
        Ok(vec![
            lists(store.items.take(out.items.into_iter()), items),
            lists(store.raters.take(out.raters.into_iter()), raters),
            lists(store.values.take(out.values.into_iter()), values),
            lists(Arc::new(UInt32Array::from(item)), ratings.clone()),
            lists(Arc::new(UInt32Array::from(rater)), ratings.clone()),
            lists(Arc::new(UInt32Array::from(value)), ratings),
            lists(Arc::new(Float64Array::from(taken.counts)), counts),
        ])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.groups = self.groups.max(total_num_groups);
        let function = self.template.function();
        let rows = StateRows::new(function.name(), values, 7)?;
        // Room for the whole batch at once, not one state row at a time.
        let total = rows.total_len(3);
        self.store.ratings.reserve(total);
        self.group.reserve(total);
        for row in rows.rows() {
            let g = group_indices
                .get(row.index())
                .copied()
                .ok_or_else(|| row.corrupt("more state rows than group indices"))?;
            let state = self.store.read_state(&row)?;
            self.store.append_state(&state);
            self.group
                .extend(std::iter::repeat_n(g as u32, state.len()));
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
            + self.store.size()
            + self.group.capacity() * 4
            + self.start.capacity() * std::mem::size_of::<usize>()
            + self.local.iter().map(|l| l.capacity() * 4).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agreement::AgreementFunction;
    use crate::items::ItemKind;
    use crate::memory::MemoryBudget;
    use crate::spec::aggregate::Family;
    use crate::spec::Options;
    use datafusion::arrow::array::Int64Array;

    fn template(f: AgreementFunction) -> LongForm {
        LongForm {
            function: f,
            config: f
                .configure(&Options::parse(f.spec(), Some("level=interval")).unwrap())
                .unwrap(),
            items: ItemKind::Integer,
            raters: ItemKind::Integer,
            text_values: false,
            budget: MemoryBudget::default(),
        }
    }

    /// Rows (group, item, rater, label) of five groups, split into three batches.
    fn batches() -> Vec<(Vec<usize>, Vec<ArrayRef>)> {
        let mut state = 7u64;
        let mut next = |n: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % n
        };
        (0..3)
            .map(|_| {
                let rows = 40 + next(40) as usize;
                let (mut g, mut item, mut rater, mut label) = (vec![], vec![], vec![], vec![]);
                for _ in 0..rows {
                    let i = next(12) as i64;
                    g.push(i as usize % 5);
                    item.push(i);
                    let r = next(6) as i64;
                    rater.push(r);
                    // One label per (item, rater), however often the pair comes.
                    label.push((i * 5 + r * r) % 4);
                }
                let columns: Vec<ArrayRef> = vec![
                    Arc::new(Int64Array::from(item)),
                    Arc::new(Int64Array::from(rater)),
                    Arc::new(Int64Array::from(label)),
                ];
                (g, columns)
            })
            .collect()
    }

    /// Each group's value from an accumulator of its own, given its rows alone.
    fn alone(f: AgreementFunction, batches: &[(Vec<usize>, Vec<ArrayRef>)]) -> Vec<ScalarValue> {
        (0..5)
            .map(|g| {
                let mut acc = template(f).fresh();
                for (groups, columns) in batches {
                    let rows: Vec<usize> = (0..groups.len()).filter(|&r| groups[r] == g).collect();
                    let columns = RatingColumns::new(f, columns).unwrap();
                    acc.add_rows(&columns, rows.into_iter()).unwrap();
                }
                acc.evaluate().unwrap()
            })
            .collect()
    }

    fn values(array: ArrayRef) -> Vec<ScalarValue> {
        (0..array.len())
            .map(|i| ScalarValue::try_from_array(&array, i).unwrap())
            .collect()
    }

    /// Groups emitted two at a time (`EmitTo::First`, as DataFusion emits them from sorted
    /// input), directly and through partial states, are each group alone.
    #[test]
    fn groups_emitted_first_are_each_group_alone() {
        let f = AgreementFunction::KrippendorffAlpha;
        let batches = batches();
        let expected = alone(f, &batches);
        assert!(expected.iter().filter(|v| !v.is_null()).count() >= 4);
        let mut direct = RatingsGroups::new(template(f), DataType::Float64);
        let mut partial = RatingsGroups::new(template(f), DataType::Float64);
        for (groups, columns) in &batches {
            direct.update_batch(columns, groups, None, 5).unwrap();
            partial.update_batch(columns, groups, None, 5).unwrap();
        }
        let mut got = values(direct.evaluate(EmitTo::First(2)).unwrap());
        got.extend(values(direct.evaluate(EmitTo::All).unwrap()));
        assert_eq!(got, expected);
        let mut merged = RatingsGroups::new(template(f), DataType::Float64);
        let first = partial.state(EmitTo::First(2)).unwrap();
        let rest = partial.state(EmitTo::All).unwrap();
        merged.merge_batch(&first, &[0, 1], 2).unwrap();
        merged.merge_batch(&rest, &[2, 3, 4], 5).unwrap();
        assert_eq!(values(merged.evaluate(EmitTo::All).unwrap()), expected);
    }
}
