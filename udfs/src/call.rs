//! What a call may carry around its arguments: `DISTINCT`, `ORDER BY` and `FILTER`.
//!
//! DataFusion hands these to every aggregate and leaves honouring them to the function.
//! `FILTER (WHERE ...)` is applied before rows reach an accumulator, so every prefdb function
//! honours it. `DISTINCT` and `ORDER BY` would be silently ignored, so a function refuses
//! them unless it uses them (`elo_rank` and `openskill_rank` need `ORDER BY`).

use datafusion::common::{plan_err, Result};
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::function::AccumulatorArgs;

/// Whether a function's result depends on the order of its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowOrder {
    /// The result is the same for any order: `ORDER BY` in the call is refused.
    Ignored,
    /// The rows are a sequence (online ratings): the function reads `ORDER BY` itself.
    Used,
}

fn check(function: &str, distinct: bool, ordered: bool, order: RowOrder) -> Result<()> {
    if distinct {
        return plan_err!(
            "{function} does not support DISTINCT: it counts every row it receives; \
             remove duplicates first, e.g. FROM (SELECT DISTINCT ...)"
        );
    }
    if ordered && order == RowOrder::Ignored {
        return plan_err!(
            "{function} does not depend on the order of its rows, so ORDER BY inside the call \
             would be ignored; remove it"
        );
    }
    Ok(())
}

/// Refuse `DISTINCT`, and `ORDER BY` where it would be ignored, in a logical call.
pub(crate) fn check_logical(call: &AggregateFunction, order: RowOrder) -> Result<()> {
    check(
        call.func.name(),
        call.params.distinct,
        !call.params.order_by.is_empty(),
        order,
    )
}

/// As [`check_logical`], for the physical call an accumulator is made for.
pub(crate) fn check_physical(
    function: &str,
    args: &AccumulatorArgs,
    order: RowOrder,
) -> Result<()> {
    check(
        function,
        args.is_distinct,
        !args.order_bys.is_empty(),
        order,
    )
}
