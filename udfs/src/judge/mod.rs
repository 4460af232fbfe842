//! Judge diagnostics and judge-based scores: `position_consistency`,
//! `score_comparison_inconsistency`, `wb_reward` and `rank_aggregate`.
//!
//! Each function only turns rows into the inputs of a kernel in `prefdb_stats::judge`.

use crate::items::{ItemColumn, ItemInterner, ItemKind, ItemRef};
use crate::leaderboard::{by_canonical_id, Ranking};
use crate::memory::{bytes_of, MemoryBudget};
use crate::spec::aggregate::{Call, Family, PrefdbAggregate};
use crate::spec::is_text;
use crate::spec::{struct_fields, FunctionSpec, Options};
use crate::state::{corrupt, list_fields, wrap, StateRows};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, PrimitiveArray, StructArray,
    UInt32Array, UInt8Array,
};
use datafusion::arrow::datatypes::{
    ArrowPrimitiveType, DataType, Field, FieldRef, Fields, Float64Type, Int64Type, UInt8Type,
};
use datafusion::common::{exec_err, internal_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{Accumulator, AggregateUDF, EmitTo, GroupsAccumulator};
use prefdb_stats::calibration::scores::normal_upper_quantile;
use prefdb_stats::judge::{
    aggregate_ranks, position_consistency, verdict_flips, wildbench_reward, FiveLevel,
    PositionError, RankRule, ScoreComparison, Verdict,
};
use std::sync::Arc;

pub(crate) mod spec;

/// The functions of this file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JudgeFunction {
    PositionConsistency,
    ScoreComparison,
    WbReward,
    RankAggregate,
    VerdictFlip,
}

impl JudgeFunction {
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// Whether the third argument is a verdict (kept as a code), rather than a score.
    fn takes_verdicts(self) -> bool {
        matches!(
            self,
            JudgeFunction::PositionConsistency | JudgeFunction::VerdictFlip
        )
    }

    fn arg_name(self, i: usize) -> &'static str {
        self.spec().args[i].name
    }
}

/// Parsed options of the functions that take any.
#[derive(Debug, Clone, PartialEq)]
pub struct JudgeConfig {
    k: f64,
    rule: RankRule,
    /// `verdict_flip`'s baseline condition, and the normal quantile of its intervals.
    baseline: Arc<str>,
    z: f64,
}

/// A verdict argument: text, or a number where 1 = a (first), 0 = b (second), 0.5 = tie.
fn verdict_coercion(name: &str, arg: &str, t: &DataType) -> Result<DataType> {
    match t {
        t if is_text(t) => Ok(t.clone()),
        DataType::Dictionary(_, v) if v.is_string() => Ok(v.as_ref().clone()),
        DataType::Null => Ok(DataType::Float64),
        t if t.is_numeric() => Ok(DataType::Float64),
        t => plan_err!("{name}: {arg} must be text or a number, got {t}"),
    }
}

fn numeric_coercion(name: &str, arg: &str, t: &DataType) -> Result<DataType> {
    match t {
        DataType::Null => Ok(DataType::Float64),
        t if t.is_numeric() => Ok(DataType::Float64),
        t => plan_err!("{name}: {arg} must be numeric, got {t}"),
    }
}

fn key_coercion(name: &str, arg: &str, t: &DataType) -> Result<DataType> {
    if *t == DataType::Boolean {
        return Ok(DataType::Int64);
    }
    Ok(ItemKind::of(name, arg, t)?.coerced_type(t))
}

pub fn judge_udafs(budget: &MemoryBudget) -> Vec<AggregateUDF> {
    [
        JudgeFunction::PositionConsistency,
        JudgeFunction::ScoreComparison,
        JudgeFunction::WbReward,
        JudgeFunction::RankAggregate,
        JudgeFunction::VerdictFlip,
    ]
    .into_iter()
    .map(|function| PrefdbAggregate::udaf(function, budget))
    .collect()
}

impl Family for JudgeFunction {
    type Config = JudgeConfig;

    fn spec(&self) -> &'static FunctionSpec {
        spec::SPECS[*self as usize]
    }

    fn configure(&self, o: &Options) -> Result<JudgeConfig> {
        Ok(JudgeConfig {
            k: o.number("k").unwrap_or_default(),
            rule: match o.choice("method") {
                Some("borda") => RankRule::Borda,
                Some("copeland") => RankRule::Copeland,
                _ => RankRule::Mean,
            },
            baseline: o.text("baseline").unwrap_or("original").into(),
            z: normal_upper_quantile((1.0 - o.number("confidence").unwrap_or(0.95)) / 2.0),
        })
    }

    /// Pair ids, orders, systems and tasks are keys (booleans allowed); verdicts are text
    /// or numbers.
    fn coerce(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let f = *self;
        let spec = f.spec();
        spec.check_arg_count(arg_types.len())?;
        let name = f.name();
        arg_types
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let Some(arg) = spec.args.get(i).map(|a| a.name) else {
                    return if is_text(t) {
                        Ok(t.clone())
                    } else {
                        plan_err!("{name}: the last argument must be the options string literal")
                    };
                };
                match (f, i) {
                    (JudgeFunction::PositionConsistency | JudgeFunction::VerdictFlip, 0 | 1) => {
                        key_coercion(name, arg, t)
                    }
                    (JudgeFunction::RankAggregate, 0 | 1) => key_coercion(name, arg, t),
                    (
                        JudgeFunction::PositionConsistency
                        | JudgeFunction::ScoreComparison
                        | JudgeFunction::VerdictFlip,
                        2,
                    ) => verdict_coercion(name, arg, t),
                    (JudgeFunction::WbReward, 0) => verdict_coercion(name, arg, t),
                    _ => numeric_coercion(name, arg, t),
                }
            })
            .collect()
    }

    /// rank_aggregate's systems, verdict_flip's conditions.
    fn item_type(&self, data: &[DataType]) -> Result<DataType> {
        let (i, arg) = match self {
            JudgeFunction::RankAggregate => (0, "system"),
            JudgeFunction::VerdictFlip => (1, "condition"),
            _ => return Ok(DataType::Utf8),
        };
        let item = key_coercion(self.name(), arg, &data[i])?;
        Ok(ItemKind::of(self.name(), arg, &item)?.output_type())
    }

    fn state_fields(&self, name: &str, args: &[FieldRef]) -> Result<Vec<FieldRef>> {
        let key = |i: usize| -> Result<DataType> {
            Ok(ItemKind::of(self.name(), self.arg_name(i), args[i].data_type())?.output_type())
        };
        let scalar = |suffix: &str, t: DataType| -> FieldRef {
            Arc::new(Field::new(format_state_name(name, suffix), t, true))
        };
        Ok(match self {
            JudgeFunction::PositionConsistency | JudgeFunction::VerdictFlip => list_fields(
                name,
                vec![
                    ("pairs", key(0)?),
                    ("orders", key(1)?),
                    ("pair_ids", DataType::UInt32),
                    ("order_ids", DataType::UInt32),
                    ("verdicts", DataType::UInt8),
                ],
            ),
            JudgeFunction::RankAggregate => list_fields(
                name,
                vec![
                    ("systems", key(0)?),
                    ("tasks", key(1)?),
                    ("system_ids", DataType::UInt32),
                    ("task_ids", DataType::UInt32),
                    ("scores", DataType::Float64),
                ],
            ),
            JudgeFunction::ScoreComparison => ["pairs", "conflicts", "mismatches"]
                .iter()
                .map(|s| scalar(s, DataType::Int64))
                .collect(),
            JudgeFunction::WbReward => vec![
                scalar("sum", DataType::Float64),
                scalar("count", DataType::Int64),
            ],
        })
    }

    fn accumulator(&self, call: &Call<'_, JudgeConfig>) -> Result<Box<dyn Accumulator>> {
        let f = *self;
        let config = call.config.clone();
        let kind = |i: usize| ItemKind::of(f.name(), f.arg_name(i), call.data_type(i));
        Ok(match f {
            JudgeFunction::PositionConsistency
            | JudgeFunction::RankAggregate
            | JudgeFunction::VerdictFlip => Box::new(KeyedAccumulator {
                function: f,
                config,
                keys: ItemInterner::new(kind(0)?),
                groups: ItemInterner::new(kind(1)?),
                key_ids: Vec::new(),
                group_ids: Vec::new(),
                verdicts: Vec::new(),
                scores: Vec::new(),
                return_type: call.return_type(),
                budget: call.budget.clone(),
            }),
            JudgeFunction::ScoreComparison => Box::new(ScoreComparisonAccumulator {
                counts: ScoreComparison::default(),
            }),
            JudgeFunction::WbReward => Box::new(WbRewardAccumulator {
                k: config.k,
                sum: 0.0,
                count: 0,
            }),
        })
    }

    /// `wb_reward` keeps every group's (sum, count) in one accumulator.
    fn grouped(&self, _config: &JudgeConfig) -> bool {
        *self == JudgeFunction::WbReward
    }

    fn groups_accumulator(
        &self,
        call: &Call<'_, JudgeConfig>,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        if *self != JudgeFunction::WbReward {
            return internal_err!("{}: no grouped form", self.name());
        }
        Ok(Box::new(WbRewardGroups {
            k: call.config.k,
            sums: Vec::new(),
            counts: Vec::new(),
        }))
    }
}

fn position_fields() -> Fields {
    struct_fields(spec::POSITION_FIELDS, &DataType::Utf8)
}

fn score_comparison_fields() -> Fields {
    struct_fields(spec::SCORE_COMPARISON_FIELDS, &DataType::Utf8)
}

const VERDICTS: &str = "'a' | 'first' | 'left' | 'model_a' (the first response), 'b' | 'second' | \
'right' | 'model_b', 'tie' | 'tie (bothbad)' | 'both_bad', or 1 / 0 / 0.5";

/// A verdict from text or a number; `None` for NULL.
fn verdict_at(function: &str, column: &VerdictColumn, row: usize) -> Result<Option<Verdict>> {
    match column {
        VerdictColumn::Text(col) => match col.get(row) {
            None => Ok(None),
            Some(ItemRef::Text(s)) => {
                let is = |names: &[&str]| names.iter().any(|n| s.eq_ignore_ascii_case(n));
                if is(&["a", "first", "left", "model_a"]) {
                    Ok(Some(Verdict::First))
                } else if is(&["b", "second", "right", "model_b"]) {
                    Ok(Some(Verdict::Second))
                } else if is(&["tie", "tie (bothbad)", "both_bad"]) {
                    Ok(Some(Verdict::Tie))
                } else {
                    exec_err!("{function}: unknown verdict '{s}' (expected {VERDICTS})")
                }
            }
            Some(ItemRef::Integer(_)) => exec_err!("internal error: integer verdict"),
        },
        VerdictColumn::Number(col) => {
            if col.is_null(row) {
                return Ok(None);
            }
            match col.value(row) {
                1.0 => Ok(Some(Verdict::First)),
                0.0 => Ok(Some(Verdict::Second)),
                0.5 => Ok(Some(Verdict::Tie)),
                x => exec_err!(
                    "{function}: a numeric verdict must be 1 (first), 0 (second) or 0.5 (tie), got {x}"
                ),
            }
        }
    }
}

enum VerdictColumn<'a> {
    Text(ItemColumn<'a>),
    Number(&'a Float64Array),
}

impl<'a> VerdictColumn<'a> {
    fn new(array: &'a ArrayRef) -> Result<Self> {
        Ok(match array.data_type() {
            DataType::Float64 => VerdictColumn::Number(array.as_primitive::<Float64Type>()),
            _ => VerdictColumn::Text(ItemColumn::new(array)?),
        })
    }
}

fn verdict_code(v: Verdict) -> u8 {
    match v {
        Verdict::First => 0,
        Verdict::Second => 1,
        Verdict::Tie => 2,
    }
}

fn verdict_from_code(code: u8) -> Verdict {
    match code {
        0 => Verdict::First,
        1 => Verdict::Second,
        _ => Verdict::Tie,
    }
}

/// Rows keyed by two interned columns: (pair, order, verdict) for `position_consistency`,
/// (system, task, score) for `rank_aggregate`. Both need every row until `evaluate`,
/// because a pair's two orders, or a system's tasks, may arrive in different partitions.
#[derive(Debug)]
struct KeyedAccumulator {
    function: JudgeFunction,
    config: JudgeConfig,
    keys: ItemInterner,
    groups: ItemInterner,
    key_ids: Vec<u32>,
    group_ids: Vec<u32>,
    verdicts: Vec<u8>,
    scores: Vec<f64>,
    return_type: DataType,
    budget: MemoryBudget,
}

impl KeyedAccumulator {
    fn evaluate_position(&self) -> Result<ScalarValue> {
        let name = self.function.name();
        let mut rows: Vec<(u32, u32, Verdict)> = (0..self.key_ids.len())
            .map(|i| {
                (
                    self.key_ids[i],
                    self.group_ids[i],
                    verdict_from_code(self.verdicts[i]),
                )
            })
            .collect();
        let r = match position_consistency(&mut rows) {
            Ok(r) => r,
            Err(PositionError::Repeated { item, order }) => {
                return exec_err!(
                    "{name}: pair {} has two verdicts in order {}; give each pair one verdict per order (GROUP BY judge or sample to compare several)",
                    self.keys.display(item as usize),
                    self.groups.display(order as usize)
                )
            }
            Err(PositionError::ThreeOrders { item }) => {
                return exec_err!(
                    "{name}: pair {} appears in more than two orders; the order column must take one of two values per pair (e.g. 'ab' and 'ba')",
                    self.keys.display(item as usize)
                )
            }
        };
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Float64Array::from(vec![r.consistency])),
            Arc::new(Float64Array::from(vec![r.first_position_rate])),
            Arc::new(Int64Array::from(vec![r.pairs as i64])),
            Arc::new(Int64Array::from(vec![r.verdicts as i64])),
        ];
        Ok(ScalarValue::Struct(Arc::new(StructArray::try_new(
            position_fields(),
            columns,
            None,
        )?)))
    }

    fn evaluate_flips(&self) -> Result<ScalarValue> {
        let name = self.function.name();
        let Some(baseline) = self.groups.find(&self.config.baseline) else {
            return exec_err!(
                "{name}: no row has the baseline condition '{}'; name it with 'baseline=...'",
                self.config.baseline
            );
        };
        let mut rows: Vec<(u32, u32, Verdict)> = (0..self.key_ids.len())
            .map(|i| {
                let v = verdict_from_code(self.verdicts[i]);
                (self.key_ids[i], self.group_ids[i], v)
            })
            .collect();
        let flips = match verdict_flips(&mut rows, baseline as u32, self.config.z) {
            Ok(f) => f,
            Err(PositionError::Repeated { item, order }) => {
                return exec_err!(
                    "{name}: pair {} has two verdicts under condition {}; give each pair one verdict per condition",
                    self.keys.display(item as usize),
                    self.groups.display(order as usize)
                )
            }
            Err(e @ PositionError::ThreeOrders { .. }) => return internal_err!("{name}: {e:?}"),
        };
        // Entries by condition value.
        let position = self.groups.value_positions();
        let mut flips = flips;
        flips.sort_by_key(|f| position[f.condition as usize]);
        let int = |g: fn(&prefdb_stats::judge::Flips) -> u64| -> ArrayRef {
            Arc::new(Int64Array::from_iter_values(
                flips.iter().map(|f| g(f) as i64),
            ))
        };
        let float = |g: fn(&prefdb_stats::judge::Flips) -> Option<f64>| -> ArrayRef {
            Arc::new(flips.iter().map(g).collect::<Float64Array>())
        };
        let columns: Vec<ArrayRef> = vec![
            self.groups.take(flips.iter().map(|f| f.condition as usize)),
            int(|f| f.pairs),
            int(|f| f.flips),
            float(|f| (f.pairs > 0).then(|| f.flips as f64 / f.pairs as f64)),
            float(|f| Some(f.ci.0)),
            float(|f| Some(f.ci.1)),
            int(|f| f.to_first),
            int(|f| f.to_second),
            int(|f| f.to_tie),
            float(|f| f.p_value),
        ];
        let item = crate::leaderboard::item_type(&self.groups);
        let entries = StructArray::try_new(
            struct_fields(spec::VERDICT_FLIP_FIELDS, &item),
            columns,
            None,
        )?;
        Ok(
            datafusion::common::utils::SingleRowListArrayBuilder::new(Arc::new(entries))
                .build_list_scalar(),
        )
    }

    fn evaluate_rank_aggregate(&self) -> Result<ScalarValue> {
        let (n_systems, n_tasks) = (self.keys.len(), self.groups.len());
        // The method works on a dense systems × tasks table, and Copeland's method compares
        // every pair of systems on every task.
        const MAX_CELLS: usize = 10_000_000;
        if n_systems.saturating_mul(n_tasks) > MAX_CELLS {
            return exec_err!(
                "rank_aggregate: {n_systems} systems × {n_tasks} tasks make a table of {} cells, and at most {MAX_CELLS} are supported; aggregate tasks first (e.g. by category)",
                n_systems.saturating_mul(n_tasks)
            );
        }
        // The seen and score tables, and Copeland's systems × systems tallies.
        let _workspace = self.budget.reserve(
            "rank_aggregate",
            "the systems × tasks table",
            bytes_of::<f64>(2 * n_systems * n_tasks + 2 * n_systems * n_systems),
        )?;
        let mut seen = vec![false; n_systems * n_tasks];
        for (&s, &t) in self.key_ids.iter().zip(&self.group_ids) {
            let cell = &mut seen[s as usize * n_tasks + t as usize];
            if *cell {
                return exec_err!(
                    "rank_aggregate: system {} has more than one score for task {}; aggregate them first (e.g. avg(score) GROUP BY system, task)",
                    self.keys.display(s as usize),
                    self.groups.display(t as usize)
                );
            }
            *cell = true;
        }
        let scores: Vec<(u32, u32, f64)> = (0..self.key_ids.len())
            .map(|i| (self.key_ids[i], self.group_ids[i], self.scores[i]))
            .collect();
        let ratings = aggregate_ranks(n_systems, n_tasks, &scores, self.config.rule);
        let ids = self.keys.value_order();
        Ranking {
            items: &self.keys,
            ids: &ids,
            ratings: by_canonical_id(&ratings, &ids),
            rank_tolerance: 1e-12,
            totals: None,
            intervals: None,
            reported: None,
            tie_param: None,
        }
        .into_scalar()
    }
}

impl Accumulator for KeyedAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let name = self.function.name();
        let keys = ItemColumn::new(&values[0])?;
        let groups = ItemColumn::new(&values[1])?;
        let position = self.function.takes_verdicts();
        let verdicts = if position {
            Some(VerdictColumn::new(&values[2])?)
        } else {
            None
        };
        let scores = (!position).then(|| values[2].as_primitive::<Float64Type>());
        for row in 0..values[0].len() {
            let (Some(key), Some(group)) = (keys.get(row), groups.get(row)) else {
                continue;
            };
            if let Some(col) = &verdicts {
                let Some(v) = verdict_at(name, col, row)? else {
                    continue;
                };
                self.verdicts.push(verdict_code(v));
            } else if let Some(col) = scores {
                if col.is_null(row) {
                    continue;
                }
                let x = col.value(row);
                if !x.is_finite() {
                    return exec_err!("{name}: score must be a finite number, got {x}");
                }
                self.scores.push(x);
            }
            self.key_ids.push(self.keys.intern(key)?);
            self.group_ids.push(self.groups.intern(group)?);
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        if self.key_ids.is_empty() {
            return ScalarValue::try_from(&self.return_type);
        }
        match self.function {
            JudgeFunction::PositionConsistency => self.evaluate_position(),
            JudgeFunction::VerdictFlip => self.evaluate_flips(),
            _ => self.evaluate_rank_aggregate(),
        }
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self.keys.heap_size()
            + self.groups.heap_size()
            + self.key_ids.capacity() * 4
            + self.group_ids.capacity() * 4
            + self.verdicts.capacity()
            + self.scores.capacity() * 8
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let last: ArrayRef = if self.function.takes_verdicts() {
            Arc::new(UInt8Array::from(self.verdicts.clone()))
        } else {
            Arc::new(Float64Array::from(self.scores.clone()))
        };
        Ok(vec![
            wrap(self.keys.to_array()),
            wrap(self.groups.to_array()),
            wrap(Arc::new(UInt32Array::from(self.key_ids.clone()))),
            wrap(Arc::new(UInt32Array::from(self.group_ids.clone()))),
            wrap(last),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        for row in StateRows::new(self.function.name(), states, 5)?.rows() {
            let key_map = self.keys.intern_array(&row.list(0)?)?;
            let group_map = self.groups.intern_array(&row.list(1)?)?;
            let (k, g) = (row.ids(2, &key_map)?, row.ids(3, &group_map)?);
            if self.function.takes_verdicts() {
                let verdicts = row.values::<UInt8Type>(4)?;
                row.same_length(&[k.len(), g.len(), verdicts.len()])?;
                self.verdicts.extend_from_slice(verdicts.values());
            } else {
                let scores = row.values::<Float64Type>(4)?;
                row.same_length(&[k.len(), g.len(), scores.len()])?;
                self.scores.extend_from_slice(scores.values());
            }
            self.key_ids.extend(k);
            self.group_ids.extend(g);
        }
        Ok(())
    }
}

#[derive(Debug)]
struct ScoreComparisonAccumulator {
    counts: ScoreComparison,
}

impl Accumulator for ScoreComparisonAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let name = JudgeFunction::ScoreComparison.name();
        let a = values[0].as_primitive::<Float64Type>();
        let b = values[1].as_primitive::<Float64Type>();
        let verdicts = VerdictColumn::new(&values[2])?;
        for row in 0..a.len() {
            if a.is_null(row) || b.is_null(row) {
                continue;
            }
            let Some(v) = verdict_at(name, &verdicts, row)? else {
                continue;
            };
            let diff = a.value(row) - b.value(row);
            if !diff.is_finite() {
                return exec_err!(
                    "{name}: scores must be finite numbers, got {} and {}",
                    a.value(row),
                    b.value(row)
                );
            }
            let score_a = match v {
                Verdict::First => 1.0,
                Verdict::Second => 0.0,
                Verdict::Tie => 0.5,
            };
            self.counts.add(diff, score_a);
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let c = self.counts;
        let rate = |k: u64| (c.pairs > 0).then(|| k as f64 / c.pairs as f64);
        if c.pairs == 0 {
            return Ok(ScalarValue::Struct(Arc::new(StructArray::new_null(
                score_comparison_fields(),
                1,
            ))));
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Float64Array::from(vec![rate(c.conflicts)])),
            Arc::new(Float64Array::from(vec![rate(c.mismatches)])),
            Arc::new(Int64Array::from(vec![c.pairs as i64])),
        ];
        Ok(ScalarValue::Struct(Arc::new(StructArray::try_new(
            score_comparison_fields(),
            columns,
            None,
        )?)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let c = self.counts;
        Ok([c.pairs, c.conflicts, c.mismatches]
            .into_iter()
            .map(|v| ScalarValue::Int64(Some(v as i64)))
            .collect())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let name = JudgeFunction::ScoreComparison.name();
        let [pairs, conflicts, mismatches] = scalar_states::<Int64Type, 3>(name, states)?;
        for row in 0..pairs.len() {
            if pairs.is_null(row) {
                continue;
            }
            let count = |c: &Int64Array| match c.is_valid(row) && c.value(row) >= 0 {
                true => Ok(c.value(row) as u64),
                false => Err(corrupt(name, "a NULL or negative count")),
            };
            self.counts.merge(&ScoreComparison {
                pairs: count(pairs)?,
                conflicts: count(conflicts)?,
                mismatches: count(mismatches)?,
            });
        }
        Ok(())
    }
}

const LEVELS: &str = "'A++', 'A+', 'A=B' (or 'tie'), 'B+', 'B++' (case-insensitive), or the rewards 1, 0.5, 0, -0.5, -1";

fn five_level(function: &str, column: &VerdictColumn, row: usize) -> Result<Option<FiveLevel>> {
    match column {
        VerdictColumn::Text(col) => match col.get(row) {
            None => Ok(None),
            Some(ItemRef::Text(s)) => {
                let t = s.trim().to_ascii_uppercase();
                Ok(Some(match t.as_str() {
                    "A++" | "A>>B" => FiveLevel::MuchBetterA,
                    "A+" | "A>B" => FiveLevel::SlightlyBetterA,
                    "A=B" | "B=A" | "TIE" => FiveLevel::Tie,
                    "B+" | "B>A" => FiveLevel::SlightlyBetterB,
                    "B++" | "B>>A" => FiveLevel::MuchBetterB,
                    _ => return exec_err!("{function}: unknown outcome '{s}' (expected {LEVELS})"),
                }))
            }
            Some(ItemRef::Integer(_)) => exec_err!("internal error: integer outcome"),
        },
        VerdictColumn::Number(col) => {
            if col.is_null(row) {
                return Ok(None);
            }
            Ok(Some(match col.value(row) {
                1.0 => FiveLevel::MuchBetterA,
                0.5 => FiveLevel::SlightlyBetterA,
                0.0 => FiveLevel::Tie,
                -0.5 => FiveLevel::SlightlyBetterB,
                -1.0 => FiveLevel::MuchBetterB,
                x => return exec_err!("{function}: unknown outcome {x} (expected {LEVELS})"),
            }))
        }
    }
}

#[derive(Debug)]
struct WbRewardAccumulator {
    k: f64,
    sum: f64,
    count: i64,
}

impl Accumulator for WbRewardAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        read_rewards(
            values,
            self.k,
            |_| true,
            |_, reward| {
                self.sum += reward;
                self.count += 1;
            },
        )
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Float64(
            (self.count > 0).then(|| self.sum / self.count as f64),
        ))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![
            ScalarValue::Float64(Some(self.sum)),
            ScalarValue::Int64(Some(self.count)),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let name = JudgeFunction::WbReward.name();
        let ([sums], [counts]) = (
            scalar_states::<Float64Type, 1>(name, &states[..1])?,
            scalar_states::<Int64Type, 1>(name, &states[1..])?,
        );
        for row in 0..sums.len() {
            if sums.is_null(row) {
                continue;
            }
            if counts.is_null(row) || counts.value(row) < 0 || !sums.value(row).is_finite() {
                return Err(corrupt(
                    name,
                    "a NULL or negative count, or an infinite sum",
                ));
            }
            self.sum += sums.value(row);
            self.count = self
                .count
                .checked_add(counts.value(row))
                .ok_or_else(|| corrupt(name, "counts past the largest integer"))?;
        }
        Ok(())
    }
}

/// Reads `wb_reward`'s rows: for each row `take(row)` accepts with an outcome and both
/// lengths, calls `add(row, reward)`; a length that is negative or not finite is an error.
fn read_rewards(
    values: &[ArrayRef],
    k: f64,
    mut take: impl FnMut(usize) -> bool,
    mut add: impl FnMut(usize, f64),
) -> Result<()> {
    let name = JudgeFunction::WbReward.name();
    let outcomes = VerdictColumn::new(&values[0])?;
    let len_a = values[1].as_primitive::<Float64Type>();
    let len_b = values[2].as_primitive::<Float64Type>();
    for row in 0..len_a.len() {
        if !take(row) {
            continue;
        }
        let Some(level) = five_level(name, &outcomes, row)? else {
            continue;
        };
        if len_a.is_null(row) || len_b.is_null(row) {
            continue;
        }
        let (la, lb) = (len_a.value(row), len_b.value(row));
        if !(la.is_finite() && lb.is_finite() && la >= 0.0 && lb >= 0.0) {
            return exec_err!("{name}: lengths must be finite numbers >= 0, got {la} and {lb}");
        }
        add(row, wildbench_reward(level, la, lb, k));
    }
    Ok(())
}

/// `wb_reward` under `GROUP BY`: every group's (sum, count) side by side.
#[derive(Debug)]
struct WbRewardGroups {
    k: f64,
    sums: Vec<f64>,
    counts: Vec<i64>,
}

impl WbRewardGroups {
    fn take(&mut self, emit_to: EmitTo) -> (Vec<f64>, Vec<i64>) {
        (
            emit_to.take_needed(&mut self.sums),
            emit_to.take_needed(&mut self.counts),
        )
    }
}

impl GroupsAccumulator for WbRewardGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.sums.resize(total_num_groups, 0.0);
        self.counts.resize(total_num_groups, 0);
        let (sums, counts) = (&mut self.sums, &mut self.counts);
        read_rewards(
            values,
            self.k,
            |row| opt_filter.is_none_or(|f| f.is_valid(row) && f.value(row)),
            |row, reward| {
                sums[group_indices[row]] += reward;
                counts[group_indices[row]] += 1;
            },
        )
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let (sums, counts) = self.take(emit_to);
        Ok(Arc::new(
            sums.iter()
                .zip(&counts)
                .map(|(&s, &n)| (n > 0).then(|| s / n as f64))
                .collect::<Float64Array>(),
        ))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let (sums, counts) = self.take(emit_to);
        Ok(vec![
            Arc::new(Float64Array::from(sums)),
            Arc::new(Int64Array::from(counts)),
        ])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.sums.resize(total_num_groups, 0.0);
        self.counts.resize(total_num_groups, 0);
        let name = JudgeFunction::WbReward.name();
        let ([sums], [counts]) = (
            scalar_states::<Float64Type, 1>(name, &values[..1])?,
            scalar_states::<Int64Type, 1>(name, &values[1..])?,
        );
        if sums.len() != group_indices.len() {
            return Err(corrupt(name, "more state rows than group indices"));
        }
        for (row, &g) in group_indices.iter().enumerate() {
            if sums.is_null(row) {
                continue;
            }
            if counts.is_null(row) || counts.value(row) < 0 || !sums.value(row).is_finite() {
                return Err(corrupt(
                    name,
                    "a NULL or negative count, or an infinite sum",
                ));
            }
            self.sums[g] += sums.value(row);
            self.counts[g] = self.counts[g]
                .checked_add(counts.value(row))
                .ok_or_else(|| corrupt(name, "counts past the largest integer"))?;
        }
        Ok(())
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let fresh = WbRewardGroups {
            k: self.k,
            sums: Vec::new(),
            counts: Vec::new(),
        };
        crate::state::each_row_as_a_group(fresh, values, opt_filter)
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.sums.capacity() * 8 + self.counts.capacity() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_config(f: JudgeFunction, text: Option<&str>) -> Result<JudgeConfig> {
        f.configure(&Options::parse(f.spec(), text)?)
    }

    #[test]
    fn options_are_checked() {
        let c = parse_config(JudgeFunction::RankAggregate, Some("method=Borda")).unwrap();
        assert_eq!(c.rule, RankRule::Borda);
        let e = parse_config(JudgeFunction::WbReward, Some("k=-1")).unwrap_err();
        assert!(e
            .to_string()
            .contains("wb_reward: option 'k' must be a number of characters >= 0"));
        let e = parse_config(JudgeFunction::PositionConsistency, Some("k=1")).unwrap_err();
        assert!(e.to_string().contains("takes no options"));
    }
}

/// `N` scalar state columns of type `T` and equal length.
fn scalar_states<'a, T: ArrowPrimitiveType, const N: usize>(
    name: &str,
    states: &'a [ArrayRef],
) -> Result<[&'a PrimitiveArray<T>; N]> {
    let columns = states
        .iter()
        .map(|s| s.as_primitive_opt::<T>())
        .collect::<Option<Vec<_>>>()
        .filter(|c| c.len() == N && c.iter().all(|a| a.len() == c[0].len()))
        .ok_or_else(|| corrupt(name, format!("expected {N} {} columns", T::DATA_TYPE)))?;
    Ok(std::array::from_fn(|i| columns[i]))
}
