//! What the end-to-end benchmarks share: where generated data lives, the runtime, and a
//! median timing of a SQL statement.

use datafusion::arrow::array::RecordBatch;
use datafusion::prelude::SessionContext;
use std::path::PathBuf;
use std::time::Instant;

/// The allocator the `prefdb` binary ships with, set up as it sets it up, so that every
/// end-to-end figure is what its users see. The system allocator returns freed memory to the
/// kernel and faults it back in: with it a query that builds large partial states spends a
/// fifth of its time in the kernel.
#[path = "../../crates/prefdb-cli/src/allocator.rs"]
#[allow(dead_code, unused_imports)] // its tests run with the binary's
mod allocator;

/// `cargo test --benches` also runs bench targets; only a real `cargo bench` run, which
/// passes `--bench`, does the work.
pub fn is_bench_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// The directory for generated benchmark data, inside the target directory.
pub fn data_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-data");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The runtime for a benchmark; first, while the process has one thread, the allocator is
/// set up as the binary sets it up.
pub fn runtime() -> tokio::runtime::Runtime {
    allocator::purge_whole_huge_pages();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Runs the statements of `PREFDB_BENCH_SETUP`, separated by ';', untimed (for example a
/// `CREATE TABLE ... AS SELECT` that holds a file in memory, or casts its columns).
#[allow(dead_code)]
pub async fn run_setup(ctx: &SessionContext) {
    if let Ok(setup) = std::env::var("PREFDB_BENCH_SETUP") {
        for statement in setup.split(';').filter(|s| !s.trim().is_empty()) {
            ctx.sql(statement).await.unwrap().collect().await.unwrap();
        }
    }
}

/// How many runs a `PREFDB_BENCH_QUERY` is timed over: `PREFDB_BENCH_RUNS`, else `default`.
#[allow(dead_code)]
pub fn runs_from_env(default: usize) -> usize {
    std::env::var("PREFDB_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .filter(|&r| r > 0)
        .unwrap_or(default)
}

/// Run `sql` `runs` times; the median wall time in seconds and the last result.
pub async fn median_run(ctx: &SessionContext, sql: &str, runs: usize) -> (f64, Vec<RecordBatch>) {
    let mut times = Vec::with_capacity(runs);
    let mut last = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        last = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        times.push(started.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    (times[runs / 2], last)
}

/// Runs each of `queries` once per round, in order, for `rounds` rounds, so that a noisy
/// machine slows all of them alike; the wall times in seconds, `times[query][round]`. Ratios
/// between queries are then read round by round ([`Ratio::of`]).
#[allow(dead_code)]
pub async fn interleaved(ctx: &SessionContext, queries: &[String], rounds: usize) -> Vec<Vec<f64>> {
    let mut times = vec![Vec::with_capacity(rounds); queries.len()];
    for _ in 0..rounds {
        for (sql, times) in queries.iter().zip(&mut times) {
            let started = Instant::now();
            ctx.sql(sql).await.unwrap().collect().await.unwrap();
            times.push(started.elapsed().as_secs_f64());
        }
    }
    times
}

/// The median of `values` (the upper one of an even count).
#[allow(dead_code)]
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// The ratio of two interleaved queries' times, taken round by round: median and range.
#[allow(dead_code)]
pub struct Ratio {
    pub median: f64,
    pub low: f64,
    pub high: f64,
}

#[allow(dead_code)]
impl Ratio {
    pub fn of(times: &[f64], base: &[f64]) -> Ratio {
        let ratios: Vec<f64> = times.iter().zip(base).map(|(t, b)| t / b).collect();
        Ratio {
            median: median(&ratios),
            low: ratios.iter().copied().fold(f64::INFINITY, f64::min),
            high: ratios.iter().copied().fold(0.0, f64::max),
        }
    }
}

impl std::fmt::Display for Ratio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.2}x (rounds {:.2}-{:.2})",
            self.median, self.low, self.high
        )
    }
}

/// `PREFDB_BENCH_ROUNDS`, else `default`.
#[allow(dead_code)]
pub fn rounds(default: usize) -> usize {
    std::env::var("PREFDB_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&r| r > 0)
        .unwrap_or(default)
}

/// A generated arena of `votes` votes among 100 models (seed 42), written once and reused.
#[allow(dead_code)]
pub fn arena_file(votes: u64) -> PathBuf {
    let path = data_dir().join(format!("arena-{votes}.parquet"));
    if !path.exists() {
        let started = Instant::now();
        let spec = prefdb::arena::ArenaSpec {
            votes,
            models: 100,
            seed: 42,
            tie_rate: 0.2,
        };
        let partial = path.with_extension("partial");
        prefdb::arena::write_parquet(spec, &partial, |_| {}).unwrap();
        std::fs::rename(&partial, &path).unwrap();
        eprintln!(
            "generated {votes} votes in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    path
}
