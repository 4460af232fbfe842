//! The query path: datafusion-postgres's `DfSessionService` wrapped with what a shared
//! server needs — a per-statement deadline that covers execution (not only planning),
//! Postgres SQLSTATEs for DataFusion errors, and a count of running statements for a
//! graceful shutdown.
//!
//! DataFusion computes lazily: `DfSessionService` returns as soon as a statement is planned
//! and the rows are computed while pgwire sends them. pgwire races only that first call
//! against a CancelRequest, so a wrapper that returned the lazy stream would leave the
//! expensive part (an aggregate's whole input) out of reach of both cancel and timeout.
//! [`Service`] therefore pulls the first row inside the cancellable call; for an aggregate
//! that is where all the work happens. The rest of the stream stays lazy (large scans are
//! not buffered) and is bounded by the same deadline.

use crate::cancel::{Interruptible, StopOnDrop};
use async_trait::async_trait;
use datafusion::arrow::error::ArrowError;
use datafusion::common::DataFusionError;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::{DFParser, Statement as DFStatement};
use datafusion::sql::sqlparser::ast::Statement;
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::ParserError;
use datafusion_postgres::pgwire::api::portal::Format;
use datafusion_postgres::pgwire::api::portal::Portal;
use datafusion_postgres::pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use datafusion_postgres::pgwire::api::results::{FieldInfo, QueryResponse, Response, Tag};
use datafusion_postgres::pgwire::api::stmt::QueryParser;
use datafusion_postgres::pgwire::api::store::PortalStore;
use datafusion_postgres::pgwire::api::{
    ClientInfo, ClientPortalStore, ErrorHandler, Type, METADATA_USER,
};
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::PgWireBackendMessage;
use datafusion_postgres::{DfSessionService, Parser};
use futures::{FutureExt, Sink, Stream, StreamExt};
use prefdb_stats::interrupt::{Interrupted, StopFlag};
use std::fmt::Debug;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// Counts statements that are planning, computing or sending rows.
#[derive(Debug)]
pub struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    pub fn start(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        InFlight(Arc::clone(counter))
    }
}

impl Clone for InFlight {
    fn clone(&self) -> Self {
        InFlight::start(&self.0)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The connection a statement runs for: its client's address, and the process id and
/// secret key a cancel request names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    peer: SocketAddr,
    pid: i32,
    secret: Vec<u8>,
}

impl Owner {
    fn of(client: &impl ClientInfo) -> Self {
        let (pid, secret) = client.pid_and_secret_key();
        Owner {
            peer: client.socket_addr(),
            pid,
            secret: secret.to_bytes().to_vec(),
        }
    }
}

/// The stop flags of running statements, with the connection each runs for, so that a
/// shutdown, a cancel request or a client that hangs up can stop them. The flags matter
/// because a fit or a bootstrap runs within one poll of the connection's task, where neither
/// pgwire's cancel nor a dropped future can reach it.
#[derive(Debug, Default)]
pub struct Running(Mutex<Vec<(Owner, Weak<AtomicBool>)>>);

impl Running {
    /// A flag for a new statement of `owner`.
    fn register(&self, owner: Owner) -> StopFlag {
        let flag = crate::cancel::new_flag();
        let mut flags = self.0.lock().unwrap_or_else(|e| e.into_inner());
        flags.retain(|(_, f)| f.strong_count() > 0);
        flags.push((owner, Arc::downgrade(&flag)));
        flag
    }

    fn stop_where(&self, which: impl Fn(&Owner) -> bool) {
        let flags = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for (_, flag) in flags.iter().filter(|(p, _)| which(p)) {
            if let Some(flag) = flag.upgrade() {
                flag.store(true, Ordering::Relaxed);
            }
        }
    }

    /// Stop every running statement's computation.
    pub fn stop_all(&self) {
        self.stop_where(|_| true);
    }

    /// Stop the statements of the client at `peer`, which hung up.
    pub fn stop_peer(&self, peer: SocketAddr) {
        self.stop_where(|o| o.peer == peer);
    }

    /// Stop the statements a cancel request names.
    pub fn stop_cancelled(&self, pid: i32, secret: &[u8]) {
        self.stop_where(|o| o.pid == pid && o.secret == secret);
    }
}

pub struct Service {
    inner: Arc<DfSessionService>,
    ctx: Arc<SessionContext>,
    allow_ddl: bool,
    timeout: Option<Duration>,
    in_flight: Arc<AtomicUsize>,
    running: Arc<Running>,
    cursors: Arc<super::cursors::Cursors>,
}

impl Service {
    pub fn new(
        inner: Arc<DfSessionService>,
        ctx: Arc<SessionContext>,
        allow_ddl: bool,
        timeout: Option<Duration>,
        in_flight: Arc<AtomicUsize>,
        running: Arc<Running>,
        cursors: Arc<super::cursors::Cursors>,
    ) -> Self {
        Service {
            inner,
            ctx,
            allow_ddl,
            timeout,
            in_flight,
            running,
            cursors,
        }
    }

    /// Every connection's open cursors.
    pub(crate) fn cursors(&self) -> Arc<super::cursors::Cursors> {
        Arc::clone(&self.cursors)
    }

    /// DataFusion's own statements — `CREATE EXTERNAL TABLE` and `COPY ... TO` — which the
    /// Postgres-dialect parser of datafusion-postgres does not read. `None` for anything
    /// else. Refused (42501) on a read-only server, run here when DDL is allowed.
    async fn datafusion_statement(&self, query: &str) -> Option<PgWireResult<Vec<Response>>> {
        // Only these can start with CREATE or COPY: skip a second parse of every query.
        let head: String = query.trim_start().chars().take(6).collect();
        let head = head.to_ascii_uppercase();
        if !(head.starts_with("CREATE") || head.starts_with("COPY")) {
            return None;
        }
        let dialect = PostgreSqlDialect {};
        let statements = DFParser::parse_sql_with_dialect(query, &dialect).ok()?;
        if statements.len() != 1 {
            return None;
        }
        let tag = match statements.front()? {
            DFStatement::CreateExternalTable(_) => "CREATE EXTERNAL TABLE",
            DFStatement::CopyTo(_) => "COPY",
            _ => return None,
        };
        if !self.allow_ddl {
            return Some(Err(super::policy::denied(tag)));
        }
        let run = async {
            let frame = self.ctx.sql(query).await?;
            frame.collect().await
        };
        Some(match run.await {
            Ok(_) => Ok(vec![Response::Execution(Tag::new(tag))]),
            Err(e) => Err(PgWireError::ApiError(Box::new(e))),
        })
    }

    fn deadline(&self) -> Option<Instant> {
        self.timeout.map(|t| Instant::now() + t)
    }

    fn timeout_error(&self) -> PgWireError {
        timeout_error(self.timeout.unwrap_or_default())
    }
}

fn timeout_error(limit: Duration) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".to_string(),
        "57014".to_string(),
        format!(
            "canceling statement due to statement timeout (this server stops statements after {} s)",
            limit.as_secs_f64()
        ),
    )))
}

/// Run `work` under the deadline, if there is one, with the statement's stop flag
/// installed; if `work` is dropped unfinished (a timeout, a cancel request, a client that
/// went away), the flag stops what it computes.
async fn bounded<T>(
    deadline: Option<Instant>,
    on_timeout: impl Fn() -> PgWireError,
    flag: &StopFlag,
    work: impl std::future::Future<Output = PgWireResult<T>>,
) -> PgWireResult<T> {
    let stop = StopOnDrop::new(flag);
    let work = Interruptible::new(Some(Arc::clone(flag)), work);
    // A fit or bootstrap runs inside one poll of `work`, so the timeout below cannot fire
    // until it returns: a separate task sets the flag at the deadline, and the computation
    // stops at its next check.
    // It is an OS thread, not a task: the runtime's workers may all be busy computing.
    let watchdog = deadline.map(|d| {
        let flag = Arc::clone(flag);
        let wait = d.saturating_duration_since(Instant::now());
        let (done, finished) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            // Woken early (the sender dropped) when the statement's first part ends.
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = finished.recv_timeout(wait) {
                flag.store(true, Ordering::Relaxed);
            }
        });
        done
    });
    let result = match deadline {
        Some(d) => tokio::time::timeout_at(d, work)
            .await
            .unwrap_or_else(|_| Err(on_timeout())),
        None => work.await,
    };
    // Rows still to come are computed under the same flag, guarded by their stream (and
    // by the deadline, which the stream checks between rows).
    drop(watchdog);
    // A computation the watchdog stopped reports itself cancelled; say why.
    let timed_out = deadline.is_some_and(|d| Instant::now() >= d);
    let result = match result {
        Err(_) if timed_out => Err(on_timeout()),
        other => other,
    };
    if result.is_ok() {
        stop.finish();
    }
    result
}

/// Pull a query response's first row now, and bound the rest by the deadline.
async fn prefetch(
    response: Response,
    deadline: Option<Instant>,
    limit: Duration,
    guard: InFlight,
    flag: &StopFlag,
) -> PgWireResult<Response> {
    let mut query = match response {
        Response::Query(query) => query,
        // COPY TO STDOUT streams its rows after this returns: bounded the same way.
        Response::CopyOut(mut copy) => {
            let data = std::mem::replace(&mut copy.data_stream, Box::pin(futures::stream::empty()));
            copy.data_stream = Box::pin(Bounded {
                rows: Interruptible::new(Some(Arc::clone(flag)), data),
                deadline: deadline.map(|d| Box::pin(tokio::time::sleep_until(d))),
                limit,
                done: false,
                _guard: guard,
                _stop: StopOnDrop::new(flag),
            });
            return Ok(Response::CopyOut(copy));
        }
        other => return Ok(other),
    };
    let mut rows = std::mem::replace(&mut query.data_rows, Box::pin(futures::stream::empty()));
    let first = match rows.next().await {
        Some(Err(e)) => return Err(e),
        other => other,
    };
    let rest = Bounded {
        rows: Interruptible::new(Some(Arc::clone(flag)), rows),
        deadline: deadline.map(|d| Box::pin(tokio::time::sleep_until(d))),
        limit,
        done: false,
        _guard: guard,
        _stop: StopOnDrop::new(flag),
    };
    let fields = Arc::new(text_for_unknown(query.row_schema().as_ref().clone()));
    let mut out = QueryResponse::new(fields, futures::stream::iter(first).chain(rest));
    out.set_command_tag(query.command_tag());
    Ok(Response::Query(out))
}

/// A stream of rows (or COPY data) that fails with 57014 once the deadline passes.
struct Bounded<T> {
    rows: Interruptible<Pin<Box<dyn Stream<Item = PgWireResult<T>> + Send>>>,
    deadline: Option<Pin<Box<Sleep>>>,
    limit: Duration,
    done: bool,
    _guard: InFlight,
    /// Stops the rest of the statement's computation when the rows are dropped unread.
    _stop: StopOnDrop,
}

impl<T> Stream for Bounded<T> {
    type Item = PgWireResult<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        if let Some(deadline) = this.deadline.as_mut() {
            if deadline.as_mut().poll(cx).is_ready() {
                this.done = true;
                return Poll::Ready(Some(Err(timeout_error(this.limit))));
            }
        }
        let rows = Pin::new(&mut this.rows);
        match std::panic::catch_unwind(AssertUnwindSafe(|| rows.poll_next(cx))) {
            Ok(poll) => poll,
            Err(payload) => {
                this.done = true;
                Poll::Ready(Some(Err(panic_error(payload.as_ref()))))
            }
        }
    }
}

/// Run `work`, turning a panic anywhere in it (planning, a function, an execution task whose
/// panic DataFusion passes on) into an error for this client alone. The connection and
/// every other client carry on.
async fn contained<T>(work: impl Future<Output = PgWireResult<T>>) -> PgWireResult<T> {
    match AssertUnwindSafe(work).catch_unwind().await {
        Ok(result) => result,
        Err(payload) => Err(panic_error(payload.as_ref())),
    }
}

fn panic_error(payload: &(dyn std::any::Any + Send)) -> PgWireError {
    let what = crate::errors::panic_message(payload);
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".to_string(),
        "XX000".to_string(),
        format!(
            "internal error (a bug in prefdb, please report it): {what}; the statement was stopped and the server goes on serving"
        ),
    )))
}

#[async_trait]
impl SimpleQueryHandler for Service {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let guard = InFlight::start(&self.in_flight);
        let deadline = self.deadline();
        let limit = self.timeout.unwrap_or_default();
        let inner = &self.inner;
        let flag = self.running.register(Owner::of(client));
        let stop = &flag;
        bounded(
            deadline,
            || self.timeout_error(),
            &flag,
            contained(async move {
                crate::limits::check_call_nesting(query)
                    .map_err(|e| PgWireError::ApiError(Box::new(e)))?;
                if let Some(result) = self.datafusion_statement(query).await {
                    return result;
                }
                let query = super::sql_compat::rewrite(query);
                let responses =
                    SimpleQueryHandler::do_query(inner.as_ref(), client, &query).await?;
                let mut out = Vec::with_capacity(responses.len());
                for response in responses {
                    out.push(prefetch(response, deadline, limit, guard.clone(), stop).await?);
                }
                Ok(out)
            }),
        )
        .await
    }
}

/// datafusion-postgres's parser, given statements whose select items carry Postgres's
/// names ([`super::sql_compat`]).
pub struct NamingParser(Arc<Parser>);

#[async_trait]
impl QueryParser for NamingParser {
    type Statement = <Parser as QueryParser>::Statement;

    async fn parse_sql<C>(
        &self,
        client: &C,
        sql: &str,
        types: &[Option<Type>],
    ) -> PgWireResult<Option<Self::Statement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        crate::limits::check_call_nesting(sql).map_err(|e| PgWireError::ApiError(Box::new(e)))?;
        let sql = super::sql_compat::rewrite(sql);
        self.0.parse_sql(client, &sql, types).await
    }

    fn get_parameter_types(&self, stmt: &Self::Statement) -> PgWireResult<Vec<Type>> {
        self.0.get_parameter_types(stmt)
    }

    fn get_result_schema(
        &self,
        stmt: &Self::Statement,
        column_format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        // A DECLARE returns no rows; its plan is its query's, for the parameters' types.
        if let (_, Some((Statement::Declare { .. }, _))) = stmt {
            return Ok(vec![]);
        }
        Ok(text_for_unknown(
            self.0.get_result_schema(stmt, column_format)?,
        ))
    }
}

/// Columns of untyped NULLs (`SELECT NULL AS x`) described as `text`, as Postgres describes
/// them, instead of arrow-pg's `unknown` (OID 705), whose type pgjdbc cannot look up.
fn text_for_unknown(fields: Vec<FieldInfo>) -> Vec<FieldInfo> {
    fields
        .into_iter()
        .map(|f| match *f.datatype() {
            Type::UNKNOWN => FieldInfo::new(
                f.name().to_string(),
                f.table_id(),
                f.column_id(),
                Type::TEXT,
                f.format(),
            )
            .with_format_options(Arc::clone(f.format_options()))
            .with_type_size(-1),
            _ => f,
        })
        .collect()
}

#[async_trait]
impl ExtendedQueryHandler for Service {
    type Statement = <DfSessionService as ExtendedQueryHandler>::Statement;
    type QueryParser = NamingParser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        Arc::new(NamingParser(self.inner.query_parser()))
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Self::Statement>,
        max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let server_types = self
            .inner
            .query_parser()
            .get_parameter_types(&portal.statement.statement)?;
        super::params::check_numeric_parameters(portal, &server_types)?;
        let midnight = super::params::dates_as_midnight(portal, &server_types);
        let portal = midnight.as_ref().unwrap_or(portal);
        let guard = InFlight::start(&self.in_flight);
        let deadline = self.deadline();
        let limit = self.timeout.unwrap_or_default();
        let inner = &self.inner;
        let cursors = &self.cursors;
        let flag = self.running.register(Owner::of(client));
        let stop = &flag;
        bounded(
            deadline,
            || self.timeout_error(),
            &flag,
            contained(async move {
                // A FETCH from a cursor, encoded in the format this portal asks for.
                if let Some((statement, _)) = &portal.statement.statement.1 {
                    let format = &portal.result_column_format;
                    let peer = client.socket_addr();
                    if let Some(response) = cursors.answer_fetch(peer, statement, format).await {
                        return prefetch(response?, deadline, limit, guard, stop).await;
                    }
                }
                let response =
                    ExtendedQueryHandler::do_query(inner.as_ref(), client, portal, max_rows)
                        .await?;
                prefetch(response, deadline, limit, guard, stop).await
            }),
        )
        .await
    }
}

/// The SQLSTATE for a DataFusion error, as a Postgres client would expect it.
pub fn sqlstate(e: &DataFusionError) -> &'static str {
    match e.find_root() {
        DataFusionError::SQL(..) => "42601",
        DataFusionError::ResourcesExhausted(_) => "53200",
        DataFusionError::ObjectStore(_) | DataFusionError::IoError(_) => "58030",
        DataFusionError::NotImplemented(_) => "0A000",
        DataFusionError::SchemaError(..) => "42703",
        DataFusionError::Plan(m) if m.contains("not found") => "42P01",
        DataFusionError::Plan(m) if m.starts_with("query too complex") => "54001",
        DataFusionError::Plan(_) | DataFusionError::Configuration(_) => "42000",
        // A computation stopped by its flag: a cancel request, as Postgres reports it.
        DataFusionError::Execution(m) if m.ends_with(&Interrupted.to_string()) => "57014",
        DataFusionError::Execution(_) => "22000",
        DataFusionError::ArrowError(e, _) => arrow_sqlstate(e),
        _ => "XX000",
    }
}

/// The data exceptions Arrow raises, as Postgres reports them: a value out of its type's
/// range (`CAST(300 AS TINYINT)`) is 22003, text that is not a number 22P02, division by
/// zero 22012. Anything else from Arrow is a data exception of no finer class.
fn arrow_sqlstate(e: &ArrowError) -> &'static str {
    match e {
        ArrowError::ArithmeticOverflow(_) => "22003",
        ArrowError::DivideByZero => "22012",
        ArrowError::CastError(m) if m.contains("Can't cast value") || m.contains("overflow") => {
            "22003"
        }
        ArrowError::CastError(_) | ArrowError::ParseError(_) => "22P02",
        ArrowError::MemoryError(_) => "53200",
        ArrowError::ExternalError(_) | ArrowError::IoError(..) => "XX000",
        _ => "22000",
    }
}

/// Rewrites DataFusion errors into Postgres errors with a SQLSTATE and prefdb's one-line
/// message.
#[derive(Debug, Default)]
pub struct ErrorMapper;

impl ErrorHandler for ErrorMapper {
    fn on_error<C>(&self, client: &C, error: &mut PgWireError)
    where
        C: ClientInfo,
    {
        // SCRAM's first message carries no user name (clients leave it to the startup
        // packet), so pgwire's error would say `user ""`: name the startup packet's user.
        if let PgWireError::InvalidPassword(user) = error {
            if user.is_empty() {
                if let Some(name) = client.metadata().get(METADATA_USER) {
                    *user = name.clone();
                }
            }
        }
        if let PgWireError::ApiError(inner) = error {
            if let Some(df) = inner.downcast_ref::<DataFusionError>() {
                *error = PgWireError::UserError(Box::new(ErrorInfo::new(
                    "ERROR".to_string(),
                    sqlstate(df).to_string(),
                    crate::user_message(df),
                )));
            } else if let Some(pe) = inner.downcast_ref::<ParserError>() {
                *error = PgWireError::UserError(Box::new(ErrorInfo::new(
                    "ERROR".to_string(),
                    "42601".to_string(),
                    format!("SQL syntax error: {pe}"),
                )));
            }
        }
    }
}
