//! Runs every `sql/**/*.slt` file against a fresh prefdb session.
//!
//! Errors are matched against the same one-line message the CLI and the server show
//! (`prefdb::user_message`), so `statement error` lines document what users see.

use async_trait::async_trait;
use datafusion::arrow::array::{Array, RecordBatch};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::common::DataFusionError;
use datafusion::prelude::SessionContext;
use sqllogictest::{DBOutput, DefaultColumnType};
use std::path::{Path, PathBuf};

#[derive(Debug)]
struct UserError(String);

impl std::fmt::Display for UserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UserError {}

impl From<DataFusionError> for UserError {
    fn from(e: DataFusionError) -> Self {
        UserError(prefdb::user_message(&e))
    }
}

struct Prefdb {
    ctx: SessionContext,
}

fn column_type(t: &DataType) -> DefaultColumnType {
    match t {
        t if t.is_integer() => DefaultColumnType::Integer,
        t if t.is_floating() || matches!(t, DataType::Decimal128(..)) => {
            DefaultColumnType::FloatingPoint
        }
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => DefaultColumnType::Text,
        _ => DefaultColumnType::Any,
    }
}

fn cells(batch: &RecordBatch, rows: &mut Vec<Vec<String>>) -> Result<(), UserError> {
    let options = FormatOptions::default().with_null("NULL");
    let formatters = batch
        .columns()
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| UserError(e.to_string()))?;
    for row in 0..batch.num_rows() {
        rows.push(
            formatters
                .iter()
                .zip(batch.columns())
                .map(|(f, c)| {
                    let s = f.value(row).to_string();
                    if s.is_empty() && c.is_valid(row) {
                        "(empty)".to_string()
                    } else {
                        s
                    }
                })
                .collect(),
        );
    }
    Ok(())
}

#[async_trait]
impl sqllogictest::AsyncDB for Prefdb {
    type Error = UserError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<Self::ColumnType>, Self::Error> {
        let df = self.ctx.sql(sql).await?;
        let schema = df.schema().clone();
        let batches = df.collect().await?;
        if schema.fields().is_empty() {
            return Ok(DBOutput::StatementComplete(0));
        }
        let types = schema
            .fields()
            .iter()
            .map(|f| column_type(f.data_type()))
            .collect();
        let mut rows = Vec::new();
        for b in &batches {
            cells(b, &mut rows)?;
        }
        Ok(DBOutput::Rows { types, rows })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "prefdb"
    }

    async fn sleep(dur: std::time::Duration) {
        tokio::time::sleep(dur).await;
    }
}

fn slt_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            slt_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "slt") {
            out.push(p);
        }
    }
}

pub const EXAMPLE_ARENA: prefdb::arena::ArenaSpec = prefdb::arena::ArenaSpec {
    votes: 100_000,
    models: 8,
    seed: 42,
    tie_rate: 0.2,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqllogictests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::env::set_current_dir(root).unwrap();
    let mut files = Vec::new();
    slt_files(&root.join("sql"), &mut files);
    assert!(!files.is_empty(), "no .slt files under sql/");
    let filter = std::env::var("SLT_FILTER").unwrap_or_default();
    // The README's examples run on the arena its commands generate:
    // prefdb gen arena --votes 100000 --models 8 --seed 42 --out votes.parquet
    let data = tempfile::tempdir().unwrap();
    let arena_path = data.path().join("votes.parquet");
    prefdb::arena::write_parquet(EXAMPLE_ARENA, &arena_path, |_| {}).unwrap();
    let arena_path = arena_path.to_string_lossy().into_owned();
    let mut failures = Vec::new();
    for file in files
        .iter()
        .filter(|f| f.to_string_lossy().contains(&filter))
    {
        let mut runner = sqllogictest::Runner::new(|| async {
            Ok::<_, UserError>(Prefdb {
                ctx: prefdb::new_context(),
            })
        });
        // Files that say `control substitution on` read the arena as $ARENA.
        runner.set_var("ARENA".to_string(), arena_path.clone());
        if std::env::var_os("SLT_COMPLETE").is_some() {
            // Rewrites expected results in place; review the diff before committing.
            runner
                .update_test_file(
                    file,
                    " ",
                    sqllogictest::default_validator,
                    sqllogictest::default_normalizer,
                    sqllogictest::default_column_validator,
                )
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            continue;
        }
        match runner.run_file_async(file).await {
            Ok(()) => println!("ok   {}", file.display()),
            Err(e) => {
                println!("FAIL {}\n{e}", file.display());
                failures.push(file.display().to_string());
            }
        }
    }
    assert!(failures.is_empty(), "failing .slt files: {failures:?}");
}
