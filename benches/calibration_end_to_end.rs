//! `ece`, `auroc` and `kendall_tau` over 10M rows in SQL. Run with
//!
//! ```text
//! cargo bench --bench calibration_end_to_end
//! python benches/python/calibration_baseline.py target/tmp/bench-data/scores-10m.parquet
//! ```
//!
//! The second line times scikit-learn, SciPy and a NumPy ECE on the same file.

use datafusion::arrow::array::{ArrayRef, AsArray, BooleanArray, Float64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Schema};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::PathBuf;
use std::sync::Arc;

mod common;

const ROWS: usize = 10_000_000;
const BATCH: usize = 1 << 20;

fn data_file() -> PathBuf {
    let path = common::data_dir().join("scores-10m.parquet");
    if path.exists() {
        return path;
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("prob", DataType::Float64, false),
        Field::new("label", DataType::Boolean, false),
        Field::new("x", DataType::Float64, false),
        Field::new("y", DataType::Float64, false),
    ]));
    let file = std::fs::File::create(&path).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema.clone(), None).unwrap();
    let mut rng = StdRng::seed_from_u64(3);
    let mut done = 0;
    while done < ROWS {
        let n = BATCH.min(ROWS - done);
        let prob: Vec<f64> = (0..n).map(|_| rng.random::<f64>()).collect();
        let label: Vec<bool> = prob
            .iter()
            .map(|&p| rng.random::<f64>() < p.powf(1.2))
            .collect();
        let x: Vec<f64> = (0..n).map(|_| rng.random::<f64>()).collect();
        let y: Vec<f64> = x.iter().map(|&v| v + rng.random::<f64>() * 0.5).collect();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Float64Array::from(prob)),
            Arc::new(BooleanArray::from(label)),
            Arc::new(Float64Array::from(x)),
            Arc::new(Float64Array::from(y)),
        ];
        writer
            .write(&RecordBatch::try_new(schema.clone(), columns).unwrap())
            .unwrap();
        done += n;
    }
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
        prefdb::register_table(&ctx, "scores", &path.to_string_lossy())
            .await
            .unwrap();
        println!("rows: {ROWS}, file {}", path.display());
        for (name, sql) in [
            (
                "ece (15 uniform bins)",
                "SELECT ece(prob, label) FROM scores",
            ),
            ("auroc", "SELECT auroc(prob, label) FROM scores"),
            ("kendall_tau", "SELECT kendall_tau(x, y) FROM scores"),
        ] {
            let (median, batches) = common::median_run(&ctx, sql, 3).await;
            let value = batches[0].column(0).as_primitive::<Float64Type>().value(0);
            println!("{name:22}: median {median:.3} s over 3 runs, value {value:.12}");
        }
    });
}
