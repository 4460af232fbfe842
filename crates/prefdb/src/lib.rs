//! prefdb: a DataFusion [`SessionContext`] with every preference-analytics function
//! registered, plus table registration from paths, directories and globs.
//!
//! It also holds the object stores ([`stores`]), the config file ([`config`]) and the
//! Postgres wire-protocol endpoint ([`server`]).

pub mod arena;
pub mod cancel;
pub mod config;
pub mod errors;
pub mod limits;
pub mod parquet_nan;
pub mod plot;
pub mod server;
pub mod session;
pub mod stores;
pub mod tables;

pub use config::Config;
pub use errors::user_message;
pub use prefdb_udfs::function_names;
pub use tables::{register_table, TableFormat, TableSpec};

use datafusion::common::Result;
use datafusion::execution::config::SessionConfig;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::{SessionState, SessionStateBuilder};
use datafusion::prelude::SessionContext;
use std::sync::Arc;

/// The stack size for threads that plan or execute queries: the CLI's main thread and its
/// async runtime's workers. DataFusion recurses over expression trees; this is room for
/// about ten times the deepest expression the parser accepts.
pub const QUERY_STACK: usize = 32 * 1024 * 1024;

/// How a session is set up.
#[derive(Debug, Clone, Default)]
pub struct ContextOptions {
    /// Allow `FROM 'votes.parquet'`: files and URLs named directly in a query. Right for
    /// the embedded CLI, wrong for a server (it would expose the server's files).
    pub url_tables: bool,
    /// Cap on the memory the engine holds for all queries together, in bytes.
    pub memory_limit: Option<usize>,
    /// Object-store settings, from the config file's `[stores]`.
    pub stores: stores::StoreSettings,
}

impl ContextOptions {
    /// The embedded defaults: URL tables on, no memory cap.
    pub fn embedded() -> Self {
        ContextOptions {
            url_tables: true,
            ..Default::default()
        }
    }
}

/// A session with every prefdb function registered, `information_schema` enabled, and
/// files queryable by path (`FROM 'votes.parquet'`).
pub fn new_context() -> SessionContext {
    new_context_with(&ContextOptions::embedded()).expect("the embedded defaults are valid")
}

/// A session set up as `options` says: prefdb functions, `information_schema`, object
/// stores on demand, an optional memory cap.
pub fn new_context_with(options: &ContextOptions) -> Result<SessionContext> {
    let state = session_state(options, session_config())?;
    // Statements' stop flags reach the tasks DataFusion spawns; see `cancel`.
    cancel::install();
    let ctx = SessionContext::new_with_state(state);
    let ctx = if options.url_tables {
        ctx.enable_url_table()
    } else {
        ctx
    };
    prefdb_udfs::register_all(&ctx);
    Ok(ctx)
}

/// The settings every prefdb session starts from: `information_schema` on, and tables in
/// `prefdb.public`.
pub fn session_config() -> SessionConfig {
    SessionConfig::new()
        .with_information_schema(true)
        .with_default_catalog_and_schema("prefdb", "public")
}

/// A session state with `config`, the object stores and memory cap of `options`, and
/// prefdb's planning (its unnest rule and relations, NaN-safe Parquet), but no prefdb
/// functions yet: callers register them last ([`prefdb_udfs::register_all`]), because
/// some set-ups (a Ballista client) replace the function lists on the way.
pub fn session_state(options: &ContextOptions, config: SessionConfig) -> Result<SessionState> {
    let mut runtime = RuntimeEnvBuilder::new()
        .with_object_store_registry(Arc::new(stores::PrefdbStores::new(options.stores.clone())?));
    if let Some(limit) = options.memory_limit {
        runtime = runtime.with_memory_limit(limit, 1.0);
    }
    session_state_on(runtime.build_arc()?, config)
}

/// [`session_state`] on a runtime the caller built.
pub fn session_state_on(runtime: Arc<RuntimeEnv>, config: SessionConfig) -> Result<SessionState> {
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .build();
    // DataFusion's unnest keeps group keys as keys; see `prefdb_udfs::unnest_dependencies`.
    let rules = prefdb_udfs::unnest_dependencies::with_unnest_dependencies(state.optimizers());
    // Grouped aggregates that keep their rows run in one phase; see
    // `prefdb_udfs::single_phase`. The rule goes before DataFusion's sanity check.
    let mut physical = state.physical_optimizers().to_vec();
    prefdb_udfs::single_phase::add_to(&mut physical);
    let mut state = SessionStateBuilder::new_from_existing(state)
        .with_optimizer_rules(rules)
        .with_physical_optimizer_rules(physical)
        .with_relation_planners(vec![Arc::new(
            prefdb_udfs::unnest_dependencies::UnnestRelations,
        )])
        .build();
    // Parquet float statistics leave out NaN; see `parquet_nan`.
    state.register_file_format(
        Arc::new(parquet_nan::NanSafeParquetFactory::default()),
        true,
    )?;
    Ok(state)
}

/// How prefdb prints values in tables: NULL as `NULL`, so that it differs from an empty
/// string and reads the same in the CLI, the README and the sqllogictest files.
pub fn display_options() -> arrow::util::display::FormatOptions<'static> {
    arrow::util::display::FormatOptions::default().with_null("NULL")
}
