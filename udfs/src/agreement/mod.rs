//! Inter-rater agreement: `percent_agreement`, `fleiss_kappa`, `krippendorff_alpha`,
//! `gwet_ac1`, `gwet_ac2` (long form: one row per rating) and `cohen_kappa`, `scott_pi`
//! (wide form: one row per item, one column per rater).
//!
//! Long-form state: the ratings as (item, rater, value) ids with their dictionaries, or for
//! `fleiss_kappa`, which has no rater column, (item, value) counts. States merge by union
//! (or by adding counts); a rater who gives one item two different values is an error rather
//! than a silent double count. Wide-form state: the confusion counts per (value 1, value 2).
//! Every statistic is computed once, in `evaluate`, by the kernels in
//! `prefdb_stats::agreement`.

use crate::items::{ItemColumn, ItemInterner, ItemKind};
use crate::memory::{bytes_of, MemoryBudget, Workspace};
use crate::spec::aggregate::{Call, Family, PrefdbAggregate};
use crate::spec::is_text;
use crate::spec::{struct_fields, FunctionSpec, Options};
use crate::state::{list_fields, StateRow, StateRows};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, StructArray, UInt32Array};
use datafusion::arrow::buffer::ScalarBuffer;
use datafusion::arrow::datatypes::{
    DataType, FieldRef, Fields, Float64Type, Int64Type, UInt32Type, UInt64Type,
};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{
    exec_datafusion_err, exec_err, internal_err, plan_err, DataFusionError, HashMap, Result,
    ScalarValue,
};
use datafusion::logical_expr::{Accumulator, AggregateUDF, GroupsAccumulator};
use prefdb_stats::agreement::tally::{
    tally_coincidences, RaterConflict, TallyInput, MAX_TALLY_CATEGORIES,
};
use prefdb_stats::agreement::{
    agreement_weights, alpha_from_coincidences, alpha_interval, cohen_interval, cohen_kappa,
    fleiss_kappa, gwet_ac, icc, krippendorff_alpha, percent_agreement, scott_pi, BootstrapSpec,
    FleissError, IccForm, Interval, Level, Weighting,
};
use std::sync::Arc;

mod groups;
pub(crate) mod spec;

/// Which statistic an instance computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AgreementFunction {
    PercentAgreement,
    FleissKappa,
    KrippendorffAlpha,
    GwetAc1,
    GwetAc2,
    CohenKappa,
    ScottPi,
    Icc,
    KrippendorffAlphaCi,
    CohenKappaCi,
}

/// Settings parsed from the options literal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AgreementConfig {
    level: Level,
    weighting: Weighting,
    form: IccForm,
    confidence: f64,
    bootstrap: BootstrapSpec,
}

/// The fields of the `_ci` functions' result.
impl AgreementFunction {
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The point statistic a `_ci` function brackets; itself otherwise.
    fn base(self) -> AgreementFunction {
        match self {
            AgreementFunction::KrippendorffAlphaCi => AgreementFunction::KrippendorffAlpha,
            AgreementFunction::CohenKappaCi => AgreementFunction::CohenKappa,
            other => other,
        }
    }

    fn is_wide(self) -> bool {
        matches!(
            self.base(),
            AgreementFunction::CohenKappa | AgreementFunction::ScottPi
        )
    }

    fn has_rater(self) -> bool {
        !self.is_wide() && self != AgreementFunction::FleissKappa
    }

    /// Index of the label (value) argument in the long form.
    fn label_arg(self) -> usize {
        self.spec().args.len() - 1
    }

    /// Interval and ratio differences need numbers; text labels support the nominal and
    /// ordinal levels (lexicographic order) and rank-based weights.
    fn check_value_type(self, config: AgreementConfig, value_type: &DataType) -> Result<()> {
        if self == AgreementFunction::Icc && is_text(value_type) {
            return plan_err!("icc: score must be numeric, got {value_type}");
        }
        if self.base() == AgreementFunction::KrippendorffAlpha
            && is_text(value_type)
            && matches!(config.level, Level::Interval | Level::Ratio)
        {
            let level = if config.level == Level::Interval {
                "interval"
            } else {
                "ratio"
            };
            return plan_err!(
                "krippendorff_alpha: level={level} needs numeric values, got {value_type}; use level=nominal or level=ordinal for text labels"
            );
        }
        Ok(())
    }
}

/// All agreement functions, in documentation order.
pub fn agreement_udafs(budget: &MemoryBudget) -> Vec<AggregateUDF> {
    [
        AgreementFunction::PercentAgreement,
        AgreementFunction::CohenKappa,
        AgreementFunction::ScottPi,
        AgreementFunction::FleissKappa,
        AgreementFunction::KrippendorffAlpha,
        AgreementFunction::GwetAc1,
        AgreementFunction::GwetAc2,
        AgreementFunction::Icc,
        AgreementFunction::KrippendorffAlphaCi,
        AgreementFunction::CohenKappaCi,
    ]
    .into_iter()
    .map(|f| PrefdbAggregate::udaf(f, budget))
    .collect()
}

/// What a long-form accumulator is made from: one per call, or one per group.
#[derive(Debug, Clone)]
pub(crate) struct LongForm {
    function: AgreementFunction,
    config: AgreementConfig,
    items: ItemKind,
    raters: ItemKind,
    text_values: bool,
    budget: MemoryBudget,
}

impl LongForm {
    /// An empty accumulator.
    pub(crate) fn fresh(&self) -> RatingsAccumulator {
        RatingsAccumulator {
            function: self.function,
            config: self.config,
            items: ItemInterner::new(self.items),
            raters: ItemInterner::new(self.raters),
            values: ValueDictionary::new(self.text_values),
            ratings: Ratings::default(),
            counts: Vec::new(),
            budget: self.budget.clone(),
        }
    }

    pub(crate) fn function(&self) -> AgreementFunction {
        self.function
    }
}

impl LongForm {
    /// The long-form accumulator settings of a call.
    fn of(f: AgreementFunction, call: &Call<'_, AgreementConfig>) -> Result<Self> {
        let kind = |i: usize| ItemKind::of(f.name(), "item", call.data_type(i));
        Ok(LongForm {
            function: f,
            config: *call.config,
            items: kind(0)?,
            raters: if f.has_rater() {
                kind(1)?
            } else {
                ItemKind::Text
            },
            text_values: is_text(call.data_type(f.label_arg())),
            budget: call.budget.clone(),
        })
    }
}

impl Family for AgreementFunction {
    type Config = AgreementConfig;

    fn spec(&self) -> &'static FunctionSpec {
        spec::SPECS[*self as usize]
    }

    /// Each function reads the keys it declares; the others keep neutral values.
    fn configure(&self, o: &Options) -> Result<AgreementConfig> {
        let confidence = o.number("confidence").unwrap_or_default();
        Ok(AgreementConfig {
            level: match o.choice("level") {
                Some("ordinal") => Level::Ordinal,
                Some("interval") => Level::Interval,
                Some("ratio") => Level::Ratio,
                _ => Level::Nominal,
            },
            weighting: match o.choice("weights") {
                Some("linear") => Weighting::Linear,
                Some("quadratic") => Weighting::Quadratic,
                _ => Weighting::Identity,
            },
            form: match o.choice("form") {
                Some("icc1") => IccForm::Icc1,
                Some("icc3") => IccForm::Icc3,
                Some("icc1k") => IccForm::Icc1k,
                Some("icc2k") => IccForm::Icc2k,
                Some("icc3k") => IccForm::Icc3k,
                _ => IccForm::Icc2,
            },
            confidence,
            bootstrap: BootstrapSpec {
                replicates: o.count("bootstrap").unwrap_or_default(),
                seed: o.integer("seed").unwrap_or_default(),
                confidence,
            },
        })
    }

    /// The wide form's two labels are one kind; an untyped NULL takes the other's type.
    fn coerce(&self, types: &[DataType]) -> Result<Vec<DataType>> {
        let mut coerced = self.spec().coerce(types)?;
        if self.is_wide() {
            if types[0] == DataType::Null {
                coerced[0] = coerced[1].clone();
            }
            if types[1] == DataType::Null {
                coerced[1] = coerced[0].clone();
            }
            if is_text(&coerced[0]) != is_text(&coerced[1]) {
                return plan_err!(
                    "{}: label_1 and label_2 must both be numbers or both text, got {} and {}",
                    self.name(),
                    types[0],
                    types[1]
                );
            }
        }
        Ok(coerced)
    }

    fn check_types(&self, config: &AgreementConfig, data: &[DataType]) -> Result<()> {
        match data.get(self.label_arg()) {
            Some(t) => self.check_value_type(*config, t),
            None => Ok(()),
        }
    }

    fn state_fields(&self, name: &str, args: &[FieldRef]) -> Result<Vec<FieldRef>> {
        let f = *self;
        let value = if is_text(args[f.label_arg()].data_type()) {
            DataType::Utf8
        } else {
            DataType::Float64
        };
        if f.is_wide() {
            return Ok(list_fields(
                name,
                vec![
                    ("values", value),
                    ("value_1", DataType::UInt32),
                    ("value_2", DataType::UInt32),
                    ("count", DataType::Float64),
                ],
            ));
        }
        let kind = |i: usize| -> Result<DataType> {
            Ok(ItemKind::of(f.name(), "item", args[i].data_type())?.output_type())
        };
        let rater = if f.has_rater() {
            kind(1)?
        } else {
            DataType::Utf8
        };
        Ok(list_fields(
            name,
            vec![
                ("items", kind(0)?),
                ("raters", rater),
                ("values", value),
                ("item_ids", DataType::UInt32),
                ("rater_ids", DataType::UInt32),
                ("value_ids", DataType::UInt32),
                ("counts", DataType::Float64),
            ],
        ))
    }

    fn accumulator(&self, call: &Call<'_, AgreementConfig>) -> Result<Box<dyn Accumulator>> {
        let f = *self;
        if f.is_wide() {
            return Ok(Box::new(PairAccumulator {
                function: f,
                config: *call.config,
                values: ValueDictionary::new(is_text(call.data_type(f.label_arg()))),
                confusion: HashMap::default(),
                budget: call.budget.clone(),
            }));
        }
        Ok(Box::new(LongForm::of(f, call)?.fresh()))
    }

    /// The long-form functions keep every group's ratings in one accumulator.
    fn grouped(&self, _config: &AgreementConfig) -> bool {
        !self.is_wide()
    }

    fn groups_accumulator(
        &self,
        call: &Call<'_, AgreementConfig>,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(groups::RatingsGroups::new(
            LongForm::of(*self, call)?,
            call.return_type(),
        )))
    }
}

/// The fields of the `_ci` functions' result.
pub fn interval_fields() -> Fields {
    struct_fields(spec::INTERVAL_FIELDS, &DataType::Utf8)
}

/// The fields of `icc`'s result.
pub fn icc_fields() -> Fields {
    struct_fields(spec::ICC_FIELDS, &DataType::Utf8)
}

/// Distinct rating values: text labels or numbers.
#[derive(Debug)]
enum ValueDictionary {
    Text(ItemInterner),
    Number {
        ids: HashMap<u64, u32>,
        values: Vec<f64>,
    },
}

impl ValueDictionary {
    fn new(text: bool) -> Self {
        if text {
            ValueDictionary::Text(ItemInterner::new(ItemKind::Text))
        } else {
            ValueDictionary::Number {
                ids: HashMap::default(),
                values: Vec::new(),
            }
        }
    }

    #[inline]
    fn intern_number(ids: &mut HashMap<u64, u32>, values: &mut Vec<f64>, v: f64) -> u32 {
        // -0.0 and 0.0 are one value.
        let v = if v == 0.0 { 0.0 } else { v };
        // Rating scales are short: a linear scan beats hashing.
        if values.len() <= 12 {
            if let Some(id) = values.iter().position(|&x| x == v) {
                return id as u32;
            }
        }
        *ids.entry(v.to_bits()).or_insert_with(|| {
            values.push(v);
            (values.len() - 1) as u32
        })
    }

    /// Ids for every value of a state's value list.
    fn intern_all(&mut self, array: &ArrayRef) -> Result<Vec<u32>> {
        match (self, array.data_type()) {
            (ValueDictionary::Number { ids, values }, DataType::Float64) => array
                .as_primitive::<Float64Type>()
                .iter()
                .map(|v| match v {
                    Some(v) if !v.is_nan() => Ok(ValueDictionary::intern_number(ids, values, v)),
                    _ => exec_err!("internal error: NULL or NaN value in a partial state"),
                })
                .collect(),
            (ValueDictionary::Text(dict), _) => dict.intern_array(array),
            _ => exec_err!("internal error: value state type mismatch"),
        }
    }

    fn len(&self) -> usize {
        match self {
            ValueDictionary::Text(t) => t.len(),
            ValueDictionary::Number { values, .. } => values.len(),
        }
    }

    /// Bytes held: text labels with their text, numbers with their hash index.
    fn heap_size(&self) -> usize {
        match self {
            ValueDictionary::Text(t) => t.heap_size(),
            ValueDictionary::Number { ids, values } => values.capacity() * 8 + ids.capacity() * 16,
        }
    }

    fn to_array(&self) -> ArrayRef {
        self.take(0..self.len())
    }

    /// The values of `ids`, in that order.
    fn take(&self, ids: impl Iterator<Item = usize>) -> ArrayRef {
        match self {
            ValueDictionary::Text(t) => t.take(ids),
            ValueDictionary::Number { values, .. } => {
                Arc::new(Float64Array::from_iter_values(ids.map(|i| values[i])))
            }
        }
    }

    /// Category numbering in ascending value order, and the numeric value of each category
    /// (text labels get their rank, which only nominal and ordinal use).
    fn sorted(&self) -> (Vec<usize>, Vec<f64>) {
        self.sorted_subset(&(0..self.len()).collect::<Vec<_>>())
    }

    /// [`ValueDictionary::sorted`] for the values `ids` alone (distinct ids of this
    /// dictionary): `category[k]` is the category of `ids[k]`.
    fn sorted_subset(&self, ids: &[usize]) -> (Vec<usize>, Vec<f64>) {
        let n = ids.len();
        let mut order: Vec<usize> = (0..n).collect();
        match self {
            ValueDictionary::Text(t) => order.sort_by(|&a, &b| t.cmp(ids[a], ids[b])),
            ValueDictionary::Number { values, .. } => {
                order.sort_by(|&a, &b| values[ids[a]].total_cmp(&values[ids[b]]))
            }
        }
        let mut category = vec![0; n];
        for (rank, &k) in order.iter().enumerate() {
            category[k] = rank;
        }
        let numbers = match self {
            ValueDictionary::Text(_) => (0..n).map(|r| r as f64).collect(),
            ValueDictionary::Number { values, .. } => {
                order.iter().map(|&k| values[ids[k]]).collect()
            }
        };
        (category, numbers)
    }
}

/// Row access to a value column.
enum ValueColumn<'a> {
    Text(ItemColumn<'a>),
    Number(Float64Array),
}

/// Integers up to this magnitude are exact as doubles, so distinct labels stay distinct.
const EXACT_DOUBLE_INTEGER: u64 = 1 << 53;

impl<'a> ValueColumn<'a> {
    fn new(function: &str, array: &'a ArrayRef) -> Result<Self> {
        let beyond = |v: String| {
            exec_err!(
                "{function}: the integer label {v} is beyond 2^53, where distinct labels could be read as one number; cast the labels to text (CAST(label AS VARCHAR))"
            )
        };
        Ok(match array.data_type() {
            DataType::Float64 => ValueColumn::Number(array.as_primitive::<Float64Type>().clone()),
            DataType::Int64 => {
                let a = array.as_primitive::<Int64Type>();
                if let Some(v) = a
                    .iter()
                    .flatten()
                    .find(|v| v.unsigned_abs() > EXACT_DOUBLE_INTEGER)
                {
                    return beyond(v.to_string());
                }
                ValueColumn::Number(a.unary(|v| v as f64))
            }
            DataType::UInt64 => {
                let a = array.as_primitive::<UInt64Type>();
                if let Some(v) = a.iter().flatten().find(|&v| v > EXACT_DOUBLE_INTEGER) {
                    return beyond(v.to_string());
                }
                ValueColumn::Number(a.unary(|v| v as f64))
            }
            _ => ValueColumn::Text(ItemColumn::new(array)?),
        })
    }

    /// The value id of `row`, `None` for NULL.
    fn intern(
        &self,
        row: usize,
        dict: &mut ValueDictionary,
        function: &str,
    ) -> Result<Option<u32>> {
        match (self, dict) {
            (ValueColumn::Number(a), ValueDictionary::Number { ids, values }) => {
                if a.is_null(row) {
                    return Ok(None);
                }
                let v = a.value(row);
                if !v.is_finite() {
                    return exec_err!("{function}: a rating must be a finite number, got {v}");
                }
                Ok(Some(ValueDictionary::intern_number(ids, values, v)))
            }
            (ValueColumn::Text(a), ValueDictionary::Text(dict)) => match a.get(row) {
                None => Ok(None),
                Some(label) => dict.intern(label).map(Some),
            },
            _ => exec_err!("internal error: value column and state disagree"),
        }
    }
}

/// (item, rater, value) ids of every rating, as three columns so that the partial state
/// can hand them to Arrow without copying.
#[derive(Debug, Default)]
struct Ratings {
    item: Vec<u32>,
    rater: Vec<u32>,
    value: Vec<u32>,
    /// The columns of a partial state that `merge_batch` adopted without copying, because
    /// it arrived first and kept its ids: the usual case for a final aggregate over one
    /// busy partition. While set, the vectors are empty; [`Ratings::reserve`] copies the
    /// columns out before anything is added.
    shared: Option<[ScalarBuffer<u32>; 3]>,
}

impl Ratings {
    /// The item, rater and value columns.
    fn columns(&self) -> [&[u32]; 3] {
        match &self.shared {
            Some([item, rater, value]) => [item, rater, value],
            None => [&self.item, &self.rater, &self.value],
        }
    }

    fn push(&mut self, item: u32, rater: u32, value: u32) {
        debug_assert!(self.shared.is_none(), "push before reserve");
        self.item.push(item);
        self.rater.push(rater);
        self.value.push(value);
    }

    fn len(&self) -> usize {
        self.columns()[0].len()
    }

    /// Room for `n` more ratings. Every path that pushes calls this first.
    fn reserve(&mut self, n: usize) {
        if let Some([item, rater, value]) = self.shared.take() {
            self.item = item.to_vec();
            self.rater = rater.to_vec();
            self.value = value.to_vec();
        }
        self.item.reserve(n);
        self.rater.reserve(n);
        self.value.reserve(n);
    }

    /// The item, rater and value columns, leaving `self` empty.
    fn take_vecs(&mut self) -> [Vec<u32>; 3] {
        match self.shared.take() {
            Some(columns) => columns.map(|c| c.to_vec()),
            None => [
                std::mem::take(&mut self.item),
                std::mem::take(&mut self.rater),
                std::mem::take(&mut self.value),
            ],
        }
    }

    /// Keep a state's columns as they are; only into an empty `Ratings`.
    fn adopt(&mut self, item: &UInt32Array, rater: &UInt32Array, value: &UInt32Array) {
        debug_assert!(self.len() == 0);
        self.shared = Some([
            item.values().clone(),
            rater.values().clone(),
            value.values().clone(),
        ]);
    }

    /// The columns as arrays, leaving `self` empty: moved, not copied.
    fn take_arrays(&mut self) -> [ArrayRef; 3] {
        let columns = match self.shared.take() {
            Some(columns) => columns,
            None => [
                std::mem::take(&mut self.item).into(),
                std::mem::take(&mut self.rater).into(),
                std::mem::take(&mut self.value).into(),
            ],
        };
        columns.map(|c| Arc::new(UInt32Array::new(c, None)) as ArrayRef)
    }

    fn iter(&self) -> impl Iterator<Item = (u32, u32, u32)> + '_ {
        let [item, rater, value] = self.columns();
        (0..item.len()).map(move |i| (item[i], rater[i], value[i]))
    }

    fn heap_size(&self) -> usize {
        // A shared column may be a slice of a larger state batch (GROUP BY merges): count
        // the slice, which is what this accumulator keeps alive on its own account.
        let shared: usize = self.shared.iter().flatten().map(|c| c.len() * 4).sum();
        (self.item.capacity() + self.rater.capacity() + self.value.capacity()) * 4 + shared
    }
}

/// Long-form ratings.
#[derive(Debug)]
pub(crate) struct RatingsAccumulator {
    function: AgreementFunction,
    config: AgreementConfig,
    budget: MemoryBudget,
    items: ItemInterner,
    raters: ItemInterner,
    values: ValueDictionary,
    /// Every rating as (item, rater, value) ids, appended as it comes; rater is 0 for
    /// `fleiss_kappa`, which has no rater column. Grouping by item, and the check that no
    /// rater rated an item twice, happen once in `evaluate` by a counting sort on item ids,
    /// so the per-row work is three dictionary lookups and a push.
    ratings: Ratings,
    /// For `fleiss_kappa` only: the count of each entry of `ratings` (merged states carry
    /// counts). Empty means every count is 1.
    counts: Vec<f64>,
}

impl RatingsAccumulator {
    fn record(&mut self, item: u32, rater: u32, value: u32) {
        self.ratings.push(item, rater, value);
    }

    fn add_count(&mut self, item: u32, value: u32, n: f64) {
        if self.counts.len() < self.ratings.len() {
            self.counts.resize(self.ratings.len(), 1.0);
        }
        self.ratings.push(item, 0, value);
        self.counts.push(n);
    }

    fn count(&self, i: usize) -> f64 {
        self.counts.get(i).copied().unwrap_or(1.0)
    }

    /// The ratings grouped by item in value order (a counting sort), one entry per rater, or
    /// for `fleiss_kappa` per value with summed counts. Returns the group offsets and the
    /// entries as (rater, value, count). A rater who gave an item two different values is
    /// an error; the same value twice counts once.
    #[allow(clippy::type_complexity)]
    fn grouped(&self) -> Result<(Vec<usize>, Vec<(u32, u32, f64)>)> {
        let position = self.items.value_positions();
        let n = position.len();
        let mut offsets = vec![0usize; n + 1];
        for r in self.ratings.iter() {
            offsets[position[r.0 as usize] + 1] += 1;
        }
        for i in 0..n {
            offsets[i + 1] += offsets[i];
        }
        let mut cursor = offsets.clone();
        let mut sorted = vec![(0u32, 0u32, 0.0f64); self.ratings.len()];
        for (i, r) in self.ratings.iter().enumerate() {
            let p = position[r.0 as usize];
            sorted[cursor[p]] = (r.1, r.2, self.count(i));
            cursor[p] += 1;
        }
        let by_rater = self.function.has_rater();
        let mut out_offsets = Vec::with_capacity(n + 1);
        let mut out: Vec<(u32, u32, f64)> = Vec::with_capacity(sorted.len());
        out_offsets.push(0);
        for p in 0..n {
            let group = &mut sorted[offsets[p]..offsets[p + 1]];
            if by_rater {
                group.sort_unstable_by_key(|r| (r.0, r.1));
            } else {
                group.sort_unstable_by_key(|r| r.1);
            }
            let start = out.len();
            for &r in group.iter() {
                match out[start..].last_mut() {
                    Some(last) if by_rater && last.0 == r.0 => {
                        if last.1 != r.1 {
                            let item = (0..n).find(|&id| position[id] == p).unwrap_or(0);
                            let rater = r.0 as usize;
                            let f = self.function;
                            return Err(rater_conflict(f, &self.items, item, &self.raters, rater));
                        }
                    }
                    Some(last) if !by_rater && last.1 == r.1 => last.2 += r.2,
                    _ => out.push(r),
                }
            }
            out_offsets.push(out.len());
        }
        Ok((out_offsets, out))
    }

    /// Per-item sparse (category, count) lists, items and categories in value order, so the
    /// result does not depend on the order rows and partial states arrived in.
    #[allow(clippy::type_complexity)]
    fn units(&self) -> Result<(Vec<f64>, Vec<Vec<(usize, f64)>>)> {
        let (category, numbers) = self.values.sorted();
        let (offsets, entries) = self.grouped()?;
        let units = offsets
            .windows(2)
            .map(|w| {
                let mut unit: Vec<(usize, f64)> = Vec::with_capacity(w[1] - w[0]);
                for &(_, value, n) in &entries[w[0]..w[1]] {
                    let c = category[value as usize];
                    match unit.iter_mut().find(|(k, _)| *k == c) {
                        Some((_, count)) => *count += n,
                        None => unit.push((c, n)),
                    }
                }
                unit.sort_unstable_by_key(|&(c, _)| c);
                unit
            })
            .collect();
        Ok((numbers, units))
    }
}

/// The most distinct values the agreement statistics take: they build values × values
/// matrices (coincidences, agreement weights, a confusion matrix), 128 MB at this size.
pub(crate) const MAX_DISTINCT_VALUES: usize = 4096;
/// The most cells of the items × values table that Fleiss' kappa, percent agreement and
/// Gwet's AC build.
const MAX_TABLE_CELLS: usize = 50_000_000;

/// A cancelled statement's error.
fn interrupted(e: prefdb_stats::interrupt::Interrupted) -> DataFusionError {
    DataFusionError::Execution(e.to_string())
}

/// The most work a bootstrap interval may take: replicates × values², each replicate
/// rebuilding a values × values matrix.
const MAX_BOOTSTRAP_WORK: usize = 2_000_000_000;

/// Refuse a bootstrap whose replicates × values² exceeds [`MAX_BOOTSTRAP_WORK`].
fn check_bootstrap_work(function: &str, replicates: usize, values: usize) -> Result<()> {
    let work = replicates.saturating_mul(values).saturating_mul(values);
    if work > MAX_BOOTSTRAP_WORK {
        return exec_err!(
            "{function}: bootstrap={replicates} over {values} distinct values needs replicates × values² = {work} steps, more than the {MAX_BOOTSTRAP_WORK} supported; use fewer replicates or fewer distinct values"
        );
    }
    Ok(())
}

/// Refuse data with more distinct values, or a larger items × values table, than the
/// statistics are built for.
fn check_value_count(function: &str, values: usize, items: usize) -> Result<()> {
    if values > MAX_DISTINCT_VALUES {
        return exec_err!(
            "{function}: the ratings take {values} distinct values, and at most {MAX_DISTINCT_VALUES} are supported (the statistic builds a values × values matrix); round continuous ratings, e.g. round(score, 2)"
        );
    }
    if values.saturating_mul(items) > MAX_TABLE_CELLS {
        return exec_err!(
            "{function}: {items} items × {values} distinct values exceed the {MAX_TABLE_CELLS} cells supported; use fewer distinct values"
        );
    }
    Ok(())
}

/// Reserves what a statistic over `q` distinct values and `items` items builds: values ×
/// values matrices (coincidences, weights, confusion), the items × values table, and per
/// bootstrap thread a matrix of its own.
fn value_workspace(
    budget: &MemoryBudget,
    function: AgreementFunction,
    config: &AgreementConfig,
    q: usize,
    items: usize,
) -> Result<Workspace> {
    let square = q.saturating_mul(q);
    let mut cells = square
        .saturating_mul(3)
        .saturating_add(items.saturating_mul(q));
    if matches!(
        function,
        AgreementFunction::KrippendorffAlphaCi | AgreementFunction::CohenKappaCi
    ) && config.bootstrap.replicates > 0
    {
        let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
        cells = cells.saturating_add(threads.saturating_mul(2 * square));
    }
    budget.reserve(
        function.name(),
        "the values × values matrices",
        bytes_of::<f64>(cells),
    )
}

impl AgreementFunction {
    /// Whether the one-pass tally ([`tally_value`]) can answer this function.
    fn tallied(self) -> bool {
        use AgreementFunction::*;
        matches!(
            self,
            KrippendorffAlpha | PercentAgreement | GwetAc1 | GwetAc2
        )
    }
}

/// Long-form ratings as the one-pass tally reads them: (item, rater, value) id columns, how
/// many item and rater ids there are, and the category of each value id (value order) with
/// each category's number.
pub(crate) struct TallyRatings<'a> {
    pub(crate) columns: [&'a [u32]; 3],
    pub(crate) items: usize,
    pub(crate) raters: usize,
    pub(crate) category: &'a [usize],
    pub(crate) numbers: &'a [f64],
}

/// Krippendorff's alpha, percent agreement or Gwet's AC1/AC2 straight from unweighted
/// ratings with few categories: a per-rater stamp finds repeated ratings, and exact integer
/// pair counts per unit size
/// ([`ExactCoincidences`](prefdb_stats::agreement::ExactCoincidences)) make the result the same on every
/// partitioning and numbering without putting items or units in value order. `Ok(None)` when
/// this path does not apply (another function, or more than [`MAX_TALLY_CATEGORIES`]
/// categories); the ungrouped and the grouped accumulators both evaluate through it.
pub(crate) fn tally_value(
    function: AgreementFunction,
    config: &AgreementConfig,
    ratings: TallyRatings<'_>,
) -> std::result::Result<Option<Option<f64>>, RaterConflict> {
    use AgreementFunction::*;
    let numbers = ratings.numbers;
    if !function.tallied() || numbers.len() > MAX_TALLY_CATEGORIES {
        return Ok(None);
    }
    let [items, raters, values] = ratings.columns;
    let input = TallyInput {
        items,
        raters,
        values,
        category: ratings.category,
    };
    let exact = tally_coincidences(ratings.items, ratings.raters, numbers.len(), input)?;
    let weights = |weighting| agreement_weights(numbers, weighting);
    Ok(Some(match function {
        KrippendorffAlpha => alpha_from_coincidences(numbers, &exact.matrix(), config.level),
        PercentAgreement => exact.weighted_percent_agreement(&weights(Weighting::Identity)),
        GwetAc1 => exact.gwet_ac(&weights(Weighting::Identity)),
        _ => exact.gwet_ac(&weights(config.weighting)),
    }))
}

/// The error for a rater who gave an item two different values, named by value.
pub(crate) fn rater_conflict(
    function: AgreementFunction,
    items: &ItemInterner,
    item: usize,
    raters: &ItemInterner,
    rater: usize,
) -> DataFusionError {
    exec_datafusion_err!(
        "{}: rater {} gave item {} two different values; each rater rates an item at most once",
        function.name(),
        raters.display(rater),
        items.display(item)
    )
}

impl RatingsAccumulator {
    /// The statistic by the one-pass tally ([`tally_value`]); `None` when it does not apply
    /// (another function, weighted counts, or too many categories).
    fn fast_evaluate(&self) -> Result<Option<Option<f64>>> {
        if !self.function.tallied() || !self.counts.is_empty() {
            return Ok(None);
        }
        let (category, numbers) = self.values.sorted();
        let ratings = TallyRatings {
            columns: self.ratings.columns(),
            items: self.items.len(),
            raters: self.raters.len(),
            category: &category,
            numbers: &numbers,
        };
        tally_value(self.function, &self.config, ratings).map_err(|c| {
            let (item, rater) = (c.item as usize, c.rater as usize);
            rater_conflict(self.function, &self.items, item, &self.raters, rater)
        })
    }

    /// The complete targets × raters table (both in value order), or an error naming the
    /// gap, then the ICC as a struct.
    fn evaluate_icc(&self) -> Result<ScalarValue> {
        let (n, k) = (self.items.len(), self.raters.len());
        let (offsets, entries) = self.grouped()?;
        if entries.len() != n * k {
            return exec_err!(
                "icc: the design is not complete: {n} items × {k} raters need {} ratings, got {}; icc needs every rater to rate every item (use krippendorff_alpha(item, rater, score, 'level=interval') for incomplete designs)",
                n * k,
                entries.len()
            );
        }
        let rater_pos = self.raters.value_positions();
        let ValueDictionary::Number { values, .. } = &self.values else {
            return exec_err!("icc: score must be numeric");
        };
        let mut table = vec![vec![0.0; k]; n];
        for (item, w) in offsets.windows(2).enumerate() {
            for &(rater, value, _) in &entries[w[0]..w[1]] {
                table[item][rater_pos[rater as usize]] = values[value as usize];
            }
        }
        let fields = icc_fields();
        let Some(r) = icc(&table, self.config.form, self.config.confidence) else {
            return Ok(ScalarValue::Struct(Arc::new(StructArray::new_null(
                fields, 1,
            ))));
        };
        let columns: Vec<ArrayRef> = [r.icc, r.f, r.df1, r.df2, r.p_value, r.ci_lower, r.ci_upper]
            .into_iter()
            .map(|v| Arc::new(Float64Array::from(vec![v])) as ArrayRef)
            .collect();
        Ok(ScalarValue::Struct(Arc::new(StructArray::try_new(
            fields, columns, None,
        )?)))
    }
}

/// `(value, ci_lower, ci_upper)`; NULL fields where undefined.
fn interval_scalar(value: Option<f64>, ci: Option<Interval>) -> Result<ScalarValue> {
    let columns: Vec<ArrayRef> = [value, ci.map(|c| c.lower), ci.map(|c| c.upper)]
        .into_iter()
        .map(|v| Arc::new(Float64Array::from(vec![v])) as ArrayRef)
        .collect();
    Ok(ScalarValue::Struct(Arc::new(StructArray::try_new(
        interval_fields(),
        columns,
        None,
    )?)))
}

fn dense(units: &[Vec<(usize, f64)>], q: usize) -> Vec<Vec<f64>> {
    units
        .iter()
        .map(|u| {
            let mut row = vec![0.0; q];
            for &(c, n) in u {
                row[c] += n;
            }
            row
        })
        .collect()
}

impl RatingsAccumulator {
    /// `update_batch` for the common all-numeric layout (Int64 item and rater ids, Float64
    /// values; no rater for `fleiss_kappa`) without NULLs: plain slices, no per-row type
    /// dispatch. Returns false when the batch has another layout.
    /// Whether `values` can take the column-at-a-time path: integer items (and raters),
    /// numeric labels, no NULLs.
    pub(crate) fn numeric_columns(&self, values: &[ArrayRef]) -> bool {
        let label = self.function.label_arg();
        values[..label]
            .iter()
            .all(|v| v.data_type() == &DataType::Int64)
            && matches!(
                values[label].data_type(),
                DataType::Float64 | DataType::Int64
            )
            && values[..=label].iter().all(|v| v.null_count() == 0)
            && matches!(self.values, ValueDictionary::Number { .. })
    }

    /// The labels of a batch that passed [`RatingsAccumulator::numeric_columns`], as doubles:
    /// integers converted as the row path converts them (exactly, or its error past 2^53).
    pub(crate) fn numeric_labels(&self, array: &ArrayRef) -> Result<Float64Array> {
        match ValueColumn::new(self.function.name(), array)? {
            ValueColumn::Number(a) => Ok(a),
            ValueColumn::Text(_) => internal_err!("numeric labels expected"),
        }
    }

    fn update_numeric(&mut self, values: &[ArrayRef]) -> Result<bool> {
        if !self.numeric_columns(values) {
            return Ok(false);
        }
        let label = self.function.label_arg();
        let items = values[0].as_primitive::<Int64Type>().values();
        let raters = self
            .function
            .has_rater()
            .then(|| values[1].as_primitive::<Int64Type>().values().as_ref());
        let labels = self.numeric_labels(&values[label])?;
        self.add_numeric(items, raters, labels.values())?;
        Ok(true)
    }

    /// Adds ratings given as plain columns (items, raters unless `fleiss_kappa`, labels).
    pub(crate) fn add_numeric(
        &mut self,
        items: &[i64],
        raters: Option<&[i64]>,
        labels: &[f64],
    ) -> Result<()> {
        let f = self.function;
        let ValueDictionary::Number {
            ids: value_ids,
            values: value_list,
        } = &mut self.values
        else {
            return exec_err!("internal error: numeric ratings into a text dictionary");
        };
        if let Some(v) = labels.iter().find(|v| !v.is_finite()) {
            return exec_err!("{}: a rating must be a finite number, got {v}", f.name());
        }
        // Column at a time: tight loops that append without per-row capacity checks.
        self.ratings.reserve(items.len());
        self.items
            .intern_integer_runs(items, &mut self.ratings.item)?;
        match raters {
            Some(raters) => self
                .raters
                .intern_integers(raters, &mut self.ratings.rater)?,
            None => {
                // fleiss_kappa: rater 0 and a count of 1 each. The counts column is kept only
                // once a merged state brought other counts; then it grows with the ratings.
                self.ratings
                    .rater
                    .extend(std::iter::repeat_n(0, items.len()));
                if !self.counts.is_empty() {
                    self.counts.resize(self.ratings.rater.len(), 1.0);
                }
            }
        }
        // Ratings are usually small whole numbers: their ids by one array read.
        let mut small = [u32::MAX; 256];
        self.ratings.value.extend(labels.iter().map(|&v| {
            if (0.0..256.0).contains(&v) && f64::from(v as u8) == v {
                let slot = &mut small[v as usize];
                if *slot == u32::MAX {
                    *slot = ValueDictionary::intern_number(value_ids, value_list, v);
                }
                *slot
            } else {
                ValueDictionary::intern_number(value_ids, value_list, v)
            }
        }));
        Ok(())
    }
}

/// A batch's long-form columns, read once for all the groups its rows go to.
pub(crate) struct RatingColumns<'a> {
    items: ItemColumn<'a>,
    raters: Option<ItemColumn<'a>>,
    labels: ValueColumn<'a>,
}

impl<'a> RatingColumns<'a> {
    pub(crate) fn new(function: AgreementFunction, values: &'a [ArrayRef]) -> Result<Self> {
        Ok(Self {
            items: ItemColumn::new(&values[0])?,
            raters: match function.has_rater() {
                true => Some(ItemColumn::new(&values[1])?),
                false => None,
            },
            labels: ValueColumn::new(function.name(), &values[function.label_arg()])?,
        })
    }
}

impl RatingsAccumulator {
    /// Adds the ratings of `rows` of a batch, in that order.
    pub(crate) fn add_rows(
        &mut self,
        columns: &RatingColumns,
        rows: impl ExactSizeIterator<Item = usize>,
    ) -> Result<()> {
        let f = self.function;
        let RatingColumns {
            items,
            raters,
            labels,
        } = columns;
        self.ratings.reserve(rows.len());
        // Long-form tables usually keep an item's ratings together: remember the last item.
        let mut last_item = None;
        for row in rows {
            let Some(item_ref) = items.get(row) else {
                continue;
            };
            let rater = match &raters {
                Some(col) => match col.get(row) {
                    Some(r) => Some(r),
                    None => continue,
                },
                None => None,
            };
            let Some(value) = labels.intern(row, &mut self.values, f.name())? else {
                continue;
            };
            let item = match last_item {
                Some((previous, id)) if ItemColumn::same(previous, item_ref) => id,
                _ => {
                    let id = self.items.intern(item_ref)?;
                    last_item = Some((item_ref, id));
                    id
                }
            };
            match rater {
                Some(r) => {
                    let rater = self.raters.intern(r)?;
                    self.record(item, rater, value);
                }
                None => self.add_count(item, value, 1.0),
            }
        }
        Ok(())
    }
}

impl Accumulator for RatingsAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        if self.update_numeric(values)? {
            return Ok(());
        }
        let columns = RatingColumns::new(self.function, values)?;
        self.add_rows(&columns, 0..values[0].len())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        if let Some(value) = self.fast_evaluate()? {
            return Ok(ScalarValue::Float64(value));
        }
        if self.function == AgreementFunction::Icc {
            return self.evaluate_icc();
        }
        let (numbers, units) = self.units()?;
        let q = numbers.len();
        check_value_count(self.function.name(), q, units.len())?;
        let _workspace =
            value_workspace(&self.budget, self.function, &self.config, q, units.len())?;
        let value = match self.function {
            AgreementFunction::KrippendorffAlpha => {
                krippendorff_alpha(&numbers, &units, self.config.level)
            }
            AgreementFunction::PercentAgreement => percent_agreement(&dense(&units, q)),
            AgreementFunction::FleissKappa => match fleiss_kappa(&dense(&units, q)) {
                Ok(v) => v,
                Err(FleissError::Unbalanced(a, b)) => {
                    return exec_err!(
                        "fleiss_kappa: items have different numbers of ratings ({a} and {b}); Fleiss' kappa needs the same number for every item; use krippendorff_alpha or gwet_ac1, which allow missing ratings"
                    )
                }
            },
            AgreementFunction::GwetAc1 => {
                gwet_ac(&dense(&units, q), &agreement_weights(&numbers, Weighting::Identity))
            }
            AgreementFunction::GwetAc2 => gwet_ac(
                &dense(&units, q),
                &agreement_weights(&numbers, self.config.weighting),
            ),
            AgreementFunction::Icc => unreachable!("answered above"),
            AgreementFunction::KrippendorffAlphaCi => {
                check_bootstrap_work(self.function.name(), self.config.bootstrap.replicates, q)?;
                let value = krippendorff_alpha(&numbers, &units, self.config.level);
                let ci = match value {
                    Some(_) => alpha_interval(
                        &numbers,
                        &units,
                        self.config.level,
                        &self.config.bootstrap,
                    )
                    .map_err(interrupted)?,
                    None => None,
                };
                return interval_scalar(value, ci);
            }
            AgreementFunction::CohenKappa
            | AgreementFunction::ScottPi
            | AgreementFunction::CohenKappaCi => {
                return exec_err!("internal error: wide-form function in the long-form accumulator")
            }
        };
        Ok(ScalarValue::Float64(value))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self.items.heap_size()
            + self.raters.heap_size()
            + self.values.heap_size()
            + self.ratings.heap_size()
            + self.counts.capacity() * 8
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let wrap = |a: ArrayRef| SingleRowListArrayBuilder::new(a).build_list_scalar();
        // (item, rater, value, count); rater is 0 for the counted form. `state` consumes the
        // accumulator's state (DataFusion calls it once), so the id columns are moved into
        // the arrays, not copied.
        let [item, rater, value] = self.ratings.take_arrays();
        Ok(vec![
            wrap(self.items.to_array()),
            wrap(self.raters.to_array()),
            wrap(self.values.to_array()),
            wrap(item),
            wrap(rater),
            wrap(value),
            // Every count is 1 unless fleiss_kappa merged counted states: then send none.
            wrap(Arc::new(Float64Array::from(self.counts.clone()))),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let has_rater = self.function.has_rater();
        for row in StateRows::new(self.function.name(), states, 7)?.rows() {
            let state = self.read_state(&row)?;
            let n = state.len();
            if n == 0 {
                continue;
            }
            let same_ids = state.keeps_ids();
            if has_rater && same_ids && self.ratings.len() == 0 {
                // The first state into an empty accumulator keeps its ids: share its columns.
                self.ratings
                    .adopt(&state.items, &state.raters, &state.values);
                continue;
            }
            self.ratings.reserve(n);
            if has_rater && same_ids {
                self.ratings.item.extend_from_slice(state.items.values());
                self.ratings.rater.extend_from_slice(state.raters.values());
                self.ratings.value.extend_from_slice(state.values.values());
                continue;
            }
            self.append_state(&state);
        }
        Ok(())
    }
}

/// One row of a long-form partial state, checked, with its dictionaries interned into an
/// accumulator's ([`RatingsAccumulator::read_state`]).
pub(crate) struct StateRatings {
    items: UInt32Array,
    raters: UInt32Array,
    values: UInt32Array,
    /// Empty when every count is 1.
    counts: Float64Array,
    item_map: Vec<u32>,
    rater_map: Vec<u32>,
    value_map: Vec<u32>,
    /// False for `fleiss_kappa`: every rater id is 0, in no dictionary.
    has_rater: bool,
}

impl StateRatings {
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the state's ids are the accumulator's own (each map is the identity).
    fn keeps_ids(&self) -> bool {
        let identity = |map: &[u32]| map.iter().enumerate().all(|(i, &m)| m as usize == i);
        identity(&self.item_map) && identity(&self.rater_map) && identity(&self.value_map)
    }

    /// Rating `k` as (item, rater, value) ids of the accumulator.
    #[inline]
    pub(crate) fn rating(&self, k: usize) -> [u32; 3] {
        let rater = match self.has_rater {
            true => self.rater_map[self.raters.value(k) as usize],
            false => 0,
        };
        [
            self.item_map[self.items.value(k) as usize],
            rater,
            self.value_map[self.values.value(k) as usize],
        ]
    }

    /// The count of rating `k`: 1 unless the state carries counts.
    #[inline]
    pub(crate) fn count(&self, k: usize) -> f64 {
        match self.counts.is_empty() {
            true => 1.0,
            false => self.counts.value(k),
        }
    }
}

impl RatingsAccumulator {
    /// Checks a state row and interns its dictionaries into this accumulator's.
    pub(crate) fn read_state(&mut self, row: &StateRow<'_>) -> Result<StateRatings> {
        let item_map = self.items.intern_array(&row.list(0)?)?;
        let rater_map = self.raters.intern_array(&row.list(1)?)?;
        let value_map = self.values.intern_all(&row.list(2)?)?;
        let items = row.ids_below(3, item_map.len())?;
        let values = row.ids_below(5, value_map.len())?;
        let counts = row.counts(6)?;
        let has_rater = self.function.has_rater();
        let raters = match has_rater {
            true => row.ids_below(4, rater_map.len())?,
            false => row.values::<UInt32Type>(4)?,
        };
        let n = row.same_length(&[items.len(), values.len()])?;
        if has_rater && raters.len() != n || !(counts.is_empty() || counts.len() == n) {
            return Err(row.corrupt("raters or counts do not match the ratings"));
        }
        Ok(StateRatings {
            items,
            raters,
            values,
            counts,
            item_map,
            rater_map,
            value_map,
            has_rater,
        })
    }
}

impl RatingsAccumulator {
    /// Appends the ratings of a state row read by [`RatingsAccumulator::read_state`], in its
    /// order, a column at a time (room for them is reserved here).
    pub(crate) fn append_state(&mut self, state: &StateRatings) {
        let n = state.len();
        self.ratings.reserve(n);
        if !state.has_rater {
            for k in 0..n {
                let [item, _, value] = state.rating(k);
                self.add_count(item, value, state.count(k));
            }
            return;
        }
        let columns = [
            (&mut self.ratings.item, &state.item_map, &state.items),
            (&mut self.ratings.rater, &state.rater_map, &state.raters),
            (&mut self.ratings.value, &state.value_map, &state.values),
        ];
        for (to, map, ids) in columns {
            to.extend(ids.values().iter().map(|&id| map[id as usize]));
        }
    }
}

/// Wide-form pairs of labels: the confusion counts of two raters.
#[derive(Debug)]
struct PairAccumulator {
    function: AgreementFunction,
    config: AgreementConfig,
    budget: MemoryBudget,
    values: ValueDictionary,
    confusion: HashMap<(u32, u32), f64>,
}

impl Accumulator for PairAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let first = ValueColumn::new(self.function.name(), &values[0])?;
        let second = ValueColumn::new(self.function.name(), &values[1])?;
        let name = self.function.name();
        for row in 0..values[0].len() {
            let a = first.intern(row, &mut self.values, name)?;
            let b = second.intern(row, &mut self.values, name)?;
            if let (Some(a), Some(b)) = (a, b) {
                *self.confusion.entry((a, b)).or_insert(0.0) += 1.0;
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        // Categories: the values that occur in a complete pair, in value order.
        let (category, _) = self.values.sorted();
        let mut used: Vec<usize> = self
            .confusion
            .keys()
            .flat_map(|&(a, b)| [category[a as usize], category[b as usize]])
            .collect();
        used.sort_unstable();
        used.dedup();
        let q = used.len();
        check_value_count(self.function.name(), q, 0)?;
        let _workspace = value_workspace(&self.budget, self.function, &self.config, q, 0)?;
        let mut matrix = vec![vec![0.0; q]; q];
        let mut entries: Vec<(usize, usize, f64)> = self
            .confusion
            .iter()
            .map(|(&(a, b), &n)| {
                let i = used.binary_search(&category[a as usize]).unwrap_or(0);
                let j = used.binary_search(&category[b as usize]).unwrap_or(0);
                (i, j, n)
            })
            .collect();
        entries.sort_by_key(|&(i, j, _)| (i, j));
        for (i, j, n) in entries {
            matrix[i][j] += n;
        }
        let value = match self.function {
            AgreementFunction::CohenKappa => cohen_kappa(&matrix, self.config.weighting),
            AgreementFunction::CohenKappaCi => {
                check_bootstrap_work(self.function.name(), self.config.bootstrap.replicates, q)?;
                let value = cohen_kappa(&matrix, self.config.weighting);
                let ci = match value {
                    Some(_) => {
                        cohen_interval(&matrix, self.config.weighting, &self.config.bootstrap)
                            .map_err(interrupted)?
                    }
                    None => None,
                };
                return interval_scalar(value, ci);
            }
            _ => scott_pi(&matrix),
        };
        Ok(ScalarValue::Float64(value))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.values.heap_size() + self.confusion.capacity() * 24
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let wrap = |a: ArrayRef| SingleRowListArrayBuilder::new(a).build_list_scalar();
        let cells: Vec<((u32, u32), f64)> = self.confusion.iter().map(|(k, v)| (*k, *v)).collect();
        Ok(vec![
            wrap(self.values.to_array()),
            wrap(Arc::new(UInt32Array::from_iter_values(
                cells.iter().map(|c| c.0 .0),
            ))),
            wrap(Arc::new(UInt32Array::from_iter_values(
                cells.iter().map(|c| c.0 .1),
            ))),
            wrap(Arc::new(Float64Array::from_iter_values(
                cells.iter().map(|c| c.1),
            ))),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        for row in StateRows::new(self.function.name(), states, 4)?.rows() {
            let value_map = self.values.intern_all(&row.list(0)?)?;
            let (a, b, n) = (
                row.ids(1, &value_map)?,
                row.ids(2, &value_map)?,
                row.counts(3)?,
            );
            for k in 0..row.same_length(&[a.len(), b.len(), n.len()])? {
                *self.confusion.entry((a[k], b[k])).or_insert(0.0) += n.value(k);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int64Array;
    use prefdb_stats::rng::Xoshiro256;

    fn accumulator(level: &str) -> RatingsAccumulator {
        accumulator_of(
            AgreementFunction::KrippendorffAlpha,
            &format!("level={level}"),
        )
    }

    fn accumulator_of(f: AgreementFunction, options: &str) -> RatingsAccumulator {
        RatingsAccumulator {
            function: f,
            config: f
                .configure(&Options::parse(f.spec(), Some(options)).unwrap())
                .unwrap(),
            items: ItemInterner::new(ItemKind::Integer),
            raters: ItemInterner::new(ItemKind::Integer),
            values: ValueDictionary::new(false),
            ratings: Ratings::default(),
            counts: Vec::new(),
            budget: MemoryBudget::default(),
        }
    }

    /// The one-pass tally (dense up to 16 categories, sparse up to 64) against the general
    /// path through `units()` and the kernel, on random data of every layout: items grouped
    /// or interleaved, one batch or several, repeated identical ratings, 2 to 70 categories.
    #[test]
    fn fast_alpha_matches_the_general_path() {
        let mut rng = Xoshiro256::seed_from_u64(3);
        let mut defined = 0;
        for case in 0..60 {
            let categories = [2, 5, 16, 17, 40, 64][case % 6];
            let (n_items, n_raters) = (5 + rng.below(60) as i64, 2 + rng.below(8) as i64);
            let mut rows: Vec<(i64, i64, f64)> = Vec::new();
            for item in 0..n_items {
                let truth = rng.below(categories) as f64;
                for rater in 0..n_raters {
                    if rng.unit() < 0.25 {
                        continue; // missing
                    }
                    let v = if rng.unit() < 0.6 {
                        truth
                    } else {
                        rng.below(categories) as f64
                    };
                    rows.push((item * 7 + 3, rater, v * 0.5));
                    if rng.unit() < 0.05 {
                        rows.push((item * 7 + 3, rater, v * 0.5)); // a repeat counts once
                    }
                }
            }
            if case % 2 == 1 {
                // Interleave items: the tally must fall back to the counting sort.
                rows.sort_by_key(|&(item, rater, _)| (rater, item));
            }
            for level in ["nominal", "ordinal", "interval", "ratio"] {
                let mut acc = accumulator(level);
                for chunk in rows.chunks(1 + rows.len() / (1 + case % 3)) {
                    let columns: Vec<ArrayRef> = vec![
                        Arc::new(Int64Array::from_iter_values(chunk.iter().map(|r| r.0))),
                        Arc::new(Int64Array::from_iter_values(chunk.iter().map(|r| r.1))),
                        Arc::new(Float64Array::from_iter_values(chunk.iter().map(|r| r.2))),
                    ];
                    acc.update_batch(&columns).unwrap();
                }
                let fast = acc.fast_evaluate().unwrap().expect("the fast path applies");
                let (numbers, units) = acc.units().unwrap();
                let general = krippendorff_alpha(&numbers, &units, acc.config.level);
                match (fast, general) {
                    (Some(a), Some(b)) => {
                        assert!(
                            (a - b).abs() < 1e-12,
                            "case {case} {level}: fast {a} vs general {b}"
                        );
                        defined += 1;
                    }
                    (a, b) => assert_eq!(a, b, "case {case} {level}"),
                }
            }
        }
        assert!(defined > 200, "only {defined} of 240 alphas defined");
    }

    /// Percent agreement and Gwet's AC1/AC2 from the one-pass tally against the general
    /// path, on random data with single-rating units and interleaved items.
    #[test]
    fn fast_percent_agreement_and_gwet_match_the_general_path() {
        let mut rng = Xoshiro256::seed_from_u64(8);
        for case in 0..30 {
            let categories = [2, 5, 7, 20, 50][case % 5];
            let mut rows: Vec<(i64, i64, f64)> = Vec::new();
            for item in 0..(3 + rng.below(80) as i64) {
                for rater in 0..(1 + rng.below(6) as i64) {
                    if rng.unit() < 0.3 {
                        continue;
                    }
                    rows.push((item, rater, rng.below(categories) as f64));
                }
            }
            if case % 2 == 1 {
                rows.sort_by_key(|&(item, rater, _)| (rater, item));
            }
            let columns: Vec<ArrayRef> = vec![
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
                Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.2))),
            ];
            for (f, options) in [
                (AgreementFunction::PercentAgreement, ""),
                (AgreementFunction::GwetAc1, ""),
                (AgreementFunction::GwetAc2, "weights=linear"),
                (AgreementFunction::GwetAc2, "weights=quadratic"),
            ] {
                let mut acc = accumulator_of(f, options);
                acc.update_batch(&columns).unwrap();
                let ScalarValue::Float64(fast) = acc.evaluate().unwrap() else {
                    panic!("a Float64")
                };
                let (numbers, units) = acc.units().unwrap();
                let table = dense(&units, numbers.len());
                let general = match f {
                    AgreementFunction::PercentAgreement => percent_agreement(&table),
                    AgreementFunction::GwetAc1 => {
                        gwet_ac(&table, &agreement_weights(&numbers, Weighting::Identity))
                    }
                    _ => gwet_ac(&table, &agreement_weights(&numbers, acc.config.weighting)),
                };
                match (fast, general) {
                    (Some(a), Some(b)) => {
                        assert!(
                            (a - b).abs() < 1e-12,
                            "case {case} {f:?} {options}: {a} vs {b}"
                        )
                    }
                    (a, b) => assert_eq!(a, b, "case {case} {f:?} {options}"),
                }
            }
        }
    }

    /// fleiss_kappa's numeric path keeps its counts aligned with the ratings after the
    /// generic path (here taken for a batch with a NULL rating) has started a counts column.
    #[test]
    fn fleiss_numeric_path_keeps_counts_aligned() {
        let batch = |items: &[i64], labels: &[Option<f64>]| -> Vec<ArrayRef> {
            vec![
                Arc::new(Int64Array::from(items.to_vec())),
                Arc::new(Float64Array::from(labels.to_vec())),
            ]
        };
        let first_items = [1, 1, 1, 2, 2, 2, 3];
        let first = [
            Some(1.0),
            Some(1.0),
            Some(2.0),
            Some(2.0),
            Some(2.0),
            Some(2.0),
            None,
        ];
        let second_items = [3, 3, 3, 4, 4, 4];
        let second = [
            Some(1.0),
            Some(2.0),
            Some(1.0),
            Some(1.0),
            Some(1.0),
            Some(1.0),
        ];
        let mut mixed = accumulator_of(AgreementFunction::FleissKappa, "");
        mixed.update_batch(&batch(&first_items, &first)).unwrap();
        assert!(
            !mixed.counts.is_empty(),
            "the NULL row takes the generic path"
        );
        mixed.update_batch(&batch(&second_items, &second)).unwrap();
        assert_eq!(mixed.counts.len(), mixed.ratings.len());
        let mut numeric = accumulator_of(AgreementFunction::FleissKappa, "");
        numeric
            .update_batch(&batch(&first_items[..6], &first[..6]))
            .unwrap();
        numeric
            .update_batch(&batch(&second_items, &second))
            .unwrap();
        assert!(numeric.counts.is_empty(), "every count is 1");
        let (a, b) = (mixed.evaluate().unwrap(), numeric.evaluate().unwrap());
        assert_eq!(a, b);
        assert!(matches!(a, ScalarValue::Float64(Some(_))), "{a:?}");
    }

    /// Partial states merge to the same result, bit for bit, whatever the split points and
    /// the order the states arrive in.
    #[test]
    fn states_merge_identically_in_any_split_order() {
        let mut rng = Xoshiro256::seed_from_u64(21);
        // Missing ratings, except for fleiss_kappa, which needs a complete design.
        let (mut missing, mut complete): (Vec<(i64, i64, f64)>, Vec<_>) = (Vec::new(), Vec::new());
        for item in 0..120 {
            for rater in 0..5 {
                let row = (item, rater, (rng.below(4) + 1) as f64);
                complete.push(row);
                if rng.unit() < 0.8 {
                    missing.push(row);
                }
            }
        }
        let functions = [
            (AgreementFunction::KrippendorffAlpha, "level=interval"),
            (AgreementFunction::PercentAgreement, ""),
            (AgreementFunction::GwetAc2, "weights=quadratic"),
            (AgreementFunction::FleissKappa, ""),
        ];
        for (f, options) in functions {
            let rows = if f.has_rater() { &missing } else { &complete };
            let columns = |chunk: &[(i64, i64, f64)]| -> Vec<ArrayRef> {
                let mut c: Vec<ArrayRef> = vec![Arc::new(Int64Array::from_iter_values(
                    chunk.iter().map(|r| r.0),
                ))];
                if f.has_rater() {
                    c.push(Arc::new(Int64Array::from_iter_values(
                        chunk.iter().map(|r| r.1),
                    )));
                }
                c.push(Arc::new(Float64Array::from_iter_values(
                    chunk.iter().map(|r| r.2),
                )));
                c
            };
            let mut whole = accumulator_of(f, options);
            whole.update_batch(&columns(rows)).unwrap();
            let expected = whole.evaluate().unwrap();
            for trial in 0..8 {
                // Shuffle the rows, cut them at random points, merge the states in reverse.
                let mut shuffled = rows.clone();
                for i in (1..shuffled.len()).rev() {
                    shuffled.swap(i, rng.below(i as u64 + 1) as usize);
                }
                let mut cuts: Vec<usize> = (0..1 + trial % 4)
                    .map(|_| rng.below(shuffled.len() as u64) as usize)
                    .collect();
                cuts.push(0);
                cuts.push(shuffled.len());
                cuts.sort_unstable();
                let mut states = Vec::new();
                for w in cuts.windows(2) {
                    let mut part = accumulator_of(f, options);
                    part.update_batch(&columns(&shuffled[w[0]..w[1]])).unwrap();
                    let state: Vec<ArrayRef> = part
                        .state()
                        .unwrap()
                        .iter()
                        .map(|v| v.to_array().unwrap())
                        .collect();
                    states.push(state);
                }
                let mut merged = accumulator_of(f, options);
                for state in states.iter().rev() {
                    merged.merge_batch(state).unwrap();
                }
                assert_eq!(merged.evaluate().unwrap(), expected, "{f:?} trial {trial}");
            }
            assert!(matches!(expected, ScalarValue::Float64(Some(_))), "{f:?}");
        }
    }
}
