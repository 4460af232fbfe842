//! `leaderboard(query)`: the flat-rows form of any prefdb result that is a list of structs.
//!
//! `bt_rank`, `win_matrix` and `avg_win_rate` return one list of structs per group, which is
//! right for SQL but awkward for a BI tool or `psql`. DataFusion's own `unnest` of a struct
//! names its columns `__unnest_placeholder(...).rank`, so this table function does the two
//! unnests itself and names each column after its struct field:
//!
//! ```sql
//! SELECT * FROM leaderboard('SELECT category, bt_rank(model_a, model_b, winner) FROM votes GROUP BY category')
//! ```
//!
//! returns `category, rank, item, rating, ...` as ordinary typed columns, one row per item
//! and group. The query's other columns (group keys) are kept as they are.

use crate::options::logical_string_literal;
use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::view::ViewTable;
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{plan_err, Column, DataFusionError, Result, UnnestOptions};
use datafusion::execution::context::SQLOptions;
use datafusion::execution::SessionState;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder};
use std::sync::Arc;

pub const NAME: &str = "leaderboard";

/// The reference text for `leaderboard`, shown in the README.
pub const DESCRIPTION: &str = "Runs `query` (a string literal; double any quotes inside it) \
and returns the entries of its single list-of-structs column, such as `bt_rank(...)`, \
`win_matrix(...)` or `avg_win_rate(...)`, as ordinary typed columns named after the struct \
fields, one row per entry. The query's other columns, such as GROUP BY keys, come first and \
are repeated on each row. A NULL or empty list yields no rows. It is an error if the query \
has no such column or more than one, or if another column has the name of a struct field \
(alias it).";

const USAGE: &str = "leaderboard takes one argument, a query string, e.g. \
leaderboard('SELECT bt_rank(model_a, model_b, winner) FROM votes')";

#[derive(Debug, Default)]
pub struct LeaderboardFunction;

impl TableFunctionImpl for LeaderboardFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let [query] = args.exprs() else {
            return plan_err!("{USAGE}");
        };
        if is_parameter(query) {
            return plan_err!(
                "leaderboard cannot take its query as a bound parameter (such as $1): it plans \
                 the query when the statement is prepared, before parameters are bound; write \
                 the query's text in the call"
            );
        }
        let Some(Some(sql)) = logical_string_literal(query) else {
            return plan_err!("{USAGE}");
        };
        let Some(state) = args.session().as_any().downcast_ref::<SessionState>() else {
            return plan_err!("leaderboard needs a DataFusion SessionState to plan its query");
        };
        let plan = plan_query(state, &sql)?;
        // Only a query: never DDL, DML or a SET smuggled in through the string (this also
        // keeps a read-only server read-only).
        SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false)
            .verify_plan(&plan)
            .map_err(|e| match e {
                DataFusionError::Plan(m) => {
                    DataFusionError::Plan(format!("leaderboard takes a query: {m}"))
                }
                other => other,
            })?;
        let flat = flatten(plan)?;
        Ok(Arc::new(ViewTable::new(flat, Some(sql))))
    }
}

/// A bound parameter (`$1`), possibly cast (`$1::text`).
fn is_parameter(e: &Expr) -> bool {
    match e {
        Expr::Placeholder(_) => true,
        Expr::Cast(c) => is_parameter(&c.expr),
        Expr::TryCast(c) => is_parameter(&c.expr),
        _ => false,
    }
}

/// Plan `sql` from inside a table function, which DataFusion calls synchronously.
///
/// Planning resolves table names through the catalog, which is async. Registered tables
/// answer at once (their schemas were read when they were registered), so this does not
/// wait on I/O, but it needs an executor: a thread of its own, because the caller may
/// already be inside one (a `leaderboard()` whose query holds another `leaderboard()`,
/// or the thread of an async runtime). The thread enters the caller's tokio runtime, if
/// any, for catalogs that need it.
fn plan_query(state: &SessionState, sql: &str) -> Result<LogicalPlan> {
    let runtime = tokio::runtime::Handle::try_current().ok();
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("prefdb-leaderboard-plan".into())
            .stack_size(PLANNING_STACK)
            .spawn_scoped(scope, || {
                let _entered = runtime.as_ref().map(|r| r.enter());
                futures::executor::block_on(state.create_logical_plan(sql))
            })
            .map_err(|e| {
                DataFusionError::Execution(format!(
                    "leaderboard: cannot start a planning thread: {e}"
                ))
            })?
            .join()
            .unwrap_or_else(|_| {
                Err(DataFusionError::Execution(
                    "leaderboard: planning its query panicked".to_string(),
                ))
            })
    })
}

/// The stack of the thread that plans a `leaderboard()` query: as much as the threads that
/// plan top-level queries get.
const PLANNING_STACK: usize = 32 * 1024 * 1024;

/// Unnest the single list-of-structs column of `plan` into one column per struct field.
pub fn flatten(plan: LogicalPlan) -> Result<LogicalPlan> {
    let schema = Arc::clone(plan.schema());
    let nested: Vec<usize> = schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| matches!(f.data_type(), DataType::List(item) if matches!(item.data_type(), DataType::Struct(_))))
        .map(|(i, _)| i)
        .collect();
    let [index] = nested[..] else {
        return plan_err!(
            "leaderboard: the query must return exactly one list-of-structs column such as bt_rank(...), win_matrix(...) or avg_win_rate(...); it returns {}",
            nested.len()
        );
    };
    let (qualifier, field) = schema.qualified_field(index);
    let DataType::List(item) = field.data_type() else {
        unreachable!("selected as a list above")
    };
    let DataType::Struct(struct_fields) = item.data_type() else {
        unreachable!("selected as a list of structs above")
    };
    let nested_name = field.name().clone();
    let kept: Vec<(Option<datafusion::common::TableReference>, String)> = schema
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != index)
        .map(|(_, (q, f))| (q.cloned(), f.name().clone()))
        .collect();
    if let Some(clash) = struct_fields
        .iter()
        .find(|sf| kept.iter().any(|(_, name)| name == sf.name()))
    {
        return plan_err!(
            "leaderboard: the query's column '{}' has the same name as a result field; alias it (for example AS {}_group)",
            clash.name(),
            clash.name()
        );
    }
    let nested_column = Column::new(qualifier.cloned(), nested_name.clone());
    let skip_nulls = UnnestOptions::new().with_preserve_nulls(false);
    let unnested = LogicalPlanBuilder::from(plan)
        .unnest_column_with_options(nested_column.clone(), skip_nulls.clone())?
        .unnest_column_with_options(nested_column, skip_nulls)?;
    // Columns are built explicitly: `col("lb.rank")` would parse the dot as a qualifier.
    let mut projection: Vec<Expr> = Vec::new();
    for (i, (q, name)) in schema.iter().map(|(q, f)| (q, f.name())).enumerate() {
        if i == index {
            projection.extend(struct_fields.iter().map(|sf| {
                Expr::Column(Column::new_unqualified(format!(
                    "{nested_name}.{}",
                    sf.name()
                )))
                .alias(sf.name())
            }));
        } else {
            projection.push(Expr::Column(Column::new(q.cloned(), name.clone())));
        }
    }
    let flat = unnested.project(projection)?.build()?;
    // The flat rows repeat each group key once per entry: a key of the query is not a key of
    // the leaderboard, and nothing downstream may treat it as one.
    Ok(crate::unnest_dependencies::correct_unnest_dependencies(flat)?.data)
}
