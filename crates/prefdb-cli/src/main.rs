//! `prefdb`: run preference-analytics SQL from the command line.

mod demo;
mod output;
mod shell;

use clap::{Args, Parser, Subcommand};

use datafusion::common::DataFusionError;
use prefdb::arena::{self, ArenaSpec};
use prefdb::TableSpec;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "prefdb",
    version,
    about = "SQL for preference analytics: Bradley–Terry leaderboards, agreement and calibration over Parquet, CSV and JSON"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct TableArgs {
    /// Register a table: name=path, where path is a file, a directory or a glob
    /// (.parquet, .csv, .json/.ndjson, .arrow). Repeatable.
    #[arg(long = "table", short = 't', value_name = "NAME=PATH")]
    tables: Vec<TableSpec>,
}

#[derive(Subcommand)]
enum Command {
    /// Run one SQL statement and print its result.
    Sql {
        /// The SQL statement.
        query: String,
        #[command(flatten)]
        tables: TableArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = output::Format::Table)]
        format: output::Format,
        /// Write the result to this file instead of standard output.
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
    },
    /// An interactive SQL shell with history and multi-line statements (end with ';').
    Shell {
        #[command(flatten)]
        tables: TableArgs,
    },
    /// Generate synthetic data.
    Gen {
        #[command(subcommand)]
        what: GenCommand,
    },
    /// Generate an arena, rank it and print the leaderboards beside the true ratings.
    Demo {
        /// Number of votes to generate.
        #[arg(long, default_value_t = 200_000)]
        votes: u64,
        /// Number of models.
        #[arg(long, default_value_t = 12)]
        models: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
}

#[derive(Subcommand)]
enum GenCommand {
    /// A Chatbot-Arena-like vote table: model_a, model_b, winner, category, turn_len_a,
    /// turn_len_b, ts.
    Arena {
        #[arg(long)]
        votes: u64,
        #[arg(long)]
        models: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Probability of a tie between equally strong models.
        #[arg(long, default_value_t = 0.2)]
        tie_rate: f64,
        /// Output Parquet file.
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    install_panic_hook();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(), // --help and --version
        Err(e) => {
            // Clap adds a usage block; the user gets its first line and a pointer to --help.
            let text = e.to_string();
            let first: Vec<&str> = text
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect();
            eprintln!("{} (see prefdb --help)", first.join(" "));
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Sql {
            query,
            tables,
            format,
            output,
        } => {
            let ctx = session(&tables).await?;
            let batches = output::run_query(&ctx, &query).await.map_err(message)?;
            output::write(&batches, format, output.as_deref())
        }
        Command::Shell { tables } => {
            let ctx = session(&tables).await?;
            shell::run(ctx).await
        }
        Command::Gen {
            what:
                GenCommand::Arena {
                    votes,
                    models,
                    seed,
                    tie_rate,
                    out,
                },
        } => {
            let spec = ArenaSpec {
                votes,
                models,
                seed,
                tie_rate,
            };
            let bar = output::progress_bar(votes);
            let result = arena::write_parquet(spec, &out, |done| bar.set_position(done));
            bar.finish_and_clear();
            result.map_err(message)?;
            eprintln!(
                "wrote {votes} votes among {models} models to {}",
                out.display()
            );
            Ok(())
        }
        Command::Demo {
            votes,
            models,
            seed,
        } => demo::run(ArenaSpec {
            votes,
            models,
            seed,
            ..Default::default()
        })
        .await
        .map_err(message),
    }
}

async fn session(tables: &TableArgs) -> Result<datafusion::prelude::SessionContext, String> {
    let ctx = prefdb::new_context();
    for t in &tables.tables {
        prefdb::register_table(&ctx, &t.name, &t.location)
            .await
            .map_err(message)?;
    }
    Ok(ctx)
}

pub fn message(e: DataFusionError) -> String {
    prefdb::user_message(&e)
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::FAILURE
}

/// A panic is a bug; the user sees one line that says so, never a backtrace.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("error: internal error (a bug in prefdb, please report it): {what}{place}");
    }));
}
