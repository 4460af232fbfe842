//! Result column names as Postgres gives them.
//!
//! DataFusion names an unaliased select item after its expression (`Int64(1)`,
//! `count(*)`, `session_user()`); Postgres after its outermost function, type cast or
//! keyword (`count`, `current_user`, `int4`, `case`), and `?column?` for anything else
//! (FigureColname in Postgres's `parser/parse_target.c`). Clients show these names as
//! headers and look columns up by them (`row["count"]`), and DataFusion refuses two items
//! with one name (`SELECT current_user, session_user`: both plan as `session_user()`). So
//! the server aliases the top-level select items of each statement before
//! datafusion-postgres parses it. An item whose Postgres name is already taken in the same
//! select list keeps DataFusion's name, since DataFusion needs unique names. Catalog queries
//! (`pg_*`, `information_schema`) are left untouched.

use datafusion::sql::sqlparser::ast::{
    CastKind, DataType, Expr, Ident, ObjectNamePart, Query, SelectItem, SetExpr, Statement,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use std::borrow::Cow;
use std::collections::HashSet;

/// `sql` with Postgres's names given to the unaliased top-level select items, or `sql` itself
/// when nothing changes (or it does not parse: the parser reports that later).
pub fn with_postgres_names(sql: &str) -> Cow<'_, str> {
    // Catalog queries are left as clients wrote them: datafusion-postgres recognises some
    // by their exact tokens and substitutes its own, and they alias what they read.
    let lower = sql.to_ascii_lowercase();
    if lower.contains("pg_") || lower.contains("information_schema") {
        return Cow::Borrowed(sql);
    }
    let Ok(mut statements) = Parser::parse_sql(&PostgreSqlDialect {}, sql) else {
        return Cow::Borrowed(sql);
    };
    let mut changed = false;
    for statement in &mut statements {
        let query = match statement {
            Statement::Query(query) => query,
            Statement::Declare { stmts } => {
                for declare in stmts {
                    if let Some(query) = &mut declare.for_query {
                        changed |= name_items(query);
                    }
                }
                continue;
            }
            _ => continue,
        };
        changed |= name_items(query);
    }
    if !changed {
        return Cow::Borrowed(sql);
    }
    Cow::Owned(
        statements
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join("; "),
    )
}

/// Aliases the items of the select list that names `query`'s columns (the leftmost one of
/// a set operation). Returns whether anything changed.
fn name_items(query: &mut Query) -> bool {
    let mut body = query.body.as_mut();
    let select = loop {
        match body {
            SetExpr::Select(select) => break select,
            SetExpr::SetOperation { left, .. } => body = left.as_mut(),
            SetExpr::Query(inner) => body = inner.body.as_mut(),
            _ => return false,
        }
    };
    // Names the list already has: explicit aliases and plain column references.
    let mut taken: HashSet<String> = select
        .projection
        .iter()
        .filter_map(|item| match item {
            SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.clone()),
            SelectItem::UnnamedExpr(e) => column_name(e),
            _ => None,
        })
        .collect();
    let has_wildcard = select.projection.iter().any(|item| {
        matches!(
            item,
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)
        )
    });
    let mut changed = false;
    for item in &mut select.projection {
        let SelectItem::UnnamedExpr(expr) = item else {
            continue;
        };
        if column_name(expr).is_some() {
            continue;
        }
        let name = postgres_name(expr).unwrap_or_else(|| "?column?".to_string());
        // A wildcard's columns are not known here; a name could collide with one of them.
        if has_wildcard || !taken.insert(name.clone()) {
            continue;
        }
        *item = SelectItem::ExprWithAlias {
            expr: expr.clone(),
            alias: Ident::with_quote('"', name),
        };
        changed = true;
    }
    changed
}

/// The name of a plain column reference, which DataFusion already names as Postgres does.
fn column_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Identifier(ident) => Some(ident.value.clone()),
        Expr::CompoundIdentifier(parts) => parts.last().map(|i| i.value.clone()),
        _ => None,
    }
}

/// Postgres's name for an expression, `None` where it says `?column?`.
fn postgres_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Identifier(_) | Expr::CompoundIdentifier(_) => column_name(expr),
        Expr::Nested(inner) => postgres_name(inner),
        Expr::Function(f) => match f.name.0.last()? {
            ObjectNamePart::Identifier(ident) => Some(identifier(ident)),
            _ => None,
        },
        Expr::Cast {
            expr,
            data_type,
            kind: CastKind::Cast | CastKind::DoubleColon | CastKind::TryCast | CastKind::SafeCast,
            ..
        } => postgres_name(expr).or_else(|| Some(type_name(data_type))),
        Expr::Case { .. } => Some("case".to_string()),
        Expr::Exists { .. } => Some("exists".to_string()),
        Expr::Array(_) => Some("array".to_string()),
        Expr::Extract { .. } => Some("extract".to_string()),
        Expr::Substring { .. } => Some("substring".to_string()),
        Expr::Trim { .. } => Some("btrim".to_string()),
        Expr::Position { .. } => Some("position".to_string()),
        Expr::Ceil { .. } => Some("ceil".to_string()),
        Expr::Floor { .. } => Some("floor".to_string()),
        _ => None,
    }
}

/// An identifier as Postgres folds it: unquoted names to lower case.
fn identifier(ident: &Ident) -> String {
    match ident.quote_style {
        Some(_) => ident.value.clone(),
        None => ident.value.to_lowercase(),
    }
}

/// The name Postgres gives a cast to `data_type`: its internal type name.
fn type_name(data_type: &DataType) -> String {
    let written = data_type.to_string().to_lowercase();
    let base = written.split('(').next().unwrap_or(&written).trim();
    match base {
        "int" | "integer" | "int4" => "int4",
        "bigint" | "int8" => "int8",
        "smallint" | "int2" => "int2",
        "real" | "float4" => "float4",
        "double precision" | "float" | "float8" | "double" => "float8",
        "boolean" | "bool" => "bool",
        "character varying" | "varchar" => "varchar",
        "character" | "char" => "bpchar",
        "decimal" | "numeric" => "numeric",
        "timestamp with time zone" | "timestamptz" => "timestamptz",
        "timestamp" | "timestamp without time zone" => "timestamp",
        "time" | "time without time zone" => "time",
        other => return other.rsplit('.').next().unwrap_or(other).to_string(),
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(sql: &str) -> String {
        with_postgres_names(sql).into_owned()
    }

    #[test]
    fn select_items_get_postgres_names() {
        assert_eq!(named("SELECT 1"), "SELECT 1 AS \"?column?\"");
        assert_eq!(
            named("SELECT count(*) FROM votes"),
            "SELECT count(*) AS \"count\" FROM votes"
        );
        assert_eq!(
            named("SELECT current_user, session_user"),
            "SELECT current_user AS \"current_user\", session_user AS \"session_user\""
        );
        assert_eq!(
            named("SELECT 1::int, 'x'::text"),
            "SELECT 1::INT AS \"int4\", 'x'::TEXT AS \"text\""
        );
        assert_eq!(
            named("SELECT CASE WHEN a THEN 1 END, Upper(b) FROM t"),
            "SELECT CASE WHEN a THEN 1 END AS \"case\", upper(b) AS \"upper\" FROM t"
                .replace("upper(b) AS", "Upper(b) AS")
        );
        // Unchanged: aliases, columns, wildcards, non-queries, text that does not parse.
        for sql in [
            "SELECT a, t.b, c AS d FROM t",
            "SELECT *, count(*) FROM t",
            "SHOW search_path",
            "SELECT (",
            "SELECT format_type(t.oid, NULL) FROM pg_catalog.pg_type t",
        ] {
            assert_eq!(named(sql), sql);
        }
        // A name already in the list stays DataFusion's: its names must be unique.
        assert_eq!(named("SELECT 1, 2"), "SELECT 1 AS \"?column?\", 2");
        assert_eq!(
            named("SELECT count, count(*) FROM t"),
            "SELECT count, count(*) FROM t"
        );
        // The leftmost select of a set operation names the columns.
        assert_eq!(
            named("SELECT max(x) FROM t UNION ALL SELECT 1"),
            "SELECT max(x) AS \"max\" FROM t UNION ALL SELECT 1"
        );
    }
}
