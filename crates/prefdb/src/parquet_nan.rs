//! Parquet whose float columns' min/max statistics are not trusted.
//!
//! Parquet writers leave NaN out of a column chunk's min and max. DataFusion 55 reads a
//! file whose min equals its max, with no NULLs, as a column holding that one value: the
//! Parquet opener replaces the column with the constant (`constant_columns_from_stats` in
//! `datafusion-datasource-parquet`), and the aggregate statistics rule answers `min`/`max`
//! from it. `[0.9, NaN, 0.9, 0.9]` then reads as four 0.9s: `sum` 3.6, `isnan` never true,
//! `brier_score` off. Until upstream checks for NaN, prefdb reads Parquet through
//! [`NanSafeParquet`], which drops min and max from the file statistics of floating-point
//! columns. Row counts and the statistics of every other column stay, so `count(*)` from
//! metadata and file pruning on ids and timestamps keep working.

use arrow::datatypes::{DataType, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::stats::Precision;
use datafusion::common::{GetExt, Result, Statistics};
use datafusion::datasource::file_format::file_compression_type::FileCompressionType;
use datafusion::datasource::file_format::parquet::ParquetFormatFactory;
use datafusion::datasource::file_format::{FileFormat, FileFormatFactory, FileMeta};
use datafusion::datasource::physical_plan::{FileScanConfig, FileSinkConfig, FileSource};
use datafusion::physical_expr::LexRequirement;
use datafusion::physical_plan::ExecutionPlan;
use object_store::{ObjectMeta, ObjectStore};
use std::collections::HashMap;
use std::sync::Arc;

/// A Parquet [`FileFormat`] (the wrapped one) without float min/max statistics.
#[derive(Debug)]
pub struct NanSafeParquet {
    inner: Arc<dyn FileFormat>,
}

impl NanSafeParquet {
    pub fn new(inner: Arc<dyn FileFormat>) -> Self {
        Self { inner }
    }

    /// The wrapped Parquet format (what goes over the wire to a cluster, which wraps it
    /// again on arrival; see `prefdb-cluster`).
    pub fn inner(&self) -> &Arc<dyn FileFormat> {
        &self.inner
    }
}

/// Forget the min and max of every floating-point column of `table_schema`.
fn without_float_bounds(mut stats: Statistics, table_schema: &SchemaRef) -> Statistics {
    for (column, field) in stats
        .column_statistics
        .iter_mut()
        .zip(table_schema.fields())
    {
        if is_float(field.data_type()) {
            column.min_value = Precision::Absent;
            column.max_value = Precision::Absent;
        }
    }
    stats
}

fn is_float(t: &DataType) -> bool {
    match t {
        DataType::Dictionary(_, value) => is_float(value),
        t => t.is_floating(),
    }
}

#[async_trait]
impl FileFormat for NanSafeParquet {
    fn get_ext(&self) -> String {
        self.inner.get_ext()
    }

    fn get_ext_with_compression(&self, c: &FileCompressionType) -> Result<String> {
        self.inner.get_ext_with_compression(c)
    }

    fn compression_type(&self) -> Option<FileCompressionType> {
        self.inner.compression_type()
    }

    async fn infer_schema(
        &self,
        state: &dyn Session,
        store: &Arc<dyn ObjectStore>,
        objects: &[ObjectMeta],
    ) -> Result<SchemaRef> {
        self.inner.infer_schema(state, store, objects).await
    }

    async fn infer_stats(
        &self,
        state: &dyn Session,
        store: &Arc<dyn ObjectStore>,
        table_schema: SchemaRef,
        object: &ObjectMeta,
    ) -> Result<Statistics> {
        let stats = self
            .inner
            .infer_stats(state, store, Arc::clone(&table_schema), object)
            .await?;
        Ok(without_float_bounds(stats, &table_schema))
    }

    async fn infer_stats_and_ordering(
        &self,
        state: &dyn Session,
        store: &Arc<dyn ObjectStore>,
        table_schema: SchemaRef,
        object: &ObjectMeta,
    ) -> Result<FileMeta> {
        let mut meta = self
            .inner
            .infer_stats_and_ordering(state, store, Arc::clone(&table_schema), object)
            .await?;
        meta.statistics = without_float_bounds(meta.statistics, &table_schema);
        Ok(meta)
    }

    async fn create_physical_plan(
        &self,
        state: &dyn Session,
        conf: FileScanConfig,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.inner.create_physical_plan(state, conf).await
    }

    async fn create_writer_physical_plan(
        &self,
        input: Arc<dyn ExecutionPlan>,
        state: &dyn Session,
        conf: FileSinkConfig,
        order_requirements: Option<LexRequirement>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.inner
            .create_writer_physical_plan(input, state, conf, order_requirements)
            .await
    }

    fn file_source(
        &self,
        table_schema: datafusion::datasource::table_schema::TableSchema,
    ) -> Arc<dyn FileSource> {
        self.inner.file_source(table_schema)
    }
}

/// The session's Parquet format factory (for `FROM 'file.parquet'`, `CREATE EXTERNAL
/// TABLE` and `COPY`): DataFusion's, wrapped in [`NanSafeParquet`].
#[derive(Debug, Default)]
pub struct NanSafeParquetFactory {
    inner: ParquetFormatFactory,
}

impl FileFormatFactory for NanSafeParquetFactory {
    fn create(
        &self,
        state: &dyn Session,
        format_options: &HashMap<String, String>,
    ) -> Result<Arc<dyn FileFormat>> {
        Ok(Arc::new(NanSafeParquet::new(
            self.inner.create(state, format_options)?,
        )))
    }

    fn default(&self) -> Arc<dyn FileFormat> {
        Arc::new(NanSafeParquet::new(self.inner.default()))
    }
}

impl GetExt for NanSafeParquetFactory {
    fn get_ext(&self) -> String {
        self.inner.get_ext()
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{AsArray, Float64Array, Int64Array, RecordBatch};
    use arrow::datatypes::{Field, Float64Type, Int64Type, Schema};
    use parquet::arrow::ArrowWriter;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use std::sync::Arc;

    /// A Parquet file of `p = [0.9, NaN, 0.9, 0.9]`, `y = [1, 0, 1, 0]`, whose statistics
    /// say min = max = 0.9 (the writer leaves NaN out).
    fn nan_file(dir: &std::path::Path) -> std::path::PathBuf {
        let schema = Arc::new(Schema::new(vec![
            Field::new("p", arrow::datatypes::DataType::Float64, false),
            Field::new("y", arrow::datatypes::DataType::Int64, false),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Float64Array::from(vec![0.9, f64::NAN, 0.9, 0.9])),
                Arc::new(Int64Array::from(vec![1, 0, 1, 0])),
            ],
        )
        .unwrap();
        let path = dir.join("nan.parquet");
        let mut writer =
            ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), schema, None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        // The condition of the upstream bug: min = max, no NULLs, though a NaN is there.
        let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
        let stats = reader
            .metadata()
            .row_group(0)
            .column(0)
            .statistics()
            .unwrap();
        assert_eq!(stats.min_bytes_opt(), stats.max_bytes_opt());
        path
    }

    #[tokio::test]
    async fn a_nan_in_parquet_reads_back_as_nan() {
        let dir = tempfile::tempdir().unwrap();
        let path = nan_file(dir.path());
        let ctx = crate::new_context();
        crate::register_table(&ctx, "t", path.to_str().unwrap())
            .await
            .unwrap();
        let by_path = format!("'{}'", path.display());
        for table in ["t", by_path.as_str()] {
            let batches = ctx
                .sql(&format!(
                    "SELECT count(*) FILTER (WHERE isnan(p)) AS nans, max(p) AS top, \
                     count(*) FILTER (WHERE p = 0.9) AS nines, \
                     array_agg(p ORDER BY y, p) AS ps FROM {table}"
                ))
                .await
                .unwrap()
                .collect()
                .await
                .unwrap();
            let b = &batches[0];
            assert_eq!(
                b.column(0).as_primitive::<Int64Type>().value(0),
                1,
                "{table}"
            );
            // DataFusion orders NaN above every number.
            assert!(
                b.column(1).as_primitive::<Float64Type>().value(0).is_nan(),
                "{table}"
            );
            assert_eq!(
                b.column(2).as_primitive::<Int64Type>().value(0),
                3,
                "{table}"
            );
            let ps = b.column(3).as_list::<i32>().value(0);
            let ps = ps.as_primitive::<Float64Type>();
            assert_eq!(ps.len(), 4);
            assert_eq!(
                ps.values().iter().filter(|v| v.is_nan()).count(),
                1,
                "{table}"
            );
        }
        // A prefdb function sees the NaN too, and says so.
        let err = ctx
            .sql("SELECT brier_score(p, y) FROM t")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap_err();
        assert!(
            crate::user_message(&err).contains("brier_score: NaN is not a valid prob"),
            "{err}"
        );
    }
}
