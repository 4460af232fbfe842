//! `prefdb._prefdb.Session`: a prefdb session, as the CLI opens one, driven from Python.

use crate::errors::{raise, ConfigError, TableError};
use crate::result::QueryResult;
use crate::runtime::wait;
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::ffi_stream::ArrowArrayStreamReader;
use arrow_pyarrow::FromPyArrow;
use datafusion::common::DataFusionError;
use datafusion::prelude::SessionContext;
use pyo3::prelude::*;
use std::path::PathBuf;
use std::sync::Arc;

#[pyclass(module = "prefdb._prefdb", frozen)]
pub struct Session {
    ctx: SessionContext,
}

#[pymethods]
impl Session {
    /// A session with every prefdb function, the config file's settings and tables, and
    /// then `tables` (name, location) registered as the CLI's `--table` does.
    #[new]
    #[pyo3(signature = (tables = Vec::new(), config = None, memory_limit = None))]
    fn new(
        py: Python<'_>,
        tables: Vec<(String, String)>,
        config: Option<PathBuf>,
        memory_limit: Option<String>,
    ) -> PyResult<Self> {
        let loaded = prefdb::session::load_config(config.as_deref())
            .map_err(|e| ConfigError::new_err(prefdb::user_message(&e)))?;
        let memory_limit =
            prefdb::limits::memory_limit_from(memory_limit.as_deref()).map_err(|e| {
                ConfigError::new_err(format!("memory_limit: {}", prefdb::user_message(&e)))
            })?;
        let ctx = prefdb::session::open_embedded(&loaded, memory_limit).map_err(|e| {
            let message = prefdb::user_message(&e);
            ConfigError::new_err(match &config {
                Some(path) => format!("config file '{}': {message}", path.display()),
                None => message,
            })
        })?;
        let registered = ctx.clone();
        wait(py, async move {
            let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(tables.len());
            for (name, location) in &tables {
                pairs.push((name, location));
            }
            prefdb::session::register_tables(&registered, &loaded, pairs).await
        })
        .map_err(|e| as_table_error(py, e))?;
        Ok(Session { ctx })
    }

    /// Register a file, directory, glob or URL under `name`, by the CLI's rules.
    fn register_location(&self, py: Python<'_>, name: String, location: String) -> PyResult<()> {
        prefdb::tables::check_table_name(&name).map_err(TableError::new_err)?;
        let ctx = self.ctx.clone();
        wait(py, async move {
            let _ = ctx.deregister_table(&name);
            prefdb::register_table(&ctx, &name, &location).await
        })
        .map_err(|e| as_table_error(py, e))
    }

    /// Register Arrow data under `name`: anything with `__arrow_c_stream__` (read to its
    /// end; the buffers are shared, not copied) or `__arrow_c_array__` (one record batch).
    fn register_arrow(
        &self,
        py: Python<'_>,
        name: String,
        data: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        prefdb::tables::check_table_name(&name).map_err(TableError::new_err)?;
        let (schema, batches) = if data.hasattr("__arrow_c_stream__")? {
            let reader = ArrowArrayStreamReader::from_pyarrow_bound(data)?;
            let schema = arrow::record_batch::RecordBatchReader::schema(&reader);
            let batches = py
                .detach(move || reader.collect::<std::result::Result<Vec<_>, _>>())
                .map_err(|e| {
                    TableError::new_err(format!("cannot read the data for table '{name}': {e}"))
                })?;
            (schema, batches)
        } else {
            let batch = RecordBatch::from_pyarrow_bound(data)?;
            (batch.schema(), vec![batch])
        };
        let (schema, batches) = without_pandas_metadata(schema, batches).map_err(raise)?;
        let partitions = self.ctx.state().config().target_partitions();
        let table = prefdb::tables::memory_table(schema, &batches, partitions).map_err(raise)?;
        let _ = self.ctx.deregister_table(&name);
        self.ctx
            .register_table(name.as_str(), Arc::new(table))
            .map_err(raise)?;
        Ok(())
    }

    /// Remove a table; removing one that does not exist is not an error.
    fn deregister(&self, name: &str) -> PyResult<()> {
        self.ctx.deregister_table(name).map_err(raise)?;
        Ok(())
    }

    /// The names of the tables in the default schema, sorted.
    fn table_names(&self) -> PyResult<Vec<String>> {
        let state = self.ctx.state();
        let options = state.config().options();
        let schema = self
            .ctx
            .catalog(&options.catalog.default_catalog)
            .and_then(|c| c.schema(&options.catalog.default_schema));
        let mut names = schema.map(|s| s.table_names()).unwrap_or_default();
        names.sort();
        Ok(names)
    }

    /// Run one statement and collect its result.
    fn sql(&self, py: Python<'_>, query: String) -> PyResult<QueryResult> {
        let ctx = self.ctx.clone();
        let (schema, batches) = wait(py, async move {
            let frame = prefdb::session::plan_query(&ctx, &query).await?;
            let planned: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
            let batches = frame.collect().await?;
            // The batches' own schema: it can be stricter than the plan's (a constant list
            // is non-null there), and a table is built from batches of one schema.
            let schema = batches.first().map_or(planned, |b| b.schema());
            Ok::<_, DataFusionError>((schema, batches))
        })?;
        Ok(QueryResult::new(schema, batches))
    }
}

/// A failure to register a table: [`TableError`], whatever DataFusion's kind.
fn as_table_error(py: Python<'_>, e: PyErr) -> PyErr {
    let ours = e.is_instance_of::<crate::errors::Error>(py);
    if ours && !e.is_instance_of::<TableError>(py) {
        TableError::new_err(e.value(py).to_string())
    } else {
        e
    }
}

/// `batches` without the schema metadata pandas writes (`pandas`: its dtypes and index),
/// which would otherwise reach query results, whose columns it no longer describes, and
/// make `to_pandas()` restore the input's dtypes on them.
fn without_pandas_metadata(
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
) -> Result<(SchemaRef, Vec<RecordBatch>), DataFusionError> {
    if !schema.metadata().contains_key("pandas") {
        return Ok((schema, batches));
    }
    let mut metadata = schema.metadata().clone();
    metadata.remove("pandas");
    let schema = Arc::new(schema.as_ref().clone().with_metadata(metadata));
    let batches = batches
        .into_iter()
        .map(|b| RecordBatch::try_new(Arc::clone(&schema), b.columns().to_vec()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((schema, batches))
}
