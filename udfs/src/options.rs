//! What the SQL layer shares about a call's arguments: the caps on options that size work
//! or state, telling a string literal (the options) from a column, and row weights.
//! Parsing the options literal itself follows each function's declaration
//! ([`crate::spec::Options`]).

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::Schema;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, Expr};
use datafusion::physical_expr::expressions::{Column, Literal};
use datafusion::physical_expr::PhysicalExpr;
use std::sync::Arc;

/// The most bootstrap replicates a function accepts: each replicate refits the model, and
/// the intervals keep one value per replicate and item.
pub const MAX_BOOTSTRAP: usize = 100_000;
/// The most iterations an iterative fit accepts (`max_iter`).
pub const MAX_ITER: usize = 10_000;
/// The most calibration bins (`ece`, `reliability_bins`): each group keeps three sums per bin.
pub const MAX_BINS: usize = 10_000;

/// The string value of a logical string literal, if `expr` is one.
pub fn logical_string_literal(expr: &Expr) -> Option<Option<String>> {
    match expr {
        Expr::Literal(value, _) => string_scalar(value),
        Expr::Cast(cast) => logical_string_literal(&cast.expr),
        Expr::TryCast(cast) => logical_string_literal(&cast.expr),
        _ => None,
    }
}

/// The string value of a physical string literal, if `expr` is one.
///
/// A call that reaches prefdb through DataFusion's FFI (datafusion-python) has its
/// arguments as foreign expressions, which are not this build's `Literal`: a constant is
/// recognised there by what it evaluates to over no rows of the call's `schema`, a scalar.
pub fn physical_string_literal(
    expr: &Arc<dyn PhysicalExpr>,
    schema: &Schema,
) -> Option<Option<String>> {
    if let Some(lit) = expr.downcast_ref::<Literal>() {
        return string_scalar(lit.value());
    }
    if expr.downcast_ref::<Column>().is_some() {
        return None;
    }
    let no_rows = RecordBatch::new_empty(Arc::new(schema.clone()));
    match expr.evaluate(&no_rows) {
        Ok(ColumnarValue::Scalar(value)) => string_scalar(&value),
        _ => None,
    }
}

/// `Some(Some(text))` for a non-null string scalar, `Some(None)` for a NULL string.
pub(crate) fn string_scalar(value: &ScalarValue) -> Option<Option<String>> {
    match value {
        ScalarValue::Utf8(v) | ScalarValue::LargeUtf8(v) | ScalarValue::Utf8View(v) => {
            Some(v.clone())
        }
        ScalarValue::Dictionary(_, inner) => string_scalar(inner),
        _ => None,
    }
}

/// An optional weight column (`None` where the call has none) as Float64, for
/// [`row_weight`]: numeric weights of any type are cast once per batch.
pub(crate) fn weight_column(column: Option<&ArrayRef>) -> Result<Option<Float64Array>> {
    column
        .map(|c| {
            Ok(cast(c, &DataType::Float64)?
                .as_primitive::<Float64Type>()
                .clone())
        })
        .transpose()
}

/// Row `row`'s weight from an optional Float64 weight column: 1 without the column, `None`
/// for a NULL weight (the row is skipped), an error unless finite and non-negative.
pub(crate) fn row_weight(
    function: &str,
    weights: Option<&Float64Array>,
    row: usize,
) -> Result<Option<f64>> {
    let w = match weights {
        None => return Ok(Some(1.0)),
        Some(w) if w.is_null(row) => return Ok(None),
        Some(w) => w.value(row),
    };
    if !(w.is_finite() && w >= 0.0) {
        return exec_err!("{function}: weight must be a finite number >= 0, got {w}");
    }
    Ok(Some(w))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::{DataType, Field};
    use datafusion::physical_expr::expressions::{cast, col, lit};

    /// Options arrive as `Literal`s from this build's planner, and as other expressions
    /// (foreign ones, through the FFI) that are constant all the same.
    #[test]
    fn a_constant_string_is_the_options_whatever_expression_holds_it() {
        let schema = Schema::new(vec![Field::new("a", DataType::Utf8, true)]);
        let literal = lit("bins=4");
        assert_eq!(
            physical_string_literal(&literal, &schema),
            Some(Some("bins=4".to_string()))
        );
        let wrapped = cast(lit("bins=4"), &schema, DataType::LargeUtf8).unwrap();
        assert!(wrapped.downcast_ref::<Literal>().is_none());
        assert_eq!(
            physical_string_literal(&wrapped, &schema),
            Some(Some("bins=4".to_string()))
        );
        let column = col("a", &schema).unwrap();
        assert_eq!(physical_string_literal(&column, &schema), None);
        let of_column = cast(col("a", &schema).unwrap(), &schema, DataType::LargeUtf8).unwrap();
        assert_eq!(physical_string_literal(&of_column, &schema), None);
        assert_eq!(physical_string_literal(&lit(1.5), &schema), None);
    }
}
