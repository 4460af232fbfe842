//! prefdb: a DataFusion [`SessionContext`] with every preference-analytics function
//! registered, plus table registration from paths, directories and globs.
//!
//! This crate is where the Postgres endpoint and the object stores plug in: both build on
//! [`new_context`] and [`register_table`].

pub mod arena;
pub mod errors;
pub mod tables;

pub use errors::user_message;
pub use prefdb_udfs::function_names;
pub use tables::{register_table, TableFormat, TableSpec};

use datafusion::execution::config::SessionConfig;
use datafusion::prelude::SessionContext;

/// A session with every prefdb function registered, `information_schema` enabled, and
/// files queryable by path (`FROM 'votes.parquet'`).
pub fn new_context() -> SessionContext {
    let config = SessionConfig::new()
        .with_information_schema(true)
        .with_default_catalog_and_schema("prefdb", "public");
    // Embedded use may name files directly: SELECT ... FROM 'votes.parquet'. The Postgres
    // endpoint must not inherit this for remote clients (it would expose server files).
    let ctx = SessionContext::new_with_config(config).enable_url_table();
    prefdb_udfs::register_all(&ctx);
    ctx
}

/// How prefdb prints values in tables: NULL as `NULL`, so that it differs from an empty
/// string and reads the same in the CLI, the README and the sqllogictest files.
pub fn display_options() -> arrow::util::display::FormatOptions<'static> {
    arrow::util::display::FormatOptions::default().with_null("NULL")
}
