//! Calibration and scorer quality: `brier_score`, `log_loss`, `ece`, `reliability_bins`,
//! `auroc`, `spearman`, `spearman_test`, `kendall_tau`, `kendall_tau_test`,
//! `pairwise_accuracy`.
//!
//! Brier score, log loss, pairwise accuracy and uniform-bin ECE / reliability bins keep
//! running sums (per bin for the bins) as their partial state, which merge by addition. The
//! rank statistics (AUROC, Spearman, Kendall) and quantile bins need every value, so they
//! keep the non-NULL pairs (two Float64 lists) and merge by concatenation. Either way the
//! kernels in `prefdb_stats::calibration` run once in `evaluate`, and results agree across
//! partitionings within floating-point rounding. Probabilities outside [0, 1], NaN and
//! labels other than true/false/0/1 are errors that name the function and show the value.

use crate::call::{check_logical, check_physical, RowOrder};
use crate::memory::{bytes_of, MemoryBudget};
use crate::numbers::{order_coerced, Number, NumberColumn, Numbers};
use crate::options::{logical_options, physical_options, FunctionOptions, MAX_BINS};
use crate::state::StateRows;
use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, StructArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{exec_err, internal_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::function::{
    AccumulatorArgs, AggregateFunctionSimplification, StateFieldsArgs,
};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, DocSection, Documentation, Expr,
    GroupsAccumulator, Signature, Volatility,
};
use prefdb_stats::calibration::{
    auroc, brier_score, calibration_error, expected_calibration_error, kendall_tau_b, log_loss,
    pairwise_accuracy, reliability_bins, spearman, uniform_bin, BinStrategy, BinSums,
    CalibrationNorm, Correlation, ReliabilityBin,
};
use std::sync::{Arc, OnceLock};

mod groups;

pub(crate) const DOC_SECTION: DocSection = DocSection {
    include: true,
    label: "Calibration and scorer quality",
    description: Some("How good a probability, score or ranking is."),
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScorerFunction {
    BrierScore,
    LogLoss,
    Ece,
    ReliabilityBins,
    Auroc,
    Spearman,
    SpearmanTest,
    KendallTau,
    KendallTauTest,
    PairwiseAccuracy,
}

const ALL: [ScorerFunction; 10] = [
    ScorerFunction::BrierScore,
    ScorerFunction::LogLoss,
    ScorerFunction::Ece,
    ScorerFunction::ReliabilityBins,
    ScorerFunction::Auroc,
    ScorerFunction::Spearman,
    ScorerFunction::SpearmanTest,
    ScorerFunction::KendallTau,
    ScorerFunction::KendallTauTest,
    ScorerFunction::PairwiseAccuracy,
];

/// What the second argument holds, which decides its validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Second {
    Label,
    Number,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct ScorerConfig {
    eps: f64,
    bins: usize,
    strategy: BinStrategy,
    norm: CalibrationNorm,
}

impl ScorerFunction {
    pub fn name(self) -> &'static str {
        match self {
            ScorerFunction::BrierScore => "brier_score",
            ScorerFunction::LogLoss => "log_loss",
            ScorerFunction::Ece => "ece",
            ScorerFunction::ReliabilityBins => "reliability_bins",
            ScorerFunction::Auroc => "auroc",
            ScorerFunction::Spearman => "spearman",
            ScorerFunction::SpearmanTest => "spearman_test",
            ScorerFunction::KendallTau => "kendall_tau",
            ScorerFunction::KendallTauTest => "kendall_tau_test",
            ScorerFunction::PairwiseAccuracy => "pairwise_accuracy",
        }
    }

    fn args(self) -> [&'static str; 2] {
        match self {
            ScorerFunction::BrierScore
            | ScorerFunction::LogLoss
            | ScorerFunction::Ece
            | ScorerFunction::ReliabilityBins => ["prob", "label"],
            ScorerFunction::Auroc => ["score", "label"],
            ScorerFunction::PairwiseAccuracy => ["score_chosen", "score_rejected"],
            _ => ["x", "y"],
        }
    }

    fn second(self) -> Second {
        if self.args()[1] == "label" {
            Second::Label
        } else {
            Second::Number
        }
    }

    /// Which arguments matter only through their order (rank statistics, pairwise
    /// accuracy): integer columns there are compared as integers, not as f64.
    fn order_only(self, arg: usize) -> bool {
        match self {
            ScorerFunction::Auroc => arg == 0,
            ScorerFunction::Spearman
            | ScorerFunction::SpearmanTest
            | ScorerFunction::KendallTau
            | ScorerFunction::KendallTauTest
            | ScorerFunction::PairwiseAccuracy => arg < 2,
            _ => false,
        }
    }

    /// Whether the first argument is a probability that must lie in [0, 1].
    fn first_is_probability(self) -> bool {
        self.args()[0] == "prob"
    }

    fn option_keys(self) -> &'static [&'static str] {
        match self {
            ScorerFunction::LogLoss => &["eps"],
            ScorerFunction::Ece | ScorerFunction::ReliabilityBins => &["bins", "strategy", "norm"],
            _ => &[],
        }
    }

    fn parse_config(self, text: Option<&str>) -> Result<ScorerConfig> {
        let o = match text {
            Some(t) => FunctionOptions::parse(self.name(), t, self.option_keys())?,
            None => FunctionOptions::empty(self.name()),
        };
        Ok(ScorerConfig {
            eps: o.f64_or("eps", 1e-15, |e| e > 0.0 && e < 0.5, "a number in (0, 0.5)")?,
            bins: o.usize_or("bins", 15, 1..=MAX_BINS)?,
            strategy: o.choice_or(
                "strategy",
                BinStrategy::Uniform,
                &[
                    ("uniform", BinStrategy::Uniform),
                    ("quantile", BinStrategy::Quantile),
                ],
            )?,
            norm: o.choice_or(
                "norm",
                CalibrationNorm::L1,
                &[
                    ("l1", CalibrationNorm::L1),
                    ("l2", CalibrationNorm::L2),
                    ("max", CalibrationNorm::Max),
                ],
            )?,
        })
    }
}

fn test_fields() -> Fields {
    Fields::from(vec![
        Field::new("statistic", DataType::Float64, true),
        Field::new("p_value", DataType::Float64, true),
    ])
}

fn bin_fields() -> Fields {
    Fields::from(vec![
        Field::new("bin", DataType::Int64, true),
        Field::new("lower", DataType::Float64, true),
        Field::new("upper", DataType::Float64, true),
        Field::new("count", DataType::Int64, true),
        Field::new("mean_prob", DataType::Float64, true),
        Field::new("frac_positive", DataType::Float64, true),
        Field::new("gap", DataType::Float64, true),
    ])
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ScorerUdaf {
    function: ScorerFunction,
    signature: Signature,
    budget: MemoryBudget,
}

pub fn scorer_udafs(budget: &MemoryBudget) -> Vec<AggregateUDF> {
    ALL.into_iter()
        .map(|function| {
            AggregateUDF::from(ScorerUdaf {
                function,
                signature: Signature::user_defined(Volatility::Immutable),
                budget: budget.clone(),
            })
        })
        .collect()
}

impl AggregateUDFImpl for ScorerUdaf {
    fn name(&self) -> &str {
        self.function.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let f = self.function;
        let [a, b] = f.args();
        let max = 2 + usize::from(!f.option_keys().is_empty());
        if !(2..=max).contains(&arg_types.len()) {
            let options = if max == 3 { " [, options]" } else { "" };
            return plan_err!(
                "{} takes {} arguments, got {}: {}({a}, {b}{options})",
                f.name(),
                if max == 3 { "2 or 3" } else { "2" },
                arg_types.len(),
                f.name()
            );
        }
        let mut coerced = Vec::with_capacity(arg_types.len());
        for (i, t) in arg_types.iter().enumerate() {
            let name = f.args().get(i).copied().unwrap_or("options");
            coerced.push(match (i, t) {
                (2, t)
                    if matches!(t, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8) =>
                {
                    t.clone()
                }
                (2, _) => {
                    return plan_err!(
                        "{}: the last argument must be the options string literal",
                        f.name()
                    )
                }
                (1, DataType::Boolean) if f.second() == Second::Label => DataType::Boolean,
                (_, DataType::Null) => DataType::Float64,
                (i, t) if t.is_numeric() && f.order_only(i) => order_coerced(t),
                (_, t) if t.is_numeric() => DataType::Float64,
                (_, t) => {
                    let want = if i == 1 && f.second() == Second::Label {
                        "boolean or 0/1"
                    } else {
                        "numeric"
                    };
                    return plan_err!("{}: {name} must be {want}, got {t}", f.name());
                }
            });
        }
        Ok(coerced)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.function {
            ScorerFunction::ReliabilityBins => {
                DataType::new_list(DataType::Struct(bin_fields()), true)
            }
            ScorerFunction::SpearmanTest | ScorerFunction::KendallTauTest => {
                DataType::Struct(test_fields())
            }
            _ => DataType::Float64,
        })
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let list = |suffix: &str, t: DataType| {
            Arc::new(Field::new(
                format_state_name(args.name, suffix),
                DataType::new_list(t, true),
                true,
            ))
        };
        let kept = |i: usize| Numbers::state_type(args.input_fields[i].data_type());
        Ok(vec![
            list("first", kept(0)),
            list("second", kept(1)),
            list("sums", DataType::Float64),
        ])
    }

    fn accumulator(&self, acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        check_physical(self.function.name(), &acc_args, RowOrder::Ignored)?;
        let options = physical_options(self.function.name(), acc_args.exprs, 2)?;
        let config = self.function.parse_config(options.as_deref())?;
        let sums = match streaming_layout(self.function, &config) {
            Some(len) => vec![0.0; len],
            None => Vec::new(),
        };
        Ok(Box::new(ScorerAccumulator {
            function: self.function,
            config,
            first: Numbers::for_type(acc_args.expr_fields[0].data_type()),
            second: Numbers::for_type(acc_args.expr_fields[1].data_type()),
            sums,
            budget: self.budget.clone(),
        }))
    }

    /// The running-sum scorers keep every group's sums in one accumulator.
    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        physical_options(self.function.name(), args.exprs, 2)
            .and_then(|o| self.function.parse_config(o.as_deref()))
            .is_ok_and(|c| streaming_layout(self.function, &c).is_some())
    }

    fn create_groups_accumulator(
        &self,
        acc_args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        let f = self.function;
        check_physical(f.name(), &acc_args, RowOrder::Ignored)?;
        let options = physical_options(f.name(), acc_args.exprs, 2)?;
        let config = f.parse_config(options.as_deref())?;
        let Some(width) = streaming_layout(f, &config) else {
            return internal_err!("{}: no grouped form for these options", f.name());
        };
        let kept = |i: usize| Numbers::state_type(acc_args.expr_fields[i].data_type());
        Ok(Box::new(groups::ScorerGroups::new(
            f,
            config,
            width,
            [kept(0), kept(1)],
            acc_args.return_field.data_type().clone(),
        )))
    }

    fn simplify(&self) -> Option<AggregateFunctionSimplification> {
        let f = self.function;
        Some(Box::new(move |aggregate: AggregateFunction, _info| {
            check_logical(&aggregate, RowOrder::Ignored)?;
            let options = logical_options(f.name(), &aggregate.params.args, 2)?;
            f.parse_config(options.as_deref())?;
            Ok(Expr::AggregateFunction(aggregate))
        }))
    }

    fn documentation(&self) -> Option<&Documentation> {
        static DOCS: [OnceLock<Documentation>; 10] = [const { OnceLock::new() }; 10];
        Some(DOCS[self.function as usize].get_or_init(|| documentation(self.function)))
    }
}

/// Functions whose state is a few running sums rather than the values: the length of that
/// state, or `None` when the function needs every value (ranks, quantile bins).
fn streaming_layout(f: ScorerFunction, c: &ScorerConfig) -> Option<usize> {
    match f {
        ScorerFunction::BrierScore | ScorerFunction::LogLoss | ScorerFunction::PairwiseAccuracy => {
            Some(2)
        }
        ScorerFunction::Ece | ScorerFunction::ReliabilityBins
            if c.strategy == BinStrategy::Uniform =>
        {
            Some(3 * c.bins)
        }
        _ => None,
    }
}

#[derive(Debug)]
struct ScorerAccumulator {
    function: ScorerFunction,
    config: ScorerConfig,
    /// The values, for the functions that need them all.
    first: Numbers,
    second: Numbers,
    /// Running sums for the streaming functions: (count, total) or, for uniform bins, the
    /// per-bin counts, probability sums and positives. Empty otherwise.
    sums: Vec<f64>,
    budget: MemoryBudget,
}

/// The error for a pair of values `f` cannot take.
fn check_pair(f: ScorerFunction, a: f64, b: f64) -> Result<()> {
    let [first, second] = f.args();
    if a.is_nan() || b.is_nan() {
        return exec_err!(
            "{}: NaN is not a valid {}",
            f.name(),
            if a.is_nan() { first } else { second }
        );
    }
    if f.first_is_probability() && !(0.0..=1.0).contains(&a) {
        return exec_err!("{}: prob must be in [0, 1], got {a}", f.name());
    }
    if f.second() == Second::Label && b != 0.0 && b != 1.0 {
        return exec_err!("{}: label must be true/false or 0/1, got {b}", f.name());
    }
    if !a.is_finite() || !b.is_finite() {
        return exec_err!("{}: values must be finite, got {a} and {b}", f.name());
    }
    Ok(())
}

/// Adds one checked pair to the running sums of a streaming function
/// ([`streaming_layout`]): (count, total) or, for uniform bins, the per-bin counts,
/// probability sums and positives.
fn add_to_sums(
    f: ScorerFunction,
    c: &ScorerConfig,
    sums: &mut [f64],
    exact_x: Number,
    exact_y: Number,
) {
    let (x, y) = (exact_x.approx(), exact_y.approx());
    let label = y == 1.0;
    match f {
        ScorerFunction::BrierScore => {
            sums[0] += 1.0;
            sums[1] += (x - y) * (x - y);
        }
        ScorerFunction::LogLoss => {
            let p = x.clamp(c.eps, 1.0 - c.eps);
            sums[0] += 1.0;
            sums[1] -= if label { p.ln() } else { (1.0 - p).ln() };
        }
        ScorerFunction::PairwiseAccuracy => {
            sums[0] += 1.0;
            sums[1] += match exact_x.partial_cmp(exact_y) {
                Some(std::cmp::Ordering::Greater) => 1.0,
                Some(std::cmp::Ordering::Equal) => 0.5,
                _ => 0.0,
            };
        }
        _ => {
            let bins = c.bins;
            let b = uniform_bin(x, bins);
            sums[b] += 1.0;
            sums[bins + b] += x;
            sums[2 * bins + b] += f64::from(u8::from(label));
        }
    }
}

/// A streaming function's result from its running sums.
fn streaming_value(f: ScorerFunction, c: &ScorerConfig, sums: &[f64]) -> Result<ScalarValue> {
    let ratio = |s: &[f64]| (s[0] > 0.0).then(|| s[1] / s[0]);
    let bin_sums = || {
        let bins = c.bins;
        BinSums {
            count: sums[..bins].to_vec(),
            prob_sum: sums[bins..2 * bins].to_vec(),
            positives: sums[2 * bins..].to_vec(),
        }
    };
    Ok(match f {
        ScorerFunction::BrierScore | ScorerFunction::LogLoss | ScorerFunction::PairwiseAccuracy => {
            ScalarValue::Float64(ratio(sums))
        }
        ScorerFunction::Ece => {
            let sums = bin_sums();
            let table = sums.uniform_table();
            ScalarValue::Float64(calibration_error(&table, sums.total(), c.norm))
        }
        _ => return ScorerAccumulator::bins_scalar(&bin_sums().uniform_table()),
    })
}

impl ScorerAccumulator {
    fn check(&self, a: f64, b: f64) -> Result<()> {
        check_pair(self.function, a, b)
    }

    fn add(&mut self, exact_x: Number, exact_y: Number) {
        if self.sums.is_empty() {
            self.first.push(exact_x);
            self.second.push(exact_y);
            return;
        }
        add_to_sums(
            self.function,
            &self.config,
            &mut self.sums,
            exact_x,
            exact_y,
        );
    }

    fn bins_scalar(bins: &[ReliabilityBin]) -> Result<ScalarValue> {
        if bins.is_empty() {
            let t = DataType::new_list(DataType::Struct(bin_fields()), true);
            return ScalarValue::try_from(&t);
        }
        let f = |g: fn(&ReliabilityBin) -> f64| -> ArrayRef {
            Arc::new(Float64Array::from_iter_values(bins.iter().map(g)))
        };
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from_iter_values(
                bins.iter().map(|b| b.bin as i64),
            )),
            f(|b| b.lower),
            f(|b| b.upper),
            Arc::new(Int64Array::from_iter_values(
                bins.iter().map(|b| b.count as i64),
            )),
            f(|b| b.mean_prob),
            f(|b| b.frac_positive),
            f(|b| b.gap),
        ];
        let entries = StructArray::try_new(bin_fields(), columns, None)?;
        Ok(SingleRowListArrayBuilder::new(Arc::new(entries)).build_list_scalar())
    }

    fn evaluate_streaming(&self) -> Result<ScalarValue> {
        streaming_value(self.function, &self.config, &self.sums)
    }

    fn test_scalar(result: Option<Correlation>) -> Result<ScalarValue> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Float64Array::from(vec![result.map(|r| r.statistic)])),
            Arc::new(Float64Array::from(vec![result.map(|r| r.p_value)])),
        ];
        Ok(ScalarValue::Struct(Arc::new(StructArray::try_new(
            test_fields(),
            columns,
            None,
        )?)))
    }
}

impl Accumulator for ScorerAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let (a, b) = (
            NumberColumn::new(&values[0])?,
            NumberColumn::new(&values[1])?,
        );
        if self.sums.is_empty() {
            self.first.reserve(a.len());
            self.second.reserve(a.len());
        }
        for row in 0..a.len() {
            if a.is_null(row) || b.is_null(row) {
                continue;
            }
            let (x, y) = (a.value(row), b.value(row));
            self.check(x.approx(), y.approx())?;
            self.add(x, y);
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        if !self.sums.is_empty() {
            return self.evaluate_streaming();
        }
        let f = self.function;
        // The values as f64 and labels, and the rank statistics' sorted copies and ranks.
        let _workspace = self.budget.reserve(
            f.name(),
            "copies of the values",
            bytes_of::<f64>(6 * self.first.len()),
        )?;
        // Order-only arguments as order-preserving values; the others as they are.
        let values = |kept: &Numbers, arg: usize| {
            if f.order_only(arg) {
                kept.order_values()
            } else {
                kept.approx()
            }
        };
        let (a, b) = (&values(&self.first, 0), &values(&self.second, 1));
        let labels: Vec<bool> = b.iter().map(|&y| y == 1.0).collect();
        let c = self.config;
        let value = match self.function {
            ScorerFunction::BrierScore => brier_score(a, &labels),
            ScorerFunction::LogLoss => log_loss(a, &labels, c.eps),
            ScorerFunction::Ece => {
                expected_calibration_error(a, &labels, c.bins, c.strategy, c.norm)
            }
            ScorerFunction::Auroc => {
                if a.is_empty() {
                    None
                } else {
                    let positives = labels.iter().filter(|&&y| y).count();
                    if positives == 0 || positives == labels.len() {
                        let class = if positives == 0 {
                            "negative"
                        } else {
                            "positive"
                        };
                        return exec_err!(
                            "auroc: needs both positive and negative labels, got only {class} ones ({} rows)",
                            labels.len()
                        );
                    }
                    auroc(a, &labels)
                }
            }
            ScorerFunction::PairwiseAccuracy => pairwise_accuracy(a, b),
            ScorerFunction::Spearman => spearman(a, b).map(|r| r.statistic),
            ScorerFunction::KendallTau => kendall_tau_b(a, b).map(|r| r.statistic),
            ScorerFunction::SpearmanTest => return Self::test_scalar(spearman(a, b)),
            ScorerFunction::KendallTauTest => return Self::test_scalar(kendall_tau_b(a, b)),
            ScorerFunction::ReliabilityBins => {
                return Self::bins_scalar(&reliability_bins(a, &labels, c.bins, c.strategy))
            }
        };
        Ok(ScalarValue::Float64(value))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self.first.heap_size()
            + self.second.heap_size()
            + self.sums.capacity() * 8
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let wrap = |values: ArrayRef| SingleRowListArrayBuilder::new(values).build_list_scalar();
        Ok(vec![
            wrap(self.first.to_array()?),
            wrap(self.second.to_array()?),
            wrap(Arc::new(Float64Array::from(self.sums.clone()))),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        for row in StateRows::new(self.function.name(), states, 3)?.rows() {
            let (a, b) = (
                NumberColumn::new(&row.list(0)?)?,
                NumberColumn::new(&row.list(1)?)?,
            );
            let partial = row.counts(2)?;
            row.same_length(&[a.len(), b.len()])?;
            if partial.len() != self.sums.len() {
                return Err(row.corrupt("sums of another length"));
            }
            // The values were checked where they were read; checked again, so a corrupt state
            // is an error here rather than a wrong bin later.
            for k in 0..a.len() {
                if a.is_null(k) || b.is_null(k) {
                    return Err(row.corrupt("a NULL value"));
                }
                self.check(a.value(k).approx(), b.value(k).approx())?;
            }
            self.first.extend_with(&a);
            self.second.extend_with(&b);
            for (mine, theirs) in self.sums.iter_mut().zip(partial.values()) {
                *mine += theirs;
            }
        }
        Ok(())
    }
}

fn documentation(f: ScorerFunction) -> Documentation {
    const NULLS: &str = "A row where either argument is NULL is skipped. Labels are true/false \
or 0/1; probabilities must lie in [0, 1]; NaN or any other value is an error that names the \
function and shows the value. The result is NULL for no rows.";
    let (description, example) = match f {
        ScorerFunction::BrierScore => ("Mean of (prob - label)^2 (Brier 1950; reference: scikit-learn brier_score_loss).", "SELECT brier_score(confidence, is_correct) FROM judge_outputs;"),
        ScorerFunction::LogLoss => ("Mean of -(label ln p + (1 - label) ln(1 - p)) with p clipped to [eps, 1 - eps] (option eps, default 1e-15), so a confident mistake costs -ln(eps) instead of infinity (reference: scikit-learn log_loss).", "SELECT log_loss(prob, label, 'eps=1e-7') FROM predictions;"),
        ScorerFunction::Ece => ("Expected calibration error over bins: sum over bins of (n_b / N) |mean_prob_b - frac_positive_b| (norm=l1, the default), the square root of the weighted mean squared gap (norm=l2), or the largest gap (norm=max, the maximum calibration error). Options: bins (default 15), strategy = uniform (equal widths) | quantile (equal counts, adaptive ECE). Bins are (lower, upper], the first also holding its lower edge, so prob = 0 falls in the first bin and prob = 1 in the last (scikit-learn's calibration_curve rule). For the top-label ECE of a multiclass model pass (confidence of the predicted class, prediction is correct).", "SELECT ece(max_prob, predicted = gold, 'bins=10, strategy=quantile') FROM eval;"),
        ScorerFunction::ReliabilityBins => ("The reliability diagram: one struct per non-empty bin (bin, lower, upper, count, mean_prob, frac_positive, gap = mean_prob - frac_positive), with the bins and options of ece. mean_prob and frac_positive match scikit-learn calibration_curve. Flat rows: SELECT * FROM leaderboard('SELECT reliability_bins(p, y) FROM t').", "SELECT * FROM leaderboard('SELECT reliability_bins(prob, label, ''bins=10'') FROM predictions');"),
        ScorerFunction::Auroc => ("Area under the ROC curve, as the Mann-Whitney U statistic with midranks so that tied scores count half (reference: scikit-learn roc_auc_score). An error unless both classes occur.", "SELECT auroc(reward, is_preferred) FROM scored;"),
        ScorerFunction::Spearman => ("Spearman's rank correlation: Pearson's r of the midranks (reference: SciPy spearmanr). NULL for fewer than 3 pairs or a constant column. Pearson's r itself is DataFusion's corr(x, y).", "SELECT spearman(a.rating, b.rating) FROM judge AS a JOIN human AS b USING (item);"),
        ScorerFunction::SpearmanTest => ("Spearman's rho with its two-sided p-value from t = rho sqrt((n - 2) / (1 - rho^2)) on n - 2 degrees of freedom, as the struct (statistic, p_value) (reference: SciPy spearmanr).", "SELECT spearman_test(x, y)['p_value'] FROM t;"),
        ScorerFunction::KendallTau => ("Kendall's tau-b, tie-corrected, in O(n log n) by Knight's algorithm (reference: SciPy kendalltau). NULL for fewer than 2 pairs or a constant column.", "SELECT kendall_tau(judge_rank, human_rank) FROM ranks;"),
        ScorerFunction::KendallTauTest => ("Kendall's tau-b with its two-sided p-value from the tie-corrected normal approximation, as the struct (statistic, p_value) (reference: SciPy kendalltau, method='asymptotic').", "SELECT kendall_tau_test(x, y) FROM t;"),
        ScorerFunction::PairwiseAccuracy => ("Share of pairs where the chosen response scores higher than the rejected one, ties counting half: RewardBench-style accuracy, or the ranking accuracy of log-likelihoods.", "SELECT pairwise_accuracy(reward_chosen, reward_rejected) FROM preference_pairs;"),
    };
    let [a, b] = f.args();
    let mut builder = Documentation::builder(
        DOC_SECTION,
        format!("{description} {NULLS}"),
        format!(
            "{}({a}, {b}{})",
            f.name(),
            if f.option_keys().is_empty() {
                String::new()
            } else {
                format!(" [, '{}=...']", f.option_keys()[0])
            }
        ),
    )
    .with_argument(a, "A number (a probability in [0, 1] for prob).")
    .with_argument(
        b,
        if f.second() == Second::Label {
            "Boolean or 0/1 outcome."
        } else {
            "A number."
        },
    );
    if !f.option_keys().is_empty() {
        builder = builder.with_argument(
            "options",
            format!("String literal with keys: {}.", f.option_keys().join(", ")),
        );
    }
    builder.with_sql_example(example).build()
}
