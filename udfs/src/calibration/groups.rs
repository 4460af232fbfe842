//! The running-sum scorers under `GROUP BY`: `brier_score`, `log_loss`,
//! `pairwise_accuracy`, and `ece` and `reliability_bins` with uniform bins. One
//! [`GroupsAccumulator`] keeps every group's sums side by side in one vector (a group's
//! state is a few numbers, or three per bin), so a row costs one check and a few additions
//! in its group's slice. The quantile-bin and rank statistics keep every value and stay
//! with one accumulator per group.

use super::{
    add_to_sums, check_pair, state_sums, streaming_value, sums_array, ScorerConfig, ScorerFunction,
    SUM_TYPE,
};
use crate::numbers::NumberColumn;
use crate::state::{each_row_as_a_group, StateRows};
use datafusion::arrow::array::{
    new_empty_array, Array, ArrayRef, BooleanArray, Float64Array, ListArray,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{EmitTo, GroupsAccumulator};
use std::sync::Arc;

#[derive(Debug)]
pub(crate) struct ScorerGroups {
    function: ScorerFunction,
    config: ScorerConfig,
    /// Sums per group.
    width: usize,
    /// Group `g`'s sums are `sums[g * width..(g + 1) * width]`, in units of 2⁻⁶⁴.
    sums: Vec<i128>,
    /// The element types of the state's value lists, which stay empty here.
    kept: [DataType; 2],
    return_type: DataType,
}

impl ScorerGroups {
    pub(crate) fn new(
        function: ScorerFunction,
        config: ScorerConfig,
        width: usize,
        kept: [DataType; 2],
        return_type: DataType,
    ) -> Self {
        Self {
            function,
            config,
            width,
            sums: Vec::new(),
            kept,
            return_type,
        }
    }

    /// The sums of the groups `emit_to` names, which leave the accumulator.
    fn take(&mut self, emit_to: EmitTo) -> Vec<i128> {
        match emit_to {
            EmitTo::All => std::mem::take(&mut self.sums),
            EmitTo::First(n) => {
                let rest = self.sums.split_off((n * self.width).min(self.sums.len()));
                std::mem::replace(&mut self.sums, rest)
            }
        }
    }
}

/// A list column with `groups` empty lists of `element`.
fn empty_lists(element: &DataType, groups: usize) -> ArrayRef {
    Arc::new(ListArray::new(
        Arc::new(Field::new_list_field(element.clone(), true)),
        OffsetBuffer::new_zeroed(groups),
        new_empty_array(element),
        None,
    ))
}

impl GroupsAccumulator for ScorerGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.sums.resize(total_num_groups * self.width, 0);
        let (a, b) = (
            NumberColumn::new(&values[0])?,
            NumberColumn::new(&values[1])?,
        );
        for (row, &g) in group_indices.iter().enumerate() {
            if opt_filter.is_some_and(|f| !(f.is_valid(row) && f.value(row))) {
                continue;
            }
            if a.is_null(row) || b.is_null(row) {
                continue;
            }
            let (x, y) = (a.value(row), b.value(row));
            check_pair(self.function, x.approx(), y.approx())?;
            let sums = &mut self.sums[g * self.width..(g + 1) * self.width];
            add_to_sums(self.function, &self.config, sums, x, y);
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let sums = self.take(emit_to);
        if sums.is_empty() {
            return Ok(new_empty_array(&self.return_type));
        }
        if self.return_type == DataType::Float64 {
            let values = sums
                .chunks(self.width)
                .map(|s| match streaming_value(self.function, &self.config, s)? {
                    ScalarValue::Float64(v) => Ok(v),
                    other => unreachable!("a Float64 scorer returned {other:?}"),
                })
                .collect::<Result<Float64Array>>()?;
            return Ok(Arc::new(values));
        }
        let values = sums
            .chunks(self.width)
            .map(|s| streaming_value(self.function, &self.config, s))
            .collect::<Result<Vec<_>>>()?;
        ScalarValue::iter_to_array(values)
    }

    /// The per-group state: empty value lists and the sums.
    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let sums = self.take(emit_to);
        let groups = sums.len() / self.width;
        let sums: ArrayRef = Arc::new(ListArray::new(
            Arc::new(Field::new_list_field(SUM_TYPE, true)),
            OffsetBuffer::from_lengths(std::iter::repeat_n(self.width, groups)),
            Arc::new(sums_array(sums)),
            None,
        ));
        Ok(vec![
            empty_lists(&self.kept[0], groups),
            empty_lists(&self.kept[1], groups),
            sums,
        ])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.sums.resize(total_num_groups * self.width, 0);
        for row in StateRows::new(self.function.name(), values, 3)?.rows() {
            let g = group_indices
                .get(row.index())
                .copied()
                .ok_or_else(|| row.corrupt("more state rows than group indices"))?;
            if row.list(0)?.len() != 0 || row.list(1)?.len() != 0 {
                return Err(row.corrupt("values in a running-sum state"));
            }
            let partial = state_sums(&row, 2)?;
            if partial.len() != self.width {
                return Err(row.corrupt("sums of another length"));
            }
            let mine = &mut self.sums[g * self.width..(g + 1) * self.width];
            for (mine, theirs) in mine.iter_mut().zip(partial.values()) {
                *mine = mine
                    .checked_add(*theirs)
                    .ok_or_else(|| row.corrupt("sums beyond 2^127"))?;
            }
        }
        Ok(())
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let fresh = ScorerGroups::new(
            self.function,
            self.config,
            self.width,
            self.kept.clone(),
            self.return_type.clone(),
        );
        each_row_as_a_group(fresh, values, opt_filter)
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.sums.capacity() * 16
    }
}
