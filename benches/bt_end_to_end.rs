//! End to end: `bt_rank` over a generated Parquet arena against a plain `GROUP BY` count of
//! the same columns, in the same process. Run with
//!
//! ```text
//! cargo bench --bench bt_end_to_end            # 10M votes among 100 models
//! ```
//!
//! It also times LMArena's leaderboard: `prior=0` with and without `se=sandwich` (and
//! `reweight=pair`); `benches/python/arena_rank_sandwich.py` times arena-rank on the same
//! file.
//!
//! ```text
//! PREFDB_BENCH_VOTES=1000000 cargo bench --bench bt_end_to_end
//! ```
//!
//! The arena is written once to the target directory and reused.

mod common;

const RUNS: usize = 5;
/// Runs of each LMArena variant, taken in turns.
const LMARENA_RUNS: usize = 15;

/// Peak resident memory of this process so far (Linux `VmHWM`), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    if !common::is_bench_run() {
        return;
    }
    let votes: u64 = std::env::var("PREFDB_BENCH_VOTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let path = common::arena_file(votes);
    let runtime = common::runtime();
    runtime.block_on(async {
        let ctx = prefdb::new_context();
        prefdb::register_table(&ctx, "votes", &path.to_string_lossy())
            .await
            .unwrap();
        let (group_by, _) = common::median_run(
            &ctx,
            "SELECT model_a, model_b, winner, count(*) FROM votes GROUP BY 1, 2, 3",
            RUNS,
        )
        .await;
        let rss_after_group_by = peak_rss_mib();
        let (bt, _) = common::median_run(
            &ctx,
            "SELECT bt_rank(model_a, model_b, winner) FROM votes",
            RUNS,
        )
        .await;
        let rss_after_bt = peak_rss_mib();
        // LMArena's leaderboard: the MLE, with Fisher and sandwich intervals, plain and
        // reweighted. The variants take turns, run after run, so that the machine's drift
        // (large on a small shared machine) falls on all of them alike.
        let variants = [
            "prior=0",
            "prior=0, se=fisher",
            "prior=0, se=sandwich",
            "prior=0, se=sandwich, reweight=pair",
        ];
        let mut times = vec![Vec::new(); variants.len()];
        for _ in 0..LMARENA_RUNS {
            for (options, t) in variants.iter().zip(&mut times) {
                let sql =
                    format!("SELECT bt_rank(model_a, model_b, winner, '{options}') FROM votes");
                t.push(common::median_run(&ctx, &sql, 1).await.0);
            }
        }
        let lmarena: Vec<(&str, f64)> = variants
            .iter()
            .zip(times)
            .map(|(o, mut t)| {
                t.sort_by(f64::total_cmp);
                (*o, t[t.len() / 2])
            })
            .collect();
        println!(
            "votes: {votes}, models: 100, threads: {}",
            ctx.state().config().target_partitions()
        );
        println!("GROUP BY count: median {:.3} s over {RUNS} runs", group_by);
        println!("bt_rank:        median {:.3} s over {RUNS} runs", bt);
        println!("ratio bt_rank / GROUP BY: {:.2}", bt / group_by);
        for (options, t) in &lmarena {
            println!(
                "bt_rank '{options}': median {t:.3} s over {LMARENA_RUNS} runs ({:.3}x 'prior=0')",
                t / lmarena[0].1
            );
        }
        if let (Some(a), Some(b)) = (rss_after_group_by, rss_after_bt) {
            println!("peak RSS after GROUP BY runs: {a:.0} MiB; after bt_rank runs: {b:.0} MiB");
        }
    });
}
