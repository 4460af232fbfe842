//! Helpers shared by the reference tests: fixtures, the LLMFAO table, query results.
#![allow(dead_code)]

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::Float64Type;
use datafusion::prelude::{SessionConfig, SessionContext};
use std::collections::HashMap;

pub const LLMFAO: &str = "../shared/data/llmfao.csv";

pub fn repo_root() {
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).unwrap();
}

/// Column `name` of a TSV fixture whose first column is the model.
pub fn fixture_column(path: &str, name: &str) -> HashMap<String, f64> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = header.iter().position(|h| *h == name).unwrap();
    lines
        .map(|l| {
            let cells: Vec<&str> = l.split('\t').collect();
            (cells[0].to_string(), cells[col].parse().unwrap())
        })
        .collect()
}

pub async fn llmfao() -> SessionContext {
    let ctx = prefdb::new_context();
    prefdb::register_table(&ctx, "llmfao", LLMFAO)
        .await
        .expect("../shared/data/llmfao.csv must be present beside the repository");
    ctx
}

/// (item, value) rows of a two-column query, in result order.
pub async fn pairs(ctx: &SessionContext, sql: &str) -> Vec<(String, f64)> {
    let batches: Vec<RecordBatch> = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    let mut out = Vec::new();
    for b in batches {
        let items = datafusion::arrow::compute::cast(
            b.column(0),
            &datafusion::arrow::datatypes::DataType::Utf8,
        )
        .unwrap();
        let items = items.as_string::<i32>();
        let values = b.column(1).as_primitive::<Float64Type>();
        for i in 0..b.num_rows() {
            out.push((items.value(i).to_string(), values.value(i)));
        }
    }
    out
}

/// A session with every prefdb function, `partitions` target partitions, small or large
/// batches, and aggregations repartitioned so that partial states really are merged.
pub fn partitioned_session(partitions: usize, batch: usize) -> SessionContext {
    let config = SessionConfig::new()
        .with_target_partitions(partitions)
        .with_batch_size(batch)
        .with_repartition_aggregations(true);
    let ctx = SessionContext::new_with_config(config);
    prefdb_udfs::register_all(&ctx);
    ctx
}

/// `ctx` with prefdb's physical rule that runs grouped aggregates of functions that keep
/// their rows in one phase ([`prefdb_udfs::single_phase`]).
pub fn with_single_phase(ctx: SessionContext) -> SessionContext {
    let state = ctx.state();
    let mut rules = state.physical_optimizers().to_vec();
    prefdb_udfs::single_phase::add_to(&mut rules);
    let state = datafusion::execution::SessionStateBuilder::new_from_existing(state)
        .with_physical_optimizer_rules(rules)
        .build();
    SessionContext::new_with_state(state)
}

/// Every item of `ours` within `tol` of the reference, in a consistent order.
pub fn assert_matches(ours: &[(String, f64)], reference: &HashMap<String, f64>, tol: f64) {
    assert_eq!(ours.len(), reference.len(), "number of items");
    for (item, value) in ours {
        let expected = reference[item];
        assert!(
            (value - expected).abs() <= tol,
            "{item}: prefdb {value} vs reference {expected} (|diff| {:.2e} > {tol:.0e})",
            (value - expected).abs()
        );
    }
    // Same ordering: our rows come sorted by rating; the reference must be non-increasing
    // along that order (up to the tolerance for near-equal items).
    for w in ours.windows(2) {
        assert!(
            reference[&w[0].0] >= reference[&w[1].0] - tol,
            "order differs at {} / {}",
            w[0].0,
            w[1].0
        );
    }
}
