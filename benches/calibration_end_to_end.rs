//! `ece`, `auroc` and `kendall_tau` over 10M rows in SQL. Run with
//!
//! ```text
//! cargo bench --bench calibration_end_to_end
//! python benches/python/calibration_baseline.py target/tmp/bench-data/scores-10m.parquet
//! ```
//!
//! The second line times scikit-learn, SciPy and a NumPy ECE on the same file.

use datafusion::arrow::array::{ArrayRef, BooleanArray, Float64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

const ROWS: usize = 10_000_000;
const BATCH: usize = 1 << 20;

fn data_file() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-data");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("scores-10m.parquet");
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
            let mut times = Vec::new();
            let mut value = 0.0;
            for _ in 0..3 {
                let started = Instant::now();
                let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
                times.push(started.elapsed().as_secs_f64());
                value = batches[0]
                    .column(0)
                    .as_any()
                    .downcast_ref::<Float64Array>()
                    .unwrap()
                    .value(0);
            }
            times.sort_by(f64::total_cmp);
            println!(
                "{name:22}: median {:.3} s over 3 runs, value {value:.12}",
                times[1]
            );
        }
    });
}
