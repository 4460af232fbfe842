//! Which statements a remote client may run.
//!
//! Read-only by default: queries, EXPLAIN of queries, SHOW, cursors over queries,
//! transaction control (BI tools send BEGIN/COMMIT) and Postgres session settings. Anything
//! else — DDL, DML, COPY, `SET datafusion.*` (which would change the engine for every
//! client) — is refused with SQLSTATE 42501 unless the operator started the server with
//! `--allow-ddl`. The check is an allow-list over the parsed statement, so statement kinds
//! added to the SQL parser later are refused until someone decides otherwise.

use async_trait::async_trait;
use datafusion::common::ParamValues;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{ObjectName, Reset, Set, Statement};
use datafusion_postgres::hooks::HookClient;
use datafusion_postgres::pgwire::api::results::{Response, Tag};
use datafusion_postgres::pgwire::api::ClientInfo;
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use datafusion_postgres::QueryHook;

/// `Err(what)` names the refused statement for the error message.
pub fn check(statement: &Statement) -> Result<(), String> {
    match statement {
        Statement::Query(_)
        | Statement::ExplainTable { .. }
        | Statement::ShowFunctions { .. }
        | Statement::ShowVariable { .. }
        | Statement::ShowStatus { .. }
        | Statement::ShowVariables { .. }
        | Statement::ShowColumns { .. }
        | Statement::ShowCatalogs { .. }
        | Statement::ShowDatabases { .. }
        | Statement::ShowSchemas { .. }
        | Statement::ShowTables { .. }
        | Statement::ShowViews { .. }
        | Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::Savepoint { .. }
        | Statement::ReleaseSavepoint { .. }
        | Statement::Declare { .. }
        | Statement::Fetch { .. }
        | Statement::Close { .. }
        | Statement::Discard { .. }
        | Statement::Deallocate { .. }
        | Statement::Execute { .. } => Ok(()),
        // A read: the rows go to the client, not to the server's disk.
        statement if super::copy_out::is_copy_to_stdout(statement) => Ok(()),
        Statement::Explain { statement, .. } | Statement::Prepare { statement, .. } => {
            check(statement)
        }
        Statement::Set(set) => match assigned_names(set).find(|name| is_engine_setting(name)) {
            Some(name) => Err(format!("SET {name}")),
            None => Ok(()),
        },
        // Session settings only; an engine setting is shared, as with SET.
        Statement::Reset(reset) => match &reset.reset {
            Reset::ConfigurationParameter(name) if is_engine_setting(&unquoted(name)) => {
                Err(format!("RESET {}", unquoted(name)))
            }
            _ => Ok(()),
        },
        Statement::UNLISTEN { .. } => Ok(()),
        other => Err(statement_kind(other)),
    }
}

/// The variables a `SET` assigns, each as written but without quotes.
fn assigned_names(set: &Set) -> Box<dyn Iterator<Item = String> + '_> {
    match set {
        Set::SingleAssignment { variable, .. } => Box::new(std::iter::once(unquoted(variable))),
        Set::ParenthesizedAssignments { variables, .. } => Box::new(variables.iter().map(unquoted)),
        Set::MultipleAssignments { assignments } => {
            Box::new(assignments.iter().map(|a| unquoted(&a.name)))
        }
        _ => Box::new(std::iter::empty()),
    }
}

/// `"datafusion.execution.target_partitions"`, `"datafusion".execution.target_partitions`
/// and the unquoted name all name one setting: join the identifiers' values.
fn unquoted(name: &ObjectName) -> String {
    name.0
        .iter()
        .map(|part| match part.as_ident() {
            Some(ident) => ident.value.clone(),
            None => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// A DataFusion setting: shared by every client of the server, so never a client's to
/// change. Postgres session settings (`application_name`, `statement_timeout`, ...) are
/// kept per connection and stay allowed.
fn is_engine_setting(name: &str) -> bool {
    name.trim().to_ascii_lowercase().starts_with("datafusion.")
}

/// A short name for a statement: its first two words ("CREATE EXTERNAL", "COPY votes").
fn statement_kind(statement: &Statement) -> String {
    let text = statement.to_string();
    let words: Vec<&str> = text.split_whitespace().take(2).collect();
    words.join(" ")
}

pub fn denied(what: &str) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".to_string(),
        "42501".to_string(),
        format!(
            "permission denied: {what} is not allowed; this prefdb server is read-only (start it with --allow-ddl to permit DDL and DML)"
        ),
    )))
}

/// Savepoints (psycopg and SQLAlchemy open one around each nested transaction): accepted
/// and ignored, since a read-only session has nothing to roll back.
#[derive(Debug, Default)]
pub struct SavepointHook;

fn savepoint_tag(statement: &Statement) -> Option<&'static str> {
    match statement {
        Statement::Savepoint { .. } => Some("SAVEPOINT"),
        Statement::ReleaseSavepoint { .. } => Some("RELEASE"),
        Statement::Rollback {
            savepoint: Some(_), ..
        } => Some("ROLLBACK"),
        _ => None,
    }
}

#[async_trait]
impl QueryHook for SavepointHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        savepoint_tag(statement).map(|tag| Ok(Response::Execution(Tag::new(tag))))
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        savepoint_tag(statement).map(|_| super::answered_by_hook(vec![]))
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _plan: &LogicalPlan,
        _params: &ParamValues,
        _ctx: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        savepoint_tag(statement).map(|tag| Ok(Response::Execution(Tag::new(tag))))
    }
}

/// A hook that refuses, on either protocol and before planning, the statements its check
/// names: [`Refusing::read_only`] (installed unless `--allow-ddl`) and
/// [`Refusing::too_complex`] (always).
#[derive(Debug)]
pub struct Refusing(fn(&Statement) -> Option<PgWireError>);

impl Refusing {
    /// DDL, DML, COPY and engine settings on a read-only server.
    pub fn read_only() -> Self {
        Refusing(|statement| check(statement).err().map(|what| denied(&what)))
    }

    /// Statements too deep to plan safely (see [`crate::limits`]).
    pub fn too_complex() -> Self {
        Refusing(|statement| {
            crate::limits::check_operator_chains(&statement.to_string())
                .err()
                .map(|e| PgWireError::ApiError(Box::new(e)))
        })
    }
}

#[async_trait]
impl QueryHook for Refusing {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        (self.0)(statement).map(Err)
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        (self.0)(statement).map(Err)
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _plan: &LogicalPlan,
        _params: &ParamValues,
        _ctx: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        (self.0)(statement).map(Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion_postgres::datafusion_pg_catalog::sql::PostgresCompatibilityParser;

    fn verdict(sql: &str) -> Result<(), String> {
        let statements = PostgresCompatibilityParser::new().parse(sql).unwrap();
        check(&statements[0])
    }

    #[test]
    fn queries_pass_and_changes_do_not() {
        for ok in [
            "SELECT 1",
            "WITH t AS (SELECT 1) SELECT * FROM t",
            "EXPLAIN SELECT 1",
            "SHOW TABLES",
            "BEGIN",
            "COMMIT",
            "SET application_name = 'x'",
            "SET statement_timeout = '5s'",
            "DECLARE c CURSOR FOR SELECT 1",
        ] {
            assert_eq!(verdict(ok), Ok(()), "{ok}");
        }
        for bad in [
            "CREATE TABLE t AS SELECT 1",
            "CREATE VIEW v AS SELECT 1",
            "DROP TABLE votes",
            "INSERT INTO votes VALUES (1)",
            "COPY votes TO '/tmp/x.csv'",
            "SET datafusion.execution.target_partitions = 1",
            "SET \"datafusion.execution.target_partitions\" = 5",
            "SET \"datafusion\".execution.target_partitions = 5",
            "SET \"DataFusion.sql_parser.dialect\" = 'mysql'",
            "SET SESSION \"datafusion.catalog.information_schema\" = false",
            "SET LOCAL datafusion.execution.batch_size TO 10",
            "EXPLAIN ANALYZE INSERT INTO votes VALUES (1)",
            "DELETE FROM votes",
        ] {
            assert!(verdict(bad).is_err(), "{bad} must be refused");
        }
    }
}
