//! Load on `prefdb serve`: 32 concurrent clients run mixed leaderboard and GROUP BY
//! queries for 30 seconds (PREFDB_LOAD_SECS to change) against the demo arena (100,000
//! votes, 20 models — what `prefdb serve` serves with no tables). Every answer is checked
//! against the embedded result; any error or dropped connection fails the run. Prints
//! queries per second and p50/p99 latency per query kind.
//!
//! cargo bench --bench pg_load

use datafusion::arrow::util::display::array_value_to_string;
use datafusion::prelude::SessionContext;
use prefdb::arena::{self, ArenaSpec};
use prefdb::server::{ServeOptions, Server};
use std::time::{Duration, Instant};
use tokio_postgres::NoTls;

const CLIENTS: usize = 32;
const LEADERBOARD: &str = "SELECT rank, item, rating FROM leaderboard('SELECT bt_rank(model_a, model_b, winner) FROM votes') ORDER BY rank, item";
const GROUP_BY: &str = "SELECT category, count(*) AS n, avg(turn_len_a) AS len FROM votes GROUP BY category ORDER BY category";

fn context() -> SessionContext {
    let ctx = prefdb::new_context_with(&prefdb::ContextOptions::default()).unwrap();
    arena::register_demo_tables(&ctx, ArenaSpec::default()).unwrap();
    ctx
}

async fn expected(sql: &str) -> Vec<Vec<String>> {
    let batches = context().sql(sql).await.unwrap().collect().await.unwrap();
    let mut rows = Vec::new();
    for b in &batches {
        for i in 0..b.num_rows() {
            rows.push(
                b.columns()
                    .iter()
                    .map(|c| array_value_to_string(c, i).unwrap())
                    .collect(),
            );
        }
    }
    rows
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn main() {
    let secs: u64 = std::env::var("PREFDB_LOAD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let want_lb = expected(LEADERBOARD).await;
        let want_gb = expected(GROUP_BY).await;
        let options = ServeOptions {
            listen: "127.0.0.1:0".into(),
            ..Default::default()
        };
        let server = Server::bind(context(), &options).await.unwrap();
        let port = server.local_addr().port();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        let deadline = Instant::now() + Duration::from_secs(secs);
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for c in 0..CLIENTS {
            let (want_lb, want_gb) = (want_lb.clone(), want_gb.clone());
            tasks.spawn(async move {
                let url = format!("host=127.0.0.1 port={port} user=prefdb dbname=prefdb");
                let (client, conn) = tokio_postgres::connect(&url, NoTls).await.unwrap();
                tokio::spawn(conn);
                let (mut lb, mut gb) = (Vec::new(), Vec::new());
                let mut k = c;
                while Instant::now() < deadline {
                    let sql = if k % 2 == 0 { LEADERBOARD } else { GROUP_BY };
                    let t = Instant::now();
                    let messages = client.simple_query(sql).await.expect("query succeeds");
                    let elapsed = t.elapsed();
                    let rows: Vec<Vec<String>> = messages
                        .iter()
                        .filter_map(|m| match m {
                            tokio_postgres::SimpleQueryMessage::Row(r) => Some(
                                (0..r.len()).map(|i| r.get(i).unwrap_or("").to_string()).collect(),
                            ),
                            _ => None,
                        })
                        .collect();
                    let want = if k % 2 == 0 { &want_lb } else { &want_gb };
                    assert_eq!(rows.len(), want.len());
                    for (g, w) in rows.iter().zip(want) {
                        assert_eq!(g[0], w[0]);
                        assert_eq!(g[1], w[1]);
                        let (gv, wv): (f64, f64) = (g[2].parse().unwrap(), w[2].parse().unwrap());
                        assert!((gv - wv).abs() <= 1e-9 * wv.abs().max(1.0));
                    }
                    if k % 2 == 0 { lb.push(elapsed) } else { gb.push(elapsed) }
                    k += 1;
                }
                (lb, gb)
            });
        }
        let (mut lb, mut gb) = (Vec::new(), Vec::new());
        while let Some(r) = tasks.join_next().await {
            let (a, b) = r.expect("client task");
            lb.extend(a);
            gb.extend(b);
        }
        let wall = started.elapsed().as_secs_f64();
        let _ = stop.send(());
        serving.await.unwrap().unwrap();
        lb.sort();
        gb.sort();
        let mut all: Vec<Duration> = lb.iter().chain(&gb).copied().collect();
        all.sort();
        println!("pg_load: {CLIENTS} clients, {wall:.1} s, {} queries, {:.0} queries/s, no errors, no dropped connections", all.len(), all.len() as f64 / wall);
        for (name, v) in [("leaderboard (bt_rank, 100k votes)", &lb), ("GROUP BY category", &gb), ("all", &all)] {
            println!("  {name:<36} n={:>6}  p50 {:>7.1} ms  p99 {:>7.1} ms", v.len(), percentile(v, 0.5), percentile(v, 0.99));
        }
    });
}
