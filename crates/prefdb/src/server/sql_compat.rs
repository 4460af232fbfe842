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

use datafusion::sql::sqlparser::ast::helpers::attached_token::AttachedToken;
use datafusion::sql::sqlparser::ast::{
    AccessExpr, ArrayElemTypeDef, BinaryOperator, CaseWhen, CastKind, DataType, Expr, Function,
    FunctionArg, FunctionArgExpr, FunctionArgumentClause, FunctionArgumentList, FunctionArguments,
    GroupByExpr, Ident, ObjectName, ObjectNamePart, OrderBy, OrderByKind, Query, Select,
    SelectItem, SetExpr, Statement, TableAlias, TableAliasColumnDef, TableFactor, Value, VisitMut,
    Visitor, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion_postgres::datafusion_pg_catalog::sql::PostgresCompatibilityParser;
use std::borrow::Cow;
use std::collections::HashSet;
use std::ops::ControlFlow;
use std::sync::OnceLock;

/// Runs a rule (a visitor recording in its `.0` whether it changed anything) over the
/// statements; whether it did.
macro_rules! applied {
    ($statements:expr, $rule:expr) => {{
        let mut rule = $rule;
        let _ = $statements.visit(&mut rule);
        rule.0
    }};
}

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
        .chain(TEXT_ARRAYS)
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
        changed |= applied!(statements, CatalogComparisons(false));
    }
    if lower.contains("array(") || lower.contains("array (") {
        changed |= applied!(statements, ArraySubqueries(false));
    }
    if lower.contains("regtype") || lower.contains("regexp_split_to_table") {
        changed |= applied!(statements, PostgresFunctions(false));
    }
    if lower.contains("unnest") || lower.contains("generate_series") {
        changed |= applied!(statements, FunctionColumnAliases(false));
    }
    if lower.contains("information_schema.columns") {
        changed |= applied!(statements, PostgresColumnsView(false));
    }
    if escape {
        changed |= applied!(statements, BackslashEscapes(false));
    }
    if arrays {
        changed |= applied!(statements, CatalogArrays(false));
    }
    for statement in &mut statements {
        if let Statement::Query(query) = statement {
            changed |= alias_repeated_items(query);
            // A CTE's columns get Postgres's names too, since the rest of the statement
            // refers to them by those (pgcli's `WITH Words AS (SELECT ..., COUNT(1) ...)
            // ... ORDER BY Count`).
            if let Some(with) = &mut query.with {
                for cte in with
                    .cte_tables
                    .iter_mut()
                    .filter(|c| c.alias.columns.is_empty())
                {
                    changed |= name_items(&mut cte.query);
                }
            }
        }
    }
    if catalog {
        changed |= applied!(statements, CorrelatedCatalogSubqueries(false));
        return match changed {
            true => keeping_parameters(sql, &statements),
            false => Cow::Borrowed(sql),
        };
    }
    changed |= applied!(statements, ProtectSubqueries(false));
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
    keeping_parameters(sql, &statements)
}

/// The rewritten `statements`, unless they lost a parameter that `sql` has: datafusion-postgres
/// numbers bound values by the placeholders it finds, so a lost `$1` would shift every later
/// value onto the wrong placeholder. Then `sql` as it was.
fn keeping_parameters<'a>(sql: &'a str, statements: &[Statement]) -> Cow<'a, str> {
    fn placeholders(statements: &[Statement]) -> std::collections::BTreeSet<String> {
        struct Collect(std::collections::BTreeSet<String>);
        impl Visitor for Collect {
            type Break = ();
            fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
                if let Expr::Value(v) = expr {
                    if let Value::Placeholder(p) = &v.value {
                        self.0.insert(p.clone());
                    }
                }
                ControlFlow::Continue(())
            }
        }
        let mut collect = Collect(Default::default());
        for statement in statements {
            let _ = datafusion::sql::sqlparser::ast::Visit::visit(statement, &mut collect);
        }
        collect.0
    }
    let Ok(original) = Parser::parse_sql(&PostgreSqlDialect {}, sql) else {
        return Cow::Borrowed(sql);
    };
    match placeholders(&original).is_subset(&placeholders(statements)) {
        true => Cow::Owned(joined(statements)),
        false => Cow::Borrowed(sql),
    }
}

/// Whether datafusion-postgres substitutes part of `sql`: its parser matches some client
/// catalog queries by their exact tokens and replaces them (or a fragment, such as
/// Grafana's `search_path` subquery) with something it can plan. Rewriting such a query
/// here would change its tokens and lose that. Detected by comparing upstream's parse with
/// its rewrite rules applied to the plain parse: they differ only by a substitution.
fn substituted_upstream(sql: &str) -> bool {
    static UPSTREAM: OnceLock<PostgresCompatibilityParser> = OnceLock::new();
    let parser = UPSTREAM.get_or_init(PostgresCompatibilityParser::new);
    let (Ok(upstream), Ok(plain)) = (
        parser.parse(sql),
        Parser::parse_sql(&PostgreSqlDialect {}, sql),
    ) else {
        return false;
    };
    let texts = |statements: Vec<Statement>| -> Vec<String> {
        statements.iter().map(|s| s.to_string()).collect()
    };
    texts(upstream) != texts(plain.into_iter().map(|s| parser.rewrite(s)).collect())
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

impl ArraySubqueries {
    /// `SELECT e FROM ... WHERE ... ORDER BY o` as `SELECT array_agg(e ORDER BY o) FROM ...
    /// WHERE ...`, for a plain select of one item: a correlated one (psql's `\dp` lists a
    /// table's policies with `ARRAY(SELECT ... WHERE polrelid = c.oid)`) then stays
    /// decorrelatable, which it is not inside a derived table.
    fn aggregated_in_place(query: &Query) -> Option<Query> {
        let mut query = query.clone();
        if query.limit_clause.is_some() || query.fetch.is_some() || query.with.is_some() {
            return None;
        }
        let order = match query.order_by.take() {
            None => vec![],
            Some(OrderBy {
                kind: OrderByKind::Expressions(exprs),
                interpolate: None,
            }) => exprs,
            Some(_) => return None,
        };
        let select = single_item_select(&mut query.body)?;
        let (SelectItem::UnnamedExpr(item) | SelectItem::ExprWithAlias { expr: item, .. }) =
            &mut select.projection[0]
        else {
            return None;
        };
        let mut order = order;
        for o in &mut order {
            // `ORDER BY 1` names the item.
            if matches!(&o.expr, Expr::Value(v) if v.value == Value::Number("1".into(), false)) {
                o.expr = item.clone();
            } else if matches!(&o.expr, Expr::Value(_)) {
                return None;
            }
        }
        let mut array_agg = call("array_agg", vec![item.clone()]);
        if let (Expr::Function(f), false) = (&mut array_agg, order.is_empty()) {
            if let FunctionArguments::List(list) = &mut f.args {
                list.clauses.push(FunctionArgumentClause::OrderBy(order));
            }
        }
        *item = array_agg;
        Some(query)
    }
}

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
        if let Some(aggregated) = Self::aggregated_in_place(query) {
            *expr = Expr::Subquery(Box::new(aggregated));
            self.0 = true;
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

/// Postgres functions and casts DataFusion lacks, in terms of ones prefdb registers
/// ([`super::pg_compat`]): `x::regtype[]` (an `oidvector` as type names, pgcli's function
/// completion) as `pg_regtype_array(x)`, and the set-returning `regexp_split_to_table(t, p)`
/// (pgcli's name casing) as `unnest(regexp_split_to_array(t, p))`, `oid::regtype::text` as
/// `pg_regtype_name(oid)`. Records whether it changed anything.
struct PostgresFunctions(bool);

impl VisitorMut for PostgresFunctions {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        let regtype = |t: &DataType| t.to_string().eq_ignore_ascii_case("regtype");
        let text = |t: &DataType| matches!(t, DataType::Text | DataType::Varchar(_));
        match expr {
            Expr::Cast {
                expr: operand,
                data_type,
                ..
            } if data_type.to_string().eq_ignore_ascii_case("regtype[]") => {
                *expr = call("pg_regtype_array", vec![(**operand).clone()]);
                self.0 = true;
            }
            // `oid::regtype::text`: the type's name.
            Expr::Cast {
                expr: operand,
                data_type: outer,
                ..
            } if text(outer)
                && matches!(operand.as_ref(), Expr::Cast { data_type: inner, .. } if regtype(inner)) =>
            {
                let Expr::Cast { expr: oid, .. } = operand.as_ref() else {
                    unreachable!("matched above")
                };
                *expr = call("pg_regtype_name", vec![(**oid).clone()]);
                self.0 = true;
            }
            Expr::Function(f) => {
                let name = f.name.0.last().and_then(|p| p.as_ident());
                if let (Some(name), FunctionArguments::List(list)) = (name, &f.args) {
                    if name.value.eq_ignore_ascii_case("regexp_split_to_table")
                        && list.args.len() == 2
                    {
                        let mut split = f.clone();
                        split.name = ObjectName::from(vec![Ident::new("regexp_split_to_array")]);
                        *expr = call("unnest", vec![Expr::Function(split)]);
                        self.0 = true;
                    }
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

/// Set-returning functions of one output column that clients call in `FROM`.
const ONE_COLUMN_FUNCTIONS: &[&str] = &["unnest", "generate_series"];

/// Names the column of a one-column set-returning function in `FROM` after its alias, as
/// Postgres does: `FROM unnest(a) x` has a column `x` (psql's `\d+ table` reads the
/// options as `'toast.' || x FROM pg_catalog.unnest(tc.reloptions) x`), where DataFusion
/// names it `UNNEST(a)`. Records whether it changed anything.
struct FunctionColumnAliases(bool);

impl VisitorMut for FunctionColumnAliases {
    type Break = ();

    fn post_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        let (name, alias) = match factor {
            TableFactor::Table {
                name,
                args: Some(_),
                alias,
                ..
            }
            | TableFactor::Function { name, alias, .. } => (
                name.0
                    .last()
                    .and_then(|p| p.as_ident())
                    .map(|i| i.value.to_ascii_lowercase()),
                alias,
            ),
            TableFactor::UNNEST {
                alias,
                array_exprs,
                with_offset: false,
                with_ordinality: false,
                ..
            } if array_exprs.len() == 1 => (Some("unnest".to_string()), alias),
            _ => return ControlFlow::Continue(()),
        };
        let Some(alias) = alias else {
            return ControlFlow::Continue(());
        };
        if alias.columns.is_empty()
            && name.is_some_and(|n| ONE_COLUMN_FUNCTIONS.contains(&n.as_str()))
        {
            alias.columns = vec![TableAliasColumnDef {
                name: alias.name.clone(),
                data_type: None,
            }];
            self.0 = true;
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

/// The select of `body` if it is a plain select of one item: no grouping, `HAVING` or
/// `DISTINCT`.
fn single_item_select(body: &mut SetExpr) -> Option<&mut Select> {
    let SetExpr::Select(select) = body else {
        return None;
    };
    let no_grouping =
        matches!(&select.group_by, GroupByExpr::Expressions(e, m) if e.is_empty() && m.is_empty());
    let plain = select.projection.len() == 1
        && no_grouping
        && select.having.is_none()
        && select.distinct.is_none();
    plain.then_some(select.as_mut())
}

/// `CASE WHEN condition THEN result END`.
fn case_when(condition: Expr, result: Expr) -> Expr {
    Expr::Case {
        case_token: AttachedToken::empty(),
        end_token: AttachedToken::empty(),
        operand: None,
        conditions: vec![CaseWhen { condition, result }],
        else_result: None,
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
    // `pg_policy.polroles` holds oids; prefdb has no row-level policies, so it is empty.
    "polroles",
];
/// Access-privilege and option arrays that datafusion-pg-catalog lacks (`pg_class`) or
/// serves as text (`pg_attribute.attacl`); prefdb grants no object privileges and sets no
/// options, so they read as NULL, as in a fresh Postgres.
const MISSING_ARRAYS: &[&str] = &["reloptions", "relacl", "attacl"];
/// Text-array columns of `pg_proc` that datafusion-pg-catalog serves as text
/// (`['acl', 'grantor']`); read through `pg_text_array` (pgcli's function completion).
const TEXT_ARRAYS: &[&str] = &["proargnames", "proargmodes"];

/// Reads [`CATALOG_ARRAYS`] through `pg_int_array`, [`TEXT_ARRAYS`] through
/// `pg_text_array` and [`MISSING_ARRAYS`] as NULL arrays;
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
                        CATALOG_ARRAYS.contains(&n.as_str())
                            || MISSING_ARRAYS.contains(&n.as_str())
                            || TEXT_ARRAYS.contains(&n.as_str())
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
        // A catalog array compared with an array literal in text (psql's `pol.polroles <>
        // '{0}'`): the literal is read the same way.
        if let Expr::BinaryOp { left, right, .. } = expr {
            let is_array =
                |e: &Expr| matches!(e, Expr::Function(f) if f.name.to_string() == "pg_int_array");
            let is_text = |e: &Expr| matches!(e, Expr::Value(v) if matches!(v.value, Value::SingleQuotedString(_)));
            if is_array(left) && is_text(right) {
                **right = call("pg_int_array", vec![(**right).clone()]);
                self.0 = true;
            } else if is_array(right) && is_text(left) {
                **left = call("pg_int_array", vec![(**left).clone()]);
                self.0 = true;
            }
            return ControlFlow::Continue(());
        }
        // `(composite).field`, which DataFusion does not read, as `get_field(composite,
        // 'field')` (pgjdbc's `(result.KEYS).x` over `_pg_expandarray` below).
        if let Expr::CompoundFieldAccess { root, access_chain } = expr {
            if let (Expr::Nested(inner), [AccessExpr::Dot(Expr::Identifier(field))]) =
                (root.as_ref(), access_chain.as_slice())
            {
                let name = Expr::value(Value::SingleQuotedString(field.value.to_ascii_lowercase()));
                *expr = call("get_field", vec![(**inner).clone(), name]);
                self.0 = true;
                return ControlFlow::Continue(());
            }
        }
        // information_schema._pg_expandarray(a), Postgres's set of (element x, subscript
        // n) records of an array (pgjdbc's key and index metadata), as a struct of the
        // two zipped unnests.
        if let Expr::Function(f) = expr {
            if let (Some(ObjectNamePart::Identifier(name)), FunctionArguments::List(list)) =
                (f.name.0.last(), &f.args)
            {
                if let (true, [FunctionArg::Unnamed(FunctionArgExpr::Expr(array))]) = (
                    name.value.eq_ignore_ascii_case("_pg_expandarray"),
                    list.args.as_slice(),
                ) {
                    let text = |t: &str| Expr::value(Value::SingleQuotedString(t.to_string()));
                    let one = Expr::value(Value::Number("1".to_string(), false));
                    let n = call("cardinality", vec![array.clone()]);
                    *expr = call(
                        "named_struct",
                        vec![
                            text("x"),
                            call("unnest", vec![array.clone()]),
                            text("n"),
                            call("unnest", vec![call("generate_series", vec![one, n])]),
                        ],
                    );
                    self.0 = true;
                    return ControlFlow::Continue(());
                }
            }
        }
        // generate_subscripts(a, dim), a set-returning function DataFusion lacks, as the
        // unnest of 1..cardinality(a); beside unnest(a) in one select list the two zip, as
        // in Postgres. Catalog arrays have one dimension, so any other `dim` gives no rows.
        // A `dim` that is not the literal 1 stays in the statement (as a condition), so
        // that the statement keeps every parameter a client binds (SQLAlchemy binds it).
        if let Expr::Function(f) = expr {
            if let (Some(ObjectNamePart::Identifier(name)), FunctionArguments::List(list)) =
                (f.name.0.last(), &f.args)
            {
                if name.value.eq_ignore_ascii_case("generate_subscripts") && list.args.len() == 2 {
                    if let (
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(array)),
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(dim)),
                    ) = (&list.args[0], &list.args[1])
                    {
                        let one = Expr::value(Value::Number("1".to_string(), false));
                        let mut n = call("cardinality", vec![array.clone()]);
                        if *dim != one {
                            let is_one = Expr::BinaryOp {
                                left: Box::new(dim.clone()),
                                op: BinaryOperator::Eq,
                                right: Box::new(one.clone()),
                            };
                            n = case_when(is_one, n);
                        }
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
        } else if TEXT_ARRAYS.contains(&name.as_str()) {
            *expr = call("pg_text_array", vec![expr.clone()]);
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

/// Aggregate functions: a scalar subquery selecting one of these returns one row already.
const AGGREGATES: &[&str] = &[
    "count",
    "sum",
    "min",
    "max",
    "avg",
    "array_agg",
    "string_agg",
    "bool_and",
    "bool_or",
    "every",
    "json_agg",
    "jsonb_agg",
    "first_value",
    "last_value",
];

/// Makes correlated scalar subqueries of catalog queries plannable by DataFusion, which
/// decorrelates one only when it is aggregated and its `WHERE` mentions an outer column
/// nowhere but in comparisons with inner ones. Clients' catalog queries are written for
/// Postgres, which runs such subqueries row by row: SQLAlchemy 2's column reflection reads a
/// column's default, identity and collation as `CASE WHEN a.atthasdef THEN (SELECT
/// pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d WHERE a.atthasdef AND d.adrelid =
/// a.attrelid ...) END`. Each such subquery, wherever it stands in an expression:
/// - selects `max(item)` instead of `item`, unless it is aggregated already (the subquery of
///   a catalog lookup by key finds at most one row, so this changes nothing there);
/// - has the conjuncts of its `WHERE` that read only outer columns moved out, as `CASE
///   WHEN conjuncts THEN (subquery) END`, which is the same value;
/// - reads as NULL if DataFusion 55 cannot decorrelate it: if its item itself reads an
///   outer column (SQLAlchemy's identity options read `a.attidentity` inside the subquery;
///   prefdb has no identity columns, so the answer is NULL in Postgres too), or if a
///   correlated conjunct other than an equality remains (psql's collation lookup compares
///   `a.attcollation <> t.typcollation`; prefdb's columns have their type's collation, so
///   NULL again). This is what upstream does to every correlated subquery.
///
/// Records whether it changed anything.
struct CorrelatedCatalogSubqueries(bool);

impl CorrelatedCatalogSubqueries {
    /// The names by which `select`'s own columns can be qualified: each relation's alias,
    /// or its table name, lowercased.
    fn inner_names(select: &Select) -> HashSet<String> {
        let mut names = HashSet::new();
        let mut add = |factor: &TableFactor| match factor {
            TableFactor::Table { name, alias, .. } => {
                if let Some(alias) = alias {
                    names.insert(alias.name.value.to_ascii_lowercase());
                } else if let Some(ObjectNamePart::Identifier(last)) = name.0.last() {
                    names.insert(last.value.to_ascii_lowercase());
                }
            }
            TableFactor::Derived {
                alias: Some(alias), ..
            }
            | TableFactor::Function {
                alias: Some(alias), ..
            }
            | TableFactor::UNNEST {
                alias: Some(alias), ..
            } => {
                names.insert(alias.name.value.to_ascii_lowercase());
            }
            _ => {}
        };
        for from in &select.from {
            add(&from.relation);
            for join in &from.joins {
                add(&join.relation);
            }
        }
        names
    }

    /// The qualifiers of the column references in `expr`, lowercased, with `None` for an
    /// unqualified one; `None` overall if `expr` holds a subquery.
    fn qualifiers(expr: &Expr) -> Option<Vec<Option<String>>> {
        struct Collect(Vec<Option<String>>, bool);
        impl Visitor for Collect {
            type Break = ();
            fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
                match expr {
                    Expr::Identifier(_) => self.0.push(None),
                    Expr::CompoundIdentifier(parts) if parts.len() >= 2 => self
                        .0
                        .push(Some(parts[parts.len() - 2].value.to_ascii_lowercase())),
                    Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. } => {
                        self.1 = true
                    }
                    _ => {}
                }
                ControlFlow::Continue(())
            }
        }
        let mut collect = Collect(vec![], false);
        let _ = datafusion::sql::sqlparser::ast::Visit::visit(expr, &mut collect);
        (!collect.1).then_some(collect.0)
    }

    fn conjuncts(expr: Expr, out: &mut Vec<Expr>) {
        match expr {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::And,
                right,
            } => {
                Self::conjuncts(*left, out);
                Self::conjuncts(*right, out);
            }
            Expr::Nested(inner)
                if matches!(
                    *inner,
                    Expr::BinaryOp {
                        op: BinaryOperator::And,
                        ..
                    }
                ) =>
            {
                Self::conjuncts(*inner, out)
            }
            other => out.push(other),
        }
    }

    fn and_all(exprs: Vec<Expr>) -> Option<Expr> {
        exprs.into_iter().reduce(|left, right| Expr::BinaryOp {
            left: Box::new(left),
            op: BinaryOperator::And,
            right: Box::new(right),
        })
    }

    /// `subquery` made plannable, or `None` if it is not a correlated single-item select
    /// without grouping, ordering or a limit.
    fn rewritten(mut subquery: Query) -> Option<Expr> {
        if subquery.order_by.is_some()
            || subquery.limit_clause.is_some()
            || subquery.fetch.is_some()
            || subquery.with.is_some()
        {
            return None;
        }
        let select = single_item_select(&mut subquery.body)?;
        let inner = Self::inner_names(select);
        let outer_only = |e: &Expr| {
            Self::qualifiers(e).is_some_and(|q| {
                !q.is_empty()
                    && q.iter()
                        .all(|q| q.as_ref().is_some_and(|q| !inner.contains(q)))
            })
        };
        let correlated = {
            struct Outer<'a>(&'a HashSet<String>, bool);
            impl Visitor for Outer<'_> {
                type Break = ();
                fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
                    if let Expr::CompoundIdentifier(parts) = expr {
                        if parts.len() >= 2
                            && !self
                                .0
                                .contains(&parts[parts.len() - 2].value.to_ascii_lowercase())
                        {
                            self.1 = true;
                        }
                    }
                    ControlFlow::Continue(())
                }
            }
            let mut outer = Outer(&inner, false);
            let _ = datafusion::sql::sqlparser::ast::Visit::visit(&select.selection, &mut outer);
            let _ = datafusion::sql::sqlparser::ast::Visit::visit(&select.projection, &mut outer);
            outer.1
        };
        if !correlated {
            return None;
        }
        let (SelectItem::UnnamedExpr(item) | SelectItem::ExprWithAlias { expr: item, .. }) =
            &mut select.projection[0]
        else {
            return None;
        };
        let aggregated = matches!(item, Expr::Function(f) if f.over.is_none() && matches!(f.name.0.last(),
            Some(ObjectNamePart::Identifier(n)) if AGGREGATES.contains(&n.value.to_ascii_lowercase().as_str())));
        // DataFusion cannot decorrelate an item that reads outer columns itself.
        let item_reads_outer = Self::qualifiers(item).is_none_or(|q| {
            q.iter()
                .any(|q| q.as_ref().is_some_and(|q| !inner.contains(q)))
        });
        if !aggregated {
            *item = call("max", vec![item.clone()]);
        }
        let mut hoisted = vec![];
        let mut plannable = !item_reads_outer;
        if let Some(selection) = select.selection.take() {
            let mut all = vec![];
            Self::conjuncts(selection, &mut all);
            let (outer, kept): (Vec<Expr>, Vec<Expr>) = all.into_iter().partition(outer_only);
            // What stays correlated must be an equality for DataFusion to decorrelate it
            // (psql's `a.attcollation <> t.typcollation` is not).
            plannable &= kept.iter().all(|e| {
                let reads_outer = Self::qualifiers(e).is_none_or(|q| {
                    q.iter()
                        .any(|q| q.as_ref().is_some_and(|q| !inner.contains(q)))
                });
                !reads_outer
                    || matches!(
                        e,
                        Expr::BinaryOp {
                            op: BinaryOperator::Eq,
                            ..
                        }
                    )
            });
            hoisted = outer;
            select.selection = Self::and_all(kept);
        }
        // Parenthesised, so that upstream's `RemoveSubqueryFromProjection` leaves it be. One
        // DataFusion cannot plan reads as NULL, as upstream has it: `CASE WHEN false THEN
        // (subquery) END`, which DataFusion simplifies to NULL before it decorrelates, and
        // which keeps the subquery's parameters in the statement.
        let mut subquery = Expr::Nested(Box::new(Expr::Subquery(Box::new(subquery))));
        if !plannable {
            subquery = case_when(Expr::value(Value::Boolean(false)), subquery);
        }
        Some(match Self::and_all(hoisted) {
            None => subquery,
            Some(condition) => case_when(condition, subquery),
        })
    }
}

impl VisitorMut for CorrelatedCatalogSubqueries {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if let Expr::Subquery(subquery) = expr {
            if let Some(rewritten) = Self::rewritten(subquery.as_ref().clone()) {
                *expr = rewritten;
                self.0 = true;
            }
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
    }

    #[test]
    fn correlated_catalog_subqueries_are_aggregated_with_outer_conditions_outside() {
        let psql = "SELECT (SELECT c.collname FROM pg_catalog.pg_collation c WHERE c.oid = a.attcollation) FROM pg_catalog.pg_attribute a";
        assert_eq!(
            named(psql),
            "SELECT ((SELECT max(c.collname) FROM pg_catalog.pg_collation c WHERE c.oid = a.attcollation)) FROM pg_catalog.pg_attribute a"
        );
        // SQLAlchemy 2's column default: the outer-only conjunct moves out, the rest stays.
        let default = "SELECT CASE WHEN pg_catalog.pg_attribute.atthasdef THEN (SELECT pg_catalog.pg_get_expr(pg_catalog.pg_attrdef.adbin, pg_catalog.pg_attrdef.adrelid) AS e FROM pg_catalog.pg_attrdef WHERE pg_catalog.pg_attribute.atthasdef AND pg_catalog.pg_attrdef.adrelid = pg_catalog.pg_attribute.attrelid) ELSE NULL END AS d FROM pg_catalog.pg_attribute";
        assert_eq!(
            named(default),
            "SELECT CASE WHEN pg_catalog.pg_attribute.atthasdef THEN CASE WHEN pg_catalog.pg_attribute.atthasdef THEN ((SELECT max(pg_catalog.pg_get_expr(pg_catalog.pg_attrdef.adbin, pg_catalog.pg_attrdef.adrelid)) AS e FROM pg_catalog.pg_attrdef WHERE pg_catalog.pg_attrdef.adrelid = pg_catalog.pg_attribute.attrelid)) END ELSE NULL END AS d FROM pg_catalog.pg_attribute"
        );
        // One whose item reads an outer column reads as NULL, keeping its parameters.
        assert_eq!(
            named("SELECT (SELECT json_build_object($1::VARCHAR, a.attidentity = $2::VARCHAR) FROM pg_catalog.pg_sequence s WHERE s.seqrelid = a.attrelid) FROM pg_catalog.pg_attribute a WHERE a.attnum > $3"),
            "SELECT CASE WHEN false THEN ((SELECT max(json_build_object($1::VARCHAR, a.attidentity = $2::VARCHAR)) FROM pg_catalog.pg_sequence s WHERE s.seqrelid = a.attrelid)) END FROM pg_catalog.pg_attribute a WHERE a.attnum > $3"
        );
        // An aggregated one is only kept from upstream's NULL; uncorrelated or limited ones
        // are left as they are.
        assert_eq!(
            named("SELECT (SELECT count(*) FROM pg_catalog.pg_class c WHERE c.relnamespace = n.oid) FROM pg_catalog.pg_namespace n"),
            "SELECT ((SELECT count(*) FROM pg_catalog.pg_class c WHERE c.relnamespace = n.oid)) FROM pg_catalog.pg_namespace n"
        );
        for kept in [
            "SELECT (SELECT c.relname FROM pg_catalog.pg_class c WHERE c.oid = 1) FROM pg_catalog.pg_namespace n",
            "SELECT (SELECT c.relname FROM pg_catalog.pg_class c WHERE c.relnamespace = n.oid LIMIT 1) FROM pg_catalog.pg_namespace n",
        ] {
            assert_eq!(named(kept), kept);
        }
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
    fn generate_subscripts_keeps_a_bound_dimension() {
        assert_eq!(
            named("SELECT unnest(i.indkey) AS a, generate_subscripts(i.indkey, 1) AS o FROM pg_catalog.pg_index i"),
            "SELECT unnest(pg_int_array(i.indkey)) AS a, unnest(generate_series(1, cardinality(pg_int_array(i.indkey)))) AS o FROM pg_catalog.pg_index i"
        );
        // SQLAlchemy binds the dimension: the parameter stays, or the later ones would shift.
        assert_eq!(
            named("SELECT generate_subscripts(i.indkey, $1::INTEGER) AS o FROM pg_catalog.pg_index i WHERE i.indrelid = $2"),
            "SELECT unnest(generate_series(1, CASE WHEN $1::INTEGER = 1 THEN cardinality(pg_int_array(i.indkey)) END)) AS o FROM pg_catalog.pg_index i WHERE i.indrelid = $2"
        );
    }

    #[test]
    fn catalog_arrays_compare_with_array_literals() {
        assert_eq!(
            named("SELECT 1 FROM pg_catalog.pg_policy pol WHERE pol.polroles <> '{0}'"),
            "SELECT 1 FROM pg_catalog.pg_policy pol WHERE pg_int_array(pol.polroles) <> pg_int_array('{0}')"
        );
    }

    #[test]
    fn pg_expandarray_reads_as_zipped_unnests() {
        let sql = named("SELECT r.k FROM (SELECT (information_schema._pg_expandarray(i.indkey)).n AS s, information_schema._pg_expandarray(i.indkey) AS k FROM pg_catalog.pg_index i) r WHERE r.a = (r.k).x");
        assert_eq!(
            sql,
            "SELECT r.k FROM (SELECT get_field(named_struct('x', unnest(pg_int_array(i.indkey)), 'n', unnest(generate_series(1, cardinality(pg_int_array(i.indkey))))), 'n') AS s, named_struct('x', unnest(pg_int_array(i.indkey)), 'n', unnest(generate_series(1, cardinality(pg_int_array(i.indkey))))) AS k FROM pg_catalog.pg_index i) r WHERE r.a = get_field(r.k, 'x')"
        );
    }

    #[test]
    fn regtype_arrays_and_regexp_split_to_table_use_prefdb_functions() {
        assert_eq!(
            named("SELECT COALESCE(proallargtypes::regtype[], proargtypes::regtype[])::text[] FROM pg_catalog.pg_proc"),
            "SELECT COALESCE(pg_regtype_array(proallargtypes), pg_regtype_array(proargtypes))::TEXT[] FROM pg_catalog.pg_proc"
        );
        assert_eq!(
            named("SELECT regexp_split_to_table(prosrc, '\\W+') AS w FROM pg_catalog.pg_proc"),
            "SELECT unnest(regexp_split_to_array(prosrc, '\\W+')) AS w FROM pg_catalog.pg_proc"
        );
    }

    #[test]
    fn cte_columns_get_postgres_names() {
        assert_eq!(
            named("WITH w AS (SELECT proname, COUNT(1) FROM pg_catalog.pg_proc GROUP BY proname) SELECT proname FROM w ORDER BY Count DESC"),
            "WITH w AS (SELECT proname, COUNT(1) AS \"count\" FROM pg_catalog.pg_proc GROUP BY proname) SELECT proname FROM w ORDER BY Count DESC"
        );
    }

    #[test]
    fn one_column_functions_in_from_name_their_column_after_the_alias() {
        // psql's `\d+ table`.
        assert_eq!(
            named("SELECT 'toast.' || x FROM pg_catalog.unnest(tc.reloptions) x"),
            "SELECT 'toast.' || x FROM pg_catalog.unnest(CAST(NULL AS TEXT[])) x (x)"
        );
        assert_eq!(
            named("SELECT s FROM generate_series(1, 3) AS s"),
            "SELECT s FROM generate_series(1, 3) AS s (s)"
        );
        let kept = "SELECT v FROM unnest([1, 2]) AS u (v)";
        assert_eq!(named(kept), kept);
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
            named("SELECT ARRAY(SELECT b.x FROM t b WHERE b.y = r.y ORDER BY 1) AS m FROM pg_catalog.pg_roles r"),
            "SELECT ((SELECT array_agg(b.x ORDER BY b.x) FROM t b WHERE b.y = r.y)) AS m FROM pg_catalog.pg_roles r"
        );
        // One the aggregate cannot take in place (a limit) reads through a derived table.
        assert_eq!(
            named("SELECT ARRAY(SELECT b.x FROM t b LIMIT 3) AS m FROM pg_catalog.pg_roles r"),
            "SELECT (SELECT array_agg(array_value) FROM (SELECT b.x FROM t b LIMIT 3) AS array_rows (array_value)) AS m FROM pg_catalog.pg_roles r"
        );
        // In a user query the result is computed, not left to upstream's NULL.
        let user = named("SELECT a, ARRAY(SELECT x FROM t WHERE t.k = v.a) AS xs FROM v");
        assert!(
            user.contains("((SELECT array_agg(x) FROM t WHERE t.k = v.a))"),
            "{user}"
        );
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
