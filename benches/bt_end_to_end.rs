//! End to end: `bt_rank` over a generated Parquet arena against a plain `GROUP BY` count of
//! the same columns, in the same process. Run with
//!
//! ```text
//! cargo bench --bench bt_end_to_end            # 10M votes among 100 models
//! PREFDB_BENCH_VOTES=1000000 cargo bench --bench bt_end_to_end
//! ```
//!
//! The arena is written once to the target directory and reused.

use datafusion::prelude::SessionContext;
use prefdb::arena::{self, ArenaSpec};
use std::path::PathBuf;
use std::time::Instant;

const RUNS: usize = 5;

fn data_file(votes: u64) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-data");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("arena-{votes}.parquet"));
    if !path.exists() {
        let started = Instant::now();
        let spec = ArenaSpec {
            votes,
            models: 100,
            seed: 42,
            tie_rate: 0.2,
        };
        let partial = path.with_extension("partial");
        arena::write_parquet(spec, &partial, |_| {}).unwrap();
        std::fs::rename(&partial, &path).unwrap();
        eprintln!(
            "generated {votes} votes in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    path
}

async fn median_seconds(ctx: &SessionContext, sql: &str) -> f64 {
    let mut times = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        assert!(!batches.is_empty());
        times.push(started.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    times[RUNS / 2]
}

/// Peak resident memory of this process so far (Linux `VmHWM`), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    // `cargo test --benches` runs bench targets with --test/--bench flags; only a real
    // `cargo bench` run (which passes --bench) does the work.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let votes: u64 = std::env::var("PREFDB_BENCH_VOTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let path = data_file(votes);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let ctx = prefdb::new_context();
        prefdb::register_table(&ctx, "votes", &path.to_string_lossy())
            .await
            .unwrap();
        let group_by = median_seconds(
            &ctx,
            "SELECT model_a, model_b, winner, count(*) FROM votes GROUP BY 1, 2, 3",
        )
        .await;
        let rss_after_group_by = peak_rss_mib();
        let bt = median_seconds(&ctx, "SELECT bt_rank(model_a, model_b, winner) FROM votes").await;
        let rss_after_bt = peak_rss_mib();
        println!(
            "votes: {votes}, models: 100, threads: {}",
            ctx.state().config().target_partitions()
        );
        println!("GROUP BY count: median {:.3} s over {RUNS} runs", group_by);
        println!("bt_rank:        median {:.3} s over {RUNS} runs", bt);
        println!("ratio bt_rank / GROUP BY: {:.2}", bt / group_by);
        if let (Some(a), Some(b)) = (rss_after_group_by, rss_after_bt) {
            println!("peak RSS after GROUP BY runs: {a:.0} MiB; after bt_rank runs: {b:.0} MiB");
        }
    });
}
