//! What the SQL layer shares about a call's arguments: the caps on options that size work
//! or state, telling a string literal (the options) from a column, and row weights.
//! Parsing the options literal itself follows each function's declaration
//! ([`crate::spec::Options`]).

use datafusion::arrow::array::{Array, Float64Array};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::expressions::Literal;
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
pub fn physical_string_literal(expr: &Arc<dyn PhysicalExpr>) -> Option<Option<String>> {
    expr.downcast_ref::<Literal>()
        .and_then(|lit| string_scalar(lit.value()))
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
