//! Rows of rankings or matches, `(group, item, position)`, as `pl_rank` and
//! `openskill_rank` keep them: dense ids with their dictionaries, and the positions. Each
//! function adds its own per-row column (a weight, an ORDER BY key).

use crate::items::{ItemColumn, ItemInterner, ItemKind};
use crate::state::{wrap, StateRow};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, UInt32Array};
use datafusion::arrow::datatypes::Float64Type;
use datafusion::common::{exec_err, Result, ScalarValue};
use std::sync::Arc;

#[derive(Debug)]
pub(crate) struct RankedRows {
    /// The ranking or match ids.
    pub groups: ItemInterner,
    pub items: ItemInterner,
    pub group_ids: Vec<u32>,
    pub item_ids: Vec<u32>,
    pub positions: Vec<f64>,
}

impl RankedRows {
    pub fn new(groups: ItemKind, items: ItemKind) -> Self {
        Self {
            groups: ItemInterner::new(groups),
            items: ItemInterner::new(items),
            group_ids: Vec::new(),
            item_ids: Vec::new(),
            positions: Vec::new(),
        }
    }

    /// Append the rows of the `(group, item, position)` columns `values[..3]` that have no
    /// NULL among the three and that `extra(row)` keeps: it reads and stores the caller's own
    /// per-row columns, or returns false to skip the row. A non-finite position is an error.
    pub fn update(
        &mut self,
        function: &str,
        values: &[ArrayRef],
        mut extra: impl FnMut(usize) -> Result<bool>,
    ) -> Result<()> {
        let groups = ItemColumn::new(&values[0])?;
        let items = ItemColumn::new(&values[1])?;
        let positions = values[2].as_primitive::<Float64Type>();
        for row in 0..values[0].len() {
            let (Some(group), Some(item)) = (groups.get(row), items.get(row)) else {
                continue;
            };
            if positions.is_null(row) {
                continue;
            }
            let position = positions.value(row);
            if !position.is_finite() {
                return exec_err!("{function}: position must be a finite number, got {position}");
            }
            if !extra(row)? {
                continue;
            }
            self.group_ids.push(self.groups.intern(group)?);
            self.item_ids.push(self.items.intern(item)?);
            self.positions.push(position);
        }
        Ok(())
    }

    /// The five state columns: groups, items, group ids, item ids, positions.
    pub fn state(&self) -> Vec<ScalarValue> {
        vec![
            wrap(self.groups.to_array()),
            wrap(self.items.to_array()),
            wrap(Arc::new(UInt32Array::from(self.group_ids.clone()))),
            wrap(Arc::new(UInt32Array::from(self.item_ids.clone()))),
            wrap(Arc::new(Float64Array::from(self.positions.clone()))),
        ]
    }

    /// Merge row `row` of the five state columns `lists[..5]`.
    /// Merges the first five columns of a state row; returns the number of rows it held.
    pub fn merge(&mut self, row: &StateRow) -> Result<usize> {
        let group_map = self.groups.intern_array(&row.list(0)?)?;
        let item_map = self.items.intern_array(&row.list(1)?)?;
        let (groups, items) = (row.ids(2, &group_map)?, row.ids(3, &item_map)?);
        let positions = row.values::<Float64Type>(4)?;
        let n = row.same_length(&[groups.len(), items.len(), positions.len()])?;
        if positions.values().iter().any(|p| p.is_nan()) {
            return Err(row.corrupt("a NaN position"));
        }
        self.group_ids.extend(groups);
        self.item_ids.extend(items);
        self.positions.extend_from_slice(positions.values());
        Ok(n)
    }

    pub fn heap_size(&self) -> usize {
        self.groups.heap_size()
            + self.items.heap_size()
            + (self.group_ids.capacity() + self.item_ids.capacity()) * 4
            + self.positions.capacity() * 8
    }
}
