//! Helpers for the list-valued partial states most prefdb aggregates keep: one list per
//! column of rows (item dictionaries, dense ids, values), each wrapped as a single-row list.

use crate::items::ItemInterner;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, Float64Array, ListArray, PrimitiveArray, UInt32Array,
};
use datafusion::arrow::buffer::{OffsetBuffer, ScalarBuffer};
use datafusion::arrow::datatypes::{
    ArrowPrimitiveType, DataType, Field, FieldRef, Float64Type, UInt32Type,
};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::utils::format_state_name;
use std::sync::Arc;

/// State fields named `<aggregate>[<suffix>]`, each a nullable list of its type.
pub(crate) fn list_fields(name: &str, columns: Vec<(&str, DataType)>) -> Vec<FieldRef> {
    columns
        .into_iter()
        .map(|(suffix, t)| {
            Arc::new(Field::new(
                format_state_name(name, suffix),
                DataType::new_list(t, true),
                true,
            ))
        })
        .collect()
}

/// One state column: the array as a single-row list.
pub(crate) fn wrap(array: ArrayRef) -> ScalarValue {
    SingleRowListArrayBuilder::new(array).build_list_scalar()
}

/// A partial state that cannot have come from a prefdb accumulator. States only travel
/// between prefdb's own partitions, so this is a bug somewhere: an error, never a panic.
pub(crate) fn corrupt(name: &str, what: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Execution(format!(
        "{name}: corrupt partial state ({what}); partial states come from prefdb itself, so \
         please report this as a bug"
    ))
}

/// The list-valued partial states being merged, read with every type, length and id
/// checked before use.
pub(crate) struct StateRows<'a> {
    name: &'a str,
    lists: Vec<&'a ListArray>,
}

impl<'a> StateRows<'a> {
    /// `states` as `columns` list columns of equal length.
    pub fn new(name: &'a str, states: &'a [ArrayRef], columns: usize) -> Result<Self> {
        if states.len() != columns {
            return Err(corrupt(
                name,
                format!("{} columns, expected {columns}", states.len()),
            ));
        }
        let lists = states
            .iter()
            .map(|s| {
                s.as_list_opt::<i32>()
                    .ok_or_else(|| corrupt(name, format!("a {} column", s.data_type())))
            })
            .collect::<Result<Vec<_>>>()?;
        if lists.iter().any(|l| l.len() != lists[0].len()) {
            return Err(corrupt(name, "columns of different lengths"));
        }
        Ok(Self { name, lists })
    }

    /// The number of values in column `c` over all rows: room to reserve before a merge.
    pub fn total_len(&self, c: usize) -> usize {
        let offsets = self.lists[c].value_offsets();
        (offsets[offsets.len() - 1] - offsets[0]) as usize
    }

    /// The rows to merge: those whose first column is set (a partition that saw no rows
    /// leaves NULL).
    pub fn rows(&self) -> impl Iterator<Item = StateRow<'_>> {
        (0..self.lists[0].len())
            .filter(|&row| self.lists[0].is_valid(row))
            .map(|row| StateRow {
                name: self.name,
                lists: &self.lists,
                row,
            })
    }
}

impl StateRows<'_> {
    /// Column `c`'s items, dictionary-encoded by [`ItemInterner::keyed`]: the dictionary of
    /// the whole batch interned into `items` once, for [`StateRow::item_ids`] to read each
    /// row's keys through.
    pub fn keyed_items(&self, c: usize, items: &mut ItemInterner) -> Result<KeyedItems> {
        let child = self.lists[c].values();
        let Some(dictionary) = child.as_dictionary_opt::<UInt32Type>() else {
            return Err(corrupt(
                self.name,
                format!("column {c} holds {}", child.data_type()),
            ));
        };
        if dictionary.keys().null_count() > 0 {
            return Err(corrupt(self.name, format!("NULL key in column {c}")));
        }
        Ok(KeyedItems {
            keys: dictionary.keys().values().clone(),
            ids: items.intern_array(dictionary.values())?,
        })
    }
}

/// A state batch's dictionary-encoded items: each key, and the id each dictionary value
/// was interned as.
pub(crate) struct KeyedItems {
    keys: ScalarBuffer<u32>,
    ids: Vec<u32>,
}

/// One row of [`StateRows`].
pub(crate) struct StateRow<'a> {
    name: &'a str,
    lists: &'a [&'a ListArray],
    row: usize,
}

impl StateRow<'_> {
    /// The row's position in the state batch.
    pub fn index(&self) -> usize {
        self.row
    }

    pub fn corrupt(&self, what: impl std::fmt::Display) -> DataFusionError {
        corrupt(self.name, what)
    }

    /// Column `c` of this row.
    pub fn list(&self, c: usize) -> Result<ArrayRef> {
        if self.lists[c].is_null(self.row) {
            return Err(self.corrupt(format!("column {c} is NULL")));
        }
        Ok(self.lists[c].value(self.row))
    }

    /// Column `c`'s items, read by [`StateRows::keyed_items`], as the accumulator's ids.
    pub fn item_ids(&self, c: usize, keyed: &KeyedItems) -> Result<Vec<u32>> {
        if self.lists[c].is_null(self.row) {
            return Err(self.corrupt(format!("column {c} is NULL")));
        }
        let offsets = self.lists[c].value_offsets();
        let (start, end) = (offsets[self.row] as usize, offsets[self.row + 1] as usize);
        keyed.keys[start..end]
            .iter()
            .map(|&k| {
                keyed.ids.get(k as usize).copied().ok_or_else(|| {
                    self.corrupt(format!("key {k} of {} in column {c}", keyed.ids.len()))
                })
            })
            .collect()
    }

    /// Column `c` as non-NULL values of type `T`.
    pub fn values<T: ArrowPrimitiveType>(&self, c: usize) -> Result<PrimitiveArray<T>> {
        let list = self.list(c)?;
        match list.as_primitive_opt::<T>() {
            Some(a) if a.null_count() == 0 => Ok(a.clone()),
            Some(_) => Err(self.corrupt(format!("NULL in column {c}"))),
            None => Err(self.corrupt(format!("column {c} holds {}", list.data_type()))),
        }
    }

    /// Column `c` as finite, non-negative numbers: counts and weights.
    pub fn counts(&self, c: usize) -> Result<Float64Array> {
        let counts = self.values::<Float64Type>(c)?;
        match counts
            .values()
            .iter()
            .find(|v| !(v.is_finite() && **v >= 0.0))
        {
            Some(v) => Err(self.corrupt(format!("count {v} in column {c}"))),
            None => Ok(counts),
        }
    }

    /// Column `c` as ids into a dictionary of this state, translated through `map` (that
    /// dictionary interned into the accumulator's).
    pub fn ids(&self, c: usize, map: &[u32]) -> Result<Vec<u32>> {
        self.values::<UInt32Type>(c)?
            .values()
            .iter()
            .map(|&i| {
                map.get(i as usize)
                    .copied()
                    .ok_or_else(|| self.corrupt(format!("id {i} of {} in column {c}", map.len())))
            })
            .collect()
    }

    /// Column `c` as ids below `bound`, untranslated.
    pub fn ids_below(&self, c: usize, bound: usize) -> Result<UInt32Array> {
        let ids = self.values::<UInt32Type>(c)?;
        match ids.values().iter().find(|&&i| i as usize >= bound) {
            Some(i) => Err(self.corrupt(format!("id {i} of {bound} in column {c}"))),
            None => Ok(ids),
        }
    }

    /// Column `c` as non-NULL binary values.
    pub fn binary(&self, c: usize) -> Result<BinaryArray> {
        let list = self.list(c)?;
        match list.as_binary_opt::<i32>() {
            Some(a) if a.null_count() == 0 => Ok(a.clone()),
            _ => Err(self.corrupt(format!("column {c} holds {}", list.data_type()))),
        }
    }

    /// The common length of columns read from this row.
    pub fn same_length(&self, lengths: &[usize]) -> Result<usize> {
        match lengths.iter().all(|&l| l == lengths[0]) {
            true => Ok(lengths[0]),
            false => Err(self.corrupt(format!("columns of lengths {lengths:?}"))),
        }
    }
}

/// `convert_to_state` of a [`GroupsAccumulator`](datafusion::logical_expr::GroupsAccumulator):
/// each row of `values` as a group of its own, through `fresh`, an empty accumulator of the
/// same call. DataFusion asks for this only when partial aggregation is skipped, which
/// prefdb's accumulators do not allow; kept correct for completeness.
pub(crate) fn each_row_as_a_group(
    mut fresh: impl datafusion::logical_expr::GroupsAccumulator,
    values: &[ArrayRef],
    opt_filter: Option<&datafusion::arrow::array::BooleanArray>,
) -> Result<Vec<ArrayRef>> {
    let rows = values.first().map_or(0, |v| v.len());
    let indices: Vec<usize> = (0..rows).collect();
    fresh.update_batch(values, &indices, opt_filter, rows)?;
    fresh.state(datafusion::logical_expr::EmitTo::All)
}

/// A list column of one list per group: `values` cut at `offsets` (a grouped state).
pub(crate) fn lists(values: ArrayRef, offsets: Vec<i32>) -> ArrayRef {
    let field = Arc::new(Field::new_list_field(values.data_type().clone(), true));
    Arc::new(ListArray::new(
        field,
        OffsetBuffer::new(offsets.into()),
        values,
        None,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::items::{ItemKind, ItemRef};
    use datafusion::arrow::array::{DictionaryArray, StringArray};

    fn interner(names: &[&str]) -> ItemInterner {
        let mut items = ItemInterner::new(ItemKind::Text);
        for name in names {
            items.intern(ItemRef::Text(name)).unwrap();
        }
        items
    }

    /// Two groups' items, keyed into one partition's dictionary, read back as another
    /// accumulator's ids: each row through the dictionary interned once.
    #[test]
    fn keyed_items_read_back_as_the_merging_accumulators_ids() {
        let partial = interner(&["c", "a", "b"]);
        let state = lists(partial.keyed(vec![2, 0, 1, 0]), vec![0, 2, 4]);
        let mut merged = interner(&["b", "z"]);
        let states = [state];
        let rows = StateRows::new("f", &states, 1).unwrap();
        let keyed = rows.keyed_items(0, &mut merged).unwrap();
        let ids: Vec<Vec<u32>> = rows
            .rows()
            .map(|row| row.item_ids(0, &keyed).unwrap())
            .collect();
        // merged: b 0, z 1, then c 2 and a 3 from the dictionary.
        assert_eq!(ids, vec![vec![0, 2], vec![3, 2]]);
    }

    /// A column that is not dictionary-encoded, and a NULL key, are corrupt states: errors
    /// that say so, not panics.
    #[test]
    fn undictionaried_items_and_null_keys_are_corrupt() {
        let error = |states: &[ArrayRef]| {
            let rows = StateRows::new("bt_rank", states, 1).unwrap();
            rows.keyed_items(0, &mut interner(&[]))
                .err()
                .unwrap()
                .to_string()
        };
        let plain = [lists(Arc::new(StringArray::from(vec!["a"])), vec![0, 1])];
        let err = error(&plain);
        assert!(
            err.contains("bt_rank: corrupt partial state (column 0 holds Utf8)"),
            "{err}"
        );

        let keys = UInt32Array::from(vec![Some(0), None]);
        let values: ArrayRef = Arc::new(StringArray::from(vec!["a"]));
        let dictionary = DictionaryArray::<UInt32Type>::try_new(keys, values).unwrap();
        let null_key = [lists(Arc::new(dictionary), vec![0, 2])];
        let err = error(&null_key);
        assert!(
            err.contains("corrupt partial state (NULL key in column 0)"),
            "{err}"
        );
    }
}
