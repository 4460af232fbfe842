//! prefdb on an Apache Ballista cluster: the scheduler and executor processes, each with
//! every prefdb function, and the client session that plans queries and sends them there.
//!
//! Ballista resolves functions by name in every process: the client plans, the scheduler
//! plans again (it re-runs the optimizer and the physical planner), and each executor
//! decodes its tasks' plans against its own registry. So each process builds its session
//! the way the embedded engine does ([`prefdb::session_state`]) and registers prefdb's
//! functions into it. A prefdb aggregate's options are a literal argument of the call, so
//! they travel in the plan and each process parses them again; partial states cross the
//! wire as the same Arrow arrays that cross partitions on one machine, which is why a
//! distributed result equals the embedded one.

pub mod client;
pub mod codec;

use ballista_core::extension::SessionConfigExt;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::{ConfigProducer, RuntimeProducer};
use ballista_executor::executor_process::{start_executor_process, ExecutorProcessConfig};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::{create_scheduler, start_grpc_service_with_listener};
use codec::PrefdbCodec;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::config::SessionConfig;
use datafusion::execution::memory_pool::{GreedyMemoryPool, MemoryPool, UnboundedMemoryPool};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::{SessionState, SessionStateBuilder};
use datafusion::prelude::SessionContext;
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};
use prefdb::stores::{PrefdbStores, StoreSettings};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use client::{cancel_jobs, connect};

/// The scheduler's port when `--cluster` names none (Ballista's).
pub const DEFAULT_SCHEDULER_PORT: u16 = 50050;

/// How often an executor tells the scheduler it is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// How long the scheduler waits for a heartbeat before it takes an executor for dead and
/// runs its tasks (and the map outputs it held) elsewhere. Ballista's default is 180 s.
pub const EXECUTOR_TIMEOUT: Duration = Duration::from_secs(20);

/// The settings of every session in the cluster: prefdb's (`information_schema`,
/// `prefdb.public`) with Ballista's extension and restrictions, and prefdb's codec.
///
/// Ballista's adaptive planner is off. In Ballista 55 it loses a job when an executor dies
/// mid-query: it rolls the running stage back, then drops the surviving executor's
/// finished task ("Can't find active stage to update stage outputs") and never runs the
/// stage again, so the query waits forever. The static planner re-runs the lost tasks.
pub fn session_config() -> SessionConfig {
    prefdb::session_config()
        .upgrade_for_ballista()
        .with_ballista_adaptive_query_planner(false)
        .with_ballista_logical_extension_codec(Arc::new(PrefdbCodec::default()))
}

/// A session state with every prefdb function registered, on a runtime with `stores`
/// and `pool`, and Ballista's logical optimizer rule.
fn function_state(stores: &Arc<PrefdbStores>, pool: Arc<dyn MemoryPool>) -> Result<SessionState> {
    let runtime = RuntimeEnvBuilder::new()
        .with_object_store_registry(Arc::clone(stores) as _)
        .with_memory_pool(pool)
        .build_arc()?;
    let state = prefdb::session_state_on(runtime, session_config())?;
    let rules = ballista_core::optimizer::with_ballista_optimizer_rules(state.optimizers());
    let state = SessionStateBuilder::new_from_existing(state)
        .with_optimizer_rules(rules)
        .build();
    let ctx = SessionContext::new_with_state(state);
    prefdb_udfs::register_all(&ctx);
    Ok(ctx.state())
}

fn ballista_error(what: &str, e: ballista_core::error::BallistaError) -> DataFusionError {
    DataFusionError::External(format!("{what}: {e}").into())
}

/// Serve as the cluster's scheduler on `listener` until the process ends. Queries arrive
/// from clients as logical plans; the scheduler plans them with prefdb's functions and
/// `stores` (it lists files and reads their statistics) and hands stages to executors.
pub async fn run_scheduler(listener: tokio::net::TcpListener, stores: StoreSettings) -> Result<()> {
    let address = listener.local_addr()?;
    let stores = Arc::new(PrefdbStores::new(stores)?);
    // Planning holds no data: the memory pool only bounds what an aggregate's planning
    // step might reserve, which is nothing.
    let template = function_state(&stores, Arc::new(UnboundedMemoryPool::default()))?;
    let builder: ballista_scheduler::SessionBuilder = Arc::new(move |config: SessionConfig| {
        Ok(SessionStateBuilder::new_from_existing(template.clone())
            .with_config(config)
            .build())
    });
    let config = SchedulerConfig {
        bind_host: address.ip().to_string(),
        bind_port: address.port(),
        external_host: address.ip().to_string(),
        executor_timeout_seconds: EXECUTOR_TIMEOUT.as_secs(),
        expire_dead_executor_interval_seconds: 5,
        no_executors_grace_period_seconds: EXECUTOR_TIMEOUT.as_secs(),
        executor_termination_grace_period: 5,
        override_config_producer: Some(Arc::new(session_config) as ConfigProducer),
        override_session_builder: Some(builder),
        override_logical_codec: Some(Arc::new(PrefdbCodec::default())),
        ..SchedulerConfig::default()
    };
    let config = Arc::new(config);
    config
        .validate()
        .map_err(|e| ballista_error("scheduler settings", e))?;
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(|e| ballista_error("cannot start the scheduler", e))?;
    let scheduler = create_scheduler::<LogicalPlanNode, PhysicalPlanNode>(cluster, config)
        .await
        .map_err(|e| ballista_error("cannot start the scheduler", e))?;
    start_grpc_service_with_listener(listener, scheduler)
        .await
        .map_err(|e| ballista_error("scheduler stopped", e))
}

/// How an executor runs.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler, `host:port`.
    pub scheduler: (String, u16),
    /// Where the executor serves Arrow Flight (shuffle reads, results); other executors
    /// and clients connect here.
    pub flight: SocketAddr,
    /// Where the scheduler launches and cancels tasks.
    pub grpc_port: u16,
    /// Tasks run at once [0: one per core].
    pub concurrency: usize,
    /// Shuffle files [a temporary directory].
    pub work_dir: Option<PathBuf>,
    /// Memory for the executor's tasks together, in bytes [None: unbounded].
    pub memory_limit: Option<usize>,
    pub stores: StoreSettings,
}

/// Serve as an executor until the process is stopped (ctrl-c, SIGTERM) or the scheduler
/// tells it to stop. Returns an error if the scheduler cannot be reached.
pub async fn run_executor(options: ExecutorOptions) -> Result<()> {
    let stores = Arc::new(PrefdbStores::new(options.stores.clone())?);
    // prefdb's aggregates charge their final step's memory to the pool their functions
    // were registered with; the executor's per-task pools are made later, out of reach,
    // so these get one pool of the executor's size of their own.
    let pool: Arc<dyn MemoryPool> = match options.memory_limit {
        Some(bytes) => Arc::new(GreedyMemoryPool::new(bytes)),
        None => Arc::new(UnboundedMemoryPool::default()),
    };
    let registry = BallistaFunctionRegistry::from(&function_state(&stores, pool)?);
    let work_dir = match &options.work_dir {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join(format!(
            "prefdb-executor-{}-{}",
            std::process::id(),
            options.flight.port()
        )),
    };
    std::fs::create_dir_all(&work_dir).map_err(|e| {
        DataFusionError::External(
            format!(
                "cannot create the work directory '{}': {e}",
                work_dir.display()
            )
            .into(),
        )
    })?;
    let work_dir = work_dir.to_string_lossy().into_owned();
    let temp = work_dir.clone();
    let runtime: RuntimeProducer = Arc::new(move |_: &SessionConfig| {
        RuntimeEnvBuilder::new()
            .with_temp_file_path(temp.clone())
            .with_object_store_registry(Arc::clone(&stores) as _)
            .build_arc()
    });
    let config = ExecutorProcessConfig {
        bind_host: options.flight.ip().to_string(),
        external_host: Some(options.flight.ip().to_string()),
        port: options.flight.port(),
        grpc_port: options.grpc_port,
        scheduler_host: options.scheduler.0.clone(),
        scheduler_port: options.scheduler.1,
        vcores: options.concurrency,
        work_dir: Some(work_dir),
        executor_heartbeat_interval_seconds: HEARTBEAT.as_secs(),
        // 0 asks Ballista for no limit.
        memory_pool_size: Some(options.memory_limit.unwrap_or(0) as u64),
        override_function_registry: Some(Arc::new(registry)),
        override_runtime_producer: Some(runtime),
        override_config_producer: Some(Arc::new(session_config) as ConfigProducer),
        override_logical_codec: Some(Arc::new(PrefdbCodec::default())),
        ..ExecutorProcessConfig::default()
    };
    start_executor_process(Arc::new(config))
        .await
        .map_err(|e| ballista_error("executor stopped", e))
}
