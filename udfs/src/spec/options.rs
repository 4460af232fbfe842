//! Parsing a call's options literal, `'key=value, key=value'`, against its declaration.
//!
//! Every key, value and range is checked here, once, when the query is planned; every error
//! names the function and the key and lists what was expected, so that a user can fix the
//! query from the message alone.

use super::{FunctionSpec, OptionSpec, OptionType};
use datafusion::common::{plan_err, Result};

/// One parsed value.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Number(f64),
    Integer(u64),
    Choice(&'static str),
    Text(Box<str>),
}

/// A call's options: every declared key with its value, the default where the key is absent.
#[derive(Debug, Clone)]
pub struct Options {
    spec: &'static FunctionSpec,
    /// Parallel to `spec.options`: the value, and whether the call gave it.
    values: Vec<(Option<Value>, bool)>,
}

impl Options {
    /// Parse `text` (`None`: no options literal) for `spec`.
    pub fn parse(spec: &'static FunctionSpec, text: Option<&str>) -> Result<Self> {
        let name = spec.name;
        let mut given: Vec<Option<String>> = vec![None; spec.options.len()];
        for entry in text
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            let Some((key, value)) = entry.split_once('=') else {
                return plan_err!(
                    "{name}: option '{entry}' is not of the form key=value (expected keys: {})",
                    expected(spec)
                );
            };
            let key = key.trim().to_ascii_lowercase();
            let value = value.trim();
            if let Some((_, hint)) = spec.misplaced.iter().find(|(k, _)| *k == key) {
                return plan_err!("{name}: {hint}");
            }
            let Some(i) = spec.options.iter().position(|o| o.key == key) else {
                return plan_err!(
                    "{name}: unknown option '{key}' (expected one of: {})",
                    expected(spec)
                );
            };
            if value.is_empty() {
                return plan_err!("{name}: option '{key}' has no value");
            }
            if given[i].replace(value.to_string()).is_some() {
                return plan_err!("{name}: option '{key}' is given more than once");
            }
        }
        let values = spec
            .options
            .iter()
            .zip(given)
            .map(|(o, raw)| match (raw, o.default) {
                (Some(raw), _) => Ok((Some(parse_value(name, o, &raw)?), true)),
                (None, Some(default)) => Ok((Some(parse_value(name, o, default)?), false)),
                (None, None) => Ok((None, false)),
            })
            .collect::<Result<_>>()?;
        Ok(Self { spec, values })
    }

    /// A key the function does not declare reads as absent: families share one settings
    /// type across functions that declare different keys.
    fn value(&self, key: &str) -> (Option<&Value>, bool) {
        match self.spec.options.iter().position(|o| o.key == key) {
            Some(i) => (self.values[i].0.as_ref(), self.values[i].1),
            None => (None, false),
        }
    }

    /// Whether the call gave `key` (rather than it taking its default).
    pub fn given(&self, key: &str) -> bool {
        self.value(key).1
    }

    /// A number option; `None` when absent without a default.
    pub fn number(&self, key: &str) -> Option<f64> {
        match self.value(key).0 {
            Some(&Value::Number(v)) => Some(v),
            Some(&Value::Integer(v)) => Some(v as f64),
            _ => None,
        }
    }

    /// An integer option; `None` when absent without a default.
    pub fn integer(&self, key: &str) -> Option<u64> {
        match self.value(key).0 {
            Some(&Value::Integer(v)) => Some(v),
            _ => None,
        }
    }

    /// An integer option that sizes work or state; its declared range keeps it small.
    pub fn count(&self, key: &str) -> Option<usize> {
        self.integer(key)
            .map(|v| usize::try_from(v).unwrap_or(usize::MAX))
    }

    /// A choice option, as its declared (lower-case) word.
    pub fn choice(&self, key: &str) -> Option<&'static str> {
        match self.value(key).0 {
            Some(&Value::Choice(word)) => Some(word),
            _ => None,
        }
    }

    /// A text option, as given (trimmed).
    pub fn text(&self, key: &str) -> Option<&str> {
        match self.value(key).0 {
            Some(Value::Text(text)) => Some(text),
            _ => None,
        }
    }

    pub fn function(&self) -> &'static str {
        self.spec.name
    }
}

fn expected(spec: &FunctionSpec) -> String {
    if spec.options.is_empty() {
        "none; this function takes no options".to_string()
    } else {
        spec.options
            .iter()
            .map(|o| o.key)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn parse_value(function: &str, o: &OptionSpec, raw: &str) -> Result<Value> {
    let key = o.key;
    match o.ty {
        OptionType::Number { valid, what } => match raw.parse::<f64>() {
            Ok(v) if valid(v) => Ok(Value::Number(v)),
            _ => plan_err!("{function}: option '{key}' must be {what}, got '{raw}'"),
        },
        OptionType::Integer { min, max } => match raw.parse::<u64>() {
            Ok(v) if (min..=max).contains(&v) => Ok(Value::Integer(v)),
            _ => plan_err!(
                "{function}: option '{key}' must be an integer from {min} to {max}, got '{raw}'"
            ),
        },
        OptionType::Text { valid, what } => match valid(raw) {
            true => Ok(Value::Text(raw.into())),
            false => plan_err!("{function}: option '{key}' must be {what}, got '{raw}'"),
        },
        OptionType::Choice(words) => {
            let lowered = raw.to_ascii_lowercase();
            match words.iter().find(|w| **w == lowered) {
                Some(w) => Ok(Value::Choice(w)),
                None => plan_err!(
                    "{function}: option '{key}' must be one of {}, got '{raw}'",
                    words.join(", ")
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Section;

    fn positive(v: f64) -> bool {
        v.is_finite() && v > 0.0
    }

    static SPEC: FunctionSpec = FunctionSpec {
        name: "f",
        section: Section::Ranking,
        args: &[],
        options: &[
            OptionSpec {
                key: "scale",
                ty: OptionType::Number {
                    valid: positive,
                    what: "a number > 0",
                },
                default: Some("400"),
                meaning: "",
            },
            OptionSpec {
                key: "ties",
                ty: OptionType::Choice(&["half", "ignore"]),
                default: Some("half"),
                meaning: "",
            },
            OptionSpec {
                key: "bootstrap",
                ty: OptionType::Integer { min: 1, max: 10 },
                default: None,
                meaning: "",
            },
        ],
        misplaced: &[("se", "no intervals here")],
        ..FunctionSpec::PLAIN
    };

    #[test]
    fn parses_and_defaults() {
        let o = Options::parse(&SPEC, Some(" scale = 200 ,TIES=Ignore ")).unwrap();
        assert_eq!(o.number("scale"), Some(200.0));
        assert_eq!(o.choice("ties"), Some("ignore"));
        assert!(o.given("scale") && !o.given("bootstrap"));
        assert_eq!(o.count("bootstrap"), None);
        let empty = Options::parse(&SPEC, None).unwrap();
        assert_eq!(empty.number("scale"), Some(400.0));
        assert!(!empty.given("scale"));
    }

    #[test]
    fn errors_name_function_key_and_what_was_expected() {
        let err = |text: &str| Options::parse(&SPEC, Some(text)).unwrap_err().to_string();
        assert!(err("scael=1")
            .contains("f: unknown option 'scael' (expected one of: scale, ties, bootstrap)"));
        assert!(err("scale=1,scale=2").contains("f: option 'scale' is given more than once"));
        assert!(err("scale=abc").contains("f: option 'scale' must be a number > 0, got 'abc'"));
        assert!(err("ties=x").contains("f: option 'ties' must be one of half, ignore, got 'x'"));
        assert!(err("bootstrap=11").contains("must be an integer from 1 to 10, got '11'"));
        assert!(err("se=fisher").contains("f: no intervals here"));
        assert!(err("scale").contains("f: option 'scale' is not of the form key=value"));
        assert!(err("scale=").contains("f: option 'scale' has no value"));
    }
}
