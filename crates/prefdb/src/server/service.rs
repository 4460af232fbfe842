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

use async_trait::async_trait;
use datafusion::common::DataFusionError;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::{DFParser, Statement as DFStatement};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::ParserError;
use datafusion_postgres::pgwire::api::portal::Portal;
use datafusion_postgres::pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use datafusion_postgres::pgwire::api::results::{QueryResponse, Response, Tag};
use datafusion_postgres::pgwire::api::store::PortalStore;
use datafusion_postgres::pgwire::api::{ClientInfo, ClientPortalStore, ErrorHandler};
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::data::DataRow;
use datafusion_postgres::pgwire::messages::PgWireBackendMessage;
use datafusion_postgres::{DfSessionService, Parser};
use futures::{FutureExt, Sink, Stream, StreamExt};
use std::fmt::Debug;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
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

pub struct Service {
    inner: Arc<DfSessionService>,
    ctx: Arc<SessionContext>,
    allow_ddl: bool,
    timeout: Option<Duration>,
    in_flight: Arc<AtomicUsize>,
}

impl Service {
    pub fn new(
        inner: Arc<DfSessionService>,
        ctx: Arc<SessionContext>,
        allow_ddl: bool,
        timeout: Option<Duration>,
        in_flight: Arc<AtomicUsize>,
    ) -> Self {
        Service {
            inner,
            ctx,
            allow_ddl,
            timeout,
            in_flight,
        }
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

/// Run `work` under the deadline, if there is one.
async fn bounded<T>(
    deadline: Option<Instant>,
    on_timeout: impl FnOnce() -> PgWireError,
    work: impl std::future::Future<Output = PgWireResult<T>>,
) -> PgWireResult<T> {
    match deadline {
        Some(d) => tokio::time::timeout_at(d, work)
            .await
            .unwrap_or_else(|_| Err(on_timeout())),
        None => work.await,
    }
}

/// Pull a query response's first row now, and bound the rest by the deadline.
async fn prefetch(
    response: Response,
    deadline: Option<Instant>,
    limit: Duration,
    guard: InFlight,
) -> PgWireResult<Response> {
    let Response::Query(mut query) = response else {
        return Ok(response);
    };
    let mut rows = std::mem::replace(&mut query.data_rows, Box::pin(futures::stream::empty()));
    let first = match rows.next().await {
        Some(Err(e)) => return Err(e),
        other => other,
    };
    let rest = Bounded {
        rows,
        deadline: deadline.map(|d| Box::pin(tokio::time::sleep_until(d))),
        limit,
        done: false,
        _guard: guard,
    };
    let mut out = QueryResponse::new(query.row_schema(), futures::stream::iter(first).chain(rest));
    out.set_command_tag(query.command_tag());
    Ok(Response::Query(out))
}

/// A row stream that fails with 57014 once the deadline passes.
struct Bounded {
    rows: Pin<Box<dyn Stream<Item = PgWireResult<DataRow>> + Send>>,
    deadline: Option<Pin<Box<Sleep>>>,
    limit: Duration,
    done: bool,
    _guard: InFlight,
}

impl Stream for Bounded {
    type Item = PgWireResult<DataRow>;

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
        let rows = &mut this.rows;
        match std::panic::catch_unwind(AssertUnwindSafe(|| rows.as_mut().poll_next(cx))) {
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
        bounded(
            deadline,
            || self.timeout_error(),
            contained(async move {
                if let Some(result) = self.datafusion_statement(query).await {
                    return result;
                }
                let responses = SimpleQueryHandler::do_query(inner.as_ref(), client, query).await?;
                let mut out = Vec::with_capacity(responses.len());
                for response in responses {
                    out.push(prefetch(response, deadline, limit, guard.clone()).await?);
                }
                Ok(out)
            }),
        )
        .await
    }
}

#[async_trait]
impl ExtendedQueryHandler for Service {
    type Statement = <DfSessionService as ExtendedQueryHandler>::Statement;
    type QueryParser = Parser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        self.inner.query_parser()
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
        let guard = InFlight::start(&self.in_flight);
        let deadline = self.deadline();
        let limit = self.timeout.unwrap_or_default();
        let inner = &self.inner;
        bounded(
            deadline,
            || self.timeout_error(),
            contained(async move {
                let response =
                    ExtendedQueryHandler::do_query(inner.as_ref(), client, portal, max_rows)
                        .await?;
                prefetch(response, deadline, limit, guard).await
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
        DataFusionError::Execution(_) => "22000",
        _ => "XX000",
    }
}

/// Rewrites DataFusion errors into Postgres errors with a SQLSTATE and prefdb's one-line
/// message.
#[derive(Debug, Default)]
pub struct ErrorMapper;

impl ErrorHandler for ErrorMapper {
    fn on_error<C>(&self, _client: &C, error: &mut PgWireError)
    where
        C: ClientInfo,
    {
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
