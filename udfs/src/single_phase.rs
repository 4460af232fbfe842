//! Grouped aggregates whose state is their rows, in one phase.
//!
//! DataFusion runs a grouped aggregate over several partitions in two phases: a partial
//! aggregate per input partition, a hash repartition of the partial states by group, and a
//! final aggregate that merges them. That pays off when a state is much smaller than the
//! rows it summarises. The functions whose state is the rows themselves (declared with
//! [`StateSize::Rows`]: long-form agreement, crowd labels, predicted probabilities) reduce
//! nothing in the first phase: every rating is interned, encoded as a state, copied by the
//! repartition, decoded and interned again, and all that first-phase work runs on the
//! scan's threads (a file of one row group: on one thread).
//!
//! [`SinglePhaseRowAggregates`] rewrites
//! `FinalPartitioned ← Repartition(Hash) ← Partial ← input` into
//! `SinglePartitioned ← Repartition(Hash of the group keys) ← input`
//! when one of the aggregates keeps its rows: the rows go once to their group's partition
//! and each partition aggregates its groups whole, in parallel. The results are the same,
//! bit for bit: every such function evaluates in value order, whatever the order its rows
//! came in.

use crate::spec::StateSize;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::Result;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::{ExecutionPlan, Partitioning};
use std::sync::Arc;

/// The physical optimizer rule; see the module documentation. Add it before DataFusion's
/// `SanityCheckPlan`, which then checks the rewritten plan's distribution.
#[derive(Debug, Default)]
pub struct SinglePhaseRowAggregates;

/// Add the rule to a session's physical optimizer `rules`, just before DataFusion's
/// `SanityCheckPlan` (at the end if there is none).
pub fn add_to(rules: &mut Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>>) {
    let at = rules
        .iter()
        .position(|r| r.name() == "SanityCheckPlan")
        .unwrap_or(rules.len());
    rules.insert(at, Arc::new(SinglePhaseRowAggregates));
}

/// Whether `name` is a prefdb aggregate whose partial state is its rows.
pub fn keeps_rows(name: &str) -> bool {
    crate::specs()
        .iter()
        .any(|s| s.name == name && s.state == StateSize::Rows)
}

impl PhysicalOptimizerRule for SinglePhaseRowAggregates {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|plan| {
            Ok(match single_phase(&plan)? {
                Some(rewritten) => Transformed::yes(rewritten),
                None => Transformed::no(plan),
            })
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "prefdb_single_phase_row_aggregates"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// `plan` in one phase, if it is a two-phase grouped aggregate of which one function keeps
/// its rows.
fn single_phase(plan: &Arc<dyn ExecutionPlan>) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let Some(last) = plan.downcast_ref::<AggregateExec>() else {
        return Ok(None);
    };
    if *last.mode() != AggregateMode::FinalPartitioned {
        return Ok(None);
    }
    let Some(repartition) = last.input().downcast_ref::<RepartitionExec>() else {
        return Ok(None);
    };
    let &Partitioning::Hash(_, partitions) = repartition.partitioning() else {
        return Ok(None);
    };
    if repartition.preserve_order() {
        return Ok(None);
    }
    let Some(first) = repartition.input().downcast_ref::<AggregateExec>() else {
        return Ok(None);
    };
    let group_by = first.group_expr();
    if *first.mode() != AggregateMode::Partial
        || !group_by.is_single()
        || group_by.expr().is_empty()
        || !first.aggr_expr().iter().any(|a| keeps_rows(a.fun().name()))
        // An ordered aggregate may read its input in order, which a repartition loses.
        || first.aggr_expr().iter().any(|a| !a.order_bys().is_empty())
    {
        return Ok(None);
    }
    let keys = group_by.expr().iter().map(|(e, _)| Arc::clone(e)).collect();
    let input = Arc::new(RepartitionExec::try_new(
        Arc::clone(first.input()),
        Partitioning::Hash(keys, partitions),
    )?);
    let single = AggregateExec::try_new(
        AggregateMode::SinglePartitioned,
        group_by.clone(),
        first.aggr_expr().to_vec(),
        first.filter_expr().to_vec(),
        input,
        first.input_schema(),
    )?
    .with_limit_options(last.limit_options());
    // The same columns under the same names, or the plan is left as it was.
    if single.schema() != last.schema() {
        return Ok(None);
    }
    Ok(Some(Arc::new(single)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, RecordBatch};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::datasource::MemTable;
    use datafusion::execution::SessionStateBuilder;
    use datafusion::physical_plan::displayable;
    use datafusion::prelude::{SessionConfig, SessionContext};

    /// Two partitions of (g, item, rater, value) ratings, with or without the rule.
    fn session(rule: bool) -> SessionContext {
        let config = SessionConfig::new().with_target_partitions(2);
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_default_features()
            .build();
        let mut rules = state.physical_optimizers().to_vec();
        if rule {
            add_to(&mut rules);
            assert_eq!(
                rules[rules.len() - 2].name(),
                SinglePhaseRowAggregates.name()
            );
        }
        let state = SessionStateBuilder::new_from_existing(state)
            .with_physical_optimizer_rules(rules)
            .build();
        let ctx = SessionContext::new_with_state(state);
        crate::register_all(&ctx);
        let schema = Arc::new(Schema::new(
            ["g", "item", "rater", "value"]
                .map(|n| Arc::new(Field::new(n, DataType::Int64, false))),
        ));
        let part = |offset: i64| {
            let column = |f: &dyn Fn(i64) -> i64| {
                Arc::new(Int64Array::from_iter_values((0..60).map(|i| f(i + offset))))
                    as Arc<dyn datafusion::arrow::array::Array>
            };
            let columns = vec![
                column(&|i| i % 3),
                column(&|i| i / 3),
                column(&|i| i % 4),
                column(&|i| (i * 7) % 5),
            ];
            vec![RecordBatch::try_new(Arc::clone(&schema), columns).unwrap()]
        };
        let table = MemTable::try_new(Arc::clone(&schema), vec![part(0), part(60)]).unwrap();
        ctx.register_table("t", Arc::new(table)).unwrap();
        ctx
    }

    async fn plan_and_result(ctx: &SessionContext, sql: &str) -> (String, String) {
        let frame = ctx.sql(sql).await.unwrap();
        let plan = frame.clone().create_physical_plan().await.unwrap();
        let shown = displayable(plan.as_ref()).indent(false).to_string();
        let batches = frame.collect().await.unwrap();
        (shown, pretty_format_batches(&batches).unwrap().to_string())
    }

    #[tokio::test]
    async fn grouped_aggregates_that_keep_their_rows_run_in_one_phase() {
        let (one, two) = (session(true), session(false));
        let kept = [
            "SELECT g, krippendorff_alpha(item, rater, value) FROM t GROUP BY g ORDER BY g",
            // Another aggregate alongside is computed from the same rows.
            "SELECT g, count(*), fleiss_kappa(item, value) FROM t GROUP BY g ORDER BY g",
            "SELECT g, majority_vote(item, rater, value) FROM t GROUP BY g ORDER BY g",
        ];
        for sql in kept {
            let (plan, result) = plan_and_result(&one, sql).await;
            assert!(plan.contains("mode=SinglePartitioned"), "{sql}\n{plan}");
            assert!(!plan.contains("mode=Partial"), "{sql}\n{plan}");
            let (plan, two_phases) = plan_and_result(&two, sql).await;
            assert!(plan.contains("mode=FinalPartitioned"), "{sql}\n{plan}");
            assert_eq!(result, two_phases, "{sql}");
        }
        // A summary state stays in two phases, and so does a query without GROUP BY.
        for sql in [
            "SELECT g, bt_rank(item, rater, CAST(value AS DOUBLE) / 4) FROM t GROUP BY g",
            "SELECT g, count(*) FROM t GROUP BY g",
            "SELECT krippendorff_alpha(item, rater, value) FROM t",
            // An ordered aggregate beside it: the rows' order is kept for it.
            "SELECT g, krippendorff_alpha(item, rater, value), array_agg(value ORDER BY item) FROM t GROUP BY g",
        ] {
            let (plan, _) = plan_and_result(&one, sql).await;
            assert!(plan.contains("mode=Partial"), "{sql}\n{plan}");
            assert!(!plan.contains("SinglePartitioned"), "{sql}\n{plan}");
        }
    }

    #[test]
    fn the_row_keeping_functions_are_declared() {
        for name in ["krippendorff_alpha", "dawid_skene", "label_issues", "rasch"] {
            assert!(keeps_rows(name), "{name}");
        }
        for name in ["bt_rank", "cohen_kappa", "brier_score", "count"] {
            assert!(!keeps_rows(name), "{name}");
        }
    }
}
