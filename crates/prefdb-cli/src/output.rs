//! Running a statement and writing its result as a table, CSV, JSON, Parquet or an SVG figure.

use arrow::array::RecordBatch;
use clap::ValueEnum;
use datafusion::common::Result;
use datafusion::prelude::SessionContext;
use indicatif::{ProgressBar, ProgressStyle};
use std::fs::File;
use std::io::Write;
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
    Parquet,
    /// A figure: a forest plot, a win-rate heatmap or a reliability diagram, by the columns.
    Svg,
}

/// Plan and run one statement, as every front end does (`prefdb::session::run_query`).
pub async fn run_query(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>> {
    prefdb::session::run_query(ctx, sql).await
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
