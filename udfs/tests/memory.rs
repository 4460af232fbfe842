//! What an aggregate builds while it evaluates counts against the session's memory limit.

use datafusion::execution::memory_pool::{GreedyMemoryPool, MemoryPool};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use std::sync::Arc;

fn session_with_limit(bytes: usize) -> (SessionContext, Arc<dyn MemoryPool>) {
    let pool: Arc<dyn MemoryPool> = Arc::new(GreedyMemoryPool::new(bytes));
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::clone(&pool))
        .build_arc()
        .expect("a runtime");
    let ctx = SessionContext::new_with_config_rt(SessionConfig::new(), runtime);
    prefdb_udfs::register_all(&ctx);
    (ctx, pool)
}

/// The error a query that must fail gives.
async fn refusal(ctx: &SessionContext, sql: &str) -> String {
    let result = ctx.sql(sql).await.unwrap().collect().await;
    result.expect_err("the query is refused").to_string()
}

/// A chain of `n` items, each beating the next, and the last beating the first.
fn chain(call: &str, n: usize) -> String {
    format!(
        "SELECT {call} FROM (SELECT 'm' || x AS a, 'm' || ((x + 1) % {n}) AS b \
         FROM (SELECT unnest(range(0, {n})) AS x))"
    )
}

#[tokio::test]
async fn dense_fits_are_refused_beyond_the_memory_limit_and_release_what_they_reserved() {
    let (ctx, pool) = session_with_limit(20_000_000);
    // 1,000 items: the tie model's dense Hessian and factor (16 MB) and Fisher's three
    // matrices (24 MB) need 40 MB.
    let err = refusal(
        &ctx,
        &chain("bt_rank(a, b, 'ties=davidson, se=fisher')", 1000),
    )
    .await;
    assert!(
        err.contains("Resources exhausted: bt_rank: se=fisher needs 24.0 MB more and the memory limit does not allow it"),
        "{err}"
    );
    assert_eq!(pool.reserved(), 0, "the refused fit gave its memory back");

    // The same fit without intervals fits in the limit, and gives its memory back too.
    let rows = ctx
        .sql(&chain("bt_rank(a, b, 'ties=davidson')", 1000))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(rows[0].num_rows(), 1);
    assert_eq!(pool.reserved(), 0);

    let err = refusal(
        &ctx,
        &chain("pl_rank(x % 7, a, x, 'se=fisher')", 1000)
            .replace("'m' || x AS a", "'m' || x AS a, x"),
    )
    .await;
    assert!(
        err.contains(
            "Resources exhausted: pl_rank: the fit needs 24.0 MB and the memory limit leaves"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn agreement_matrices_are_refused_beyond_the_memory_limit() {
    let (ctx, pool) = session_with_limit(10_000_000);
    // 4,000 distinct values over 2,000 items rated twice: three 4,000 × 4,000 matrices and
    // the items × values table are 448 MB.
    let err = refusal(
        &ctx,
        "SELECT krippendorff_alpha(x / 2, x % 2, x) \
             FROM (SELECT unnest(range(0, 4000)) AS x)",
    )
    .await;
    assert!(
        err.contains(
            "Resources exhausted: krippendorff_alpha: the values × values matrices needs 448.0 MB"
        ),
        "{err}"
    );
    assert_eq!(pool.reserved(), 0);
}
