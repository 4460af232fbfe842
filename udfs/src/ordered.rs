//! ORDER BY keys for order-sensitive aggregates (`elo_rank`, `openskill_rank`).
//!
//! DataFusion hands an aggregate its rows in partitions whose order is arbitrary, and
//! appends the `ORDER BY` columns to its arguments. The accumulators keep each row's key in
//! Arrow's row format, which compares as bytes in the requested order (directions and NULL
//! placement included), and sort once in `evaluate`. The functions declare their ordering
//! as beneficial only, so DataFusion never adds a sort of its own.

use datafusion::arrow::array::{ArrayRef, BinaryArray};
use datafusion::arrow::datatypes::Schema;
use datafusion::arrow::row::{RowConverter, Rows, SortField};
use datafusion::common::Result;
use datafusion::physical_expr::PhysicalSortExpr;

#[derive(Debug)]
pub(crate) struct OrderKeys {
    converter: RowConverter,
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl OrderKeys {
    pub fn new(order_bys: &[PhysicalSortExpr], schema: &Schema) -> Result<Self> {
        let fields = order_bys
            .iter()
            .map(|s| {
                Ok(SortField::new_with_options(
                    s.expr.data_type(schema)?,
                    s.options,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            converter: RowConverter::new(fields)?,
            bytes: Vec::new(),
            ends: Vec::new(),
        })
    }

    /// The keys of a batch's ORDER BY columns.
    pub fn convert(&self, columns: &[ArrayRef]) -> Result<Rows> {
        Ok(self.converter.convert_columns(columns)?)
    }

    pub fn push(&mut self, key: &[u8]) {
        self.bytes.extend_from_slice(key);
        self.ends.push(self.bytes.len());
    }

    pub fn key(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }

    pub fn to_array(&self) -> BinaryArray {
        (0..self.ends.len()).map(|i| Some(self.key(i))).collect()
    }

    pub fn heap_size(&self) -> usize {
        self.bytes.capacity() + self.ends.capacity() * 8
    }
}

/// The planning error of an order-sensitive function called without ORDER BY.
pub(crate) fn no_order_error(
    name: &str,
    what: &str,
    example: &str,
) -> datafusion::common::DataFusionError {
    datafusion::common::DataFusionError::Plan(format!(
        "{name}: {what} depends on the order of the rows; add ORDER BY inside the call, e.g. {example}"
    ))
}
