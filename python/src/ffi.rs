//! prefdb's functions for datafusion-python, through DataFusion's FFI.
//!
//! Each function is a small Python object with the dunder method datafusion-python looks
//! for (`__datafusion_aggregate_udf__`, `__datafusion_scalar_udf__`), returning a PyCapsule
//! that holds the function behind DataFusion's stable ABI. `leaderboard` is not exported
//! this way (see the README's design notes): datafusion-python plans it from the SQL text
//! [`prefdb_udfs::flat::flatten_sql`] writes. The ABI holds within one DataFusion major version only, so the
//! `datafusion` package must have the major version prefdb is built on ([`major_version`]).

use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use datafusion_ffi::udaf::FFI_AggregateUDF;
use datafusion_ffi::udf::FFI_ScalarUDF;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;
use std::sync::Arc;

/// The DataFusion major version prefdb is built on: the one the `datafusion` package must have.
pub fn major_version() -> u64 {
    datafusion_ffi::version()
}

/// One prefdb aggregate, for `datafusion.udaf(...)`.
#[pyclass(module = "prefdb._prefdb", frozen)]
pub struct FfiAggregate {
    udaf: Arc<AggregateUDF>,
}

#[pymethods]
impl FfiAggregate {
    #[getter]
    fn name(&self) -> String {
        self.udaf.name().to_string()
    }

    fn __datafusion_aggregate_udf__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let udaf = FFI_AggregateUDF::from(Arc::clone(&self.udaf));
        PyCapsule::new_with_value(py, udaf, c"datafusion_aggregate_udf")
    }
}

/// One prefdb scalar function, for `datafusion.udf(...)`.
#[pyclass(module = "prefdb._prefdb", frozen)]
pub struct FfiScalar {
    udf: Arc<ScalarUDF>,
}

#[pymethods]
impl FfiScalar {
    #[getter]
    fn name(&self) -> String {
        self.udf.name().to_string()
    }

    fn __datafusion_scalar_udf__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        let udf = FFI_ScalarUDF::from(Arc::clone(&self.udf));
        PyCapsule::new_with_value(py, udf, c"datafusion_scalar_udf")
    }
}

/// Every prefdb aggregate as an FFI object. Their evaluation reserves no memory from a
/// pool: datafusion-python's memory pool is not reachable through the FFI.
pub fn aggregates() -> Vec<FfiAggregate> {
    prefdb_udfs::aggregate_functions()
        .into_iter()
        .map(|f| FfiAggregate { udaf: Arc::new(f) })
        .collect()
}

/// Every prefdb scalar function as an FFI object.
pub fn scalars() -> Vec<FfiScalar> {
    prefdb_udfs::scalar::scalar_udfs()
        .into_iter()
        .map(|f| FfiScalar { udf: Arc::new(f) })
        .collect()
}
