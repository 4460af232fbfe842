//! Helpers for the list-valued partial states most prefdb aggregates keep: one list per
//! column of rows (item dictionaries, dense ids, values), each wrapped as a single-row list.

use datafusion::arrow::array::{ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, UInt32Type};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::ScalarValue;
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

/// The ids of a merged state's id list, translated through `map` (the state's dictionary
/// interned into ours).
pub(crate) fn remapped<'a>(ids: &'a ArrayRef, map: &'a [u32]) -> impl Iterator<Item = u32> + 'a {
    ids.as_primitive::<UInt32Type>()
        .values()
        .iter()
        .map(move |&i| map[i as usize])
}
