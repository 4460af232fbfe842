//! Opening a session as prefdb's front ends do (the CLI, the Python package): the config
//! file, the memory limit, the tables, and running a statement with the messages users read.
//!
//! Each step is its own function because each front end reports the steps' failures in its
//! own way (the CLI names the config file, Python raises a different exception class).

use crate::tables::register_table;
use crate::{Config, ContextOptions};
use arrow::array::RecordBatch;
use datafusion::common::{DataFusionError, Result};
use datafusion::prelude::{DataFrame, SessionContext};
use std::path::Path;

/// The config file at `path`, or the empty config.
pub fn load_config(path: Option<&Path>) -> Result<Config> {
    match path {
        Some(path) => Config::load(path),
        None => Ok(Config::default()),
    }
}

/// An embedded session (files and URLs named in queries are readable) with the config
/// file's object-store settings and a memory limit in bytes (see
/// [`crate::limits::memory_limit_from`] for the setting's text and its default).
pub fn open_embedded(config: &Config, memory_limit: Option<usize>) -> Result<SessionContext> {
    crate::new_context_with(&ContextOptions {
        url_tables: true,
        memory_limit,
        stores: crate::stores::settings_from_config(&config.stores),
    })
}

/// Register the config file's tables, then `tables` (which win on a clash of names).
/// Returns the names registered, in order, each once.
pub async fn register_tables<'a>(
    ctx: &SessionContext,
    config: &'a Config,
    tables: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Vec<String>> {
    let mut names: Vec<String> = Vec::new();
    let from_config = config.tables.iter().map(|(n, l)| (n.as_str(), l.as_str()));
    for (name, location) in from_config.chain(tables) {
        crate::tables::check_table_name(name).map_err(DataFusionError::Plan)?;
        let _ = ctx.deregister_table(name);
        register_table(ctx, name, location).await?;
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
    Ok(names)
}

/// Plan one statement, with the checks and messages of the CLI: over-long operator chains
/// are refused before DataFusion's parser recurses into them, and a file named in the
/// query (`FROM 'votes.parquet'`) that cannot be read is named in the error.
pub async fn plan_query(ctx: &SessionContext, sql: &str) -> Result<DataFrame> {
    crate::limits::check_operator_chains(sql)?;
    match ctx.sql(sql).await {
        Ok(frame) => Ok(frame),
        Err(e) => Err(explain_unreadable_file(ctx, sql, e).await),
    }
}

/// Plan and run one statement, collecting its result.
pub async fn run_query(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>> {
    plan_query(ctx, sql).await?.collect().await
}

/// DataFusion reports a file named in a query (`FROM 'votes.parquet'`) that it cannot open
/// as "table 'prefdb.public.votes.parquet' not found", or with a reader's error that names no
/// file; when a file the query names cannot be read, say which and why.
async fn explain_unreadable_file(
    ctx: &SessionContext,
    sql: &str,
    e: DataFusionError,
) -> DataFusionError {
    for location in files_named(sql) {
        if let Some(why) = crate::tables::location_error(ctx, &location).await {
            return DataFusionError::Plan(format!("FROM '{location}': {why}"));
        }
    }
    e
}

/// The quoted strings a statement reads as tables: `FROM 'x'` and `JOIN 'x'`.
fn files_named(sql: &str) -> Vec<String> {
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::keywords::Keyword;
    use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize() else {
        return Vec::new();
    };
    let mut files = Vec::new();
    let mut after_from = false;
    for token in tokens {
        match token {
            Token::Whitespace(_) => continue,
            Token::SingleQuotedString(s) if after_from => files.push(s),
            Token::Word(ref w) if matches!(w.keyword, Keyword::FROM | Keyword::JOIN) => {
                after_from = true;
                continue;
            }
            _ => {}
        }
        after_from = false;
    }
    files
}
