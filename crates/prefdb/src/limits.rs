//! Limits on a query's shape, checked on its text before anything recursive sees it.
//!
//! DataFusion plans and evaluates expressions recursively, and planning a chain of `n`
//! operators costs time quadratic in `n`: `SELECT 1+1+...+1` with 5,000 terms took 33 s to
//! plan, and 50,000 terms overflowed even a 32 MiB stack, which aborts the whole process
//! (every client of a server with it). The parser itself limits nesting by parentheses
//! (DataFusion's `sql_parser.recursion_limit`), but not a flat chain such as `a OR b OR c
//! ...`, which it parses with a loop into a tree as deep as the chain is long. So prefdb
//! counts, without recursion, the operators of the longest chain in a statement and refuses
//! one longer than [`MAX_OPERATOR_CHAIN`].
//!
//! Planning a select list is quadratic in its length too (a 100,000-column `SELECT` planned
//! for four minutes, and planning cannot be interrupted), so a select list longer than
//! [`MAX_SELECT_ITEMS`] is refused the same way. `SELECT *` over a wide table is not
//! affected: the limit is on what the query's text lists.

use datafusion::common::{DataFusionError, Result};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

/// The most operators one expression may chain without parentheses or commas (`x = 1 OR
/// x = 2` counts three). Within it, planning takes a few seconds at most and the recursion
/// fits easily in the query threads' stack ([`crate::QUERY_STACK`]).
pub const MAX_OPERATOR_CHAIN: usize = 2000;

/// The most items one select list may name. At this length planning takes about a second.
pub const MAX_SELECT_ITEMS: usize = 10_000;

/// What the tokens seen so far hold at one parenthesis level.
#[derive(Default)]
struct Level {
    /// Operators in the current chain.
    chain: usize,
    /// Items of the select list being read, if one is.
    select_items: Option<usize>,
}

/// Refuse a statement whose longest operator chain exceeds [`MAX_OPERATOR_CHAIN`], or whose
/// longest select list exceeds [`MAX_SELECT_ITEMS`]. Text the tokenizer cannot read passes,
/// for the parser to report.
pub fn check_operator_chains(sql: &str) -> Result<()> {
    let dialect = PostgreSqlDialect {};
    let Ok(tokens) = Tokenizer::new(&dialect, sql).tokenize() else {
        return Ok(());
    };
    // One level per open parenthesis; a comma or a clause keyword starts a new chain.
    let mut levels: Vec<Level> = vec![Level::default()];
    let (mut longest, mut widest) = (0, 0);
    for token in &tokens {
        match token {
            Token::LParen | Token::LBracket => levels.push(Level::default()),
            // An unbalanced closing parenthesis is the parser's to report.
            Token::RParen | Token::RBracket if levels.len() > 1 => {
                levels.pop();
            }
            Token::Comma | Token::SemiColon => {
                let level = levels.last_mut().expect("never empty");
                level.chain = 0;
                if let Some(items) = &mut level.select_items {
                    *items += 1;
                    widest = widest.max(*items);
                }
            }
            Token::Word(w) if is_clause(w.keyword) => {
                let level = levels.last_mut().expect("never empty");
                level.chain = 0;
                level.select_items = (w.keyword == Keyword::SELECT).then_some(1);
            }
            t if is_operator(t) => {
                let level = levels.last_mut().expect("never empty");
                level.chain += 1;
                longest = longest.max(level.chain);
            }
            _ => {}
        }
    }
    if widest > MAX_SELECT_ITEMS {
        return Err(DataFusionError::Plan(format!(
            "query too complex: a select list names {widest} items, and prefdb accepts at most {MAX_SELECT_ITEMS}; select fewer columns, or gather values into an array or struct"
        )));
    }
    if longest > MAX_OPERATOR_CHAIN {
        return Err(DataFusionError::Plan(format!(
            "query too complex: an expression chains {longest} operators, and prefdb accepts at most {MAX_OPERATOR_CHAIN} in one expression; use IN (...) for a long list of alternatives, or a table to join with"
        )));
    }
    Ok(())
}

/// The deepest function calls may nest in a statement the server parses. sqlparser 0.62
/// parses each argument of a function twice in its Postgres dialect (first as the name of a
/// `name => value` argument, then, when no `=>` follows, again as the value), so parsing
/// takes time exponential in how deeply calls nest: `abs(abs(...))` 16 deep parsed in 0.15 s
/// (debug build), 45 deep would take years. The generic dialect of `prefdb sql` parses
/// them linearly.
pub const MAX_CALL_NESTING: usize = 16;

/// Refuse a statement whose function calls nest deeper than [`MAX_CALL_NESTING`], counted
/// on its tokens before anything parses it. A parenthesis counts as a call's when it
/// follows a name that is not a keyword of the statement's structure (`IN (`, `AS (`,
/// `OVER (` ... do not count).
pub fn check_call_nesting(sql: &str) -> Result<()> {
    let dialect = PostgreSqlDialect {};
    let Ok(tokens) = Tokenizer::new(&dialect, sql).tokenize() else {
        return Ok(());
    };
    let mut open: Vec<bool> = vec![];
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut previous: Option<&Token> = None;
    for token in &tokens {
        match token {
            Token::Whitespace(_) => continue,
            Token::LParen => {
                let call = matches!(previous, Some(Token::Word(w)) if !is_structural(w.keyword));
                open.push(call);
                if call {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
            }
            Token::RParen => {
                if open.pop() == Some(true) {
                    depth -= 1;
                }
            }
            _ => {}
        }
        previous = Some(token);
    }
    if deepest > MAX_CALL_NESTING {
        return Err(DataFusionError::Plan(format!(
            "query too complex: function calls nest {deepest} deep, and the server accepts at most {MAX_CALL_NESTING} (its Postgres-dialect parser takes time exponential in the depth); compute inner parts in a subquery or CTE, or run it with prefdb sql"
        )));
    }
    Ok(())
}

/// Keywords a parenthesis can follow without being a function call's.
fn is_structural(keyword: Keyword) -> bool {
    matches!(
        keyword,
        Keyword::IN
            | Keyword::VALUES
            | Keyword::EXISTS
            | Keyword::AS
            | Keyword::FROM
            | Keyword::JOIN
            | Keyword::ON
            | Keyword::USING
            | Keyword::OVER
            | Keyword::FILTER
            | Keyword::WITHIN
            | Keyword::AND
            | Keyword::OR
            | Keyword::NOT
            | Keyword::WHERE
            | Keyword::SELECT
            | Keyword::THEN
            | Keyword::ELSE
            | Keyword::WHEN
            | Keyword::CASE
            | Keyword::ANY
            | Keyword::ALL
            | Keyword::SOME
            | Keyword::LATERAL
            | Keyword::CAST
            | Keyword::TRY_CAST
            | Keyword::EXTRACT
            | Keyword::ARRAY
            | Keyword::ROW
            | Keyword::WITH
            | Keyword::UNION
            | Keyword::INTERSECT
            | Keyword::EXCEPT
            | Keyword::BY
            | Keyword::HAVING
            | Keyword::IS
            | Keyword::LIKE
            | Keyword::ILIKE
            | Keyword::BETWEEN
            | Keyword::DISTINCT
            | Keyword::LIMIT
            | Keyword::OFFSET
            | Keyword::RECURSIVE
            | Keyword::INTO
            | Keyword::TABLE
    )
}

fn is_clause(keyword: Keyword) -> bool {
    matches!(
        keyword,
        Keyword::SELECT
            | Keyword::FROM
            | Keyword::WHERE
            | Keyword::GROUP
            | Keyword::HAVING
            | Keyword::ORDER
            | Keyword::LIMIT
            | Keyword::UNION
            | Keyword::THEN
            | Keyword::ELSE
            | Keyword::WHEN
            | Keyword::END
            | Keyword::ON
    )
}

fn is_operator(token: &Token) -> bool {
    match token {
        Token::Word(w) => matches!(
            w.keyword,
            Keyword::AND
                | Keyword::OR
                | Keyword::NOT
                | Keyword::IS
                | Keyword::LIKE
                | Keyword::ILIKE
                | Keyword::BETWEEN
                | Keyword::IN
        ),
        Token::Plus
        | Token::Minus
        | Token::Mul
        | Token::Div
        | Token::Mod
        | Token::StringConcat
        | Token::Eq
        | Token::DoubleEq
        | Token::Neq
        | Token::Lt
        | Token::Gt
        | Token::LtEq
        | Token::GtEq
        | Token::Caret
        | Token::Ampersand
        | Token::Pipe
        | Token::DoubleColon
        | Token::Arrow
        | Token::LongArrow => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(op: &str, n: usize) -> String {
        vec!["1"; n].join(op)
    }

    #[test]
    fn long_chains_are_refused_and_ordinary_queries_pass() {
        assert!(check_operator_chains(&format!("SELECT {}", chain("+", 2001))).is_ok());
        let e = check_operator_chains(&format!("SELECT {}", chain("+", 2002))).unwrap_err();
        assert!(e.to_string().contains("chains 2001 operators"), "{e}");
        let ors = format!("SELECT * FROM t WHERE {}", chain(" OR x = ", 20_000));
        assert!(check_operator_chains(&ors).is_err());
        // Wide but shallow: many columns, a long IN list, many short conditions.
        let wide = format!("SELECT {} FROM t", vec!["a + 1"; 5000].join(", "));
        assert!(check_operator_chains(&wide).is_ok());
        let list = format!(
            "SELECT * FROM t WHERE x IN ({})",
            vec!["1"; 50_000].join(", ")
        );
        assert!(check_operator_chains(&list).is_ok());
        assert!(check_operator_chains("SELECT 'unterminated").is_ok());
    }

    #[test]
    fn deeply_nested_calls_are_refused_and_structure_does_not_count() {
        let nested = |n: usize| format!("SELECT {}1{}", "abs(".repeat(n), ")".repeat(n));
        assert!(check_call_nesting(&nested(MAX_CALL_NESTING)).is_ok());
        let e = check_call_nesting(&nested(MAX_CALL_NESTING + 1)).unwrap_err();
        assert!(e.to_string().contains("function calls nest 17 deep"), "{e}");
        // Subqueries, IN lists, casts, CTEs and windows nest without counting.
        let mut structural = "SELECT 1".to_string();
        for _ in 0..30 {
            structural = format!(
                "SELECT CAST(x AS INT) FROM (SELECT count(*) OVER (PARTITION BY a) FROM t WHERE a IN ({structural}))"
            );
        }
        assert!(check_call_nesting(&structural).is_ok());
        // Calls side by side do not add up.
        let wide = vec![nested(10); 50].join(" UNION ALL ");
        assert!(check_call_nesting(&wide).is_ok());
    }

    #[test]
    fn long_select_lists_are_refused_and_long_in_lists_pass() {
        let columns = |n: usize| vec!["1"; n].join(", ");
        assert!(check_operator_chains(&format!("SELECT {} FROM t", columns(10_000))).is_ok());
        let e = check_operator_chains(&format!("SELECT {} FROM t", columns(10_001))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Error during planning: query too complex: a select list names 10001 items, and prefdb accepts at most 10000; select fewer columns, or gather values into an array or struct"
        );
        // In a subquery too; but not a long IN list, VALUES rows or GROUP BY after it.
        let nested = format!("SELECT * FROM (SELECT {}) AS s", columns(20_000));
        assert!(check_operator_chains(&nested).is_err());
        let list = format!("SELECT a FROM t WHERE a IN ({})", columns(50_000));
        assert!(check_operator_chains(&list).is_ok());
        let values = format!(
            "SELECT * FROM (VALUES {}) AS v(x)",
            vec!["(1)"; 20_000].join(", ")
        );
        assert!(check_operator_chains(&values).is_ok());
    }
}

/// The share of the machine's memory a session may use when no limit is given.
pub const DEFAULT_MEMORY_SHARE: f64 = 0.5;

/// The memory limit a session gets when none is given: [`DEFAULT_MEMORY_SHARE`] of the
/// memory this process may use (the cgroup's limit in a container, else the machine's), so
/// that one query fails with "resources exhausted" before it takes the machine down. `None`
/// where that total cannot be read (not Linux).
pub fn default_memory_limit() -> Option<usize> {
    let machine = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| meminfo_total(&text));
    let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|text| text.trim().parse::<usize>().ok());
    let total = match (machine, cgroup) {
        (Some(m), Some(c)) => m.min(c),
        (m, c) => m.or(c)?,
    };
    Some((total as f64 * DEFAULT_MEMORY_SHARE) as usize)
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
fn meminfo_total(text: &str) -> Option<usize> {
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// The memory limit of a session from a `--memory-limit` flag or config value: a size (as in
/// `4GiB`), `none` for no limit, or, when absent, [`default_memory_limit`].
pub fn memory_limit_from(setting: Option<&str>) -> Result<Option<usize>> {
    match setting.map(str::trim) {
        None => Ok(default_memory_limit()),
        Some(s) if s.eq_ignore_ascii_case("none") => Ok(None),
        Some(s) => crate::config::parse_size(s).map(Some),
    }
}

#[cfg(test)]
mod memory_tests {
    use super::*;

    #[test]
    fn memory_limits() {
        assert_eq!(
            meminfo_total("MemTotal:       24576000 kB\nMemFree: 1 kB\n"),
            Some(24_576_000 * 1024)
        );
        assert_eq!(meminfo_total("nothing"), None);
        assert_eq!(memory_limit_from(Some("none")).unwrap(), None);
        assert_eq!(memory_limit_from(Some("2GiB")).unwrap(), Some(2 << 30));
        assert!(memory_limit_from(Some("lots")).is_err());
        if cfg!(target_os = "linux") {
            let default = memory_limit_from(None)
                .unwrap()
                .expect("Linux has /proc/meminfo");
            assert!(default > 0);
        }
    }
}
