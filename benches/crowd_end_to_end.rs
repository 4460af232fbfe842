//! The crowd-label functions over 1M labels (100k tasks × 10 workers, 5 classes),
//! `noisy_bt` over 1M comparisons (100 items, 1,000 workers) and `label_issues` over 1M rows ×
//! 10 classes, in SQL. Run with
//!
//! ```text
//! cargo bench --bench crowd_end_to_end
//! ~/.cache/prefdb/crowd-venv/bin/python benches/python/crowd_kit_baseline.py target/tmp/bench-data/crowd-1m.parquet
//! ~/.cache/prefdb/cleanlab-venv/bin/python benches/python/cleanlab_baseline.py target/tmp/bench-data/predictions-1m.parquet
//! ~/.cache/prefdb/noisybt-venv/bin/python benches/python/noisy_bt_baseline.py target/tmp/bench-data/comparisons-1m.parquet
//! ```
//!
//! The last three lines time crowd-kit and cleanlab on the same files, already in memory. So
//! that the two sides start alike, `label_issues` and the faster consensus methods are also
//! timed on in-memory copies of the files (`predictions_in_memory`, `labels_in_memory`,
//! read before any timing and spread over the session's partitions as the Python package's
//! `register` spreads a frame: `prefdb::tables::memory_table`). A `CREATE TABLE ... AS
//! SELECT` would keep the scan's partitioning, and each file is one row group: one partition.

use datafusion::arrow::array::{
    Array, ArrayRef, Float64Builder, Int64Array, ListBuilder, RecordBatch,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod common;

const TASKS: i64 = 100_000;
const WORKERS: i64 = 10;
const CLASSES: i64 = 5;
const ROWS: i64 = 1_000_000;
const PROBS: usize = 10;
const RUNS: usize = 3;

fn write(path: &Path, schema: Arc<Schema>, columns: Vec<ArrayRef>) {
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

/// 1M labels: each worker right with its own probability from 0.3 to 0.9, otherwise a
/// uniform label.
fn crowd_file() -> PathBuf {
    let path = common::data_dir().join("crowd-1m.parquet");
    if path.exists() {
        return path;
    }
    let mut rng = StdRng::seed_from_u64(18);
    let accuracy: Vec<f64> = (0..WORKERS)
        .map(|w| 0.3 + 0.6 * w as f64 / (WORKERS - 1) as f64)
        .collect();
    let (mut tasks, mut workers, mut labels) = (Vec::new(), Vec::new(), Vec::new());
    for task in 0..TASKS {
        let truth = rng.random_range(0..CLASSES);
        for worker in 0..WORKERS {
            tasks.push(task);
            workers.push(worker);
            labels.push(if rng.random_bool(accuracy[worker as usize]) {
                truth
            } else {
                rng.random_range(0..CLASSES)
            });
        }
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("task", DataType::Int64, false),
        Field::new("worker", DataType::Int64, false),
        Field::new("label", DataType::Int64, false),
    ]));
    write(
        &path,
        schema,
        vec![
            Arc::new(Int64Array::from(tasks)),
            Arc::new(Int64Array::from(workers)),
            Arc::new(Int64Array::from(labels)),
        ],
    );
    path
}

/// 1M predictions over 10 classes: a softmax of noisy logits favouring the true class, and
/// 10% of given labels flipped to another class.
fn predictions_file() -> PathBuf {
    let path = common::data_dir().join("predictions-1m.parquet");
    if path.exists() {
        return path;
    }
    let mut rng = StdRng::seed_from_u64(19);
    let mut given = Vec::new();
    let mut probs = ListBuilder::new(Float64Builder::new());
    for _ in 0..ROWS {
        let truth = rng.random_range(0..PROBS);
        let logits: Vec<f64> = (0..PROBS)
            .map(|k| if k == truth { 2.0 } else { 0.0 } + 1.5 * (rng.random::<f64>() - 0.5) * 2.0)
            .collect();
        let max = logits.iter().cloned().fold(f64::MIN, f64::max);
        let total: f64 = logits.iter().map(|l| (l - max).exp()).sum();
        for l in &logits {
            probs.values().append_value((l - max).exp() / total);
        }
        probs.append(true);
        given.push(if rng.random_bool(0.1) {
            ((truth + rng.random_range(1..PROBS)) % PROBS) as i64
        } else {
            truth as i64
        });
    }
    let probs = probs.finish();
    let schema = Arc::new(Schema::new(vec![
        Field::new("row_id", DataType::Int64, false),
        Field::new("given_label", DataType::Int64, false),
        Field::new("probs", probs.data_type().clone(), true),
    ]));
    write(
        &path,
        schema,
        vec![
            Arc::new(Int64Array::from_iter_values(0..ROWS)),
            Arc::new(Int64Array::from(given)),
            Arc::new(probs),
        ],
    );
    path
}

const ITEMS: i64 = 100;
const RATERS: i64 = 1_000;

/// 1M comparisons drawn from the NoisyBT model: item strengths N(0, 1.5²), each worker's
/// skill logit N(1.5, 1) and bias logit N(0, 0.7²), a uniform random worker and ordered pair
/// per row.
fn comparisons_file() -> PathBuf {
    let path = common::data_dir().join("comparisons-1m.parquet");
    if path.exists() {
        return path;
    }
    let mut rng = StdRng::seed_from_u64(20);
    let normal = |rng: &mut StdRng| -> f64 {
        // Box–Muller.
        let (u, v): (f64, f64) = (rng.random::<f64>().max(1e-300), rng.random());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    };
    let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
    let strength: Vec<f64> = (0..ITEMS).map(|_| 1.5 * normal(&mut rng)).collect();
    let skill: Vec<f64> = (0..RATERS).map(|_| 1.5 + normal(&mut rng)).collect();
    let bias: Vec<f64> = (0..RATERS).map(|_| 0.7 * normal(&mut rng)).collect();
    let (mut workers, mut lefts, mut rights, mut labels) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROWS {
        let w = rng.random_range(0..RATERS);
        let a = rng.random_range(0..ITEMS);
        let b = (a + rng.random_range(1..ITEMS)) % ITEMS;
        let g = sigmoid(skill[w as usize]);
        let p = g * sigmoid(strength[a as usize] - strength[b as usize])
            + (1.0 - g) * sigmoid(bias[w as usize]);
        workers.push(w);
        lefts.push(a);
        rights.push(b);
        labels.push(if rng.random_bool(p) { a } else { b });
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("worker", DataType::Int64, false),
        Field::new("left", DataType::Int64, false),
        Field::new("right", DataType::Int64, false),
        Field::new("label", DataType::Int64, false),
    ]));
    write(
        &path,
        schema,
        vec![
            Arc::new(Int64Array::from(workers)),
            Arc::new(Int64Array::from(lefts)),
            Arc::new(Int64Array::from(rights)),
            Arc::new(Int64Array::from(labels)),
        ],
    );
    path
}

fn main() {
    if !common::is_bench_run() {
        return;
    }
    let crowd = crowd_file();
    let predictions = predictions_file();
    let comparisons = comparisons_file();
    let runtime = common::runtime();
    runtime.block_on(async {
        let ctx = prefdb::new_context();
        prefdb::register_table(&ctx, "labels", &crowd.to_string_lossy())
            .await
            .unwrap();
        prefdb::register_table(&ctx, "predictions", &predictions.to_string_lossy())
            .await
            .unwrap();
        prefdb::register_table(&ctx, "comparisons", &comparisons.to_string_lossy())
            .await
            .unwrap();
        for (copy, table) in [
            ("predictions_in_memory", "predictions"),
            ("labels_in_memory", "labels"),
        ] {
            let frame = ctx.table(table).await.unwrap();
            let schema = Arc::new(frame.schema().as_arrow().clone());
            let batches = frame.collect().await.unwrap();
            let partitions = ctx.state().config().target_partitions();
            let held = prefdb::tables::memory_table(schema, &batches, partitions).unwrap();
            ctx.register_table(copy, Arc::new(held)).unwrap();
        }
        common::run_setup(&ctx).await;
        if let Ok(sql) = std::env::var("PREFDB_BENCH_QUERY") {
            let runs = common::runs_from_env(RUNS);
            let (seconds, _) = common::median_run(&ctx, &sql, runs).await;
            println!("{sql}: {seconds:.3} s (median of {runs})");
            return;
        }
        println!(
            "comparisons: {ROWS} rows, {ITEMS} items, {RATERS} workers, file {}",
            comparisons.display()
        );
        let sql = "SELECT noisy_bt(worker, \"left\", \"right\", CAST(label = \"left\" AS DOUBLE)) FROM comparisons";
        let (median, _) = common::median_run(&ctx, sql, RUNS).await;
        println!("noisy_bt: median {median:.3} s over {RUNS} runs");
        println!(
            "predictions: {ROWS} rows × {PROBS} classes, file {}",
            predictions.display()
        );
        for options in ["", ", 'quality=normalized_margin'", ", 'filter_by=confident_learning'"] {
            let sql = format!(
                "SELECT label_issues(row_id, given_label, probs{options}) FROM predictions"
            );
            let (median, _) = common::median_run(&ctx, &sql, RUNS).await;
            let flagged = format!(
                "SELECT CAST(count(*) AS DOUBLE) FROM leaderboard('{}', 'rows') WHERE is_label_issue",
                sql.replace('\'', "''")
            );
            let (_, batches) = common::median_run(&ctx, &flagged, 1).await;
            let n = batches[0]
                .column(0)
                .as_any()
                .downcast_ref::<datafusion::arrow::array::Float64Array>()
                .unwrap()
                .value(0);
            let in_memory = sql.replace("FROM predictions", "FROM predictions_in_memory");
            let (from_memory, _) = common::median_run(&ctx, &in_memory, RUNS).await;
            println!("label_issues{options}: median {median:.3} s over {RUNS} runs ({from_memory:.3} s from memory); {n} rows flagged");
        }
        println!(
            "labels: {} ({TASKS} tasks × {WORKERS} workers, {CLASSES} classes), file {}",
            TASKS * WORKERS,
            crowd.display()
        );
        // An untimed query first: the first query in a process also grows the heap.
        ctx.sql("SELECT majority_vote(task, worker, label) FROM labels")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        for method in [
            "majority_vote",
            "wawa",
            "zero_based_skill",
            "dawid_skene",
            "one_coin",
            "glad",
            "mace",
        ] {
            let sql = format!("SELECT {method}(task, worker, label) FROM labels");
            let (median, _) = common::median_run(&ctx, &sql, RUNS).await;
            let agree = format!(
                "SELECT avg(CAST(a.label = b.label AS DOUBLE)) FROM leaderboard('SELECT {method}(task, worker, label) FROM labels', 'tasks') a JOIN leaderboard('SELECT majority_vote(task, worker, label) FROM labels', 'tasks') b USING (task)"
            );
            let (_, batches) = common::median_run(&ctx, &agree, 1).await;
            let share = batches[0]
                .column(0)
                .as_any()
                .downcast_ref::<datafusion::arrow::array::Float64Array>()
                .unwrap()
                .value(0);
            // The slow methods' time is the fit, not the read.
            let from_memory = if ["zero_based_skill", "glad", "mace"].contains(&method) {
                String::new()
            } else {
                let in_memory = sql.replace("FROM labels", "FROM labels_in_memory");
                let (seconds, _) = common::median_run(&ctx, &in_memory, RUNS).await;
                format!(" ({seconds:.3} s from memory)")
            };
            println!("{method}: median {median:.3} s over {RUNS} runs{from_memory}; agrees with the majority vote on {:.2}% of tasks", 100.0 * share);
        }
    });
}
