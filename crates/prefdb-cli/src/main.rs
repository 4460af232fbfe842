//! `prefdb`: run preference-analytics SQL from the command line.

mod allocator;
#[cfg(feature = "cluster")]
mod cluster;
mod demo;
mod interrupt;
mod output;
mod report;
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
    /// The path may also be a URL: s3://, gs://, az:// or abfs://, http(s)://.
    #[arg(long = "table", short = 't', value_name = "NAME=PATH")]
    tables: Vec<TableSpec>,
    /// A prefdb.toml with [tables], [stores] (object-store settings) and, for serve,
    /// [server] and [[users]].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Memory for all running queries together, as in 4GiB, or 'none'; a query over it fails
    /// instead of exhausting the machine [default: half of the machine's memory].
    #[arg(long, value_name = "SIZE")]
    memory_limit: Option<String>,
    /// Run queries on a Ballista cluster: its scheduler, df://HOST:PORT (see `prefdb
    /// cluster`). Table paths must then be readable by the scheduler and every executor.
    #[arg(long, value_name = "URL")]
    cluster: Option<String>,
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
    /// Serve the session over the Postgres wire protocol (psql, BI tools, psycopg).
    /// With no tables it serves the demo arena.
    Serve {
        #[command(flatten)]
        tables: TableArgs,
        /// Address to listen on [default: 127.0.0.1:5432]. A non-loopback address needs
        /// [[users]] in the config file.
        #[arg(long, value_name = "HOST:PORT")]
        listen: Option<String>,
        /// Let clients run DDL and DML (CREATE EXTERNAL TABLE, COPY, INSERT, SET datafusion.*).
        #[arg(long)]
        allow_ddl: bool,
        /// TLS certificate chain (PEM).
        #[arg(long, value_name = "FILE", requires = "tls_key")]
        tls_cert: Option<String>,
        /// TLS private key (PEM, PKCS#8 or RSA).
        #[arg(long, value_name = "FILE", requires = "tls_cert")]
        tls_key: Option<String>,
        /// Most simultaneous connections [default: 64].
        #[arg(long, value_parser = connections, allow_hyphen_values = true)]
        max_connections: Option<usize>,
        /// Seconds a statement may run; 0 for no limit [default: 300].
        #[arg(long, value_name = "SECS", value_parser = seconds, allow_hyphen_values = true)]
        query_timeout: Option<u64>,
    },
    /// Generate synthetic data.
    Gen {
        #[command(subcommand)]
        what: GenCommand,
    },
    /// Write a self-contained HTML report of figures (arena, agreement or calibration), each
    /// with the SQL that produced it.
    Report {
        /// What the table holds.
        #[arg(value_enum)]
        kind: report::Kind,
        #[command(flatten)]
        tables: TableArgs,
        /// The table to report on [default: the first --table].
        #[arg(long, value_name = "NAME")]
        from: Option<String>,
        /// Output HTML file.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        columns: report::Columns,
    },
    /// Run a process of a Ballista cluster (scheduler or executor) with every prefdb
    /// function; clients connect with --cluster.
    #[cfg(feature = "cluster")]
    Cluster {
        #[command(subcommand)]
        what: cluster::ClusterCommand,
    },
    /// Generate an arena, rank it and print the leaderboards beside the true ratings.
    Demo {
        /// Number of votes to generate (kept in memory: at most 100,000,000).
        #[arg(long, default_value_t = 200_000, value_parser = demo_vote_count, allow_hyphen_values = true)]
        votes: u64,
        /// Number of models.
        #[arg(long, default_value_t = 12, value_parser = model_count, allow_hyphen_values = true)]
        models: usize,
        #[arg(long, default_value_t = 42, value_parser = whole_number, allow_hyphen_values = true)]
        seed: u64,
    },
}

#[derive(Subcommand)]
enum GenCommand {
    /// A Chatbot-Arena-like vote table: model_a, model_b, winner, category, turn_len_a,
    /// turn_len_b, ts.
    Arena {
        /// Number of votes (streamed to the file: at most 10,000,000,000, about 120 GB).
        #[arg(long, value_parser = vote_count, allow_hyphen_values = true)]
        votes: u64,
        #[arg(long, value_parser = model_count, allow_hyphen_values = true)]
        models: usize,
        #[arg(long, default_value_t = 42, value_parser = whole_number, allow_hyphen_values = true)]
        seed: u64,
        /// Probability of a tie between equally strong models.
        #[arg(long, default_value_t = 0.2, value_parser = probability, allow_hyphen_values = true)]
        tie_rate: f64,
        /// Output Parquet file (.parquet).
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    allocator::purge_whole_huge_pages();
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
    // Planning and execution recurse over a query's expression tree. The thread that plans
    // (this one's child) and the runtime's threads that execute get stacks deep enough for
    // any query under the depth limit (`prefdb::QUERY_STACK`).
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // An aggregate's final step (a fit, a bootstrap) runs within one poll and holds its worker
    // thread until done. The server gets more workers than cores, so that one client's long
    // statement leaves workers for the others (the OS shares the cores among them).
    let workers = match cli.command {
        Command::Serve { .. } => 4 * cores.max(2),
        _ => cores,
    };
    let main = std::thread::Builder::new()
        .name("prefdb".into())
        .stack_size(prefdb::QUERY_STACK)
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .worker_threads(workers)
                .thread_stack_size(prefdb::QUERY_STACK)
                .build()
                .map_err(|e| format!("cannot start the async runtime: {e}"))?;
            let outcome = runtime.block_on(run(cli));
            // Do not wait on a worker stuck in a computation that missed its stop.
            runtime.shutdown_timeout(std::time::Duration::from_secs(1));
            outcome
        });
    let outcome = match main {
        Ok(handle) => match handle.join() {
            Ok(outcome) => outcome,
            // The panic hook has said so, in one line.
            Err(_) => return ExitCode::FAILURE,
        },
        Err(e) => Err(format!("cannot start the main thread: {e}")),
    };
    match outcome {
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
            let run = async { output::run_query(&ctx, &query).await.map_err(message) };
            let batches = until_interrupted(&ctx, run).await?;
            output::write(&batches, format, output.as_deref())
        }
        Command::Shell { tables } => {
            let ctx = session(&tables).await?;
            shell::run(ctx).await
        }
        Command::Serve {
            tables,
            listen,
            allow_ddl,
            tls_cert,
            tls_key,
            max_connections,
            query_timeout,
        } => {
            let config = load_config(&tables)?;
            let mut options = prefdb::server::ServeOptions::from_config(&config);
            if let Some(listen) = listen {
                options.listen = listen;
            }
            options.allow_ddl |= allow_ddl;
            if tls_cert.is_some() {
                options.tls_cert = tls_cert;
                options.tls_key = tls_key;
            }
            if let Some(n) = max_connections {
                options.max_connections = n;
            }
            if let Some(secs) = query_timeout {
                options.query_timeout = (secs > 0).then(|| std::time::Duration::from_secs(secs));
            }
            // The config file's memory_limit was checked when the file was read.
            let memory_limit = match &tables.memory_limit {
                Some(_) => memory_limit(&tables)?,
                None => prefdb::limits::memory_limit_from(config.server.memory_limit.as_deref())
                    .map_err(message)?,
            };
            let session = prefdb::ContextOptions {
                url_tables: false,
                memory_limit,
                stores: prefdb::stores::settings_from_config(&config.stores),
            };
            let ctx = match &tables.cluster {
                Some(url) => cluster_session(url, &session)?,
                None => prefdb::new_context_with(&session),
            }
            .map_err(|e| in_config_file(&tables, e))?;
            let served = register_tables(&ctx, &config, &tables).await?;
            if served.is_empty() {
                arena::register_demo_tables(&ctx, ArenaSpec::default()).map_err(message)?;
            }
            let server = prefdb::server::Server::bind(ctx, &options)
                .await
                .map_err(message)?;
            let what = if served.is_empty() {
                "the demo arena (tables votes, truth, truth_by_category)".to_string()
            } else {
                format!("tables {}", served.join(", "))
            };
            let mode = if options.allow_ddl {
                "DDL allowed"
            } else {
                "read-only"
            };
            let auth = if options.users.is_empty() {
                "no authentication"
            } else {
                "SCRAM-SHA-256 passwords"
            };
            let tls = if options.tls_cert.is_some() {
                ", TLS"
            } else {
                ""
            };
            let addr = server.local_addr();
            eprintln!("prefdb serve: {what} on {addr} ({mode}, {auth}{tls})");
            // Without users any name logs in; with users, one of theirs is needed.
            let user = options.users.first().map_or("prefdb", |u| u.name.as_str());
            eprintln!(
                "connect with: psql -h {} -p {} -U {user}",
                addr.ip(),
                addr.port()
            );
            server
                .run(prefdb::server::shutdown_signal())
                .await
                .map_err(|e| format!("server stopped: {e}"))?;
            eprintln!("prefdb serve: shut down");
            Ok(())
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
            let is_parquet = out
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("parquet"));
            if !is_parquet {
                return Err(format!(
                    "gen arena writes Parquet: name the output file with a .parquet extension, got '{}' (convert with: prefdb sql \"COPY (SELECT * FROM 'votes.parquet') TO 'votes.csv'\")",
                    out.display()
                ));
            }
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
        Command::Report {
            kind,
            tables,
            from,
            out,
            columns,
        } => {
            let table = match (&from, tables.tables.first()) {
                (Some(name), _) => name.clone(),
                (None, Some(spec)) => spec.name.clone(),
                (None, None) => {
                    return Err("report needs a table: --table NAME=PATH (and --from NAME to choose among several)".into())
                }
            };
            let ctx = session(&tables).await?;
            let mut r = report::Report::new(&ctx, &table, columns);
            let run = async {
                match kind {
                    report::Kind::Arena => r.arena().await,
                    report::Kind::Agreement => r.agreement().await,
                    report::Kind::Calibration => r.calibration().await,
                }
            };
            until_interrupted(&ctx, run).await?;
            std::fs::write(&out, r.html(kind))
                .map_err(|e| format!("cannot write '{}': {e}", out.display()))?;
            println!("{}", out.display());
            Ok(())
        }
        #[cfg(feature = "cluster")]
        Command::Cluster { what } => cluster::run(what).await,
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

fn load_config(tables: &TableArgs) -> Result<prefdb::Config, String> {
    prefdb::session::load_config(tables.config.as_deref()).map_err(message)
}

/// Register the config file's tables, then the command line's (which win on a clash).
/// Returns the names registered.
async fn register_tables(
    ctx: &datafusion::prelude::SessionContext,
    config: &prefdb::Config,
    tables: &TableArgs,
) -> Result<Vec<String>, String> {
    for (i, spec) in tables.tables.iter().enumerate() {
        let name = spec.name.to_lowercase();
        if let Some(earlier) = tables.tables[..i]
            .iter()
            .find(|t| t.name.to_lowercase() == name)
        {
            return Err(format!(
                "--table {} is given twice ('{}' and '{}'): give each table its own name",
                spec.name, earlier.location, spec.location
            ));
        }
    }
    let flags = tables
        .tables
        .iter()
        .map(|t| (t.name.as_str(), t.location.as_str()));
    prefdb::session::register_tables(ctx, config, flags)
        .await
        .map_err(message)
}

async fn session(tables: &TableArgs) -> Result<datafusion::prelude::SessionContext, String> {
    let config = load_config(tables)?;
    let ctx = match &tables.cluster {
        Some(url) => cluster_session(
            url,
            &prefdb::ContextOptions {
                url_tables: true,
                memory_limit: memory_limit(tables)?,
                stores: prefdb::stores::settings_from_config(&config.stores),
            },
        )?,
        None => prefdb::session::open_embedded(&config, memory_limit(tables)?),
    }
    .map_err(|e| in_config_file(tables, e))?;
    register_tables(&ctx, &config, tables).await?;
    Ok(ctx)
}

/// A session that runs its queries on the cluster at `url`. The outer error is about
/// `--cluster` itself; the inner one is the session's set-up (the config file's stores).
#[cfg(feature = "cluster")]
fn cluster_session(
    url: &str,
    options: &prefdb::ContextOptions,
) -> Result<datafusion::common::Result<datafusion::prelude::SessionContext>, String> {
    prefdb_cluster::client::scheduler_url(url).map_err(message)?;
    Ok(prefdb_cluster::connect(url, options))
}

/// `run` to its end; or, on Ctrl-C, stop it and fail with "interrupted". The statement's
/// computation stops through its stop flag (`prefdb::cancel`: a fit checks it between
/// steps), which the Ctrl-C watcher sets at once (`interrupt`). On a cluster the scheduler
/// is also asked to cancel the statement's job: Ballista's client stops waiting when its
/// stream is dropped but leaves the job running, and the cluster would finish a statement
/// nobody reads.
pub async fn until_interrupted<T>(
    ctx: &datafusion::prelude::SessionContext,
    run: impl std::future::Future<Output = Result<T, String>>,
) -> Result<T, String> {
    let flag = prefdb::cancel::new_flag();
    let stop = prefdb::cancel::StopOnDrop::new(&flag);
    let ctrl_c = interrupt::Guard::new(&flag);
    let interrupted = async {
        match &ctrl_c {
            Some(guard) => guard.interrupted().await,
            None => std::future::pending().await,
        }
    };
    let run = prefdb::cancel::Interruptible::new(Some(std::sync::Arc::clone(&flag)), run);
    tokio::select! {
        result = run => {
            // Only the Ctrl-C watcher sets the flag while the statement runs; the statement
            // may have stopped at it ("the statement was cancelled") before this task woke.
            if !flag.load(std::sync::atomic::Ordering::SeqCst) {
                stop.finish();
                return result;
            }
        }
        _ = interrupted => {}
    }
    drop(stop);
    let cancelled = cancel_cluster_jobs(ctx).await?;
    Err(match cancelled.as_slice() {
        [] => "interrupted".to_string(),
        ids => format!(
            "interrupted; job {} cancelled on the cluster",
            ids.join(", ")
        ),
    })
}

/// The jobs of a cluster session's latest statements, cancelled; none for an embedded one.
#[cfg(feature = "cluster")]
async fn cancel_cluster_jobs(
    ctx: &datafusion::prelude::SessionContext,
) -> Result<Vec<String>, String> {
    prefdb_cluster::cancel_jobs(ctx).await.map_err(message)
}

#[cfg(not(feature = "cluster"))]
async fn cancel_cluster_jobs(
    _ctx: &datafusion::prelude::SessionContext,
) -> Result<Vec<String>, String> {
    Ok(Vec::new())
}

#[cfg(not(feature = "cluster"))]
fn cluster_session(
    _url: &str,
    _options: &prefdb::ContextOptions,
) -> Result<datafusion::common::Result<datafusion::prelude::SessionContext>, String> {
    Err("--cluster: this prefdb was built without cluster support (cargo feature 'cluster')".into())
}

/// A session's set-up error, which only the config file's [stores] can cause, naming the file.
fn in_config_file(tables: &TableArgs, e: DataFusionError) -> String {
    match &tables.config {
        Some(path) => format!("config file '{}': {}", path.display(), message(e)),
        None => message(e),
    }
}

/// The session memory limit that `--memory-limit` asks for (or the default).
fn memory_limit(tables: &TableArgs) -> Result<Option<usize>, String> {
    prefdb::limits::memory_limit_from(tables.memory_limit.as_deref())
        .map_err(|e| format!("--memory-limit: {}", message(e)))
}

/// A whole number, for clap (which on its own reads `-5` as an unknown flag and says "invalid
/// digit found in string").
fn whole_number(text: &str) -> Result<u64, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("expected a whole number from 0 to {}", u64::MAX))
}

/// Seconds for `--query-timeout`: 0 (no limit) up to a year.
fn seconds(text: &str) -> Result<u64, String> {
    let max = prefdb::config::MAX_SECONDS;
    match text.trim().parse::<u64>() {
        Ok(secs) if secs <= max => Ok(secs),
        _ => Err(format!(
            "expected whole seconds from 1 to {max} (a year), or 0 for no limit"
        )),
    }
}

/// `--max-connections`: at least one.
fn connections(text: &str) -> Result<usize, String> {
    let max = prefdb::config::MAX_CONNECTIONS;
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!("expected a whole number from 1 to {max}")),
    }
}

/// The most models `gen arena` and `demo` make: each costs a rating per category, and a
/// leaderboard of more is not an arena.
const MAX_MODELS: usize = 1_000_000;

/// The most votes `gen arena` writes (streamed; about 120 GB of Parquet) and `demo` keeps in
/// memory, so a typo cannot run until the disk or the memory is full.
const MAX_GEN_VOTES: u64 = 10_000_000_000;
const MAX_DEMO_VOTES: u64 = 100_000_000;

fn vote_count(text: &str) -> Result<u64, String> {
    votes_up_to(text, MAX_GEN_VOTES)
}

fn demo_vote_count(text: &str) -> Result<u64, String> {
    votes_up_to(text, MAX_DEMO_VOTES)
}

fn votes_up_to(text: &str, max: u64) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(n) if n <= max => Ok(n),
        _ => Err(format!("expected a whole number from 0 to {max}")),
    }
}

fn model_count(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if (2..=MAX_MODELS).contains(&n) => Ok(n),
        _ => Err(format!("expected a whole number from 2 to {MAX_MODELS}")),
    }
}

/// A probability, for `--tie-rate`.
fn probability(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err("expected a probability from 0 to 1".into()),
    }
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
        let what = prefdb::errors::panic_message(info.payload());
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("error: internal error (a bug in prefdb, please report it): {what}{place}");
    }));
}
