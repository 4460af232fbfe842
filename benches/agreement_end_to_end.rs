//! `krippendorff_alpha` over 1M ratings (100k items × 10 raters, 5 levels) in SQL. Run with
//!
//! ```text
//! cargo bench --bench agreement_end_to_end
//! python benches/python/krippendorff_baseline.py target/tmp/bench-data/ratings-1m.parquet
//! ```
//!
//! The second line times the `krippendorff` Python package on the same file.

use datafusion::arrow::array::{ArrayRef, AsArray, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Schema};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::PathBuf;
use std::sync::Arc;

mod common;

use common::Ratio;

const ITEMS: i64 = 100_000;
const RATERS: i64 = 10;
const RUNS: usize = 5;

fn data_file() -> PathBuf {
    let path = common::data_dir().join("ratings-1m.parquet");
    if path.exists() {
        return path;
    }
    let mut rng = StdRng::seed_from_u64(5);
    let (mut items, mut raters, mut values) = (Vec::new(), Vec::new(), Vec::new());
    for item in 0..ITEMS {
        let truth = rng.random_range(1..=5);
        for rater in 0..RATERS {
            items.push(item);
            raters.push(rater);
            values.push(if rng.random_bool(0.6) {
                truth
            } else {
                rng.random_range(1..=5)
            });
        }
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("item", DataType::Int64, false),
        Field::new("rater", DataType::Int64, false),
        Field::new("value", DataType::Int64, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(items)),
        Arc::new(Int64Array::from(raters)),
        Arc::new(Int64Array::from(values)),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let file = std::fs::File::create(&path).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    path
}

fn main() {
    if !common::is_bench_run() {
        return;
    }
    let path = data_file();
    let runtime = common::runtime();
    runtime.block_on(async {
        let ctx = prefdb::new_context();
        prefdb::register_table(&ctx, "ratings", &path.to_string_lossy())
            .await
            .unwrap();
        // For profiling one query: `PREFDB_BENCH_QUERY='SELECT ...' cargo bench --bench ...`.
        if let Ok(sql) = std::env::var("PREFDB_BENCH_QUERY") {
            let (seconds, last) = common::median_run(&ctx, &sql, 25).await;
            println!("{sql}: {seconds:.3} s (median of 25)");
            if sql.to_uppercase().starts_with("EXPLAIN") {
                let shown = datafusion::arrow::util::pretty::pretty_format_batches(&last);
                println!("{}", shown.unwrap());
            }
            return;
        }
        println!(
            "ratings: {} ({ITEMS} items × {RATERS} raters), file {}",
            ITEMS * RATERS,
            path.display()
        );
        // Three untimed queries first: the first queries in a process also pay for growing
        // the allocator's heap (fresh pages) and starting the runtime's threads.
        for _ in 0..3 {
            ctx.sql("SELECT krippendorff_alpha(item, rater, value) FROM ratings")
                .await
                .unwrap()
                .collect()
                .await
                .unwrap();
        }
        for level in ["nominal", "ordinal", "interval", "ratio"] {
            let sql = format!(
                "SELECT krippendorff_alpha(item, rater, value, 'level={level}') FROM ratings"
            );
            let (median, batches) = common::median_run(&ctx, &sql, RUNS).await;
            let alpha = batches[0].column(0).as_primitive::<Float64Type>().value(0);
            println!("krippendorff_alpha {level:8}: median {median:.3} s over {RUNS} runs, alpha {alpha:.12}");
        }
        // The other long-form coefficients, on the general path (items grouped and sorted).
        for call in [
            "percent_agreement(item, rater, value)",
            "fleiss_kappa(item, value)",
            "gwet_ac1(item, rater, value)",
            "gwet_ac2(item, rater, value, 'weights=quadratic')",
        ] {
            let sql = format!("SELECT {call} FROM ratings");
            let (median, _) = common::median_run(&ctx, &sql, RUNS).await;
            println!("{call}: median {median:.3} s over {RUNS} runs");
        }
        // The unit-resampling bootstrap interval.
        let sql = "SELECT krippendorff_alpha_ci(item, rater, value, 'bootstrap=1000, seed=1') FROM ratings";
        let (median, _) = common::median_run(&ctx, sql, 3).await;
        println!("krippendorff_alpha_ci bootstrap=1000: median {median:.3} s over 3 runs");
        // GROUP BY: the same ratings split into 10 and into 1000 groups of items, against
        // the ungrouped query and the engine's own cost of the grouping (count with the same
        // GROUP BY), in interleaved rounds with ratios taken round by round.
        let grouped = |groups: usize| {
            format!("SELECT item % {groups} AS g, krippendorff_alpha(item, rater, value) FROM ratings GROUP BY item % {groups}")
        };
        let count = |groups: usize| {
            format!("SELECT item % {groups} AS g, count(value) FROM ratings GROUP BY item % {groups}")
        };
        let queries = [
            "SELECT krippendorff_alpha(item, rater, value) FROM ratings".to_string(),
            grouped(10),
            count(10),
            grouped(1000),
            count(1000),
        ];
        let rounds = common::rounds(15);
        let t = common::interleaved(&ctx, &queries, rounds).await;
        let m = common::median;
        println!("{rounds} interleaved rounds: ungrouped krippendorff_alpha {:.3} s", m(&t[0]));
        for (groups, q) in [(10, 1), (1000, 3)] {
            println!(
                "krippendorff_alpha GROUP BY {groups:4} groups: {:.3} s, {} ungrouped (target <= 1.5); count(value) with the same GROUP BY {:.3} s",
                m(&t[q]),
                Ratio::of(&t[q], &t[0]),
                m(&t[q + 1])
            );
        }
    });
}
