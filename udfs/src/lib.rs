//! prefdb-udfs: prefdb's SQL functions for Apache DataFusion.
//!
//! Each file holds one function family and only translates between Arrow and the kernels in
//! `prefdb-stats`. Any DataFusion application can add every function with [`register_all`]:
//!
//! ```no_run
//! # async fn demo() -> datafusion::common::Result<()> {
//! let ctx = datafusion::prelude::SessionContext::new();
//! prefdb_udfs::register_all(&ctx);
//! ctx.sql("SELECT bt_rank(winner, loser) FROM (VALUES ('a', 'b')) AS v(winner, loser)")
//!     .await?
//!     .show()
//!     .await?;
//! # Ok(())
//! # }
//! ```

pub mod agreement;
pub mod calibration;
pub mod crowd;
pub mod flat;
pub mod items;
pub mod judge;
pub mod leaderboard;
pub mod length_control;
pub mod memory;
mod numbers;
pub mod options;
mod ordered;
pub mod pairwise;
mod ranked;
pub mod scalar;
pub mod selection;
pub mod significance;
pub mod single_phase;
pub mod spec;
mod state;
pub mod unnest_dependencies;

use datafusion::logical_expr::AggregateUDF;
use datafusion::prelude::SessionContext;
pub use memory::MemoryBudget;
use std::sync::Arc;

/// Every aggregate function prefdb adds, reserving no memory for their evaluation (for
/// documentation and inspection; [`register_all`] gives them the session's pool).
pub fn aggregate_functions() -> Vec<AggregateUDF> {
    aggregate_functions_with(&MemoryBudget::default())
}

/// Every aggregate function prefdb adds, reserving what their evaluation builds (dense
/// matrices, bootstrap replicates) from `budget`.
pub fn aggregate_functions_with(budget: &MemoryBudget) -> Vec<AggregateUDF> {
    [
        pairwise::bt_rank_udaf(budget),
        pairwise::newman_rank_udaf(budget),
        pairwise::win_matrix_udaf(budget),
        pairwise::avg_win_rate_udaf(budget),
        pairwise::intransitivity_udaf(budget),
        pairwise::rank_compare_udaf(budget),
        pairwise::elo::elo_rank_udaf(),
        pairwise::plackett_luce::pl_rank_udaf(budget),
        pairwise::controlled::bt_rank_controlled_udaf(budget),
        pairwise::openskill::openskill_rank_udaf(),
    ]
    .into_iter()
    .chain(agreement::agreement_udafs(budget))
    .chain(calibration::scorer_udafs(budget))
    .chain(judge::judge_udafs(budget))
    .chain(significance::significance_udafs(budget))
    .chain(length_control::length_control_udafs(budget))
    .chain(crowd::consensus::consensus_udafs(budget))
    .chain([
        crowd::label_issues::label_issues_udaf(budget),
        crowd::noisy_bt::noisy_bt_udaf(budget),
        crowd::rasch::rasch_udaf(budget),
    ])
    .chain(selection::selection_udafs(budget))
    .collect()
}

/// The declaration of every prefdb aggregate, in documentation order.
pub fn specs() -> Vec<&'static spec::FunctionSpec> {
    static SPECS: std::sync::OnceLock<Vec<&'static spec::FunctionSpec>> =
        std::sync::OnceLock::new();
    SPECS
        .get_or_init(|| {
            let declared: Vec<&'static spec::FunctionSpec> = calibration::spec::SPECS
                .iter()
                .chain(agreement::spec::SPECS.iter())
                .chain(judge::spec::SPECS.iter())
                .chain(significance::spec::SPECS.iter())
                .chain(length_control::SPECS.iter())
                .chain(crowd::SPECS.iter())
                .chain(selection::SPECS.iter())
                .chain(pairwise::spec::PAIRWISE_SPECS.iter())
                .copied()
                .chain([
                    &pairwise::spec::ELO_RANK,
                    &pairwise::spec::PL_RANK,
                    &pairwise::spec::BT_RANK_CONTROLLED,
                    &pairwise::spec::OPENSKILL_RANK,
                ])
                .collect();
            // Registration order is documentation order.
            aggregate_functions()
                .iter()
                .filter_map(|f| declared.iter().find(|s| s.name == f.name()).copied())
                .collect()
        })
        .clone()
}

/// The names of every prefdb function: aggregates, scalars and the `leaderboard` table
/// function.
pub fn function_names() -> Vec<String> {
    aggregate_functions()
        .iter()
        .map(|f| f.name().to_string())
        .chain(scalar::scalar_udfs().iter().map(|f| f.name().to_string()))
        .chain(std::iter::once(flat::NAME.to_string()))
        .collect()
}

/// Register every prefdb function with `ctx`: the aggregates and the `leaderboard` table
/// function. The aggregates reserve the memory their evaluation builds from `ctx`'s memory
/// pool, so its limit applies to them.
pub fn register_all(ctx: &SessionContext) {
    let budget = MemoryBudget::new(Arc::clone(&ctx.runtime_env().memory_pool));
    for f in aggregate_functions_with(&budget) {
        ctx.register_udaf(f);
    }
    for f in scalar::scalar_udfs() {
        ctx.register_udf(f);
    }
    ctx.register_udtf(flat::NAME, Arc::new(flat::LeaderboardFunction));
}
