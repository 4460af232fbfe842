//! Scalar functions: `pass_at_k(n, c, k)` and `proportion_ci(successes, n [, options])`.

use crate::options::string_scalar;
use crate::spec::ArgType::Whole;
use crate::spec::FieldType::Float;
use crate::spec::{
    struct_fields, Arg, Doc, FunctionSpec, OptionSpec, OptionType, OutField, Output, Section,
    CONFIDENCE,
};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, StructArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type, Int64Type};
use datafusion::common::{exec_err, plan_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};
use prefdb_stats::calibration::{pass_at_k, proportion_ci, ProportionMethod};
use std::sync::Arc;

/// The scalar functions belong with the calibration and scorer-quality aggregates.
pub(crate) static PASS_AT_K: FunctionSpec = FunctionSpec {
    name: "pass_at_k",
    section: Section::Calibration,
    args: &[
        Arg::required("n", Whole, "Samples drawn for the problem."),
        Arg::required("c", Whole, "Samples that passed."),
        Arg::required("k", Whole, "The k of pass@k."),
    ],
    output: Output::Number,
    doc: Doc {
        summary: "The unbiased pass@k estimator for one problem: the chance that at least one of k samples passes.",
        method: "1 - C(n - c, k) / C(n, k) for a problem with n samples of which c passed (Chen et al. 2021), computed in the stable product form of the HumanEval code, 1 - prod_{i = n - c + 1..n} (1 - k / i). The benchmark score is AVG(pass_at_k(n, c, k)) over problems.",
        nulls: "NULL when an argument is NULL; n < 1, c outside [0, n], k outside [1, n] or a fractional value is an error that names the argument.",
        degenerate: "",
        example: "SELECT avg(pass_at_k(n, c, 10)) AS pass_at_10 FROM problems;",
    },
    ..FunctionSpec::PLAIN
};

static CI_FIELDS: &[OutField] = &[
    OutField::new("estimate", Float, "successes / n."),
    OutField::new("lower", Float, "Lower end of the interval."),
    OutField::new("upper", Float, "Upper end of the interval."),
];

pub(crate) static PROPORTION_CI: FunctionSpec = FunctionSpec {
    name: "proportion_ci",
    section: Section::Calibration,
    args: &[
        Arg::required("successes", Whole, "Number of successes."),
        Arg::required("n", Whole, "Number of trials."),
    ],
    options: &[
        OptionSpec {
            key: "method",
            ty: OptionType::Choice(&["wilson", "clopper_pearson"]),
            default: Some("wilson"),
            meaning: "wilson: Wilson's score interval; clopper_pearson: the exact interval from beta quantiles.",
        },
        CONFIDENCE,
    ],
    output: Output::Struct(CI_FIELDS),
    doc: Doc {
        summary: "Estimate and two-sided interval for a proportion successes / n, for win rates and accuracies.",
        method: "Wilson's score interval or the exact Clopper-Pearson interval (reference: statsmodels proportion_confint, methods wilson and beta).",
        nulls: "NULL when an argument is NULL; n < 1 or successes outside [0, n] is an error.",
        degenerate: "",
        example: "SELECT model, proportion_ci(wins, battles) FROM totals;",
    },
    ..FunctionSpec::PLAIN
};

/// The scalar functions' declarations, in documentation order.
pub(crate) static SPECS: [&FunctionSpec; 2] = [&PASS_AT_K, &PROPORTION_CI];

pub fn scalar_udfs() -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::from(PassAtK::default()),
        ScalarUDF::from(ProportionCi::default()),
    ]
}

/// Whole-number column values: integers as they are, floats only when integral.
fn whole(name: &str, arg: &str, array: &ArrayRef) -> Result<Vec<Option<i64>>> {
    let ints = cast(array, &DataType::Int64)?;
    let floats = cast(array, &DataType::Float64)?;
    let (ints, floats) = (
        ints.as_primitive::<Int64Type>(),
        floats.as_primitive::<Float64Type>(),
    );
    (0..array.len())
        .map(|i| {
            if floats.is_null(i) {
                return Ok(None);
            }
            let f = floats.value(i);
            if f.fract() != 0.0 || !f.is_finite() {
                return exec_err!("{name}: {arg} must be a whole number, got {f}");
            }
            Ok(Some(ints.value(i)))
        })
        .collect()
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PassAtK {
    signature: Signature,
}

impl Default for PassAtK {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for PassAtK {
    fn name(&self) -> &str {
        "pass_at_k"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        PASS_AT_K.coerce(arg_types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let n = whole("pass_at_k", "n", &arrays[0])?;
        let c = whole("pass_at_k", "c", &arrays[1])?;
        let k = whole("pass_at_k", "k", &arrays[2])?;
        let mut out = Vec::with_capacity(n.len());
        for i in 0..n.len() {
            let (Some(n), Some(c), Some(k)) = (n[i], c[i], k[i]) else {
                out.push(None);
                continue;
            };
            if n < 1 {
                return exec_err!("pass_at_k: n must be at least 1, got {n}");
            }
            if !(0..=n).contains(&c) {
                return exec_err!("pass_at_k: c must be between 0 and n (n = {n}), got {c}");
            }
            if !(1..=n).contains(&k) {
                return exec_err!("pass_at_k: k must be between 1 and n (n = {n}), got {k}");
            }
            out.push(Some(pass_at_k(n as u64, c as u64, k as u64)));
        }
        Ok(ColumnarValue::Array(Arc::new(Float64Array::from(out))))
    }

    fn documentation(&self) -> Option<&Documentation> {
        crate::spec::aggregate::documentation(&PASS_AT_K)
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ProportionCi {
    signature: Signature,
}

impl Default for ProportionCi {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

fn ci_fields() -> Fields {
    struct_fields(CI_FIELDS, &DataType::Utf8)
}

fn proportion_options(text: Option<&str>) -> Result<(ProportionMethod, f64)> {
    let o = crate::spec::Options::parse(&PROPORTION_CI, text)?;
    let method = match o.choice("method") {
        Some("clopper_pearson") => ProportionMethod::ClopperPearson,
        _ => ProportionMethod::Wilson,
    };
    Ok((method, o.number("confidence").unwrap_or_default()))
}

impl ScalarUDFImpl for ProportionCi {
    fn name(&self) -> &str {
        "proportion_ci"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        PROPORTION_CI.coerce(arg_types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(ci_fields()))
    }

    /// Sees the options literal at planning time: bad keys and values fail before any row.
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        if args.arg_fields.len() == 3 {
            match args
                .scalar_arguments
                .get(2)
                .copied()
                .flatten()
                .and_then(string_scalar)
            {
                Some(text) => {
                    proportion_options(text.as_deref())?;
                }
                None => {
                    return plan_err!(
                        "proportion_ci: the third argument must be the options string literal"
                    )
                }
            }
        }
        Ok(Arc::new(Field::new(
            self.name(),
            DataType::Struct(ci_fields()),
            true,
        )))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let options = match args.args.get(2) {
            Some(ColumnarValue::Scalar(v)) => string_scalar(v).flatten(),
            // Through DataFusion's FFI (datafusion-python) the literal that planning
            // checked arrives repeated as an array.
            Some(ColumnarValue::Array(values)) => repeated_text(values)?,
            None => None,
        };
        let (method, confidence) = proportion_options(options.as_deref())?;
        let arrays = ColumnarValue::values_to_arrays(&args.args[..2])?;
        let successes = whole("proportion_ci", "successes", &arrays[0])?;
        let n = whole("proportion_ci", "n", &arrays[1])?;
        let (mut est, mut lo, mut hi) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..n.len() {
            let (Some(s), Some(n)) = (successes[i], n[i]) else {
                est.push(None);
                lo.push(None);
                hi.push(None);
                continue;
            };
            if n < 1 {
                return exec_err!("proportion_ci: n must be at least 1, got {n}");
            }
            if !(0..=n).contains(&s) {
                return exec_err!(
                    "proportion_ci: successes must be between 0 and n (n = {n}), got {s}"
                );
            }
            let (e, l, u) = proportion_ci(s as f64, n as f64, method, confidence);
            est.push(Some(e));
            lo.push(Some(l));
            hi.push(Some(u));
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Float64Array::from(est)),
            Arc::new(Float64Array::from(lo)),
            Arc::new(Float64Array::from(hi)),
        ];
        Ok(ColumnarValue::Array(Arc::new(StructArray::try_new(
            ci_fields(),
            columns,
            None,
        )?)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        crate::spec::aggregate::documentation(&PROPORTION_CI)
    }
}

/// The one text an array repeats on every row (no rows: none).
fn repeated_text(values: &ArrayRef) -> Result<Option<String>> {
    let text = cast(values, &DataType::Utf8)?;
    let text = text.as_string::<i32>();
    let first = (!text.is_empty() && text.is_valid(0)).then(|| text.value(0));
    let repeated = (0..text.len()).all(|i| text.is_valid(i).then(|| text.value(i)) == first);
    if !repeated {
        return exec_err!("proportion_ci: the third argument must be the options string literal");
    }
    Ok(first.map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::StringArray;

    #[test]
    fn options_repeated_as_an_array_are_read_once() {
        let repeated: ArrayRef = Arc::new(StringArray::from(vec!["method=exact"; 3]));
        assert_eq!(
            repeated_text(&repeated).unwrap().as_deref(),
            Some("method=exact")
        );
        let none: ArrayRef = Arc::new(StringArray::from(Vec::<&str>::new()));
        assert_eq!(repeated_text(&none).unwrap(), None);
        let varying: ArrayRef = Arc::new(StringArray::from(vec!["a=1", "a=2"]));
        assert_eq!(
            repeated_text(&varying).unwrap_err().strip_backtrace(),
            "Execution error: proportion_ci: the third argument must be the options string literal"
        );
    }
}
