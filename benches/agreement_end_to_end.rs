//! `krippendorff_alpha` over 1M ratings (100k items × 10 raters, 5 levels) in SQL. Run with
//!
//! ```text
//! cargo bench --bench agreement_end_to_end
//! python benches/python/krippendorff_baseline.py target/tmp/bench-data/ratings-1m.parquet
//! ```
//!
//! The second line times the `krippendorff` Python package on the same file.

use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

const ITEMS: i64 = 100_000;
const RATERS: i64 = 10;
const RUNS: usize = 5;

fn data_file() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-data");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ratings-1m.parquet");
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
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let path = data_file();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let ctx = prefdb::new_context();
        prefdb::register_table(&ctx, "ratings", &path.to_string_lossy())
            .await
            .unwrap();
        println!(
            "ratings: {} ({ITEMS} items × {RATERS} raters), file {}",
            ITEMS * RATERS,
            path.display()
        );
        for level in ["nominal", "ordinal", "interval", "ratio"] {
            let sql = format!(
                "SELECT krippendorff_alpha(item, rater, value, 'level={level}') FROM ratings"
            );
            let mut times = Vec::new();
            let mut value = String::new();
            for _ in 0..RUNS {
                let started = Instant::now();
                let batches = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
                times.push(started.elapsed().as_secs_f64());
                value = datafusion::arrow::util::pretty::pretty_format_columns(
                    "alpha",
                    &[batches[0].column(0).clone()],
                )
                .unwrap()
                .to_string()
                .lines()
                .nth(3)
                .unwrap_or_default()
                .to_string();
            }
            times.sort_by(f64::total_cmp);
            println!(
                "krippendorff_alpha {level:8}: median {:.3} s over {RUNS} runs {value}",
                times[RUNS / 2]
            );
        }
    });
}
