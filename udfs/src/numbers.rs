//! Numeric columns that keep integers exact.
//!
//! A Float64 holds integers exactly only up to 2^53, so two 64-bit ids or nanosecond
//! timestamps can compare equal (or out of order) once cast. Functions that use only the
//! order of their values (rank statistics, pairwise accuracy) take integer columns as
//! integers: they are read as `i128` (which holds every Int64 and UInt64) and travel between
//! partitions as `Decimal128(38, 0)`, which Arrow casts to and from exactly.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Decimal128Array, Float64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Float64Type};
use datafusion::common::Result;
use std::cmp::Ordering;
use std::sync::Arc;

/// The type exact integers travel in.
pub(crate) const EXACT_INTEGER: DataType = DataType::Decimal128(38, 0);

/// The type an order-only argument of `arg_type` is coerced to: integers stay integers
/// (signed as Int64, unsigned as UInt64), anything else numeric becomes Float64.
pub(crate) fn order_coerced(arg_type: &DataType) -> DataType {
    if arg_type.is_signed_integer() {
        DataType::Int64
    } else if arg_type.is_unsigned_integer() {
        DataType::UInt64
    } else {
        DataType::Float64
    }
}

/// One value: exact when its column is an integer column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Number {
    Float(f64),
    Integer(i128),
}

impl Number {
    /// The nearest f64, for validation and for functions that do arithmetic.
    pub fn approx(self) -> f64 {
        match self {
            Number::Float(v) => v,
            Number::Integer(v) => v as f64,
        }
    }

    /// Order of two values: exact between integers; otherwise as f64 (`None` with NaN).
    pub fn partial_cmp(self, other: Number) -> Option<Ordering> {
        match (self, other) {
            (Number::Integer(a), Number::Integer(b)) => Some(a.cmp(&b)),
            (a, b) => a.approx().partial_cmp(&b.approx()),
        }
    }
}

/// A column read as [`Number`]s.
pub(crate) enum NumberColumn {
    Float(Float64Array),
    Integer(Decimal128Array),
}

impl NumberColumn {
    pub fn new(array: &ArrayRef) -> Result<Self> {
        let t = array.data_type();
        Ok(if t.is_integer() || *t == EXACT_INTEGER {
            NumberColumn::Integer(
                cast(array, &EXACT_INTEGER)?
                    .as_primitive::<Decimal128Type>()
                    .clone(),
            )
        } else {
            NumberColumn::Float(
                cast(array, &DataType::Float64)?
                    .as_primitive::<Float64Type>()
                    .clone(),
            )
        })
    }

    pub fn len(&self) -> usize {
        match self {
            NumberColumn::Float(a) => a.len(),
            NumberColumn::Integer(a) => a.len(),
        }
    }

    pub fn is_null(&self, row: usize) -> bool {
        match self {
            NumberColumn::Float(a) => a.is_null(row),
            NumberColumn::Integer(a) => a.is_null(row),
        }
    }

    pub fn value(&self, row: usize) -> Number {
        match self {
            NumberColumn::Float(a) => Number::Float(a.value(row)),
            NumberColumn::Integer(a) => Number::Integer(a.value(row)),
        }
    }
}

/// The kept values of one argument, exact for an integer argument.
#[derive(Debug)]
pub(crate) enum Numbers {
    Float(Vec<f64>),
    Integer(Vec<i128>),
}

impl Numbers {
    /// Empty values for an argument of (coerced) type `t`.
    pub fn for_type(t: &DataType) -> Self {
        if t.is_integer() || *t == EXACT_INTEGER {
            Numbers::Integer(Vec::new())
        } else {
            Numbers::Float(Vec::new())
        }
    }

    /// The Arrow type of these values in the partial state.
    pub fn state_type(t: &DataType) -> DataType {
        match Self::for_type(t) {
            Numbers::Float(_) => DataType::Float64,
            Numbers::Integer(_) => EXACT_INTEGER,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Numbers::Float(v) => v.len(),
            Numbers::Integer(v) => v.len(),
        }
    }

    pub fn reserve(&mut self, n: usize) {
        match self {
            Numbers::Float(v) => v.reserve(n),
            Numbers::Integer(v) => v.reserve(n),
        }
    }

    pub fn push(&mut self, x: Number) {
        match self {
            Numbers::Float(v) => v.push(x.approx()),
            Numbers::Integer(v) => v.push(match x {
                Number::Integer(i) => i,
                // Not reached: an integer argument's column reads as integers.
                Number::Float(f) => f as i128,
            }),
        }
    }

    pub fn heap_size(&self) -> usize {
        match self {
            Numbers::Float(v) => v.capacity() * 8,
            Numbers::Integer(v) => v.capacity() * 16,
        }
    }

    /// The values as an Arrow array of [`Numbers::state_type`].
    pub fn to_array(&self) -> Result<ArrayRef> {
        Ok(match self {
            Numbers::Float(v) => Arc::new(Float64Array::from(v.clone())),
            Numbers::Integer(v) => {
                Arc::new(Decimal128Array::from(v.clone()).with_data_type(EXACT_INTEGER))
            }
        })
    }

    /// Append a partial state's values, as read.
    pub fn extend_with(&mut self, column: &NumberColumn) {
        match (self, column) {
            (Numbers::Float(v), NumberColumn::Float(a)) => v.extend(a.values().iter()),
            (Numbers::Integer(v), NumberColumn::Integer(a)) => v.extend(a.values().iter()),
            (Numbers::Float(v), NumberColumn::Integer(a)) => {
                v.extend(a.values().iter().map(|&i| i as f64))
            }
            (Numbers::Integer(v), NumberColumn::Float(a)) => {
                v.extend(a.values().iter().map(|&f| f as i128))
            }
        }
    }

    /// Values with the same order and ties, as f64 for the rank kernels: floats as they
    /// are, integers replaced by their dense rank (exact up to 2^53 distinct values).
    pub fn order_values(&self) -> Vec<f64> {
        match self {
            Numbers::Float(v) => v.clone(),
            Numbers::Integer(v) => {
                let mut sorted = v.clone();
                sorted.sort_unstable();
                sorted.dedup();
                v.iter()
                    .map(|x| sorted.binary_search(x).map_or(0.0, |r| r as f64))
                    .collect()
            }
        }
    }

    /// The values as f64 (rounded above 2^53), for functions that do arithmetic on them.
    pub fn approx(&self) -> Vec<f64> {
        match self {
            Numbers::Float(v) => v.clone(),
            Numbers::Integer(v) => v.iter().map(|&i| i as f64).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, UInt64Array};

    #[test]
    fn integers_beyond_2_pow_53_keep_their_order() {
        let big: ArrayRef = Arc::new(Int64Array::from(vec![
            9_007_199_254_740_993,
            9_007_199_254_740_992,
            1,
        ]));
        let column = NumberColumn::new(&big).unwrap();
        let mut kept = Numbers::for_type(big.data_type());
        for row in 0..column.len() {
            kept.push(column.value(row));
        }
        assert_eq!(kept.order_values(), vec![2.0, 1.0, 0.0]);
        // Through the partial state and back.
        let mut merged = Numbers::for_type(big.data_type());
        merged.extend_with(&NumberColumn::new(&kept.to_array().unwrap()).unwrap());
        assert_eq!(merged.order_values(), vec![2.0, 1.0, 0.0]);
        let unsigned: ArrayRef = Arc::new(UInt64Array::from(vec![u64::MAX, u64::MAX - 1]));
        let column = NumberColumn::new(&unsigned).unwrap();
        assert_eq!(
            column.value(0).partial_cmp(column.value(1)),
            Some(Ordering::Greater)
        );
    }
}
