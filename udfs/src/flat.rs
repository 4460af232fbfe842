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
use datafusion::arrow::datatypes::{DataType, Fields, Schema};
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
(alias it). `leaderboard(query, part)` flattens the list-of-structs field `part` of the \
query's struct column instead, for results that hold two lists: `'tasks'` or `'workers'` \
of a crowd-label method such as `dawid_skene(...)`, `'leaderboard'` or `'coefficients'` of \
`bt_rank_controlled(...)`.";

/// How to call `leaderboard`, the error for any other call.
pub const USAGE: &str = "leaderboard takes a query string and optionally the name of the \
list to flatten, e.g. leaderboard('SELECT bt_rank(model_a, model_b, winner) FROM votes') or \
leaderboard('SELECT dawid_skene(task, worker, label) FROM labels', 'workers')";

#[derive(Debug, Default)]
pub struct LeaderboardFunction;

impl TableFunctionImpl for LeaderboardFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let (query, part) = match args.exprs() {
            [query] => (query, None),
            [query, part] => match logical_string_literal(part) {
                Some(Some(part)) => (query, Some(part)),
                _ => return plan_err!("{USAGE}"),
            },
            _ => return plan_err!("{USAGE}"),
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
        let plan = match &part {
            Some(part) => select_part(plan, part)?,
            None => plan,
        };
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

/// Whether `t` is a list of structs: a result `leaderboard()` can flatten.
fn is_list_of_structs(t: &DataType) -> bool {
    matches!(t, DataType::List(item) if matches!(item.data_type(), DataType::Struct(_)))
}

/// Where a query's single list-of-structs column is, and the fields its entries have.
struct FlatShape {
    /// The position of the list-of-structs column.
    index: usize,
    /// The struct fields, which become columns.
    fields: Fields,
}

/// The flat shape of a query returning `schema`, or the error that says why it has none.
fn flat_shape(schema: &Schema) -> Result<FlatShape> {
    let nested: Vec<usize> = schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| is_list_of_structs(f.data_type()))
        .map(|(i, _)| i)
        .collect();
    let [index] = nested[..] else {
        // A result that holds its lists in a struct: name the list.
        let parts: Vec<&str> = schema
            .fields()
            .iter()
            .filter_map(|f| match f.data_type() {
                DataType::Struct(fields) => Some(fields),
                _ => None,
            })
            .flat_map(|fields| fields.iter())
            .filter(|sf| is_list_of_structs(sf.data_type()))
            .map(|sf| sf.name().as_str())
            .collect();
        let hint = match parts.first() {
            Some(first) if nested.is_empty() => format!(
                "; its struct column holds the lists {}: name one, e.g. leaderboard(query, '{first}')",
                parts.join(", ")
            ),
            _ => String::new(),
        };
        return plan_err!(
            "leaderboard: the query must return exactly one list-of-structs column such as bt_rank(...), win_matrix(...) or avg_win_rate(...); it returns {}{hint}",
            nested.len()
        );
    };
    let DataType::List(item) = schema.field(index).data_type() else {
        unreachable!("selected as a list above")
    };
    let DataType::Struct(fields) = item.data_type() else {
        unreachable!("selected as a list of structs above")
    };
    if let Some(clash) = fields.iter().find(|sf| {
        schema
            .fields()
            .iter()
            .enumerate()
            .any(|(i, f)| i != index && f.name() == sf.name())
    }) {
        return plan_err!(
            "leaderboard: the query's column '{}' has the same name as a result field; alias it (for example AS {}_group)",
            clash.name(),
            clash.name()
        );
    }
    Ok(FlatShape {
        index,
        fields: fields.clone(),
    })
}

/// The position of the one struct column of `schema` with a list-of-structs field `part`,
/// or the error that says why there is none.
fn part_column(schema: &Schema, part: &str) -> Result<usize> {
    let holders: Vec<usize> = schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| match f.data_type() {
            DataType::Struct(fields) => fields
                .iter()
                .any(|sf| sf.name() == part && is_list_of_structs(sf.data_type())),
            _ => false,
        })
        .map(|(i, _)| i)
        .collect();
    match holders[..] {
        [index] => Ok(index),
        [] => plan_err!(
            "leaderboard: the query has no struct column with a list '{part}' to flatten; the lists of a result are its struct fields, such as 'tasks' and 'workers' of dawid_skene(...)"
        ),
        _ => plan_err!(
            "leaderboard: {} of the query's columns have a list '{part}'; select one",
            holders.len()
        ),
    }
}

/// `plan` with its struct column holding `part` replaced by that list, named `part`.
fn select_part(plan: LogicalPlan, part: &str) -> Result<LogicalPlan> {
    let schema = Arc::clone(plan.schema());
    let index = part_column(schema.as_arrow(), part)?;
    let projection: Vec<Expr> = schema
        .iter()
        .enumerate()
        .map(|(i, (q, f))| {
            let column = Expr::Column(Column::new(q.cloned(), f.name().clone()));
            if i == index {
                datafusion::functions::core::expr_fn::get_field(column, part).alias(part)
            } else {
                column
            }
        })
        .collect();
    LogicalPlanBuilder::from(plan).project(projection)?.build()
}

/// The SQL text of `leaderboard(query, part)` for an engine that plans it itself: the query
/// with the struct column holding `part` replaced by that list, then [`flatten_sql`].
pub fn flatten_part_sql(schema: &Schema, query: &str, part: &str) -> Result<String> {
    let index = part_column(schema, part)?;
    let quote = |name: &str| format!("\"{}\"", name.replace('"', "\"\""));
    let literal = |text: &str| format!("'{}'", text.replace('\'', "''"));
    let query = query.trim_end().trim_end_matches(';');
    let mut columns = Vec::new();
    let mut fields = Vec::new();
    for (i, f) in schema.fields().iter().enumerate() {
        if i == index {
            columns.push(format!(
                "{}[{}] AS {}",
                quote(f.name()),
                literal(part),
                quote(part)
            ));
            let DataType::Struct(inner) = f.data_type() else {
                unreachable!("part_column selects struct columns")
            };
            let list = inner
                .iter()
                .find(|sf| sf.name() == part)
                .expect("selected above");
            fields.push(datafusion::arrow::datatypes::Field::new(
                part,
                list.data_type().clone(),
                true,
            ));
        } else {
            columns.push(quote(f.name()));
            fields.push(f.as_ref().clone());
        }
    }
    let selected = format!(
        "SELECT {} FROM ({query}\n) AS \"__prefdb_parts\"",
        columns.join(", ")
    );
    flatten_sql(&Schema::new(fields), &selected)
}

/// The SQL text of `leaderboard(query)` for an engine that plans it itself (datafusion-python,
/// where prefdb's functions arrive through the FFI), given the schema `query` returns. It
/// has the columns, names and rows of [`flatten`]'s plan.
pub fn flatten_sql(schema: &Schema, query: &str) -> Result<String> {
    let shape = flat_shape(schema)?;
    let query = query.trim_end().trim_end_matches(';');
    let quote = |name: &str| format!("\"{}\"", name.replace('"', "\"\""));
    let literal = |text: &str| format!("'{}'", text.replace('\'', "''"));
    const ENTRY: &str = "\"__prefdb_entry\"";
    let kept = |i: usize| (i != shape.index).then(|| quote(schema.field(i).name()));
    let mut inner = Vec::new();
    let mut outer = Vec::new();
    for i in 0..schema.fields().len() {
        match kept(i) {
            Some(column) => {
                inner.push(column.clone());
                outer.push(column);
            }
            None => {
                inner.push(format!(
                    "unnest({}) AS {ENTRY}",
                    quote(schema.field(i).name())
                ));
                outer.extend(
                    shape
                        .fields
                        .iter()
                        .map(|f| format!("{ENTRY}[{}] AS {}", literal(f.name()), quote(f.name()))),
                );
            }
        }
    }
    Ok(format!(
        "SELECT {} FROM (SELECT {} FROM ({query}\n) AS \"__prefdb_query\") AS \"__prefdb_entries\"",
        outer.join(", "),
        inner.join(", ")
    ))
}

/// Unnest the single list-of-structs column of `plan` into one column per struct field.
pub fn flatten(plan: LogicalPlan) -> Result<LogicalPlan> {
    let schema = Arc::clone(plan.schema());
    let FlatShape {
        index,
        fields: struct_fields,
    } = flat_shape(schema.as_arrow())?;
    let (qualifier, field) = schema.qualified_field(index);
    let nested_name = field.name().clone();
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

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::prelude::SessionContext;

    /// `flatten_sql` gives the rows `leaderboard()` gives, in the same columns.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn flatten_sql_matches_the_table_function() {
        let ctx = SessionContext::new();
        crate::register_all(&ctx);
        ctx.sql(
            "CREATE TABLE votes AS VALUES ('x', 'a', 'b', 'a'), ('x', 'b', 'c', 'tie'), \
             ('x', 'c', 'a', 'b'), ('y', 'a', 'c', 'a'), ('z', NULL, NULL, NULL)",
        )
        .await
        .unwrap();
        let queries = [
            "SELECT bt_rank(column2, column3, column4, 'prior=0.1') FROM votes",
            "SELECT column1 AS \"it's \"\"q\"\"\", bt_rank(column2, column3, column4) AS lb \
             FROM votes GROUP BY column1 ORDER BY 1 -- a comment\n;",
            "SELECT column1 AS arena, win_matrix(column2, column3, column4) FROM votes GROUP BY 1",
        ];
        for query in queries {
            let quoted = query.replace('\'', "''");
            let expected = ctx
                .sql(&format!(
                    "SELECT * FROM leaderboard('{quoted}') ORDER BY 1, 2, 3"
                ))
                .await
                .unwrap()
                .collect()
                .await
                .unwrap();
            let schema = ctx.sql(query).await.unwrap().schema().as_arrow().clone();
            let text = flatten_sql(&schema, query).unwrap();
            let got = ctx
                .sql(&format!("SELECT * FROM ({text}) ORDER BY 1, 2, 3"))
                .await
                .unwrap()
                .collect()
                .await
                .unwrap();
            assert_eq!(
                pretty_format_batches(&got).unwrap().to_string(),
                pretty_format_batches(&expected).unwrap().to_string(),
                "{query}"
            );
            let rows: usize = got.iter().map(|b| b.num_rows()).sum();
            assert!(rows > 0, "{query}");
        }
        // leaderboard(query, part) and flatten_part_sql agree as well.
        ctx.sql("CREATE TABLE shown AS VALUES ('p', 'q', 'a', 'x'), ('q', 'p', 'b', 'x'), ('p', 'q', 'a', 'y'), ('p', 'q', 'b', 'y')")
            .await
            .unwrap();
        let query = "SELECT column4 AS arena, bt_rank_controlled(column1, column2, column3, [1.0]) AS r FROM shown GROUP BY 1";
        for part in ["leaderboard", "coefficients"] {
            let expected = ctx
                .sql(&format!(
                    "SELECT * FROM leaderboard('{}', '{part}') ORDER BY 1, 2, 3",
                    query.replace('\'', "''")
                ))
                .await
                .unwrap()
                .collect()
                .await
                .unwrap();
            let schema = ctx.sql(query).await.unwrap().schema().as_arrow().clone();
            let text = flatten_part_sql(&schema, query, part).unwrap();
            let got = ctx
                .sql(&format!("SELECT * FROM ({text}) ORDER BY 1, 2, 3"))
                .await
                .unwrap()
                .collect()
                .await
                .unwrap();
            assert_eq!(
                pretty_format_batches(&got).unwrap().to_string(),
                pretty_format_batches(&expected).unwrap().to_string(),
                "{part}"
            );
            assert!(
                got.iter().map(|b| b.num_rows()).sum::<usize>() > 0,
                "{part}"
            );
        }
        let schema = ctx
            .sql("SELECT 1 AS a")
            .await
            .unwrap()
            .schema()
            .as_arrow()
            .clone();
        assert_eq!(
            flatten_sql(&schema, "SELECT 1 AS a").unwrap_err().strip_backtrace(),
            "Error during planning: leaderboard: the query must return exactly one list-of-structs column such as bt_rank(...), win_matrix(...) or avg_win_rate(...); it returns 0"
        );
    }
}
