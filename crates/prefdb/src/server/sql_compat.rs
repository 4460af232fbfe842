//! Statements rewritten, before datafusion-postgres parses them, where Postgres and
//! DataFusion disagree in ways upstream's own rewrites do not cover. Two rules:
//!
//! - **Result column names.** DataFusion names an unaliased select item after its
//!   expression (`Int64(1)`, `count(*)`, `session_user()`); Postgres after its outermost
//!   function, type cast or keyword (`count`, `current_user`, `int4`, `case`), and `?column?`
//!   for anything else (FigureColname in Postgres's `parser/parse_target.c`). Clients show
//!   these names as headers and look columns up by them (`row["count"]`), and DataFusion
//!   refuses two items with one name (`SELECT current_user, session_user`: both plan as
//!   `session_user()`). So the top-level select items get Postgres's names as aliases. An
//!   item whose Postgres name is already taken in the same list keeps DataFusion's name,
//!   since DataFusion needs unique names. Catalog queries (`pg_*`, `information_schema`)
//!   are left to this rule's caution: datafusion-postgres recognises some by their exact
//!   tokens.
//! - **`regproc` columns.** datafusion-pg-catalog stores `pg_type.typinput`, `typreceive`
//!   and the other `regproc` columns as the function's name, as Postgres displays them, but
//!   plans `'name'::regproc` as an oid and `typreceive != 0` as a number, so comparing them
//!   failed (`Cannot cast string 'unknownin' to value of Int32 type`: pgjdbc's array-type
//!   lookup, ADBC's startup query). Such comparisons become comparisons of names: the cast
//!   operand without its schema, and 0 as `-` (how Postgres displays the zero oid).
//! - **Scalar subqueries in a select list.** datafusion-pg-catalog's
//!   `RemoveSubqueryFromProjection` replaces a correlated one by NULL (so that psql's
//!   describe queries plan) and gives an uncorrelated one `LIMIT 1`: silent wrong answers in
//!   a user's query (`SELECT a, (SELECT count(*) FROM t WHERE t.b = v.a) FROM v` returned
//!   NULLs). Outside catalog queries, such a subquery is put in parentheses, which that rule
//!   does not look into, so DataFusion plans it as written: the right answer, or an error.

use datafusion::sql::sqlparser::ast::{
    BinaryOperator, CastKind, DataType, Expr, Ident, ObjectNamePart, Query, SelectItem, SetExpr,
    Statement, Value, VisitMut, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use std::borrow::Cow;
use std::collections::HashSet;
use std::ops::ControlFlow;

/// `sql` with both rules applied, or `sql` itself when neither changes anything (or it
/// does not parse: the parser reports that later).
pub fn rewrite(sql: &str) -> Cow<'_, str> {
    let lower = sql.to_ascii_lowercase();
    let catalog = lower.contains("pg_") || lower.contains("information_schema");
    let regproc = REGPROC_COLUMNS.iter().any(|c| lower.contains(c));
    if catalog && !regproc {
        return Cow::Borrowed(sql);
    }
    let Ok(mut statements) = Parser::parse_sql(&PostgreSqlDialect {}, sql) else {
        return Cow::Borrowed(sql);
    };
    let mut changed = false;
    if regproc {
        let mut rule = RegprocComparisons(false);
        let _ = statements.visit(&mut rule);
        changed |= rule.0;
    }
    if catalog {
        return match changed {
            true => Cow::Owned(joined(&statements)),
            false => Cow::Borrowed(sql),
        };
    }
    let mut subqueries = ProtectSubqueries(false);
    let _ = statements.visit(&mut subqueries);
    changed |= subqueries.0;
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
    Cow::Owned(joined(&statements))
}

fn joined(statements: &[Statement]) -> String {
    statements
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Wraps scalar subqueries of select lists in parentheses; records whether it did.
struct ProtectSubqueries(bool);

impl VisitorMut for ProtectSubqueries {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        if let SetExpr::Select(select) = query.body.as_mut() {
            for item in &mut select.projection {
                let (SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. }) = item
                else {
                    continue;
                };
                if matches!(expr, Expr::Subquery(_)) {
                    *expr = Expr::Nested(Box::new(expr.clone()));
                    self.0 = true;
                }
            }
        }
        ControlFlow::Continue(())
    }
}

/// The `regproc` columns of `pg_type`, `pg_proc` and `pg_aggregate` that clients compare.
const REGPROC_COLUMNS: &[&str] = &[
    "typinput",
    "typoutput",
    "typreceive",
    "typsend",
    "typmodin",
    "typmodout",
    "typanalyze",
    "aggtransfn",
    "aggfinalfn",
    "prosupport",
];

/// Rewrites `col = 'schema.name'::regproc` to `col = 'name'` and `col != 0` to
/// `col != '-'` for the columns in [`REGPROC_COLUMNS`]; records whether it did.
struct RegprocComparisons(bool);

impl RegprocComparisons {
    fn is_regproc_column(expr: &Expr) -> bool {
        column_name(expr)
            .is_some_and(|c| REGPROC_COLUMNS.contains(&c.to_ascii_lowercase().as_str()))
    }

    /// The name a `regproc` operand compares as, if it is one this rule rewrites.
    fn as_name(expr: &Expr) -> Option<Expr> {
        match expr {
            Expr::Cast {
                expr, data_type, ..
            } if data_type
                .to_string()
                .to_ascii_lowercase()
                .ends_with("regproc") =>
            {
                let Expr::Value(v) = expr.as_ref() else {
                    return None;
                };
                let Value::SingleQuotedString(name) = &v.value else {
                    return None;
                };
                let bare = name.rsplit('.').next().unwrap_or(name).to_string();
                Some(Expr::value(Value::SingleQuotedString(bare)))
            }
            Expr::Value(v) if matches!(&v.value, Value::Number(n, _) if n == "0") => {
                Some(Expr::value(Value::SingleQuotedString("-".to_string())))
            }
            _ => None,
        }
    }
}

impl VisitorMut for RegprocComparisons {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if let Expr::BinaryOp { left, op, right } = expr {
            if matches!(op, BinaryOperator::Eq | BinaryOperator::NotEq) {
                if Self::is_regproc_column(left) {
                    if let Some(name) = Self::as_name(right) {
                        **right = name;
                        self.0 = true;
                    }
                } else if Self::is_regproc_column(right) {
                    if let Some(name) = Self::as_name(left) {
                        **left = name;
                        self.0 = true;
                    }
                }
            }
        }
        ControlFlow::Continue(())
    }
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
        rewrite(sql).into_owned()
    }

    #[test]
    fn scalar_subqueries_in_select_lists_are_kept_from_upstream_rewrites() {
        let sql = "SELECT v.a, (SELECT count(*) FROM t WHERE t.b = v.a) AS n FROM v";
        assert_eq!(
            named(sql),
            "SELECT v.a, ((SELECT count(*) FROM t WHERE t.b = v.a)) AS n FROM v"
        );
        let reparsed = Parser::parse_sql(&PostgreSqlDialect {}, &named(sql)).unwrap();
        assert_eq!(reparsed[0].to_string(), named(sql));
        // Catalog queries keep upstream's handling.
        let psql = "SELECT (SELECT c.collname FROM pg_catalog.pg_collation c WHERE c.oid = a.attcollation) FROM pg_catalog.pg_attribute a";
        assert_eq!(named(psql), psql);
    }

    #[test]
    fn regproc_comparisons_compare_names() {
        assert_eq!(
            named("SELECT typinput='pg_catalog.array_in'::regproc FROM pg_catalog.pg_type WHERE oid=$1"),
            "SELECT typinput = 'array_in' FROM pg_catalog.pg_type WHERE oid = $1"
        );
        assert_eq!(
            named("SELECT oid FROM pg_catalog.pg_type WHERE typreceive != 0"),
            "SELECT oid FROM pg_catalog.pg_type WHERE typreceive <> '-'"
        );
        let other = "SELECT oid FROM pg_catalog.pg_type WHERE typlen != 0";
        assert_eq!(named(other), other);
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
