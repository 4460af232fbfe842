//! `prefdb._prefdb.QueryResult`: a statement's collected result, handed to Python as Arrow.

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::ffi_stream::FFI_ArrowArrayStream;
use arrow::record_batch::RecordBatchIterator;
use arrow::util::display::ArrayFormatter;
use arrow_pyarrow::{IntoPyArrow, ToPyArrow};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

#[pyclass(module = "prefdb._prefdb", frozen)]
pub struct QueryResult {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
}

impl QueryResult {
    pub fn new(schema: SchemaRef, batches: Vec<RecordBatch>) -> Self {
        QueryResult { schema, batches }
    }
}

#[pymethods]
impl QueryResult {
    /// The number of rows.
    #[getter]
    fn num_rows(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }

    /// The column names.
    #[getter]
    fn columns(&self) -> Vec<String> {
        self.schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    /// The result's schema as a `pyarrow.Schema`.
    #[getter]
    fn schema<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.schema.as_ref().to_pyarrow(py)
    }

    /// The result as a `pyarrow.Table` (the buffers are shared, not copied).
    fn to_arrow<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        arrow_pyarrow::Table::try_new(self.batches.clone(), self.schema.clone())
            .map_err(|e| PyValueError::new_err(e.to_string()))?
            .into_pyarrow(py)
    }

    /// The Arrow PyCapsule stream interface: any Arrow consumer (pyarrow, polars, pandas,
    /// DuckDB) reads the result from it.
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        // The schema is given as it is; a consumer that asked for another casts itself, as
        // the interface allows.
        let _ = requested_schema;
        let reader = RecordBatchIterator::new(
            self.batches.clone().into_iter().map(Ok),
            self.schema.clone(),
        );
        let stream = FFI_ArrowArrayStream::new(Box::new(reader));
        PyCapsule::new_with_value(py, stream, c"arrow_array_stream")
    }

    /// The first `limit` rows as display text, one vector of cells per row, and whether
    /// rows were left out.
    fn _cells(&self, limit: usize) -> PyResult<(Vec<Vec<String>>, bool)> {
        let options = prefdb::display_options();
        let mut rows = Vec::new();
        for batch in &self.batches {
            let formatters = batch
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| PyValueError::new_err(e.to_string()))?;
            for row in 0..batch.num_rows() {
                if rows.len() == limit {
                    return Ok((rows, true));
                }
                rows.push(
                    formatters
                        .iter()
                        .map(|f| f.value(row).to_string())
                        .collect(),
                );
            }
        }
        Ok((rows, false))
    }

    /// The first `limit` rows as a text table, as the CLI prints it.
    fn _text(&self, limit: usize) -> PyResult<String> {
        let mut shown = Vec::new();
        let mut left = limit;
        for batch in &self.batches {
            if left == 0 {
                break;
            }
            let take = left.min(batch.num_rows());
            shown.push(batch.slice(0, take));
            left -= take;
        }
        if shown.is_empty() {
            shown.push(RecordBatch::new_empty(self.schema.clone()));
        }
        arrow::util::pretty::pretty_format_batches_with_options(&shown, &prefdb::display_options())
            .map(|t| t.to_string())
            .map_err(|e| PyValueError::new_err(e.to_string()))
    }
}
