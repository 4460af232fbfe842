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

use crate::memory::{bytes_of, MemoryBudget};
use crate::numbers::{Number, NumberColumn, Numbers};
use crate::spec::aggregate::{Call, Family, PrefdbAggregate};
use crate::spec::{struct_fields, ArgType, FunctionSpec, Options};
use crate::state::{list_fields, StateRow, StateRows};
use datafusion::arrow::array::{
    Array, ArrayRef, Decimal128Array, Float64Array, Int64Array, StructArray,
};
use datafusion::arrow::datatypes::Decimal128Type;
use datafusion::arrow::datatypes::{DataType, FieldRef, Fields};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{exec_err, internal_err, Result, ScalarValue};
use datafusion::logical_expr::{Accumulator, AggregateUDF, GroupsAccumulator};
use prefdb_stats::calibration::{
    auroc, brier_score, brier_term, calibration_error, expected_calibration_error, fixed,
    kendall_tau_b, log_loss, log_loss_term, mean_of_sums, pairwise_accuracy, pairwise_credit,
    reliability_bins, spearman, unfixed, uniform_bin, BinStrategy, BinSums, CalibrationNorm,
    Correlation, ReliabilityBin, FIXED_ONE,
};
use std::sync::Arc;

mod groups;
pub(crate) mod spec;

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

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScorerConfig {
    pub(crate) eps: f64,
    pub(crate) bins: usize,
    pub(crate) strategy: BinStrategy,
    pub(crate) norm: CalibrationNorm,
}

impl ScorerFunction {
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    fn arg_name(self, i: usize) -> &'static str {
        self.spec().args[i].name
    }

    /// Whether the second argument is a binary label (rather than a number).
    fn second_is_label(self) -> bool {
        self.spec().args[1].ty == ArgType::Label
    }

    /// Which arguments matter only through their order (rank statistics, pairwise
    /// accuracy): integer columns there are compared as integers, not as f64.
    fn order_only(self, arg: usize) -> bool {
        self.spec().args[arg].ty == ArgType::Ordered
    }

    /// Whether the first argument is a probability that must lie in [0, 1].
    fn first_is_probability(self) -> bool {
        self.spec().args[0].ty == ArgType::Probability
    }
}

pub fn scorer_udafs(budget: &MemoryBudget) -> Vec<AggregateUDF> {
    ALL.into_iter()
        .map(|function| PrefdbAggregate::udaf(function, budget))
        .collect()
}

impl Family for ScorerFunction {
    type Config = ScorerConfig;

    fn spec(&self) -> &'static FunctionSpec {
        spec::SPECS[*self as usize]
    }

    /// Each function reads the keys it declares; the others keep neutral values.
    fn configure(&self, o: &Options) -> Result<ScorerConfig> {
        Ok(ScorerConfig {
            eps: o.number("eps").unwrap_or(0.0),
            bins: o.count("bins").unwrap_or(0),
            strategy: match o.choice("strategy") {
                Some("quantile") => BinStrategy::Quantile,
                _ => BinStrategy::Uniform,
            },
            norm: match o.choice("norm") {
                Some("l2") => CalibrationNorm::L2,
                Some("max") => CalibrationNorm::Max,
                _ => CalibrationNorm::L1,
            },
        })
    }

    fn state_fields(&self, name: &str, args: &[FieldRef]) -> Result<Vec<FieldRef>> {
        let kept = |i: usize| Numbers::state_type(args[i].data_type());
        Ok(list_fields(
            name,
            vec![("first", kept(0)), ("second", kept(1)), ("sums", SUM_TYPE)],
        ))
    }

    fn accumulator(&self, call: &Call<'_, ScorerConfig>) -> Result<Box<dyn Accumulator>> {
        let config = *call.config;
        let sums = match streaming_layout(*self, &config) {
            Some(len) => vec![0; len],
            None => Vec::new(),
        };
        Ok(Box::new(ScorerAccumulator {
            function: *self,
            config,
            first: Numbers::for_type(call.data_type(0)),
            second: Numbers::for_type(call.data_type(1)),
            sums,
            budget: call.budget.clone(),
        }))
    }

    /// The running-sum scorers keep every group's sums in one accumulator.
    fn grouped(&self, config: &ScorerConfig) -> bool {
        streaming_layout(*self, config).is_some()
    }

    fn groups_accumulator(
        &self,
        call: &Call<'_, ScorerConfig>,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        let config = *call.config;
        let Some(width) = streaming_layout(*self, &config) else {
            return internal_err!("{}: no grouped form for these options", self.name());
        };
        let kept = |i: usize| Numbers::state_type(call.data_type(i));
        Ok(Box::new(groups::ScorerGroups::new(
            *self,
            config,
            width,
            [kept(0), kept(1)],
            call.return_type(),
        )))
    }
}

/// The type of the running sums in the state: exact integers in units of 2⁻⁶⁴
/// (`prefdb_stats::calibration::fixed`), so that a result does not depend on how the rows
/// were partitioned, on one machine or a cluster.
pub(crate) const SUM_TYPE: DataType = DataType::Decimal128(38, 0);

/// `sums` as a state column's values.
pub(crate) fn sums_array(sums: Vec<i128>) -> Decimal128Array {
    Decimal128Array::from(sums)
        .with_precision_and_scale(38, 0)
        .expect("38, 0 is valid")
}

/// A state row's sums, which are never negative.
fn state_sums(row: &StateRow<'_>, c: usize) -> Result<Decimal128Array> {
    let sums = row.values::<Decimal128Type>(c)?;
    if sums.null_count() > 0 || sums.values().iter().any(|&v| v < 0) {
        return Err(row.corrupt(format!("a negative or NULL sum in column {c}")));
    }
    Ok(sums)
}

fn bin_fields() -> Fields {
    struct_fields(spec::BIN_FIELDS, &DataType::Utf8)
}

fn test_fields() -> Fields {
    struct_fields(spec::TEST_FIELDS, &DataType::Utf8)
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
    /// per-bin counts, probability sums and positives, in units of 2⁻⁶⁴ (see [`SUM_TYPE`]).
    /// Empty otherwise.
    sums: Vec<i128>,
    budget: MemoryBudget,
}

/// The error for a pair of values `f` cannot take.
fn check_pair(f: ScorerFunction, a: f64, b: f64) -> Result<()> {
    let (first, second) = (f.arg_name(0), f.arg_name(1));
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
    if f.second_is_label() && b != 0.0 && b != 1.0 {
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
    sums: &mut [i128],
    exact_x: Number,
    exact_y: Number,
) {
    let (x, y) = (exact_x.approx(), exact_y.approx());
    let label = y == 1.0;
    match f {
        ScorerFunction::BrierScore => {
            sums[0] += FIXED_ONE;
            sums[1] += fixed(brier_term(x, label));
        }
        ScorerFunction::LogLoss => {
            sums[0] += FIXED_ONE;
            sums[1] += fixed(log_loss_term(x, label, c.eps));
        }
        ScorerFunction::PairwiseAccuracy => {
            sums[0] += FIXED_ONE;
            sums[1] += fixed(pairwise_credit(exact_x.partial_cmp(exact_y)));
        }
        _ => {
            let bins = c.bins;
            let b = uniform_bin(x, bins);
            sums[b] += FIXED_ONE;
            sums[bins + b] += fixed(x);
            if label {
                sums[2 * bins + b] += FIXED_ONE;
            }
        }
    }
}

/// A streaming function's result from its running sums.
fn streaming_value(f: ScorerFunction, c: &ScorerConfig, sums: &[i128]) -> Result<ScalarValue> {
    let sums: Vec<f64> = sums.iter().map(|&s| unfixed(s)).collect();
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
            ScalarValue::Float64(mean_of_sums(sums[0], sums[1]))
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
            + self.sums.capacity() * 16
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let wrap = |values: ArrayRef| SingleRowListArrayBuilder::new(values).build_list_scalar();
        Ok(vec![
            wrap(self.first.to_array()?),
            wrap(self.second.to_array()?),
            wrap(Arc::new(sums_array(self.sums.clone()))),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        for row in StateRows::new(self.function.name(), states, 3)?.rows() {
            let (a, b) = (
                NumberColumn::new(&row.list(0)?)?,
                NumberColumn::new(&row.list(1)?)?,
            );
            let partial = state_sums(&row, 2)?;
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
                *mine = mine
                    .checked_add(*theirs)
                    .ok_or_else(|| row.corrupt("sums beyond 2^127"))?;
            }
        }
        Ok(())
    }
}
