//! A client session: plans here, runs on the cluster.

use crate::codec::{reads_files, ship_tables, PrefdbCodec};
use ballista_core::execution_plans::DistributedQueryExec;
use ballista_core::extension::{SessionConfigExt, SessionStateExt};
use ballista_core::planner::BallistaQueryPlanner;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use ballista_core::serde::protobuf::{job_status, CancelJobParams, GetJobStatusParams};
use ballista_core::utils::{create_grpc_client_connection, GrpcClientConfig};
use datafusion::catalog::Session;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{plan_err, DataFusionError, Result};
use datafusion::execution::context::QueryPlanner;
use datafusion::execution::SessionStateBuilder;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_planner::{DefaultPhysicalPlanner, PhysicalPlanner};
use datafusion::prelude::SessionContext;
use datafusion_proto::protobuf::LogicalPlanNode;
use prefdb::ContextOptions;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A session whose queries run on the Ballista cluster at `url` (`df://HOST:PORT`; the
/// port defaults to 50050), with every prefdb function, prefdb's tables and the object
/// stores of `options`. Files named in a query (`FROM 'votes.parquet'`) are read where
/// `options.url_tables` allows them, as registered tables are: their paths must be readable
/// by the scheduler and every executor.
pub fn connect(url: &str, options: &ContextOptions) -> Result<SessionContext> {
    let scheduler = scheduler_url(url)?;
    let jobs = Arc::new(ClusterJobs {
        scheduler: scheduler.clone(),
        plans: Mutex::default(),
    });
    let config = crate::session_config().with_extension(Arc::clone(&jobs));
    let state = prefdb::session_state(options, config)?;
    let state = state.upgrade_for_ballista(scheduler.clone())?;
    let ballista = BallistaQueryPlanner::<LogicalPlanNode>::with_extension(
        scheduler,
        state.config().ballista_config(),
        Arc::new(PrefdbCodec::default()),
    );
    let state = SessionStateBuilder::new_from_existing(state)
        .with_query_planner(Arc::new(ClusterPlanner { ballista, jobs }))
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

/// Cancel, on the cluster, the jobs of this session's latest statements that are still
/// queued or running: the ids of the jobs now cancelled (by this call, or already). For a client that runs one
/// statement at a time and stops waiting for it (Ctrl-C in `prefdb sql`), to say which jobs
/// it stopped. (A statement's own stop flag cancels its job too: see [`ClusterJobs::track`].)
/// A scheduler that cannot be asked is an error naming the jobs.
pub async fn cancel_jobs(ctx: &SessionContext) -> Result<Vec<String>> {
    let Some(jobs) = ctx.state().config().get_extension::<ClusterJobs>() else {
        return Ok(Vec::new());
    };
    let plans: Vec<_> = jobs
        .plans
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .cloned()
        .collect();
    let ids = plans.iter().flat_map(job_ids).collect();
    cancel(&jobs.scheduler, ids).await
}

/// The jobs the scheduler has accepted for `plan` (its `DistributedQueryExec`s).
fn job_ids(plan: &Arc<dyn ExecutionPlan>) -> Vec<String> {
    let mut ids = Vec::new();
    let _ = plan.apply(|node| {
        if let Some(query) = node.downcast_ref::<DistributedQueryExec<LogicalPlanNode>>() {
            ids.extend(query.job_id().map(String::from));
        }
        Ok(TreeNodeRecursion::Continue)
    });
    ids
}

/// How Ballista 55's scheduler words the failure of a cancelled job.
const CANCELLED: &str = "Cancelled";

/// Ask the scheduler at `scheduler` to cancel those of `ids` still queued or running; the
/// ids of the jobs now cancelled (by this call, or already).
async fn cancel(scheduler: &str, ids: Vec<String>) -> Result<Vec<String>> {
    if ids.is_empty() {
        return Ok(ids);
    }
    let failed = |e: &dyn std::fmt::Display| {
        DataFusionError::Execution(format!(
            "could not cancel job {} on the cluster at {scheduler}: {e}",
            ids.join(", "),
        ))
    };
    let channel =
        create_grpc_client_connection(scheduler.to_string(), &GrpcClientConfig::default())
            .await
            .map_err(|e| failed(&e))?;
    let mut client = SchedulerGrpcClient::new(channel);
    let mut cancelled = Vec::new();
    for id in &ids {
        let params = GetJobStatusParams { job_id: id.clone() };
        let status = client
            .get_job_status(params)
            .await
            .map_err(|e| failed(&e.message()))?
            .into_inner()
            .status
            .and_then(|s| s.status);
        match status {
            Some(job_status::Status::Successful(_)) => continue,
            // Cancelled already (the statement's own watch may have been first), or failed.
            Some(job_status::Status::Failed(failed)) => {
                if failed.error.contains(CANCELLED) {
                    cancelled.push(id.clone());
                }
                continue;
            }
            _ => {}
        }
        let params = CancelJobParams { job_id: id.clone() };
        client
            .cancel_job(params)
            .await
            .map_err(|e| failed(&e.message()))?;
        cancelled.push(id.clone());
    }
    Ok(cancelled)
}

/// The plans of the latest statements this session sent to the cluster, for
/// [`cancel_jobs`]; a session config extension, so that the context can reach it.
#[derive(Debug)]
struct ClusterJobs {
    /// The scheduler's gRPC URL.
    scheduler: String,
    /// The planner's own plans, held: DataFusion's optimizer may replace the root it runs,
    /// but Ballista's copies share the job id of the plan they were made from.
    plans: Mutex<VecDeque<Arc<dyn ExecutionPlan>>>,
}

/// Statements [`ClusterJobs`] remembers.
const LATEST_STATEMENTS: usize = 4;

/// How often a statement's stop flag is looked at while its job may run.
const STOP_POLL: Duration = Duration::from_millis(100);

impl ClusterJobs {
    /// Remember `plan`; and when it is planned under a statement's stop flag (the server's
    /// statements, the CLI's), watch the flag while the statement lasts: once it is set (a
    /// cancel request, a timeout, a client gone, Ctrl-C) the plan's job is cancelled on the
    /// cluster, since Ballista's client leaves it running when it stops reading.
    fn track(&self, plan: &Arc<dyn ExecutionPlan>) {
        {
            let mut plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
            if plans.len() == LATEST_STATEMENTS {
                plans.pop_front();
            }
            plans.push_back(Arc::clone(plan));
        }
        let (Some(flag), Ok(runtime)) = (
            prefdb::cancel::current(),
            tokio::runtime::Handle::try_current(),
        ) else {
            return;
        };
        // The statement holds its flag while it runs; once this watch is the only holder,
        // the statement is over. The flag is read first, so a statement that was stopped
        // and let go of its flag between two looks is still cancelled.
        let (plan, scheduler) = (Arc::clone(plan), self.scheduler.clone());
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(STOP_POLL).await;
                if flag.load(Ordering::Relaxed) {
                    // Nobody waits for the outcome: the statement has already failed.
                    let _ = cancel(&scheduler, job_ids(&plan)).await;
                    return;
                }
                if Arc::strong_count(&flag) == 1 {
                    return;
                }
            }
        });
    }
}

/// Ballista's planner, after wrapping prefdb's Parquet tables for the wire, for queries
/// that read files; DataFusion's own, in the client, for the rest and for writes.
#[derive(Debug)]
struct ClusterPlanner {
    ballista: BallistaQueryPlanner<LogicalPlanNode>,
    /// Where the plans sent to the cluster are kept track of.
    jobs: Arc<ClusterJobs>,
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
        let plan = self.ballista.create_physical_plan(&plan, session).await?;
        self.jobs.track(&plan);
        Ok(plan)
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
