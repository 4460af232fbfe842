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
//! - **`LIKE ... ESCAPE 'c'`.** DataFusion takes only the backslash as LIKE's escape
//!   character; SQLAlchemy writes `nspname NOT LIKE 'pg/_' || '%' ESCAPE '/'`. A literal
//!   pattern (or a concatenation of literals) is rewritten to the backslash.
//!   A pattern from a parameter becomes `replace(replace(p, '\', '\\'), 'c', '\')`
//!   (exact except for a doubled escape character, which then reads as a backslash).
//! - **Catalog arrays and missing columns.** datafusion-pg-catalog serves `int2vector` and
//!   `int2[]` columns (`pg_index.indkey`, `pg_constraint.conkey` ...) as text, so
//!   `unnest(indkey)`, `attnum = ANY(conkey)` and `confkey[n]` failed (SQLAlchemy's and
//!   pgjdbc's key reflection); they are read through `pg_int_array(...)`, which parses the
//!   text. `pg_class.reloptions` and `relacl`, which it lacks, read as NULL arrays.
//! - **`information_schema.columns`.** DataFusion 55 reports Arrow type names (`Utf8`,
//!   `Timestamp(µs, "UTC")`) as `data_type` and counts `ordinal_position` from 0; tools find
//!   time and numeric columns by Postgres's names and count from 1. The view is read
//!   through a subquery with `pg_type_name(data_type)` and `ordinal_position + 1`.
//! - **`ARRAY(subquery)`.** DataFusion has no array constructor over a subquery (psql's
//!   `\du`, `\dp`, `\d+ table`); it becomes `(SELECT array_agg(v) FROM (subquery) AS a(v))`.
//! - **Scalar subqueries in a select list.** datafusion-pg-catalog's
//!   `RemoveSubqueryFromProjection` replaces a correlated one by NULL (so that psql's
//!   describe queries plan) and gives an uncorrelated one `LIMIT 1`: silent wrong answers in
//!   a user's query (`SELECT a, (SELECT count(*) FROM t WHERE t.b = v.a) FROM v` returned
//!   NULLs). Outside catalog queries, such a subquery is put in parentheses, which that rule
//!   does not look into, so DataFusion plans it as written: the right answer, or an error.

use datafusion::sql::sqlparser::ast::{
    AccessExpr, ArrayElemTypeDef, BinaryOperator, CastKind, DataType, Expr, Function, FunctionArg,
    FunctionArgExpr, FunctionArgumentList, FunctionArguments, Ident, ObjectName, ObjectNamePart,
    Query, SelectItem, SetExpr, Statement, TableAlias, TableFactor, Value, VisitMut, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion_postgres::datafusion_pg_catalog::sql::PostgresCompatibilityParser;
use std::borrow::Cow;
use std::collections::HashSet;
use std::ops::ControlFlow;
use std::sync::OnceLock;

/// `sql` with both rules applied, or `sql` itself when neither changes anything (or it
/// does not parse: the parser reports that later).
pub fn rewrite(sql: &str) -> Cow<'_, str> {
    // A statement beyond the shape limits is refused before planning; not worth a rewrite.
    if crate::limits::check_operator_chains(sql).is_err() {
        return Cow::Borrowed(sql);
    }
    let lower = sql.to_ascii_lowercase();
    let catalog = lower.contains("pg_") || lower.contains("information_schema");
    let regproc = REGPROC_COLUMNS.iter().any(|c| lower.contains(c));
    let escape = lower.contains("escape");
    let arrays = CATALOG_ARRAYS
        .iter()
        .chain(MISSING_ARRAYS)
        .any(|c| lower.contains(c));
    let booleans = BOOLEAN_COLUMNS.iter().any(|c| lower.contains(c));
    if catalog && substituted_upstream(sql) {
        return Cow::Borrowed(sql);
    }
    let Ok(mut statements) = Parser::parse_sql(&PostgreSqlDialect {}, sql) else {
        return Cow::Borrowed(sql);
    };
    let mut changed = false;
    if regproc || booleans {
        let mut rule = CatalogComparisons(false);
        let _ = statements.visit(&mut rule);
        changed |= rule.0;
    }
    if lower.contains("array(") || lower.contains("array (") {
        let mut rule = ArraySubqueries(false);
        let _ = statements.visit(&mut rule);
        changed |= rule.0;
    }
    if lower.contains("information_schema.columns") {
        let mut rule = PostgresColumnsView(false);
        let _ = statements.visit(&mut rule);
        changed |= rule.0;
    }
    if escape {
        let mut rule = BackslashEscapes(false);
        let _ = statements.visit(&mut rule);
        changed |= rule.0;
    }
    if arrays {
        let mut rule = CatalogArrays(false);
        let _ = statements.visit(&mut rule);
        changed |= rule.0;
    }
    for statement in &mut statements {
        if let Statement::Query(query) = statement {
            changed |= alias_repeated_items(query);
        }
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

/// Whether datafusion-postgres replaces `sql` wholesale: its parser matches some client
/// catalog queries by their exact tokens and answers them with an empty `... WHERE false`
/// query. Rewriting such a query here would change its tokens and lose that.
fn substituted_upstream(sql: &str) -> bool {
    static UPSTREAM: OnceLock<PostgresCompatibilityParser> = OnceLock::new();
    let parser = UPSTREAM.get_or_init(PostgresCompatibilityParser::new);
    let Ok(statements) = parser.parse(sql) else {
        return false;
    };
    !sql.to_ascii_lowercase().contains("where false")
        && statements
            .iter()
            .any(|s| s.to_string().ends_with("WHERE false"))
}

fn joined(statements: &[Statement]) -> String {
    statements
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Rewrites `ARRAY(subquery)` to a scalar subquery aggregating its one column; records
/// whether it did.
struct ArraySubqueries(bool);

impl VisitorMut for ArraySubqueries {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        let Expr::Function(f) = expr else {
            return ControlFlow::Continue(());
        };
        let (Some(ObjectNamePart::Identifier(name)), FunctionArguments::Subquery(query)) =
            (f.name.0.last(), &f.args)
        else {
            return ControlFlow::Continue(());
        };
        if !name.value.eq_ignore_ascii_case("array") || f.name.0.len() != 1 {
            return ControlFlow::Continue(());
        }
        let aggregated =
            format!("SELECT array_agg(array_value) FROM ({query}) AS array_rows(array_value)");
        if let Ok(mut parsed) = Parser::parse_sql(&PostgreSqlDialect {}, &aggregated) {
            if let Some(Statement::Query(q)) = parsed.pop() {
                *expr = Expr::Subquery(q);
                self.0 = true;
            }
        }
        ControlFlow::Continue(())
    }
}

/// `information_schema.columns` with Postgres's type names and 1-based positions.
const COLUMNS_VIEW: &str = "SELECT table_catalog, table_schema, table_name, column_name, \
    ordinal_position + 1 AS ordinal_position, column_default, is_nullable, \
    pg_type_name(data_type) AS data_type, character_maximum_length, character_octet_length, \
    numeric_precision, numeric_precision_radix, numeric_scale, datetime_precision, \
    interval_type FROM information_schema.columns";

/// Reads `information_schema.columns` through [`COLUMNS_VIEW`]; records whether it did.
struct PostgresColumnsView(bool);

impl VisitorMut for PostgresColumnsView {
    type Break = ();

    fn post_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        let TableFactor::Table { name, alias, .. } = factor else {
            return ControlFlow::Continue(());
        };
        let parts: Vec<String> = name
            .0
            .iter()
            .filter_map(|p| p.as_ident().map(|i| i.value.to_ascii_lowercase()))
            .collect();
        if !parts.ends_with(&["information_schema".to_string(), "columns".to_string()]) {
            return ControlFlow::Continue(());
        }
        let Ok(mut parsed) = Parser::parse_sql(&PostgreSqlDialect {}, COLUMNS_VIEW) else {
            return ControlFlow::Continue(());
        };
        let Some(Statement::Query(view)) = parsed.pop() else {
            return ControlFlow::Continue(());
        };
        let alias = alias.clone().unwrap_or_else(|| TableAlias {
            explicit: true,
            name: Ident::new("columns"),
            columns: vec![],
            at: None,
        });
        *factor = TableFactor::Derived {
            lateral: false,
            subquery: view,
            alias: Some(alias),
            sample: None,
        };
        self.0 = true;
        ControlFlow::Continue(())
    }
}

/// Boolean catalog columns that clients compare with `'t'` or `'f'`, which Postgres reads as
/// booleans and DataFusion cannot compare with a boolean (SQLAlchemy 1.4's
/// `ix.indisprimary = 'f'`).
const BOOLEAN_COLUMNS: &[&str] = &[
    "indisprimary",
    "indisunique",
    "indisclustered",
    "indisvalid",
    "indisexclusion",
    "indimmediate",
    "relhasindex",
    "relhasrules",
    "relhastriggers",
    "relhassubclass",
    "relispartition",
    "relispopulated",
    "attnotnull",
    "attisdropped",
    "atthasdef",
    "attislocal",
    "condeferrable",
    "condeferred",
    "convalidated",
    "proisstrict",
    "proretset",
    "typisdefined",
    "typnotnull",
    "rolsuper",
    "rolinherit",
    "rolcanlogin",
];

/// Rewrites `LIKE pattern ESCAPE 'c'` with a literal pattern to the backslash escape;
/// records whether it did.
struct BackslashEscapes(bool);

impl BackslashEscapes {
    /// `pattern` written with `\\` as its escape character instead of `escape`.
    fn pattern(pattern: &Expr, escape: char) -> Option<Expr> {
        match pattern {
            Expr::Value(v) if matches!(v.value, Value::SingleQuotedString(_)) => {
                let Value::SingleQuotedString(text) = &v.value else {
                    return None;
                };
                let mut out = String::with_capacity(text.len());
                let mut chars = text.chars();
                while let Some(c) = chars.next() {
                    if c == escape {
                        out.push('\\');
                        out.push(chars.next()?);
                    } else if c == '\\' {
                        out.push_str("\\\\");
                    } else {
                        out.push(c);
                    }
                }
                Some(Expr::value(Value::SingleQuotedString(out)))
            }
            Expr::BinaryOp {
                left,
                op: BinaryOperator::StringConcat,
                right,
            } => Some(Expr::BinaryOp {
                left: Box::new(Self::pattern(left, escape)?),
                op: BinaryOperator::StringConcat,
                right: Box::new(Self::pattern(right, escape)?),
            }),
            Expr::Nested(inner) => Some(Expr::Nested(Box::new(Self::pattern(inner, escape)?))),
            // A bound or computed pattern: translated when the query runs.
            other => {
                let text = |t: &str| Expr::value(Value::SingleQuotedString(t.to_string()));
                let backslashes_doubled =
                    call("replace", vec![other.clone(), text("\\"), text("\\\\")]);
                Some(call(
                    "replace",
                    vec![backslashes_doubled, text(&escape.to_string()), text("\\")],
                ))
            }
        }
    }
}

/// `name(args)` as an expression.
fn call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Function(Function {
        name: ObjectName::from(vec![Ident::new(name)]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: args
                .into_iter()
                .map(|a| FunctionArg::Unnamed(FunctionArgExpr::Expr(a)))
                .collect(),
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })
}

/// Catalog columns of integer vectors that datafusion-pg-catalog serves as text.
const CATALOG_ARRAYS: &[&str] = &[
    "indkey",
    "indclass",
    "indoption",
    "indcollation",
    "conkey",
    "confkey",
];
/// Array columns of `pg_class` that datafusion-pg-catalog lacks.
const MISSING_ARRAYS: &[&str] = &["reloptions", "relacl"];

/// Reads [`CATALOG_ARRAYS`] through `pg_int_array` and [`MISSING_ARRAYS`] as NULL arrays;
/// records whether it changed anything.
struct CatalogArrays(bool);

impl VisitorMut for CatalogArrays {
    type Break = ();

    /// `con.confkey[n]` parses as `con` accessed by `.confkey` then `[n]`: made
    /// `(con.confkey)[n]` first, so the column is read through `pg_int_array` below.
    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if let Expr::CompoundFieldAccess { root, access_chain } = expr {
            if let (Expr::Identifier(table), Some(AccessExpr::Dot(Expr::Identifier(column)))) =
                (root.as_ref(), access_chain.first())
            {
                if CATALOG_ARRAYS.contains(&column.value.to_ascii_lowercase().as_str()) {
                    **root = Expr::CompoundIdentifier(vec![table.clone(), column.clone()]);
                    access_chain.remove(0);
                }
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        // Keep the column's name where it is selected bare.
        if let SetExpr::Select(select) = query.body.as_mut() {
            for item in &mut select.projection {
                if let SelectItem::UnnamedExpr(expr) = item {
                    if let Some(name) = column_name(expr).filter(|n| {
                        let n = n.to_ascii_lowercase();
                        CATALOG_ARRAYS.contains(&n.as_str()) || MISSING_ARRAYS.contains(&n.as_str())
                    }) {
                        *item = SelectItem::ExprWithAlias {
                            expr: expr.clone(),
                            alias: Ident::new(name),
                        };
                    }
                }
            }
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        // generate_subscripts(a, 1), a set-returning function DataFusion lacks, as the
        // unnest of 1..cardinality(a); beside unnest(a) in one select list the two zip, as
        // in Postgres.
        if let Expr::Function(f) = expr {
            if let (Some(ObjectNamePart::Identifier(name)), FunctionArguments::List(list)) =
                (f.name.0.last(), &f.args)
            {
                if name.value.eq_ignore_ascii_case("generate_subscripts") && list.args.len() == 2 {
                    if let FunctionArg::Unnamed(FunctionArgExpr::Expr(array)) = &list.args[0] {
                        let one = Expr::value(Value::Number("1".to_string(), false));
                        let n = call("cardinality", vec![array.clone()]);
                        *expr = call("unnest", vec![call("generate_series", vec![one, n])]);
                        self.0 = true;
                        return ControlFlow::Continue(());
                    }
                }
            }
        }
        let Some(name) = column_name(expr).map(|n| n.to_ascii_lowercase()) else {
            return ControlFlow::Continue(());
        };
        if CATALOG_ARRAYS.contains(&name.as_str()) {
            *expr = call("pg_int_array", vec![expr.clone()]);
            self.0 = true;
        } else if MISSING_ARRAYS.contains(&name.as_str()) {
            *expr = Expr::Cast {
                kind: CastKind::Cast,
                expr: Box::new(Expr::value(Value::Null)),
                data_type: DataType::Array(ArrayElemTypeDef::SquareBracket(
                    Box::new(DataType::Text),
                    None,
                )),
                array: false,
                format: None,
            };
            self.0 = true;
        }
        ControlFlow::Continue(())
    }
}

impl VisitorMut for BackslashEscapes {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        let (Expr::Like {
            pattern,
            escape_char,
            ..
        }
        | Expr::ILike {
            pattern,
            escape_char,
            ..
        }) = expr
        else {
            return ControlFlow::Continue(());
        };
        let escape = match escape_char.as_ref().map(|v| &v.value) {
            Some(Value::SingleQuotedString(e)) if e.chars().count() == 1 && e != "\\" => {
                e.chars().next().expect("one character")
            }
            _ => return ControlFlow::Continue(()),
        };
        if let Some(rewritten) = Self::pattern(pattern, escape) {
            **pattern = rewritten;
            *escape_char = None;
            self.0 = true;
        }
        ControlFlow::Continue(())
    }
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

/// Rewrites comparisons of catalog columns with literals Postgres reads in the column's
/// type: for [`REGPROC_COLUMNS`], `col = 'schema.name'::regproc` to `col = 'name'` and
/// `col != 0` to `col != '-'`; for [`BOOLEAN_COLUMNS`], `col = 't'` (`'f'`, `'true'`,
/// `'false'`) to a boolean. Records whether it changed anything.
struct CatalogComparisons(bool);

impl CatalogComparisons {
    /// The operand `column` compares with, as the column's type reads it, if this rule
    /// rewrites it.
    fn operand_for(column: &Expr, operand: &Expr) -> Option<Expr> {
        let name = column_name(column)?.to_ascii_lowercase();
        if REGPROC_COLUMNS.contains(&name.as_str()) {
            return Self::regproc_name(operand);
        }
        if !BOOLEAN_COLUMNS.contains(&name.as_str()) {
            return None;
        }
        let Expr::Value(v) = operand else { return None };
        let Value::SingleQuotedString(t) = &v.value else {
            return None;
        };
        match t.to_ascii_lowercase().as_str() {
            "t" | "true" => Some(Expr::value(Value::Boolean(true))),
            "f" | "false" => Some(Expr::value(Value::Boolean(false))),
            _ => None,
        }
    }

    /// The name a `regproc` operand compares as.
    fn regproc_name(expr: &Expr) -> Option<Expr> {
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

impl VisitorMut for CatalogComparisons {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        let Expr::BinaryOp { left, op, right } = expr else {
            return ControlFlow::Continue(());
        };
        if !matches!(op, BinaryOperator::Eq | BinaryOperator::NotEq) {
            return ControlFlow::Continue(());
        }
        if let Some(operand) = Self::operand_for(left, right) {
            **right = operand;
            self.0 = true;
        } else if let Some(operand) = Self::operand_for(right, left) {
            **left = operand;
            self.0 = true;
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

/// Aliases select items that repeat an earlier unaliased item (`SELECT NULL, NULL`,
/// pgjdbc's `getProcedures`): Postgres allows two columns of one name, DataFusion does not,
/// so the repeats are named `<name>_2`, `<name>_3` .... Returns whether anything changed.
fn alias_repeated_items(query: &mut Query) -> bool {
    let SetExpr::Select(select) = query.body.as_mut() else {
        return false;
    };
    let mut seen: HashSet<String> = HashSet::new();
    let mut counters: std::collections::HashMap<String, usize> = Default::default();
    let mut names: HashSet<String> = select
        .projection
        .iter()
        .filter_map(|item| match item {
            SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.clone()),
            _ => None,
        })
        .collect();
    let mut changed = false;
    for item in &mut select.projection {
        let SelectItem::UnnamedExpr(expr) = item else {
            continue;
        };
        if seen.insert(expr.to_string()) {
            continue;
        }
        let base = postgres_name(expr).unwrap_or_else(|| "?column?".to_string());
        let next = counters.entry(base.clone()).or_insert(2);
        let name = loop {
            let candidate = format!("{base}_{next}");
            *next += 1;
            if !names.contains(&candidate) {
                break candidate;
            }
        };
        names.insert(name.clone());
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
    fn like_escapes_become_backslashes() {
        assert_eq!(
            named("SELECT nspname FROM pg_catalog.pg_namespace WHERE (nspname NOT LIKE 'pg/_' || '%' ESCAPE '/')"),
            "SELECT nspname FROM pg_catalog.pg_namespace WHERE (nspname NOT LIKE 'pg\\_' || '%')"
        );
        assert_eq!(
            named("SELECT a FROM t WHERE a LIKE 'x!%\\y' ESCAPE '!'"),
            "SELECT a FROM t WHERE a LIKE 'x\\%\\\\y'"
        );
        let plain = "SELECT a FROM t WHERE a LIKE 'x\\_y' ESCAPE '\\'";
        assert_eq!(named(plain), plain);
    }

    #[test]
    fn catalog_arrays_are_read_as_arrays() {
        assert_eq!(
            named("SELECT unnest(pg_catalog.pg_index.indkey) AS attnum, i.reloptions FROM pg_catalog.pg_index i WHERE a.attnum = ANY(con.conkey)"),
            "SELECT unnest(pg_int_array(pg_catalog.pg_index.indkey)) AS attnum, CAST(NULL AS TEXT[]) AS reloptions FROM pg_catalog.pg_index i WHERE a.attnum = ANY(pg_int_array(con.conkey))"
        );
        assert_eq!(
            named("SELECT n FROM pg_catalog.pg_namespace WHERE n LIKE $1 ESCAPE '/'"),
            "SELECT n FROM pg_catalog.pg_namespace WHERE n LIKE replace(replace($1, '\\', '\\\\'), '/', '\\')"
        );
    }

    #[test]
    fn queries_upstream_substitutes_are_left_alone() {
        // pgcli's foreign-key lookup: datafusion-postgres answers it with an empty result.
        let pgcli = "SELECT s_p.nspname AS parentschema, t_p.relname AS parenttable, unnest(( select array_agg(attname ORDER BY i) from (select unnest(confkey) as attnum, generate_subscripts(confkey, 1) as i) x JOIN pg_catalog.pg_attribute c USING(attnum) WHERE c.attrelid = fk.confrelid )) AS parentcolumn, s_c.nspname AS childschema, t_c.relname AS childtable, unnest(( select array_agg(attname ORDER BY i) from (select unnest(conkey) as attnum, generate_subscripts(conkey, 1) as i) x JOIN pg_catalog.pg_attribute c USING(attnum) WHERE c.attrelid = fk.conrelid )) AS childcolumn FROM pg_catalog.pg_constraint fk JOIN pg_catalog.pg_class t_p ON t_p.oid = fk.confrelid JOIN pg_catalog.pg_namespace s_p ON s_p.oid = t_p.relnamespace JOIN pg_catalog.pg_class t_c ON t_c.oid = fk.conrelid JOIN pg_catalog.pg_namespace s_c ON s_c.oid = t_c.relnamespace WHERE fk.contype = 'f'";
        assert_eq!(named(pgcli), pgcli);
    }

    #[test]
    fn information_schema_columns_has_postgres_types() {
        let sql = named("SELECT column_name, data_type FROM information_schema.columns c WHERE c.table_name = 'votes'");
        assert!(
            sql.contains("pg_type_name(data_type) AS data_type"),
            "{sql}"
        );
        assert!(
            sql.contains("FROM information_schema.columns) c WHERE c.table_name = 'votes'"),
            "{sql}"
        );
    }

    #[test]
    fn subscripted_catalog_arrays_read_as_arrays() {
        assert_eq!(
            named("SELECT 1 FROM pg_catalog.pg_constraint con WHERE pka.attnum = con.confkey[pos.n]"),
            "SELECT 1 FROM pg_catalog.pg_constraint con WHERE pka.attnum = pg_int_array(con.confkey)[pos.n]"
        );
    }

    #[test]
    fn array_subqueries_aggregate_their_column() {
        assert_eq!(
            named("SELECT ARRAY(SELECT b.x FROM t b WHERE b.y = r.y) AS m FROM pg_catalog.pg_roles r"),
            "SELECT (SELECT array_agg(array_value) FROM (SELECT b.x FROM t b WHERE b.y = r.y) AS array_rows (array_value)) AS m FROM pg_catalog.pg_roles r"
        );
        // In a user query the result is computed, not left to upstream's NULL.
        let user = named("SELECT a, ARRAY(SELECT x FROM t WHERE t.k = v.a) AS xs FROM v");
        assert!(user.contains("((SELECT array_agg(array_value)"), "{user}");
    }

    #[test]
    fn boolean_columns_compare_with_booleans() {
        assert_eq!(
            named("SELECT 1 FROM pg_catalog.pg_index ix WHERE ix.indisprimary = 'f' AND ix.indrelid = 1"),
            "SELECT 1 FROM pg_catalog.pg_index ix WHERE ix.indisprimary = false AND ix.indrelid = 1"
        );
        let text = "SELECT 1 FROM pg_catalog.pg_constraint r WHERE r.contype = 'f'";
        assert_eq!(named(text), text);
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
        // A repeated item gets a numbered name, where DataFusion would refuse the repeat.
        assert_eq!(
            named("SELECT NULL AS a, NULL, NULL, x, x FROM pg_catalog.pg_proc"),
            "SELECT NULL AS a, NULL, NULL AS \"?column?_2\", x, x AS \"x_2\" FROM pg_catalog.pg_proc"
        );
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
