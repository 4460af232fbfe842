//! `prefdb shell`: an interactive SQL prompt.

use crate::output::{self, Format};
use datafusion::prelude::SessionContext;
use rustyline::error::ReadlineError;
use rustyline::DefaultEditor;
use std::path::PathBuf;

const HELP: &str = "Statements end with ';' and may span lines.
  \\dt         list tables
  \\d NAME     describe a table
  \\df         list prefdb functions
  \\plot FILE  draw the last result as an SVG figure in FILE (a leaderboard's forest plot,
              win_matrix's heatmap, reliability_bins' diagram)
  \\q          quit (or Ctrl-D)";

fn history_path() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".prefdb_history"))
}

pub async fn run(ctx: SessionContext) -> Result<(), String> {
    let mut editor =
        DefaultEditor::new().map_err(|e| format!("cannot start the line editor: {e}"))?;
    let history = history_path();
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    println!("prefdb shell. \\? for help, \\q to quit.");
    let mut statement = String::new();
    // The last statement's result, for \plot.
    let mut last: Option<Vec<arrow::array::RecordBatch>> = None;
    loop {
        let prompt = if statement.is_empty() {
            "prefdb> "
        } else {
            "   ...> "
        };
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                statement.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(format!("cannot read input: {e}")),
        };
        let trimmed = line.trim();
        if statement.is_empty() && trimmed.starts_with('\\') {
            let _ = editor.add_history_entry(trimmed);
            if trimmed == "\\q" {
                break;
            }
            if let Some(file) = trimmed.strip_prefix("\\plot") {
                plot(last.as_deref(), file.trim());
                continue;
            }
            if let Some(sql) = meta_command(trimmed) {
                execute(&ctx, &sql).await;
            } else {
                println!("{HELP}");
            }
            continue;
        }
        if trimmed.is_empty() && statement.is_empty() {
            continue;
        }
        statement.push_str(&line);
        statement.push('\n');
        if trimmed.ends_with(';') {
            let sql = std::mem::take(&mut statement);
            let _ = editor.add_history_entry(sql.trim());
            last = execute(&ctx, &sql).await;
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    Ok(())
}

/// The SQL behind a backslash command, or `None` for help.
fn meta_command(cmd: &str) -> Option<String> {
    let mut parts = cmd.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some("\\dt"), _) => Some(
            "SELECT table_schema, table_name, table_type FROM information_schema.tables \
             WHERE table_schema <> 'information_schema' ORDER BY 1, 2"
                .into(),
        ),
        (Some("\\d"), Some(name)) => Some(format!(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns \
             WHERE table_name = '{}' ORDER BY ordinal_position",
            name.replace('\'', "''")
        )),
        (Some("\\df"), _) => {
            let names: Vec<String> = prefdb::function_names()
                .iter()
                .map(|n| format!("'{n}'"))
                .collect();
            Some(format!(
                "SELECT DISTINCT routine_name, function_type FROM information_schema.routines \
                 WHERE routine_name IN ({}) ORDER BY 1",
                names.join(", ")
            ))
        }
        _ => None,
    }
}

/// Run a statement and print its result, which is returned for `\plot`.
async fn execute(ctx: &SessionContext, sql: &str) -> Option<Vec<arrow::array::RecordBatch>> {
    let started = std::time::Instant::now();
    let run = async { output::run_query(ctx, sql).await.map_err(crate::message) };
    match crate::until_interrupted(ctx, run).await {
        Ok(batches) => {
            let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
            if let Err(e) = output::write(&batches, Format::Table, None) {
                eprintln!("error: {e}");
            }
            println!("{rows} row(s) in {:.3}s", started.elapsed().as_secs_f64());
            Some(batches)
        }
        Err(e) => {
            eprintln!("error: {e}");
            None
        }
    }
}

/// `\plot FILE`: the last result as an SVG figure.
fn plot(last: Option<&[arrow::array::RecordBatch]>, file: &str) {
    if file.is_empty() {
        eprintln!("error: \\plot needs a file name, as in \\plot leaderboard.svg");
        return;
    }
    let Some(batches) = last else {
        eprintln!("error: no result to draw yet: run a query first, then \\plot {file}");
        return;
    };
    match output::write(batches, Format::Svg, Some(std::path::Path::new(file))) {
        Ok(()) => println!("wrote {file}"),
        Err(e) => eprintln!("error: {e}"),
    }
}
