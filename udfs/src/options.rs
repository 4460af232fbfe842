//! The trailing options literal shared by prefdb functions: `'key=value, key=value'`.
//!
//! Every error names the function and the key, and lists what was expected, so that a user
//! can fix the query from the message alone.

use datafusion::arrow::array::{Array, Float64Array};
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::expressions::Literal;
use datafusion::physical_expr::PhysicalExpr;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The most bootstrap replicates a function accepts: each replicate refits the model, and
/// the intervals keep one value per replicate and item.
pub const MAX_BOOTSTRAP: usize = 100_000;
/// The most iterations an iterative fit accepts (`max_iter`).
pub const MAX_ITER: usize = 10_000;
/// The most calibration bins (`ece`, `reliability_bins`): each group keeps three sums per bin.
pub const MAX_BINS: usize = 10_000;

/// Parsed `key=value` pairs, in key order, with the function name for error messages.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FunctionOptions {
    function: &'static str,
    values: BTreeMap<String, String>,
}

impl FunctionOptions {
    /// Parse `text`, rejecting keys not in `allowed`, repeated keys and malformed entries.
    pub fn parse(function: &'static str, text: &str, allowed: &[&str]) -> Result<Self> {
        Self::parse_with_hints(function, text, allowed, &[])
    }

    /// As [`FunctionOptions::parse`], but a key listed in `hints` is rejected with its own
    /// message, for options that belong to a sibling function.
    pub fn parse_with_hints(
        function: &'static str,
        text: &str,
        allowed: &[&str],
        hints: &[(&str, &str)],
    ) -> Result<Self> {
        let mut values = BTreeMap::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let Some((key, value)) = entry.split_once('=') else {
                return plan_err!(
                    "{function}: option '{entry}' is not of the form key=value (expected keys: {})",
                    expected(allowed)
                );
            };
            let key = key.trim().to_ascii_lowercase();
            let value = value.trim().to_string();
            if let Some((_, hint)) = hints.iter().find(|(k, _)| *k == key) {
                return plan_err!("{function}: {hint}");
            }
            if !allowed.contains(&key.as_str()) {
                return plan_err!(
                    "{function}: unknown option '{key}' (expected one of: {})",
                    expected(allowed)
                );
            }
            if value.is_empty() {
                return plan_err!("{function}: option '{key}' has no value");
            }
            if values.insert(key.clone(), value).is_some() {
                return plan_err!("{function}: option '{key}' is given more than once");
            }
        }
        Ok(Self { function, values })
    }

    pub fn empty(function: &'static str) -> Self {
        Self {
            function,
            values: BTreeMap::new(),
        }
    }

    pub fn f64_or(
        &self,
        key: &str,
        default: f64,
        valid: impl Fn(f64) -> bool,
        what: &str,
    ) -> Result<f64> {
        let Some(raw) = self.values.get(key) else {
            return Ok(default);
        };
        match raw.parse::<f64>() {
            Ok(v) if valid(v) => Ok(v),
            _ => plan_err!(
                "{}: option '{key}' must be {what}, got '{raw}'",
                self.function
            ),
        }
    }

    /// An integer option in `range`, or `default` when absent. Every option that sizes a
    /// function's state or work has an upper bound, so that no literal can make one query
    /// allocate or run without limit (the caps are the `MAX_*` constants of this module).
    pub fn usize_or(
        &self,
        key: &str,
        default: usize,
        range: std::ops::RangeInclusive<usize>,
    ) -> Result<usize> {
        let Some(raw) = self.values.get(key) else {
            return Ok(default);
        };
        match raw.parse::<usize>() {
            Ok(v) if range.contains(&v) => Ok(v),
            _ => plan_err!(
                "{}: option '{key}' must be an integer from {} to {}, got '{raw}'",
                self.function,
                range.start(),
                range.end()
            ),
        }
    }

    pub fn u64_or(&self, key: &str, default: u64) -> Result<u64> {
        let Some(raw) = self.values.get(key) else {
            return Ok(default);
        };
        match raw.parse::<u64>() {
            Ok(v) => Ok(v),
            _ => plan_err!(
                "{}: option '{key}' must be an integer from 0 to {}, got '{raw}'",
                self.function,
                u64::MAX
            ),
        }
    }

    /// One of `choices` (case-insensitive), or `default` when absent.
    pub fn choice_or<T: Copy>(&self, key: &str, default: T, choices: &[(&str, T)]) -> Result<T> {
        let Some(raw) = self.values.get(key) else {
            return Ok(default);
        };
        let lowered = raw.to_ascii_lowercase();
        match choices.iter().find(|(name, _)| *name == lowered) {
            Some((_, v)) => Ok(*v),
            None => {
                let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
                plan_err!(
                    "{}: option '{key}' must be one of {}, got '{raw}'",
                    self.function,
                    names.join(", ")
                )
            }
        }
    }
}

fn expected(allowed: &[&str]) -> String {
    if allowed.is_empty() {
        "none; this function takes no options".to_string()
    } else {
        allowed.join(", ")
    }
}

/// The text of the optional options argument at `index` of a logical call: `None` when the
/// call is shorter, an error when that argument is not a string literal.
pub fn logical_options(function: &str, args: &[Expr], index: usize) -> Result<Option<String>> {
    match args.get(index) {
        None => Ok(None),
        Some(e) => match logical_string_literal(e) {
            Some(text) => Ok(text),
            None => plan_err!("{function}: the last argument must be the options string literal"),
        },
    }
}

/// As [`logical_options`], for the physical expressions an accumulator receives.
pub fn physical_options(
    function: &str,
    exprs: &[Arc<dyn PhysicalExpr>],
    index: usize,
) -> Result<Option<String>> {
    match exprs.get(index) {
        None => Ok(None),
        Some(e) => match physical_string_literal(e) {
            Some(text) => Ok(text),
            None => plan_err!("{function}: the last argument must be the options string literal"),
        },
    }
}

/// A call's data arguments (between `min` and `max` of them) and its optional trailing
/// options literal, told apart: a string literal in the last place, after at least `min`
/// arguments, is the options. `last` is the last argument as a string literal, if it is
/// one. Returns the number of data arguments and the options text.
pub fn split_call(
    function: &str,
    n_args: usize,
    last: Option<Option<String>>,
    (min, max): (usize, usize),
    usage: &str,
) -> Result<(usize, Option<String>)> {
    let has_options = n_args > min && last.is_some();
    let data = n_args - usize::from(has_options);
    if !(min..=max).contains(&data) {
        let range = if min == max {
            format!("{min} or {}", max + 1)
        } else {
            format!("{min} to {}", max + 1)
        };
        return plan_err!("{function} takes {range} arguments, got {n_args}: {usage}");
    }
    Ok((data, if has_options { last.flatten() } else { None }))
}

/// A planning error unless a call has its `data` arguments, plus one options literal when
/// the function takes options.
pub fn check_arg_count(
    function: &str,
    n_args: usize,
    data: usize,
    takes_options: bool,
    usage: &str,
) -> Result<()> {
    let max = data + usize::from(takes_options);
    if (data..=max).contains(&n_args) {
        return Ok(());
    }
    let count = if max == data {
        data.to_string()
    } else {
        format!("{data} or {max}")
    };
    let plural = if max == 1 { "" } else { "s" };
    plan_err!("{function} takes {count} argument{plural}, got {n_args}: {usage}")
}

/// [`split_call`] for the logical arguments `simplify` sees.
pub fn split_logical_call(
    function: &str,
    args: &[Expr],
    arity: (usize, usize),
    usage: &str,
) -> Result<(usize, Option<String>)> {
    let last = args.last().and_then(logical_string_literal);
    split_call(function, args.len(), last, arity, usage)
}

/// [`split_call`] for the physical expressions an accumulator receives.
pub fn split_physical_call(
    function: &str,
    exprs: &[Arc<dyn PhysicalExpr>],
    arity: (usize, usize),
    usage: &str,
) -> Result<(usize, Option<String>)> {
    let last = exprs.last().and_then(physical_string_literal);
    split_call(function, exprs.len(), last, arity, usage)
}

/// The string value of a logical string literal, if `expr` is one.
pub fn logical_string_literal(expr: &Expr) -> Option<Option<String>> {
    match expr {
        Expr::Literal(value, _) => string_scalar(value),
        Expr::Cast(cast) => logical_string_literal(&cast.expr),
        Expr::TryCast(cast) => logical_string_literal(&cast.expr),
        _ => None,
    }
}

/// The string value of a physical string literal, if `expr` is one.
pub fn physical_string_literal(expr: &Arc<dyn PhysicalExpr>) -> Option<Option<String>> {
    expr.downcast_ref::<Literal>()
        .and_then(|lit| string_scalar(lit.value()))
}

/// `Some(Some(text))` for a non-null string scalar, `Some(None)` for a NULL string.
fn string_scalar(value: &ScalarValue) -> Option<Option<String>> {
    match value {
        ScalarValue::Utf8(v) | ScalarValue::LargeUtf8(v) | ScalarValue::Utf8View(v) => {
            Some(v.clone())
        }
        ScalarValue::Dictionary(_, inner) => string_scalar(inner),
        _ => None,
    }
}

/// Row `row`'s weight from an optional Float64 weight column: 1 without the column, `None`
/// for a NULL weight (the row is skipped), an error unless finite and non-negative.
pub(crate) fn row_weight(
    function: &str,
    weights: Option<&Float64Array>,
    row: usize,
) -> Result<Option<f64>> {
    let w = match weights {
        None => return Ok(Some(1.0)),
        Some(w) if w.is_null(row) => return Ok(None),
        Some(w) => w.value(row),
    };
    if !(w.is_finite() && w >= 0.0) {
        return exec_err!("{function}: weight must be a finite number >= 0, got {w}");
    }
    Ok(Some(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: &[&str] = &["scale", "ties"];

    #[test]
    fn parses_and_defaults() {
        let o = FunctionOptions::parse("f", " scale = 200 ,TIES=Ignore ", KEYS).unwrap();
        assert_eq!(o.f64_or("scale", 400.0, |v| v > 0.0, "> 0").unwrap(), 200.0);
        assert_eq!(
            o.choice_or("ties", 0, &[("half", 0), ("ignore", 1)])
                .unwrap(),
            1
        );
        let empty = FunctionOptions::parse("f", "", KEYS).unwrap();
        assert_eq!(empty.f64_or("scale", 400.0, |_| true, "").unwrap(), 400.0);
    }

    #[test]
    fn errors_name_function_and_key() {
        let err = FunctionOptions::parse("bt_rank", "scael=1", KEYS).unwrap_err();
        assert!(err
            .to_string()
            .contains("bt_rank: unknown option 'scael' (expected one of: scale, ties)"));
        let err = FunctionOptions::parse("bt_rank", "scale=1,scale=2", KEYS).unwrap_err();
        assert!(err.to_string().contains("given more than once"));
        let o = FunctionOptions::parse("bt_rank", "scale=abc", KEYS).unwrap();
        let err = o
            .f64_or("scale", 1.0, |v| v > 0.0, "a number > 0")
            .unwrap_err();
        assert!(err
            .to_string()
            .contains("bt_rank: option 'scale' must be a number > 0, got 'abc'"));
    }
}
