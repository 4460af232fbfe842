//! Functional dependencies that stay true across an unnest.
//!
//! DataFusion 55's `Unnest` copies its input's functional dependencies unchanged. After
//! `GROUP BY g`, `g` is a key: it occurs once and determines every column. After unnesting
//! a list column, `g` repeats once per element and determines none of the unnested
//! values, yet the copied dependency still says it does. The optimizer then drops `x` from
//! `ORDER BY g, x` (`eliminate_duplicated_expr`), drops `DISTINCT` from
//! `SELECT DISTINCT g` (`replace_distinct_aggregate`) and drops `x` from `GROUP BY g, x`
//! (`optimize_projections`): silent wrong answers on every per-group leaderboard.
//!
//! The same correction ([`correct_unnest_dependencies`]: each `Unnest` gets the
//! dependencies that hold after it, see [`after_unnest`], and the schemas above it are
//! recomputed) is applied at three points:
//! - [`UnnestDependencies`], an optimizer rule that the session puts before every rule that
//!   reads dependencies ([`with_unnest_dependencies`]), since other rules rebuild `Unnest`
//!   nodes from their input and bring the copied dependencies back;
//! - [`UnnestRelations`], a relation planner that corrects each `FROM` item as the SQL is
//!   planned, because the SQL planner reads dependencies too: `GROUP BY g` adds every column
//!   `g` determines to the grouping, and a window ordered by a key gets a row frame;
//! - the `leaderboard()` table function's own plan.
//!
//! Drop this module once DataFusion's `Unnest::try_new` does the same (see the README's
//! design notes for the upstream report).

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{FunctionalDependence, FunctionalDependencies, Result};
use datafusion::logical_expr::planner::{
    PlannedRelation, RelationPlanner, RelationPlannerContext, RelationPlanning,
};
use datafusion::logical_expr::{LogicalPlan, Unnest};
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};
use datafusion::sql::sqlparser::ast::TableFactor;
use std::cell::Cell;
use std::sync::Arc;

/// The optimizer rules that read functional dependencies; [`UnnestDependencies`] runs
/// before each.
const DEPENDENCY_READERS: [&str; 4] = [
    "replace_distinct_aggregate",
    "eliminate_join",
    "eliminate_duplicated_expr",
    "optimize_projections",
];

/// Rewrites the functional dependencies of every `Unnest` in a plan.
#[derive(Debug, Default)]
pub struct UnnestDependencies;

impl OptimizerRule for UnnestDependencies {
    fn name(&self) -> &str {
        "prefdb_unnest_dependencies"
    }

    fn supports_rewrite(&self) -> bool {
        true
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        correct_unnest_dependencies(plan)
    }
}

/// Plans each `FROM` item as DataFusion would, then corrects its unnest dependencies.
#[derive(Debug, Default)]
pub struct UnnestRelations;

thread_local! {
    /// Set while [`UnnestRelations`] asks the planner for the default plan of a relation,
    /// so that the planner's call back into it declines once. SQL planning is synchronous,
    /// so the flag cannot leak to another query on the thread.
    static PLANNING_DEFAULT: Cell<bool> = const { Cell::new(false) };
}

impl RelationPlanner for UnnestRelations {
    fn plan_relation(
        &self,
        relation: TableFactor,
        context: &mut dyn RelationPlannerContext,
    ) -> Result<RelationPlanning> {
        if PLANNING_DEFAULT.replace(false) {
            return Ok(RelationPlanning::Original(Box::new(relation)));
        }
        PLANNING_DEFAULT.set(true);
        let planned = context.plan(relation);
        PLANNING_DEFAULT.set(false);
        // `plan` has applied the relation's alias already.
        let plan = correct_unnest_dependencies(planned?)?.data;
        Ok(RelationPlanning::Planned(Box::new(PlannedRelation::new(
            plan, None,
        ))))
    }
}

/// `rules` with [`UnnestDependencies`] inserted before each rule that reads functional
/// dependencies.
pub fn with_unnest_dependencies(
    rules: &[Arc<dyn OptimizerRule + Send + Sync>],
) -> Vec<Arc<dyn OptimizerRule + Send + Sync>> {
    let fix: Arc<dyn OptimizerRule + Send + Sync> = Arc::new(UnnestDependencies);
    let mut out = Vec::with_capacity(rules.len() + DEPENDENCY_READERS.len());
    for rule in rules {
        if DEPENDENCY_READERS.contains(&rule.name()) {
            out.push(Arc::clone(&fix));
        }
        out.push(Arc::clone(rule));
    }
    out
}

/// Every `Unnest` in `plan` with the dependencies that hold after it, and the schemas of
/// the nodes above it recomputed from their inputs.
pub fn correct_unnest_dependencies(plan: LogicalPlan) -> Result<Transformed<LogicalPlan>> {
    if !plan.exists(|node| Ok(matches!(node, LogicalPlan::Unnest(_))))? {
        return Ok(Transformed::no(plan));
    }
    correct(plan)
}

fn correct(plan: LogicalPlan) -> Result<Transformed<LogicalPlan>> {
    let children = plan.map_children(correct)?;
    let changed = children.transformed;
    match children.data {
        LogicalPlan::Unnest(unnest) => {
            let deps = after_unnest(&unnest);
            if &deps == unnest.schema.functional_dependencies() {
                return Ok(Transformed::new_transformed(
                    LogicalPlan::Unnest(unnest),
                    changed,
                ));
            }
            let schema = (*unnest.schema)
                .clone()
                .with_functional_dependencies(deps)?;
            Ok(Transformed::yes(LogicalPlan::Unnest(Unnest {
                schema: Arc::new(schema),
                ..unnest
            })))
        }
        node if changed => Ok(Transformed::yes(node.recompute_schema()?)),
        node => Ok(Transformed::no(node)),
    }
}

/// The functional dependencies that hold on an unnest's output, from those of its input.
///
/// An unnested list repeats every other column once per element: no key stays unique and
/// nothing determines the unnested values. The other columns still determine each other,
/// but such a non-unique dependency is not kept either, because DataFusion's aggregate
/// takes any dependency whose source is among the GROUP BY keys to determine every output
/// column (`aggregate_functional_dependencies`), so `g -> g` would make `GROUP BY g, x`
/// unique on `g` alone. Unnesting only structs splits a column into its fields without
/// repeating rows: each dependency is kept, with a struct's fields determined wherever the
/// struct was, and a dependency whose source is an unnested struct dropped.
pub fn after_unnest(unnest: &Unnest) -> FunctionalDependencies {
    if !unnest.list_type_columns.is_empty() {
        return FunctionalDependencies::empty();
    }
    let unnested = |input: usize| unnest.struct_type_columns.contains(&input);
    // Output positions of each input column.
    let outputs = |input: usize| {
        unnest
            .dependency_indices
            .iter()
            .enumerate()
            .filter(move |(_, i)| **i == input)
            .map(|(out, _)| out)
    };
    let input_deps = unnest.input.schema().functional_dependencies();
    let deps = input_deps
        .iter()
        .filter(|dep| !dep.source_indices.iter().any(|&i| unnested(i)))
        .map(|dep| {
            let source = dep
                .source_indices
                .iter()
                .flat_map(|&i| outputs(i))
                .collect();
            let target = dep
                .target_indices
                .iter()
                .flat_map(|&i| outputs(i))
                .collect();
            FunctionalDependence::new(source, target, dep.nullable).with_mode(dep.mode)
        })
        .collect();
    FunctionalDependencies::new(deps)
}
