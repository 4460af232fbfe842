//! `bt_rank` with `bootstrap=1000` against a single fit, and `rank_compare` with the same
//! bootstrap against `bt_rank`, on a generated Parquet arena (10M votes among 100 models by
//! default). Run with
//!
//! ```text
//! cargo bench --bench bt_bootstrap
//! PREFDB_BENCH_VOTES=1000000 cargo bench --bench bt_bootstrap
//! ```

mod common;

const RUNS: usize = 5;

fn main() {
    if !common::is_bench_run() {
        return;
    }
    let votes: u64 = std::env::var("PREFDB_BENCH_VOTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let replicates: usize = std::env::var("PREFDB_BENCH_REPLICATES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let path = common::arena_file(votes);
    common::runtime().block_on(async {
        let ctx = prefdb::new_context();
        prefdb::register_table(&ctx, "votes", &path.to_string_lossy())
            .await
            .unwrap();
        let (single, _) =
            common::median_run(&ctx, "SELECT bt_rank(model_a, model_b, winner) FROM votes", RUNS)
                .await;
        let (boot, _) = common::median_run(
            &ctx,
            &format!(
                "SELECT bt_rank(model_a, model_b, winner, 'bootstrap={replicates}, seed=1') FROM votes"
            ),
            RUNS,
        )
        .await;
        println!("votes: {votes}, models: 100, replicates: {replicates}");
        println!("single fit:            {single:.3} s (median of {RUNS})");
        println!("bootstrap={replicates}:        {boot:.3} s (median of {RUNS})");
        println!("ratio:                 {:.2}", boot / single);
        // rank_compare with the same bootstrap: the same fit and replicates, then the
        // 9,900 comparisons. bt_rank and rank_compare take turns, run after run, so that the
        // machine's drift falls on both alike.
        let (mut ranked, mut compared) = (Vec::new(), Vec::new());
        for _ in 0..RUNS {
            for (function, times) in [("bt_rank", &mut ranked), ("rank_compare", &mut compared)] {
                let sql = format!(
                    "SELECT {function}(model_a, model_b, winner, 'bootstrap={replicates}, seed=1') FROM votes"
                );
                times.push(common::median_run(&ctx, &sql, 1).await.0);
            }
        }
        let median = |mut t: Vec<f64>| {
            t.sort_by(f64::total_cmp);
            t[t.len() / 2]
        };
        let (ranked, compared) = (median(ranked), median(compared));
        println!("bt_rank, bootstrap={replicates}:      {ranked:.3} s (median of {RUNS}, in turns)");
        println!("rank_compare, bootstrap={replicates}: {compared:.3} s (median of {RUNS}, in turns)");
        println!("ratio:                 {:.2}", compared / ranked);
        // The tie models refit strengths and tie parameter jointly on every replicate.
        let (tie_single, _) = common::median_run(
            &ctx,
            "SELECT bt_rank(model_a, model_b, winner, 'ties=davidson') FROM votes",
            RUNS,
        )
        .await;
        let (tie_boot, _) = common::median_run(
            &ctx,
            &format!(
                "SELECT bt_rank(model_a, model_b, winner, 'ties=davidson, bootstrap={replicates}, seed=1') FROM votes"
            ),
            RUNS,
        )
        .await;
        println!("ties=davidson single:  {tie_single:.3} s (median of {RUNS})");
        println!("ties=davidson, bootstrap={replicates}: {tie_boot:.3} s (median of {RUNS})");
        println!("ratio:                 {:.2}", tie_boot / tie_single);
    });
}
