//! Cursors: `DECLARE name CURSOR FOR query`, `FETCH`, `CLOSE`.
//!
//! psycopg 3's server-side cursors (`conn.cursor(name=...)`, SQLAlchemy's
//! `stream_results`) declare a cursor with bound parameters over the extended protocol,
//! then describe it as a portal by its name, then fetch from it: in text with a simple
//! `FETCH FORWARD n FROM name`, in binary with an extended one. datafusion-postgres 0.19's
//! cursor hook planned the query without its parameters (`Placeholder '$1' was not provided
//! a value`), stored it without a plan (so Describe Portal answered NoData, and psycopg
//! crashed), and encoded every row as text when the cursor was declared (so a binary
//! `FETCH` sent data its description did not announce).
//!
//! Here a cursor is an open DataFusion stream, kept per connection (by the client's socket
//! address) until `CLOSE`, a new `DECLARE` of its name, or the end of the connection. Rows
//! are encoded when fetched, in the format the `FETCH` asks for. The portal store gets an
//! entry of the cursor's name with its plan, which Describe Portal reads. At most
//! [`MAX_CURSORS`] are open on one connection. Cursors scan forward only, as upstream's:
//! `FETCH BACKWARD` and `SCROLL` are refused.

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::ParamValues;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{
    CloseCursor, Declare, DeclareType, FetchDirection, Statement, Value,
};
use datafusion_postgres::arrow_pg::datatypes::{arrow_schema_to_pg_fields, encode_recordbatch};
use datafusion_postgres::hooks::HookClient;
use datafusion_postgres::pgwire::api::portal::{Format, Portal};
use datafusion_postgres::pgwire::api::results::{QueryResponse, Response, Tag};
use datafusion_postgres::pgwire::api::stmt::StoredStatement;
use datafusion_postgres::pgwire::api::store::PortalStore;
use datafusion_postgres::pgwire::api::ClientInfo;
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use datafusion_postgres::QueryHook;
use futures::StreamExt;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// The most cursors one connection may hold open.
pub const MAX_CURSORS: usize = 64;

/// An open cursor: the rest of its query's result.
struct Cursor {
    schema: SchemaRef,
    stream: SendableRecordBatchStream,
    /// The part of a batch that an earlier `FETCH` did not take.
    pending: Option<RecordBatch>,
}

type Shared = Arc<tokio::sync::Mutex<Cursor>>;

/// Every connection's open cursors.
#[derive(Default)]
pub struct Cursors {
    open: Mutex<HashMap<SocketAddr, HashMap<String, Shared>>>,
}

impl std::fmt::Debug for Cursors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cursors")
    }
}

fn error(code: &str, message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".to_string(),
        code.to_string(),
        message,
    )))
}

fn api(e: datafusion::error::DataFusionError) -> PgWireError {
    PgWireError::ApiError(Box::new(e))
}

impl Cursors {
    fn get(&self, client: SocketAddr, name: &str) -> PgWireResult<Shared> {
        let open = self.open.lock().expect("cursor map");
        open.get(&client)
            .and_then(|c| c.get(name))
            .cloned()
            .ok_or_else(|| error("34000", format!("cursor \"{name}\" does not exist")))
    }

    /// The columns of the open cursor `name`.
    pub fn schema(&self, client: SocketAddr, name: &str) -> PgWireResult<SchemaRef> {
        let cursor = self.get(client, name)?;
        let schema = cursor
            .try_lock()
            .map(|c| Arc::clone(&c.schema))
            .map_err(|_| error("55006", format!("cursor \"{name}\" is in use")))?;
        Ok(schema)
    }

    fn insert(&self, client: SocketAddr, name: String, cursor: Cursor) -> PgWireResult<()> {
        let mut open = self.open.lock().expect("cursor map");
        let mine = open.entry(client).or_default();
        if !mine.contains_key(&name) && mine.len() >= MAX_CURSORS {
            return Err(error(
                "54000",
                format!(
                    "too many open cursors: at most {MAX_CURSORS} per connection; CLOSE some first"
                ),
            ));
        }
        mine.insert(name, Arc::new(tokio::sync::Mutex::new(cursor)));
        Ok(())
    }

    fn close(&self, client: SocketAddr, name: Option<&str>) {
        let mut open = self.open.lock().expect("cursor map");
        match name {
            None => {
                open.remove(&client);
            }
            Some(name) => {
                if let Some(mine) = open.get_mut(&client) {
                    mine.remove(name);
                }
            }
        }
    }

    /// Drops the cursors of a connection that has ended.
    pub fn forget(&self, client: SocketAddr) {
        self.close(client, None);
    }

    /// Up to `count` rows (all that remain for `None`) of cursor `name`.
    async fn fetch(
        &self,
        client: SocketAddr,
        name: &str,
        count: Option<usize>,
    ) -> PgWireResult<(SchemaRef, Vec<RecordBatch>)> {
        let cursor = self.get(client, name)?;
        let mut cursor = cursor.lock().await;
        let mut wanted = count.unwrap_or(usize::MAX);
        let mut batches = vec![];
        while wanted > 0 {
            let batch = match cursor.pending.take() {
                Some(batch) => batch,
                None => match cursor.stream.next().await {
                    Some(batch) => batch.map_err(api)?,
                    None => break,
                },
            };
            if batch.num_rows() > wanted {
                cursor.pending = Some(batch.slice(wanted, batch.num_rows() - wanted));
                batches.push(batch.slice(0, wanted));
                wanted = 0;
            } else {
                wanted -= batch.num_rows();
                batches.push(batch);
            }
        }
        Ok((Arc::clone(&cursor.schema), batches))
    }

    /// The rows of `FETCH ... FROM name`, encoded in `format`.
    pub async fn answer_fetch(
        &self,
        client: SocketAddr,
        statement: &Statement,
        format: &Format,
    ) -> Option<PgWireResult<Response>> {
        let Statement::Fetch {
            name, direction, ..
        } = statement
        else {
            return None;
        };
        Some(
            self.fetch_response(client, &name.value, direction, format)
                .await,
        )
    }

    async fn fetch_response(
        &self,
        client: SocketAddr,
        name: &str,
        direction: &FetchDirection,
        format: &Format,
    ) -> PgWireResult<Response> {
        let count = fetch_count(direction)?;
        let (schema, batches) = self.fetch(client, name, count).await?;
        let fields = Arc::new(arrow_schema_to_pg_fields(&schema, format, None)?);
        let rows: Vec<_> = batches
            .into_iter()
            .flat_map(|batch| encode_recordbatch(Arc::clone(&fields), batch))
            .collect();
        let mut response = QueryResponse::new(fields, futures::stream::iter(rows));
        response.set_command_tag("FETCH");
        Ok(Response::Query(response))
    }

    async fn declare(
        &self,
        client: &mut dyn HookClient,
        declare: &Declare,
        plan: LogicalPlan,
        ctx: &SessionContext,
    ) -> PgWireResult<Response> {
        let name = declare_name(declare)?;
        let Some(query) = &declare.for_query else {
            return Err(error("42601", "DECLARE CURSOR requires a FOR query".into()));
        };
        let df = ctx.execute_logical_plan(plan.clone()).await.map_err(api)?;
        let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        let stream = df.execute_stream().await.map_err(api)?;
        let peer = client.socket_addr();
        self.insert(
            peer,
            name.clone(),
            Cursor {
                schema,
                stream,
                pending: None,
            },
        )?;
        // A portal of the cursor's name, for Describe Portal to find its columns.
        let statement = (
            query.to_string(),
            Some((Statement::Query(query.clone()), plan)),
        );
        let stored = Arc::new(StoredStatement::new(name.clone(), statement, vec![]));
        client
            .portal_store()
            .put_portal(Arc::new(Portal::new_cursor(name, stored)));
        Ok(Response::Execution(Tag::new("DECLARE CURSOR")))
    }
}

/// The cursor a `DECLARE` names, refusing what prefdb's forward-only cursors cannot do.
fn declare_name(declare: &Declare) -> PgWireResult<String> {
    if declare.declare_type != Some(DeclareType::Cursor) {
        return Err(error(
            "0A000",
            "only DECLARE ... CURSOR FOR a query is supported".into(),
        ));
    }
    if declare.scroll == Some(true) {
        return Err(error(
            "0A000",
            "SCROLL cursors are not supported: cursors scan forward only".into(),
        ));
    }
    match declare.names.as_slice() {
        [name] => Ok(name.value.clone()),
        _ => Err(error("42601", "DECLARE names one cursor".into())),
    }
}

fn fetch_count(direction: &FetchDirection) -> PgWireResult<Option<usize>> {
    let number = |v: &Value| match v {
        Value::Number(n, _) => n.parse::<usize>().map_err(|_| {
            error(
                "22023",
                format!("FETCH count must be a non-negative integer, not {n}"),
            )
        }),
        other => Err(error(
            "22023",
            format!("FETCH count must be a number, not {other}"),
        )),
    };
    match direction {
        FetchDirection::Next | FetchDirection::Forward { limit: None } => Ok(Some(1)),
        FetchDirection::Forward { limit: Some(v) } | FetchDirection::Count { limit: v } => {
            number(v).map(Some)
        }
        FetchDirection::ForwardAll | FetchDirection::All => Ok(None),
        _ => Err(error(
            "0A000",
            "cursors scan forward only: FETCH NEXT, FORWARD [n], n or ALL".into(),
        )),
    }
}

/// The statement hook for `DECLARE`, `FETCH` and `CLOSE` (see the module's documentation).
/// An extended-protocol `FETCH` is answered by [`Cursors::answer_fetch`] from the service,
/// which knows the format the client asked for.
#[derive(Debug)]
pub struct CursorHook(pub Arc<Cursors>);

/// The plan of a `DECLARE`'s query, with its placeholders.
async fn declared_plan(declare: &Declare, ctx: &SessionContext) -> PgWireResult<LogicalPlan> {
    declare_name(declare)?;
    let Some(query) = &declare.for_query else {
        return Err(error("42601", "DECLARE CURSOR requires a FOR query".into()));
    };
    let statement =
        datafusion::sql::parser::Statement::Statement(Box::new(Statement::Query(query.clone())));
    ctx.state().statement_to_plan(statement).await.map_err(api)
}

fn single_declare(statement: &Statement) -> Option<PgWireResult<&Declare>> {
    let Statement::Declare { stmts } = statement else {
        return None;
    };
    Some(match stmts.as_slice() {
        [declare] => Ok(declare),
        _ => Err(error("0A000", "DECLARE one cursor at a time".into())),
    })
}

impl CursorHook {
    /// The answer to a cursor statement, over either protocol: `bound` is the plan and
    /// parameters of an extended-protocol one (a `DECLARE` planned when it was parsed), `None`
    /// for a simple query. An extended `FETCH` never gets here (see [`CursorHook`]).
    async fn answer(
        &self,
        statement: &Statement,
        bound: Option<(&LogicalPlan, &ParamValues)>,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        if let Some(declare) = single_declare(statement) {
            return Some(
                async {
                    let declare = declare?;
                    let plan = match bound {
                        Some((plan, params)) => plan
                            .clone()
                            .replace_params_with_values(params)
                            .map_err(api)?,
                        None => declared_plan(declare, ctx).await?,
                    };
                    self.0.declare(client, declare, plan, ctx).await
                }
                .await,
            );
        }
        match statement {
            Statement::Fetch { .. } => {
                self.0
                    .answer_fetch(client.socket_addr(), statement, &Format::UnifiedText)
                    .await
            }
            Statement::Close { cursor } => Some(Ok(self.close(client, cursor))),
            _ => None,
        }
    }

    fn close(&self, client: &mut dyn HookClient, cursor: &CloseCursor) -> Response {
        let peer = client.socket_addr();
        match cursor {
            CloseCursor::All => {
                self.0.close(peer, None);
                client.portal_store().clear_portals();
            }
            CloseCursor::Specific { name } => {
                self.0.close(peer, Some(&name.value));
                client.portal_store().rm_portal(&name.value);
            }
        }
        Response::Execution(Tag::new("CLOSE CURSOR"))
    }
}

#[async_trait]
impl QueryHook for CursorHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        self.answer(statement, None, ctx, client).await
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        if let Some(declare) = single_declare(statement) {
            // The query's plan: its placeholders give the parameters' types. The statement
            // itself returns no rows (see `NamingParser::get_result_schema`).
            return Some(async { declared_plan(declare?, ctx).await }.await);
        }
        match statement {
            // Described with the cursor's columns.
            Statement::Fetch { name, .. } => Some(
                self.0
                    .schema(client.socket_addr(), &name.value)
                    .and_then(|schema| {
                        super::answered_by_hook(
                            schema.fields().iter().map(|f| f.as_ref().clone()).collect(),
                        )
                    }),
            ),
            Statement::Close { .. } => Some(super::answered_by_hook(vec![])),
            _ => None,
        }
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        plan: &LogicalPlan,
        params: &ParamValues,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        self.answer(statement, Some((plan, params)), ctx, client)
            .await
    }
}
