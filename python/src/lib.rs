//! prefdb for Python: the `prefdb._prefdb` extension module.
//!
//! The public API is the pure-Python package `prefdb` (python/prefdb/), which wraps this
//! module: [`session::Session`] runs queries, [`result::QueryResult`] hands results to
//! Python as Arrow, [`ffi`] exports prefdb's functions to datafusion-python.

mod errors;
mod ffi;
mod result;
mod runtime;
mod session;

use arrow::datatypes::Schema;
use arrow_pyarrow::PyArrowType;
use pyo3::prelude::*;

/// Every prefdb aggregate, for `prefdb.register`.
#[pyfunction]
fn ffi_aggregates() -> Vec<ffi::FfiAggregate> {
    ffi::aggregates()
}

/// Every prefdb scalar function, for `prefdb.register`.
#[pyfunction]
fn ffi_scalars() -> Vec<ffi::FfiScalar> {
    ffi::scalars()
}

/// The SQL text of `leaderboard(query)` for datafusion-python, from the schema `query`
/// returns there.
/// With `part`, `leaderboard(query, part)`: that list of the query's struct column.
#[pyfunction]
#[pyo3(signature = (schema, query, part=None))]
fn flatten_sql(schema: PyArrowType<Schema>, query: &str, part: Option<&str>) -> PyResult<String> {
    match part {
        Some(part) => prefdb_udfs::flat::flatten_part_sql(&schema.0, query, part),
        None => prefdb_udfs::flat::flatten_sql(&schema.0, query),
    }
    .map_err(errors::raise)
}

/// The names of every prefdb function.
#[pyfunction]
fn function_names() -> Vec<String> {
    prefdb::function_names()
}

#[pymodule]
fn _prefdb(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<session::Session>()?;
    m.add_class::<result::QueryResult>()?;
    m.add_class::<ffi::FfiAggregate>()?;
    m.add_class::<ffi::FfiScalar>()?;
    m.add_function(wrap_pyfunction!(ffi_aggregates, m)?)?;
    m.add_function(wrap_pyfunction!(ffi_scalars, m)?)?;
    m.add_function(wrap_pyfunction!(function_names, m)?)?;
    m.add_function(wrap_pyfunction!(flatten_sql, m)?)?;
    m.add("DATAFUSION_MAJOR", ffi::major_version())?;
    m.add("LEADERBOARD_USAGE", prefdb_udfs::flat::USAGE)?;
    m.add("DATAFUSION_VERSION", datafusion::DATAFUSION_VERSION)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    for (name, class) in [
        ("Error", py.get_type::<errors::Error>()),
        ("PlanError", py.get_type::<errors::PlanError>()),
        ("ExecutionError", py.get_type::<errors::ExecutionError>()),
        (
            "ResourcesExhaustedError",
            py.get_type::<errors::ResourcesExhaustedError>(),
        ),
        ("TableError", py.get_type::<errors::TableError>()),
        ("ConfigError", py.get_type::<errors::ConfigError>()),
        (
            "VersionMismatchError",
            py.get_type::<errors::VersionMismatchError>(),
        ),
    ] {
        m.add(name, class)?;
    }
    Ok(())
}
