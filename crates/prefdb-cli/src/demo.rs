//! `prefdb demo`: the embedded default. Generates an arena in a temporary directory, runs the
//! README's leaderboard queries on it and prints each leaderboard beside the true ratings the
//! votes were drawn from, with sandwich and bootstrap intervals and rank ranges, and ends by
//! writing the arena report.

use datafusion::common::{DataFusionError, Result};
use datafusion::prelude::SessionContext;
use prefdb::arena::{self, ArenaSpec};
use std::time::Instant;

pub const OVERALL: &str = "\
SELECT l.rank, l.item AS model, round(l.rating, 1) AS rating,
       round(l.ci_lower, 1) AS ci_lower, round(l.ci_upper, 1) AS ci_upper,
       l.rank_lower || '-' || l.rank_upper AS rank_range,
       round(t.true_rating, 1) AS true_rating, l.battles
FROM leaderboard('SELECT bt_rank(model_a, model_b, winner, ''se=sandwich'') FROM votes') AS l
JOIN truth AS t ON t.model = l.item
ORDER BY l.rank";

pub const PER_CATEGORY: &str = "\
SELECT l.category, l.rank, l.item AS model, round(l.rating, 1) AS rating,
       round(l.ci_lower, 1) AS ci_lower, round(l.ci_upper, 1) AS ci_upper,
       l.rank_lower || '-' || l.rank_upper AS rank_range,
       round(t.true_rating, 1) AS true_rating
FROM leaderboard('SELECT category, bt_rank(model_a, model_b, winner, ''bootstrap=200, seed=1'') FROM votes GROUP BY category') AS l
JOIN truth_by_category AS t ON t.category = l.category AND t.model = l.item
WHERE l.rank <= 3
ORDER BY l.category, l.rank";

pub const AGREEMENT: &str = "\
SELECT l.category, round(corr(l.rating, t.true_rating), 4) AS pearson_r_with_truth
FROM leaderboard('SELECT category, bt_rank(model_a, model_b, winner) FROM votes GROUP BY category') AS l
JOIN truth_by_category AS t ON t.category = l.category AND t.model = l.item
GROUP BY l.category
ORDER BY l.category";

pub const WIN_MATRIX: &str = "\
SELECT item_a, item_b, wins, losses, ties, round(win_rate, 3) AS win_rate
FROM leaderboard('SELECT win_matrix(model_a, model_b, winner) FROM votes')
WHERE item_a IN ('model-000', 'model-001', 'model-002')
  AND item_b IN ('model-000', 'model-001', 'model-002')";

async fn show(ctx: &SessionContext, title: &str, sql: &str) -> Result<()> {
    println!("\n== {title}\n{sql};\n");
    let started = Instant::now();
    let batches = ctx.sql(sql).await?.collect().await?;
    println!(
        "{}",
        arrow::util::pretty::pretty_format_batches_with_options(
            &batches,
            &prefdb::display_options()
        )?
    );
    println!("({:.0} ms)", started.elapsed().as_secs_f64() * 1000.0);
    Ok(())
}

pub async fn run(spec: ArenaSpec) -> Result<()> {
    let dir = tempfile::tempdir().map_err(|e| {
        DataFusionError::Execution(format!("cannot create a temporary directory: {e}"))
    })?;
    let path = dir.path().join("votes.parquet");
    println!(
        "prefdb demo: {} synthetic arena votes among {} models (seed {}), written to {}",
        spec.votes,
        spec.models,
        spec.seed,
        path.display()
    );
    println!(
        "true_rating is the rating each model's votes were drawn from; rating is what bt_rank recovers."
    );
    let started = Instant::now();
    let truth = arena::write_parquet(spec, &path, |_| {})?;
    println!(
        "generated in {:.0} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );

    let ctx = prefdb::new_context();
    let location = path.to_string_lossy();
    prefdb::register_table(&ctx, "votes", &location).await?;
    arena::register_truth_tables(&ctx, &truth)?;

    show(&ctx, "Overall leaderboard (bt_rank, flat rows)", OVERALL).await?;
    show(&ctx, "Top 3 per category (GROUP BY category)", PER_CATEGORY).await?;
    show(
        &ctx,
        "How close each category's leaderboard is to the truth",
        AGREEMENT,
    )
    .await?;
    show(&ctx, "Head to head (win_matrix)", WIN_MATRIX).await?;
    println!(
        "\nTry your own: prefdb sql \"SELECT * FROM leaderboard('SELECT bt_rank(model_a, model_b, winner) FROM votes')\" --table votes=votes.parquet"
    );
    // The arena report, outside the temporary directory so that it outlives the demo.
    let report_path = std::env::temp_dir().join("prefdb-demo-report.html");
    let mut report = crate::report::Report::new(&ctx, "votes", crate::report::Columns::default());
    report.arena().await.map_err(DataFusionError::Execution)?;
    std::fs::write(&report_path, report.html(crate::report::Kind::Arena)).map_err(|e| {
        DataFusionError::Execution(format!("cannot write '{}': {e}", report_path.display()))
    })?;
    println!(
        "\nThe arena report (leaderboard with intervals, win rates, rating over time, ranks per category): {}",
        report_path.display()
    );
    Ok(())
}
