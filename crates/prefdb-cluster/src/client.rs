//! A client session: plans here, runs on the cluster.

use crate::codec::{reads_files, ship_tables, PrefdbCodec};
use ballista_core::extension::{SessionConfigExt, SessionStateExt};
use ballista_core::planner::BallistaQueryPlanner;
use datafusion::catalog::Session;
use datafusion::common::{plan_err, Result};
use datafusion::execution::context::QueryPlanner;
use datafusion::execution::SessionStateBuilder;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_planner::{DefaultPhysicalPlanner, PhysicalPlanner};
use datafusion::prelude::SessionContext;
use datafusion_proto::protobuf::LogicalPlanNode;
use prefdb::ContextOptions;
use std::sync::Arc;

/// A session whose queries run on the Ballista cluster at `url` (`df://HOST:PORT`; the
/// port defaults to 50050), with every prefdb function, prefdb's tables and the object
/// stores of `options`. Files named in a query (`FROM 'votes.parquet'`) are read where
/// `options.url_tables` allows them, as registered tables are: their paths must be readable
/// by the scheduler and every executor.
pub fn connect(url: &str, options: &ContextOptions) -> Result<SessionContext> {
    let scheduler = scheduler_url(url)?;
    let config = crate::session_config();
    let state = prefdb::session_state(options, config)?;
    let state = state.upgrade_for_ballista(scheduler.clone())?;
    let ballista = BallistaQueryPlanner::<LogicalPlanNode>::with_extension(
        scheduler,
        state.config().ballista_config(),
        Arc::new(PrefdbCodec::default()),
    );
    let state = SessionStateBuilder::new_from_existing(state)
        .with_query_planner(Arc::new(ClusterPlanner { ballista }))
        .build();
    let ctx = SessionContext::new_with_state(state);
    // `FROM 'votes.parquet'` where the options allow it, as in an embedded session: the
    // file becomes a listing table like a registered one, shipped to the cluster the same
    // way, so its path must be readable by the scheduler and every executor.
    let ctx = if options.url_tables {
        ctx.enable_url_table()
    } else {
        ctx
    };
    // After the upgrade, which replaces the session's function lists with Ballista's.
    prefdb_udfs::register_all(&ctx);
    Ok(ctx)
}

/// `df://host:port` (or `http://`, or a bare `host:port`) as the scheduler's gRPC URL.
pub fn scheduler_url(url: &str) -> Result<String> {
    let rest = match url.split_once("://") {
        Some(("df" | "http", rest)) => rest,
        Some((scheme, _)) => {
            return plan_err!(
                "--cluster {url}: expected df://HOST:PORT (the scheduler), not a {scheme}:// URL"
            )
        }
        None => url,
    };
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || rest.contains('/') {
        return plan_err!("--cluster {url}: expected df://HOST:PORT (the scheduler)");
    }
    let with_port = match rest.rsplit_once(':') {
        Some((_, port)) if !rest.ends_with(']') => {
            if port.parse::<u16>().is_err() {
                return plan_err!("--cluster {url}: '{port}' is not a port number");
            }
            rest.to_string()
        }
        _ => format!("{rest}:{}", crate::DEFAULT_SCHEDULER_PORT),
    };
    Ok(format!("http://{with_port}"))
}

/// Ballista's planner, after wrapping prefdb's Parquet tables for the wire, for queries
/// that read files; DataFusion's own, in the client, for the rest and for writes.
#[derive(Debug)]
struct ClusterPlanner {
    ballista: BallistaQueryPlanner<LogicalPlanNode>,
}

#[async_trait::async_trait]
impl QueryPlanner for ClusterPlanner {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session: &dyn Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        // COPY and INSERT write from the client: Ballista 55 does not distribute writes
        // (its executors reject the task).
        let writes = matches!(logical_plan, LogicalPlan::Copy(_) | LogicalPlan::Dml(_));
        if writes || !reads_files(logical_plan)? {
            return DefaultPhysicalPlanner::default()
                .create_physical_plan(logical_plan, session)
                .await;
        }
        let plan = ship_tables(logical_plan.clone())?;
        self.ballista.create_physical_plan(&plan, session).await
    }
}

#[cfg(test)]
mod tests {
    use super::scheduler_url;

    #[test]
    fn scheduler_urls() {
        assert_eq!(
            scheduler_url("df://127.0.0.1:7000").unwrap(),
            "http://127.0.0.1:7000"
        );
        assert_eq!(scheduler_url("df://h").unwrap(), "http://h:50050");
        assert_eq!(scheduler_url("h:1/").unwrap(), "http://h:1");
        assert_eq!(scheduler_url("df://[::1]").unwrap(), "http://[::1]:50050");
        assert_eq!(scheduler_url("df://[::1]:9").unwrap(), "http://[::1]:9");
        let e = scheduler_url("s3://bucket").unwrap_err().to_string();
        assert!(e.contains("not a s3:// URL"), "{e}");
        let e = scheduler_url("df://h:port").unwrap_err().to_string();
        assert!(e.contains("'port' is not a port number"), "{e}");
    }
}
