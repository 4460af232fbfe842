//! Grouped leaderboards: `bt_rank ... GROUP BY` a category (20 values), a day (365) and a
//! prompt (100,000 groups of 100 votes), against ungrouped `bt_rank` and against the plain
//! `GROUP BY` counts of the same columns (the engine's floor), in one process. Run with
//!
//! ```text
//! cargo bench --bench bt_grouped            # 10M votes among 100 models
//! PREFDB_BENCH_VOTES=1000000 cargo bench --bench bt_grouped
//! PREFDB_BENCH_ROUNDS=9 cargo bench --bench bt_grouped   # more rounds on a noisy machine
//! PREFDB_BENCH_QUERY='SELECT day, bt_rank(model_a, model_b, winner) FROM votes GROUP BY day' \
//!     cargo bench --bench bt_grouped  # one query alone, for a profiler
//! ```
//!
//! The arena of `bt_end_to_end` gets the three grouping columns and is written once to the
//! target directory: `category` from the turn lengths, `day` and `prompt` from the row
//! number (consecutive votes share a day and a prompt).
//!
//! The six queries run in interleaved rounds (each once per round), and each ratio is taken
//! within a round, so that a machine whose speed drifts slows both sides of a ratio alike.

mod common;

use common::Ratio;

/// Interleaved rounds, unless `PREFDB_BENCH_ROUNDS` says otherwise.
const ROUNDS: usize = 5;

fn main() {
    if !common::is_bench_run() {
        return;
    }
    let votes: u64 = std::env::var("PREFDB_BENCH_VOTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let runtime = common::runtime();
    runtime.block_on(async {
        let path = common::data_dir().join(format!("arena-grouped-{votes}.parquet"));
        if !path.exists() {
            let arena = common::arena_file(votes);
            let ctx = prefdb::new_context();
            prefdb::register_table(&ctx, "arena", &arena.to_string_lossy())
                .await
                .unwrap();
            let partial = path.with_extension("partial.parquet");
            let copy = format!(
                "COPY (SELECT model_a, model_b, winner, \
                   'c' || CAST((turn_len_a * 31 + turn_len_b) % 20 AS VARCHAR) AS category, \
                   CAST((rn - 1) * 365 / {votes} AS BIGINT) AS day, \
                   CAST((rn - 1) / 100 AS BIGINT) AS prompt \
                 FROM (SELECT *, row_number() OVER () AS rn FROM arena)) \
                 TO '{}' STORED AS PARQUET",
                partial.display()
            );
            ctx.sql(&copy).await.unwrap().collect().await.unwrap();
            std::fs::rename(&partial, &path).unwrap();
        }
        let ctx = prefdb::new_context();
        prefdb::register_table(&ctx, "votes", &path.to_string_lossy())
            .await
            .unwrap();
        // For profiling one query: `PREFDB_BENCH_QUERY='SELECT ...' cargo bench --bench
        // bt_grouped`, after the statements of PREFDB_BENCH_SETUP, PREFDB_BENCH_RUNS times.
        common::run_setup(&ctx).await;
        if let Ok(sql) = std::env::var("PREFDB_BENCH_QUERY") {
            let runs = common::runs_from_env(5);
            let (seconds, _) = common::median_run(&ctx, &sql, runs).await;
            println!("{sql}: {seconds:.3} s (median of {runs})");
            return;
        }
        let bt = "bt_rank(model_a, model_b, winner)";
        let queries = [
            "SELECT model_a, model_b, winner, count(*) FROM votes GROUP BY 1, 2, 3".to_string(),
            format!("SELECT {bt} FROM votes"),
            format!("SELECT category, {bt} FROM votes GROUP BY category"),
            format!("SELECT day, {bt} FROM votes GROUP BY day"),
            "SELECT prompt, model_a, model_b, winner, count(*) FROM votes GROUP BY 1, 2, 3, 4".into(),
            format!("SELECT prompt, {bt} FROM votes GROUP BY prompt"),
        ];
        // One untimed round: the first queries in a process also grow the allocator's heap.
        common::interleaved(&ctx, &queries, 1).await;
        let rounds = common::rounds(ROUNDS);
        let t = common::interleaved(&ctx, &queries, rounds).await;
        let [floor, ungrouped, category, day, prompt_floor, prompt] = [0, 1, 2, 3, 4, 5].map(|q| &t[q]);
        let m = common::median;
        println!(
            "votes: {votes}, models: 100, threads: {}, {rounds} interleaved rounds: median times, and ratios taken round by round",
            ctx.state().config().target_partitions()
        );
        println!("GROUP BY model_a, model_b, winner count:  {:.3} s", m(floor));
        println!("bt_rank ungrouped:                        {:.3} s  {} the count; target <= 1.3", m(ungrouped), Ratio::of(ungrouped, floor));
        println!("bt_rank GROUP BY category (20):           {:.3} s  {} ungrouped; target <= 1.5", m(category), Ratio::of(category, ungrouped));
        println!("bt_rank GROUP BY day (365):               {:.3} s  {} ungrouped; target <= 2", m(day), Ratio::of(day, ungrouped));
        println!("GROUP BY prompt, model_a, model_b, winner: {:.3} s", m(prompt_floor));
        println!("bt_rank GROUP BY prompt (100,000):        {:.3} s  {} its count; target <= 2", m(prompt), Ratio::of(prompt, prompt_floor));
    });
}
