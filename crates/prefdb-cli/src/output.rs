//! Running a statement and writing its result as a table, CSV, JSON, Parquet or an SVG figure.

use arrow::array::RecordBatch;
use clap::ValueEnum;
use datafusion::common::Result;
use datafusion::physical_plan::{ExecutionPlan, StatisticsArgs, StatisticsContext};
use datafusion::prelude::SessionContext;
use indicatif::{ProgressBar, ProgressStyle};
use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
    Parquet,
    /// A figure: a forest plot, a win-rate heatmap or a reliability diagram, by the columns.
    Svg,
}

/// Plan and run one statement, as every front end does (`prefdb::session::plan_query`). On
/// a terminal, a statement still running after a second shows the rows its scans have read,
/// against their total where the files' statistics give one.
pub async fn run_query(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>> {
    let frame = prefdb::session::plan_query(ctx, sql).await?;
    if !std::io::stderr().is_terminal() {
        return frame.collect().await;
    }
    let task = Arc::new(frame.task_ctx());
    let plan = frame.create_physical_plan().await?;
    let run = datafusion::physical_plan::collect(Arc::clone(&plan), task);
    tokio::pin!(run);
    let started = Instant::now();
    let after = progress_delay();
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let show = |bar: &mut Option<ProgressBar>| {
        let (read, total) = scanned(plan.as_ref());
        let bar = bar.get_or_insert_with(|| scan_bar(total));
        bar.set_position(read);
        bar.tick();
    };
    let mut bar: Option<ProgressBar> = None;
    // With no delay the bar is drawn before the statement starts: the first tick of the
    // interval waits for the timer driver, which a short statement can beat.
    if after.is_zero() {
        show(&mut bar);
    }
    loop {
        tokio::select! {
            // The tick first: a statement that ends between two ticks is not kept waiting.
            biased;
            _ = tick.tick() => {
                if started.elapsed() < after {
                    continue;
                }
                show(&mut bar);
            }
            result = &mut run => {
                if let Some(bar) = bar {
                    bar.finish_and_clear();
                }
                return result;
            }
        }
    }
}

/// How long a statement runs before its progress shows: a second, or
/// `PREFDB_PROGRESS_AFTER_MS` milliseconds (the tests use 0).
fn progress_delay() -> Duration {
    std::env::var("PREFDB_PROGRESS_AFTER_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(1), Duration::from_millis)
}

/// Rows the plan's scans (its leaves) have produced so far, and their total when every leaf
/// knows its row count.
fn scanned(plan: &dyn ExecutionPlan) -> (u64, Option<u64>) {
    let children = plan.children();
    if children.is_empty() {
        let read = plan.metrics().and_then(|m| m.output_rows()).unwrap_or(0) as u64;
        let total = StatisticsContext::new()
            .compute(plan, &StatisticsArgs::new())
            .ok()
            .and_then(|s| s.num_rows.get_value().copied())
            .map(|n| n as u64);
        return (read, total);
    }
    let mut read = 0;
    let mut total = Some(0u64);
    for child in children {
        let (r, t) = scanned(child.as_ref());
        read += r;
        total = total.zip(t).map(|(a, b)| a + b);
    }
    (read, total)
}

/// A bar over `total` rows, or a counter when the total is unknown; drawn on standard error,
/// which is a terminal here.
fn scan_bar(total: Option<u64>) -> ProgressBar {
    match total {
        Some(total) if total > 0 => {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {wide_bar} {human_pos}/{human_len} rows scanned ({elapsed})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        }
        _ => {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {human_pos} rows scanned ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar
        }
    }
}

pub fn write(batches: &[RecordBatch], format: Format, path: Option<&Path>) -> Result<(), String> {
    let io = |e: std::io::Error| format!("cannot write output: {e}");
    match (format, path) {
        (Format::Parquet, None) => {
            Err("--format parquet needs --output FILE (Parquet is a binary format)".into())
        }
        (Format::Parquet, Some(p)) => {
            let file =
                File::create(p).map_err(|e| format!("cannot create '{}': {e}", p.display()))?;
            let schema = match batches.first() {
                Some(b) => b.schema(),
                None => return Err("the query returned no schema to write".into()),
            };
            let mut w = parquet::arrow::ArrowWriter::try_new(file, schema, None)
                .map_err(|e| e.to_string())?;
            for b in batches {
                w.write(b).map_err(|e| e.to_string())?;
            }
            w.close().map_err(|e| e.to_string())?;
            Ok(())
        }
        (_, Some(p)) => {
            let mut file =
                File::create(p).map_err(|e| format!("cannot create '{}': {e}", p.display()))?;
            write_text(batches, format, &mut file)?;
            file.flush().map_err(io)
        }
        (_, None) => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            write_text(batches, format, &mut lock)?;
            lock.flush().map_err(io)
        }
    }
}

fn write_text(batches: &[RecordBatch], format: Format, out: &mut dyn Write) -> Result<(), String> {
    match format {
        Format::Table => {
            let table = arrow::util::pretty::pretty_format_batches_with_options(
                batches,
                &prefdb::display_options(),
            )
            .map_err(|e| e.to_string())?;
            writeln!(out, "{table}").map_err(|e| e.to_string())
        }
        Format::Csv => {
            let mut w = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(out);
            for b in batches {
                w.write(b).map_err(|e| {
                    format!("{e}; CSV holds flat columns only: unnest nested results or use --format json")
                })?;
            }
            Ok(())
        }
        Format::Json => {
            // A NULL is written as null, so that every line has every column.
            let mut w = arrow::json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, arrow::json::writer::LineDelimited>(out);
            let refs: Vec<&RecordBatch> = batches.iter().collect();
            w.write_batches(&refs).map_err(|e| e.to_string())?;
            w.finish().map_err(|e| e.to_string())
        }
        Format::Svg => {
            let svg = prefdb::plot::plot(batches, None)?;
            writeln!(out, "{svg}").map_err(|e| e.to_string())
        }
        Format::Parquet => unreachable!("handled by write"),
    }
}

/// A progress bar on standard error, hidden for small jobs and when stderr is not a terminal.
pub fn progress_bar(total: u64) -> ProgressBar {
    if total < 1_000_000 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {wide_bar} {human_pos}/{human_len} rows ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}
