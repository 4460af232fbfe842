//! prefdb's exceptions, and which one a DataFusion error raises.
//!
//! The message is always the one the CLI prints after `error: ` ([`prefdb::user_message`]).

use datafusion::common::DataFusionError;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::PyErr;

create_exception!(
    prefdb,
    Error,
    PyException,
    "Every error prefdb raises; its message is the one the prefdb CLI prints."
);
create_exception!(
    prefdb,
    PlanError,
    Error,
    "The statement cannot be planned: SQL syntax, unknown tables, columns or functions, wrong arguments or options."
);
create_exception!(
    prefdb,
    ExecutionError,
    Error,
    "The statement failed while it ran, for example on a value a function does not accept."
);
create_exception!(
    prefdb,
    ResourcesExhaustedError,
    ExecutionError,
    "The statement needs more memory than the session's memory limit, or more than a function's documented cap."
);
create_exception!(
    prefdb,
    TableError,
    Error,
    "A table cannot be registered or read: a missing file, an unknown format, an object store that refuses."
);
create_exception!(
    prefdb,
    ConfigError,
    Error,
    "The config file or a session setting (such as memory_limit) is invalid."
);
create_exception!(
    prefdb,
    VersionMismatchError,
    Error,
    "The installed datafusion package is not the DataFusion major version prefdb is built on."
);

/// The exception for a DataFusion error, chosen by its innermost cause.
pub fn raise(e: DataFusionError) -> PyErr {
    let message = prefdb::user_message(&e);
    match e.find_root() {
        DataFusionError::ResourcesExhausted(_) => ResourcesExhaustedError::new_err(message),
        DataFusionError::ObjectStore(_) | DataFusionError::IoError(_) => {
            TableError::new_err(message)
        }
        DataFusionError::Configuration(_) => ConfigError::new_err(message),
        DataFusionError::Plan(_)
        | DataFusionError::SQL(..)
        | DataFusionError::SchemaError(..)
        | DataFusionError::NotImplemented(_) => PlanError::new_err(message),
        _ => ExecutionError::new_err(message),
    }
}
