//! Scalar functions: `pass_at_k(n, c, k)` and `proportion_ci(successes, n [, options])`.

use crate::options::FunctionOptions;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, StructArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type, Int64Type};
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};
use prefdb_stats::calibration::{pass_at_k, proportion_ci, ProportionMethod};
use std::sync::{Arc, OnceLock};

/// The scalar functions belong with the calibration and scorer-quality aggregates.
use crate::spec::Section;

pub fn scalar_udfs() -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::from(PassAtK::default()),
        ScalarUDF::from(ProportionCi::default()),
    ]
}

fn integer_args(name: &str, arg_types: &[DataType], names: &[&str]) -> Result<Vec<DataType>> {
    arg_types
        .iter()
        .zip(names)
        .map(|(t, arg)| {
            if t.is_integer() || *t == DataType::Null {
                Ok(DataType::Int64)
            } else if t.is_numeric() {
                Ok(DataType::Float64)
            } else {
                plan_err!("{name}: {arg} must be a whole number, got {t}")
            }
        })
        .collect()
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
        if arg_types.len() != 3 {
            return plan_err!(
                "pass_at_k takes 3 arguments (n, c, k), got {}",
                arg_types.len()
            );
        }
        integer_args("pass_at_k", arg_types, &["n", "c", "k"])
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
        static DOC: OnceLock<Documentation> = OnceLock::new();
        Some(DOC.get_or_init(|| {
            Documentation::builder(
                Section::Calibration.doc_section(),
                "The unbiased pass@k estimator 1 - C(n - c, k) / C(n, k) for a problem with n \
                 samples of which c passed (Chen et al. 2021), computed in the stable product \
                 form of the HumanEval code, 1 - prod_{i = n - c + 1..n} (1 - k / i). The \
                 benchmark score is AVG(pass_at_k(n, c, k)) over problems. NULL when an argument \
                 is NULL; n < 1, c outside [0, n], k outside [1, n] or a fractional value is an \
                 error that names the argument.",
                "pass_at_k(n, c, k)",
            )
            .with_argument("n", "Samples drawn for the problem.")
            .with_argument("c", "Samples that passed.")
            .with_argument("k", "The k of pass@k.")
            .with_sql_example("SELECT avg(pass_at_k(n, c, 10)) AS pass_at_10 FROM problems;")
            .build()
        }))
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
    ["estimate", "lower", "upper"]
        .into_iter()
        .map(|n| Field::new(n, DataType::Float64, true))
        .collect()
}

fn proportion_options(text: Option<&str>) -> Result<(ProportionMethod, f64)> {
    const NAME: &str = "proportion_ci";
    let o = match text {
        Some(t) => FunctionOptions::parse(NAME, t, &["method", "confidence"])?,
        None => FunctionOptions::empty(NAME),
    };
    Ok((
        o.choice_or(
            "method",
            ProportionMethod::Wilson,
            &[
                ("wilson", ProportionMethod::Wilson),
                ("clopper_pearson", ProportionMethod::ClopperPearson),
            ],
        )?,
        o.f64_or(
            "confidence",
            0.95,
            |c| c > 0.0 && c < 1.0,
            "a number between 0 and 1",
        )?,
    ))
}

fn string_of(value: &ScalarValue) -> Option<Option<String>> {
    match value {
        ScalarValue::Utf8(v) | ScalarValue::Utf8View(v) | ScalarValue::LargeUtf8(v) => {
            Some(v.clone())
        }
        _ => None,
    }
}

impl ScalarUDFImpl for ProportionCi {
    fn name(&self) -> &str {
        "proportion_ci"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if !(2..=3).contains(&arg_types.len()) {
            return plan_err!(
                "proportion_ci takes 2 or 3 arguments (successes, n [, 'method=wilson|clopper_pearson, confidence=0.95']), got {}",
                arg_types.len()
            );
        }
        let mut coerced = integer_args("proportion_ci", &arg_types[..2], &["successes", "n"])?;
        if let Some(t) = arg_types.get(2) {
            if !matches!(t, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8) {
                return plan_err!(
                    "proportion_ci: the third argument must be the options string literal"
                );
            }
            coerced.push(t.clone());
        }
        Ok(coerced)
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
                .and_then(string_of)
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
            Some(ColumnarValue::Scalar(v)) => string_of(v).flatten(),
            Some(_) => {
                return exec_err!(
                    "proportion_ci: the third argument must be the options string literal"
                )
            }
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
        static DOC: OnceLock<Documentation> = OnceLock::new();
        Some(DOC.get_or_init(|| {
            Documentation::builder(
                Section::Calibration.doc_section(),
                "Estimate and two-sided interval for a proportion successes / n, as the struct \
                 (estimate, lower, upper): Wilson's score interval (the default) or the exact \
                 Clopper-Pearson interval from beta quantiles (reference: statsmodels \
                 proportion_confint, methods wilson and beta). For win rates and accuracies. \
                 NULL when an argument is NULL; n < 1 or successes outside [0, n] is an error.",
                "proportion_ci(successes, n [, 'method=wilson|clopper_pearson, confidence=0.95'])",
            )
            .with_argument("successes", "Number of successes (a whole number).")
            .with_argument("n", "Number of trials.")
            .with_argument(
                "options",
                "String literal: method (wilson, clopper_pearson), confidence (default 0.95).",
            )
            .with_sql_example("SELECT model, proportion_ci(wins, battles) FROM totals;")
            .build()
        }))
    }
}
