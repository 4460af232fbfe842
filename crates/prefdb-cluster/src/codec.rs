//! prefdb's tables on the wire.
//!
//! prefdb reads Parquet through [`NanSafeParquet`] (see `prefdb::parquet_nan`), a
//! `FileFormat` that datafusion-proto does not know: it refuses to serialize a
//! `ListingTable` whose format is not one of DataFusion's own, before it asks the extension
//! codec. So the client hands such tables to the wire as a [`ShippedTable`], which proto
//! passes to [`PrefdbCodec`]; the codec writes the table with the plain Parquet format it
//! wraps, and the receiving process (the scheduler, which plans) wraps it again. Every
//! other table and plan node goes through Ballista's own codec unchanged.

use async_trait::async_trait;
use ballista_core::serde::BallistaLogicalExtensionCodec;
use datafusion::arrow::datatypes::{SchemaBuilder, SchemaRef};
use datafusion::catalog::Session;
use datafusion::common::tree_node::{Transformed, TreeNodeRecursion};
use datafusion::common::{plan_err, Result, Statistics, TableReference};
use datafusion::datasource::listing::{ListingTable, ListingTableConfig};
use datafusion::datasource::{provider_as_source, source_as_provider, TableProvider};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{
    Extension, LogicalPlan, LogicalPlanBuilder, TableProviderFilterPushDown, TableType,
};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::Expr;
use datafusion_proto::bytes::{
    logical_plan_from_bytes_with_extension_codec, logical_plan_to_bytes_with_extension_codec,
};
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use prefdb::parquet_nan::NanSafeParquet;
use std::sync::Arc;

/// A prefdb Parquet table (a `ListingTable` over [`NanSafeParquet`]) in a plan that is
/// about to be sent to the scheduler. It reads as the table it wraps.
#[derive(Debug)]
pub struct ShippedTable {
    table: Arc<dyn TableProvider>,
}

impl ShippedTable {
    /// The listing table and its format, if `table` is one that only [`PrefdbCodec`] can
    /// send.
    fn listing(table: &Arc<dyn TableProvider>) -> Option<(&ListingTable, &NanSafeParquet)> {
        let listing = table.downcast_ref::<ListingTable>()?;
        let format = listing.options().format.downcast_ref::<NanSafeParquet>()?;
        Some((listing, format))
    }
}

#[async_trait]
impl TableProvider for ShippedTable {
    fn schema(&self) -> SchemaRef {
        self.table.schema()
    }

    fn table_type(&self) -> TableType {
        self.table.table_type()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.table.scan(state, projection, filters, limit).await
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        self.table.supports_filters_pushdown(filters)
    }

    fn statistics(&self) -> Option<Statistics> {
        self.table.statistics()
    }
}

/// Whether `plan` reads any files (a listing table), which only the cluster can do for it.
/// Plans that read none (`SELECT 1`, `VALUES`, the catalogs that psql and BI tools browse)
/// run in the client.
pub fn reads_files(plan: &LogicalPlan) -> Result<bool> {
    let mut files = false;
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            if let Ok(table) = source_as_provider(&scan.source) {
                files |= table.is::<ListingTable>() || table.is::<ShippedTable>();
            }
        }
        Ok(if files {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    })?;
    Ok(files)
}

/// `plan` with each prefdb Parquet table in it (subqueries included) wrapped as a
/// [`ShippedTable`], so that it can be serialized with [`PrefdbCodec`].
pub fn ship_tables(plan: LogicalPlan) -> Result<LogicalPlan> {
    plan.transform_up_with_subqueries(|node| {
        let LogicalPlan::TableScan(mut scan) = node else {
            return Ok(Transformed::no(node));
        };
        match source_as_provider(&scan.source) {
            Ok(table) if ShippedTable::listing(&table).is_some() => {
                scan.source = provider_as_source(Arc::new(ShippedTable { table }));
                Ok(Transformed::yes(LogicalPlan::TableScan(scan)))
            }
            _ => Ok(Transformed::no(LogicalPlan::TableScan(scan))),
        }
    })
    .map(|t| t.data)
}

/// Ballista's logical codec, plus prefdb's Parquet tables. Used by the client, the
/// scheduler and the executors alike.
#[derive(Debug, Default)]
pub struct PrefdbCodec {
    ballista: BallistaLogicalExtensionCodec,
}

impl LogicalExtensionCodec for PrefdbCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        self.ballista.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        self.ballista.try_encode(node, buf)
    }

    /// A [`ShippedTable`] travels as a scan of the same files, schema and options with
    /// DataFusion's Parquet format in place of [`NanSafeParquet`].
    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        let Some(shipped) = node.downcast_ref::<ShippedTable>() else {
            return plan_err!(
                "table '{table_ref}' is held by this client (in memory or a catalog) and cannot be sent to the cluster: a cluster query reads file tables (--table, CREATE EXTERNAL TABLE), and a query of catalog or in-memory tables alone runs here"
            );
        };
        let Some((table, format)) = ShippedTable::listing(&shipped.table) else {
            return plan_err!("a shipped table must be a Parquet listing table");
        };
        let plain = rebuild(table, Arc::clone(format.inner()))?;
        let scan =
            LogicalPlanBuilder::scan(table_ref.clone(), provider_as_source(Arc::new(plain)), None)?
                .build()?;
        buf.extend_from_slice(&logical_plan_to_bytes_with_extension_codec(
            &scan,
            &self.ballista,
        )?);
        Ok(())
    }

    /// The other half of [`Self::try_encode_table_provider`]: the table with its Parquet
    /// format wrapped in [`NanSafeParquet`] again.
    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        let scan = logical_plan_from_bytes_with_extension_codec(buf, ctx, &self.ballista);
        let Ok(LogicalPlan::TableScan(scan)) = scan else {
            return self
                .ballista
                .try_decode_table_provider(buf, table_ref, schema, ctx);
        };
        let provider = source_as_provider(&scan.source)?;
        let Some(table) = provider.downcast_ref::<ListingTable>() else {
            return plan_err!(
                "table '{table_ref}' arrived as a scan of something other than files"
            );
        };
        let format = Arc::new(NanSafeParquet::new(Arc::clone(&table.options().format)));
        let table = rebuild(table, format)?;
        Ok(Arc::new(table))
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn datafusion::datasource::file_format::FileFormatFactory>> {
        self.ballista.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn datafusion::datasource::file_format::FileFormatFactory>,
    ) -> Result<()> {
        self.ballista.try_encode_file_format(buf, node)
    }
}

/// `table` with `format` in place of its own: the same paths, options and file schema (the
/// table's schema less its partition columns, which the options carry).
fn rebuild(
    table: &ListingTable,
    format: Arc<dyn datafusion::datasource::file_format::FileFormat>,
) -> Result<ListingTable> {
    let mut options = table.options().clone();
    options.format = format;
    let schema = table.schema();
    let mut file_schema = SchemaBuilder::from(schema.as_ref());
    for (i, field) in schema.fields().iter().enumerate().rev() {
        if options
            .table_partition_cols
            .iter()
            .any(|(name, _)| name == field.name())
        {
            file_schema.remove(i);
        }
    }
    ListingTable::try_new(
        ListingTableConfig::new_with_multi_paths(table.table_paths().clone())
            .with_listing_options(options)
            .with_schema(Arc::new(file_schema.finish())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::common::tree_node::TreeNode;
    use datafusion::prelude::SessionContext;

    async fn optimized(ctx: &SessionContext, sql: &str) -> LogicalPlan {
        ctx.sql(sql).await.unwrap().into_optimized_plan().unwrap()
    }

    /// A prefdb Parquet table goes over the wire and comes back NaN-safe, with the same
    /// files and schema; a plan that reads it is one that [`reads_files`].
    #[tokio::test]
    async fn shipped_tables_arrive_nan_safe() {
        let dir = std::env::temp_dir().join(format!("prefdb-codec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("t.parquet");
        let ctx = prefdb::new_context();
        ctx.sql(&format!(
            "COPY (SELECT 1.5 AS x, 'a' AS y) TO '{}' STORED AS PARQUET",
            file.display()
        ))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
        prefdb::register_table(&ctx, "t", file.to_str().unwrap())
            .await
            .unwrap();
        let plan = optimized(&ctx, "SELECT x FROM t").await;
        assert!(reads_files(&plan).unwrap());
        let shipped = ship_tables(plan).unwrap();
        let codec = PrefdbCodec::default();
        let bytes = logical_plan_to_bytes_with_extension_codec(&shipped, &codec).unwrap();
        let task = SessionContext::new().task_ctx();
        let back = logical_plan_from_bytes_with_extension_codec(&bytes, &task, &codec).unwrap();
        let mut tables = Vec::new();
        back.apply(|node| {
            if let LogicalPlan::TableScan(scan) = node {
                tables.push(source_as_provider(&scan.source).unwrap());
            }
            Ok(TreeNodeRecursion::Continue)
        })
        .unwrap();
        assert_eq!(tables.len(), 1);
        let table = tables[0]
            .downcast_ref::<ListingTable>()
            .expect("a listing table");
        assert!(table.options().format.is::<NanSafeParquet>());
        assert_eq!(table.table_paths().len(), 1);
        assert_eq!(table.schema().field(0).name(), "x");
        // A plan without files runs in the client.
        assert!(!reads_files(&optimized(&ctx, "SELECT 1").await).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
