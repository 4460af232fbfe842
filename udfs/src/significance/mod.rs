//! Significance tests between two systems scored on the same items: `paired_test` and
//! `mcnemar`. Each turns rows into the inputs of a kernel in `prefdb_stats::significance`.

use crate::items::{ItemColumn, ItemInterner, ItemKind};
use crate::memory::MemoryBudget;
use crate::spec::aggregate::{Call, Family, PrefdbAggregate};
use crate::spec::{struct_fields, FunctionSpec, Options};
use crate::state::{corrupt, list_fields, wrap, StateRows};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, StructArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type, Int64Type};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{Accumulator, AggregateUDF};
use prefdb_stats::calibration::scores::normal_upper_quantile;
use prefdb_stats::significance::{
    benchmark_agreement, bootstrap_mean, mcnemar, paired_t, separability, sign_flip_test, wilcoxon,
    PairedTest,
};
use std::sync::Arc;

pub(crate) mod spec;

/// The functions of this file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignificanceFunction {
    PairedTest,
    McNemar,
    Separability,
    BenchmarkAgreement,
}

/// `paired_test`'s method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairedMethod {
    T,
    Wilcoxon,
    Permutation,
    Bootstrap,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SignificanceConfig {
    method: PairedMethod,
    resamples: usize,
    seed: u64,
    confidence: f64,
    exact: bool,
    correction: bool,
}

pub fn significance_udafs(budget: &MemoryBudget) -> Vec<AggregateUDF> {
    [
        SignificanceFunction::PairedTest,
        SignificanceFunction::McNemar,
        SignificanceFunction::Separability,
        SignificanceFunction::BenchmarkAgreement,
    ]
    .into_iter()
    .map(|f| PrefdbAggregate::udaf(f, budget))
    .collect()
}

impl Family for SignificanceFunction {
    type Config = SignificanceConfig;

    fn spec(&self) -> &'static FunctionSpec {
        spec::SPECS[*self as usize]
    }

    fn configure(&self, o: &Options) -> Result<SignificanceConfig> {
        Ok(SignificanceConfig {
            method: match o.choice("method") {
                Some("wilcoxon") => PairedMethod::Wilcoxon,
                Some("permutation") => PairedMethod::Permutation,
                Some("bootstrap") => PairedMethod::Bootstrap,
                _ => PairedMethod::T,
            },
            resamples: o.count("resamples").unwrap_or_default(),
            seed: o.integer("seed").unwrap_or_default(),
            confidence: o.number("confidence").unwrap_or_default(),
            exact: o.choice("exact") != Some("false"),
            correction: o.choice("correction") != Some("false"),
        })
    }

    fn state_fields(&self, name: &str, args: &[FieldRef]) -> Result<Vec<FieldRef>> {
        Ok(match self {
            SignificanceFunction::PairedTest => {
                list_fields(name, vec![("differences", DataType::Float64)])
            }
            SignificanceFunction::Separability => {
                list_fields(name, vec![("bounds", DataType::Float64)])
            }
            SignificanceFunction::BenchmarkAgreement => {
                let item = ItemKind::of(BENCH, "item", args[0].data_type())?.output_type();
                list_fields(name, vec![("items", item), ("values", DataType::Float64)])
            }
            SignificanceFunction::McNemar => ["n", "b", "c"]
                .iter()
                .map(|s| {
                    Arc::new(Field::new(
                        format_state_name(name, s),
                        DataType::Int64,
                        true,
                    )) as FieldRef
                })
                .collect(),
        })
    }

    fn accumulator(&self, call: &Call<'_, SignificanceConfig>) -> Result<Box<dyn Accumulator>> {
        Ok(match self {
            SignificanceFunction::PairedTest => Box::new(PairedAccumulator {
                config: *call.config,
                differences: Vec::new(),
            }),
            SignificanceFunction::Separability => Box::new(IntervalRows {
                function: *self,
                items: None,
                values: Vec::new(),
                z: 0.0,
            }),
            SignificanceFunction::BenchmarkAgreement => Box::new(IntervalRows {
                function: *self,
                items: Some(ItemInterner::new(ItemKind::of(
                    BENCH,
                    "item",
                    call.data_type(0),
                )?)),
                values: Vec::new(),
                z: normal_upper_quantile((1.0 - call.config.confidence) / 2.0),
            }),
            SignificanceFunction::McNemar => Box::new(McNemarAccumulator {
                config: *call.config,
                counts: [0; 3],
            }),
        })
    }
}

/// Calls `f` with both values of every row where neither is NULL, as Float64 (booleans as 1
/// and 0).
fn each_pair(values: &[ArrayRef], mut f: impl FnMut(f64, f64) -> Result<()>) -> Result<()> {
    let column = |a: &ArrayRef| -> Result<Float64Array> {
        Ok(cast(a, &DataType::Float64)?
            .as_primitive::<Float64Type>()
            .clone())
    };
    let (a, b) = (column(&values[0])?, column(&values[1])?);
    for row in 0..a.len() {
        if a.is_valid(row) && b.is_valid(row) {
            f(a.value(row), b.value(row))?;
        }
    }
    Ok(())
}

fn struct_scalar(fields: Fields, columns: Vec<ArrayRef>) -> Result<ScalarValue> {
    Ok(ScalarValue::Struct(Arc::new(StructArray::try_new(
        fields, columns, None,
    )?)))
}

#[derive(Debug)]
struct PairedAccumulator {
    config: SignificanceConfig,
    differences: Vec<f64>,
}

const PAIRED: &str = "paired_test";

impl Accumulator for PairedAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        each_pair(values, |x, y| {
            if !x.is_finite() || !y.is_finite() {
                return exec_err!("{PAIRED}: scores must be finite numbers, got {x} and {y}");
            }
            self.differences.push(x - y);
            Ok(())
        })
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let fields = struct_fields(spec::PAIRED_TEST_FIELDS, &DataType::Utf8);
        if self.differences.is_empty() {
            return Ok(ScalarValue::try_from(DataType::Struct(fields))?);
        }
        // In value order, so that the result does not depend on how rows arrived.
        let mut d = self.differences.clone();
        d.sort_by(f64::total_cmp);
        let c = self.config;
        let resampled = || -> Result<()> {
            let work = (c.resamples as u64).saturating_mul(d.len() as u64);
            if work > spec::MAX_RESAMPLED_VALUES {
                return exec_err!(
                    "{PAIRED}: resamples={} over {} pairs would compute {work} resampled values, and at most {} are computed; use fewer resamples",
                    c.resamples,
                    d.len(),
                    spec::MAX_RESAMPLED_VALUES
                );
            }
            Ok(())
        };
        let stopped = |_| {
            datafusion::common::DataFusionError::Execution(format!(
                "{PAIRED}: the statement was cancelled"
            ))
        };
        let t: PairedTest = match c.method {
            PairedMethod::T => paired_t(&d, c.confidence),
            PairedMethod::Wilcoxon => wilcoxon(&d),
            PairedMethod::Permutation => {
                resampled()?;
                sign_flip_test(&d, c.resamples, c.seed).map_err(stopped)?
            }
            PairedMethod::Bootstrap => {
                resampled()?;
                bootstrap_mean(&d, c.resamples, c.seed, c.confidence).map_err(stopped)?
            }
        };
        let one = |v: Option<f64>| Arc::new(Float64Array::from(vec![v])) as ArrayRef;
        struct_scalar(
            fields,
            vec![
                Arc::new(Int64Array::from(vec![t.n as i64])),
                one(Some(t.mean_diff)),
                one(t.ci.map(|c| c.0)),
                one(t.ci.map(|c| c.1)),
                one(t.statistic),
                one(t.p_value),
            ],
        )
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.differences.capacity() * 8
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![wrap(Arc::new(Float64Array::from(
            self.differences.clone(),
        )))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        for row in StateRows::new(PAIRED, states, 1)?.rows() {
            let d = row.values::<Float64Type>(0)?;
            self.differences.extend_from_slice(d.values());
        }
        Ok(())
    }
}

#[derive(Debug)]
struct McNemarAccumulator {
    config: SignificanceConfig,
    /// Pairs, only A right, only B right.
    counts: [i64; 3],
}

const MCNEMAR: &str = "mcnemar";

impl Accumulator for McNemarAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        each_pair(values, |x, y| {
            for (v, arg) in [(x, "correct_a"), (y, "correct_b")] {
                if v != 0.0 && v != 1.0 {
                    return exec_err!("{MCNEMAR}: {arg} must be true/false or 1/0, got {v}");
                }
            }
            self.counts[0] += 1;
            self.counts[1] += i64::from(x == 1.0 && y == 0.0);
            self.counts[2] += i64::from(x == 0.0 && y == 1.0);
            Ok(())
        })
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let fields = struct_fields(spec::MCNEMAR_FIELDS, &DataType::Utf8);
        let [n, b, c] = self.counts;
        if n == 0 {
            return Ok(ScalarValue::try_from(DataType::Struct(fields))?);
        }
        let (statistic, p) = mcnemar(
            b as u64,
            c as u64,
            self.config.exact,
            self.config.correction,
        );
        let int = |v: i64| Arc::new(Int64Array::from(vec![v])) as ArrayRef;
        let one = |v: Option<f64>| Arc::new(Float64Array::from(vec![v])) as ArrayRef;
        struct_scalar(fields, vec![int(n), int(b), int(c), one(statistic), one(p)])
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(self
            .counts
            .iter()
            .map(|&v| ScalarValue::Int64(Some(v)))
            .collect())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        if states.len() != 3 {
            return Err(corrupt(
                MCNEMAR,
                format!("{} columns, expected 3", states.len()),
            ));
        }
        for (k, s) in states.iter().enumerate() {
            let column = s
                .as_primitive_opt::<Int64Type>()
                .ok_or_else(|| corrupt(MCNEMAR, format!("a {} column", s.data_type())))?;
            for v in column.iter().flatten() {
                if v < 0 {
                    return Err(corrupt(MCNEMAR, "a negative count"));
                }
                self.counts[k] += v;
            }
        }
        Ok(())
    }
}

const BENCH: &str = "benchmark_agreement";

/// The most rows `separability` and `benchmark_agreement` compare pairwise.
const MAX_INTERVAL_ROWS: usize = 10_000;

/// `separability`'s (lower, upper) rows, or `benchmark_agreement`'s item and six values.
#[derive(Debug)]
struct IntervalRows {
    function: SignificanceFunction,
    items: Option<ItemInterner>,
    /// Row-major: 2 (separability) or 6 values per row.
    values: Vec<f64>,
    z: f64,
}

impl IntervalRows {
    fn name(&self) -> &'static str {
        self.function.spec().name
    }

    fn width(&self) -> usize {
        if self.items.is_some() {
            6
        } else {
            2
        }
    }

    /// Checks one row's values: finite, and each interval in order.
    fn check(&self, row: &[f64]) -> Result<()> {
        let name = self.name();
        if let Some(x) = row.iter().find(|x| !x.is_finite()) {
            return exec_err!("{name}: values must be finite numbers, got {x}");
        }
        let bounds: &[(usize, usize)] = if row.len() == 2 {
            &[(0, 1)]
        } else {
            &[(1, 2), (4, 5)]
        };
        for &(lo, hi) in bounds {
            if row[lo] > row[hi] {
                return exec_err!(
                    "{name}: a lower bound {} is above its upper bound {}",
                    row[lo],
                    row[hi]
                );
            }
        }
        Ok(())
    }
}

impl Accumulator for IntervalRows {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let offset = usize::from(self.items.is_some());
        let width = self.width();
        let columns = (offset..offset + width)
            .map(|i| {
                Ok(cast(&values[i], &DataType::Float64)?
                    .as_primitive::<Float64Type>()
                    .clone())
            })
            .collect::<Result<Vec<Float64Array>>>()?;
        let items = match self.items {
            Some(_) => Some(ItemColumn::new(&values[0])?),
            None => None,
        };
        let mut row = vec![0.0; width];
        for r in 0..values[0].len() {
            if columns.iter().any(|c| c.is_null(r)) {
                continue;
            }
            let item = match &items {
                Some(column) => match column.get(r) {
                    Some(item) => Some(item),
                    None => continue,
                },
                None => None,
            };
            for (v, c) in row.iter_mut().zip(&columns) {
                *v = c.value(r);
            }
            self.check(&row)?;
            if let (Some(item), Some(interner)) = (item, &mut self.items) {
                let before = interner.len();
                let id = interner.intern(item)?;
                if (id as usize) < before {
                    return exec_err!(
                        "{BENCH}: item {} appears twice; give one row per item",
                        interner.display(id as usize)
                    );
                }
            }
            self.values.extend_from_slice(&row);
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let width = self.width();
        let n = self.values.len() / width;
        if n > MAX_INTERVAL_ROWS {
            return exec_err!(
                "{}: compares every pair of rows and supports up to {MAX_INTERVAL_ROWS} rows, got {n}",
                self.name()
            );
        }
        let rows: Vec<&[f64]> = self.values.chunks_exact(width).collect();
        let Some(interner) = &self.items else {
            // In value order, so that the result does not depend on arrival order.
            let mut intervals: Vec<(f64, f64)> = rows.iter().map(|r| (r[0], r[1])).collect();
            intervals.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
            return Ok(ScalarValue::Float64(separability(&intervals)));
        };
        let fields = struct_fields(spec::BENCHMARK_AGREEMENT_FIELDS, &DataType::Utf8);
        if n == 0 {
            return Ok(ScalarValue::try_from(DataType::Struct(fields))?);
        }
        // Rows by item value: the Brier score orients each pair that way.
        let order = interner.value_order();
        let a: Vec<(f64, f64, f64)> = order
            .iter()
            .map(|&i| (rows[i][0], rows[i][1], rows[i][2]))
            .collect();
        let b: Vec<(f64, f64, f64)> = order
            .iter()
            .map(|&i| (rows[i][3], rows[i][4], rows[i][5]))
            .collect();
        let r = benchmark_agreement(&a, &b, self.z);
        let one = |v: Option<f64>| Arc::new(Float64Array::from(vec![v])) as ArrayRef;
        struct_scalar(
            fields,
            vec![
                Arc::new(Int64Array::from(vec![r.pairs as i64])),
                one(r.separability_a),
                one(r.separability_b),
                one(r.agreement),
                one(r.brier),
            ],
        )
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self.items.as_ref().map_or(0, ItemInterner::heap_size)
            + self.values.capacity() * 8
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let values = wrap(Arc::new(Float64Array::from(self.values.clone())));
        Ok(match &self.items {
            Some(interner) => vec![wrap(interner.to_array()), values],
            None => vec![values],
        })
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let name = self.name();
        let width = self.width();
        let columns = 1 + usize::from(self.items.is_some());
        for row in StateRows::new(name, states, columns)?.rows() {
            let values = row.values::<Float64Type>(columns - 1)?;
            if let Some(interner) = &mut self.items {
                let items = row.list(0)?;
                if values.len() != items.len() * width {
                    return Err(row.corrupt("values do not fit the items"));
                }
                let before = interner.len();
                let ids = interner.intern_array(&items)?;
                if let Some(&id) = ids.iter().find(|&&id| (id as usize) < before) {
                    return exec_err!(
                        "{BENCH}: item {} appears twice; give one row per item",
                        interner.display(id as usize)
                    );
                }
            } else if values.len() % width != 0 {
                return Err(row.corrupt("values do not fit the rows"));
            }
            self.values.extend_from_slice(values.values());
        }
        Ok(())
    }
}
