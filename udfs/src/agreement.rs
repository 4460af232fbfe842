//! Inter-rater agreement: `krippendorff_alpha`.
//!
//! Long-form input `(item, rater, value)`. The partial state is the set of ratings as
//! (item, rater, value) ids with their dictionaries; states merge by union, and a rater who
//! gives one item two different values is an error rather than a silent double count.

use crate::items::{ItemColumn, ItemInterner, ItemKind};
use crate::options::{logical_string_literal, physical_string_literal, FunctionOptions};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, ListArray, UInt32Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type, UInt32Type};
use datafusion::common::hash_map::Entry;
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{exec_err, plan_err, HashMap, Result, ScalarValue};
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::function::{
    AccumulatorArgs, AggregateFunctionSimplification, StateFieldsArgs,
};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, DocSection, Documentation, Expr, Signature,
    Volatility,
};
use prefdb_stats::agreement::{krippendorff_alpha, Level};
use std::sync::{Arc, OnceLock};

const NAME: &str = "krippendorff_alpha";
const OPTION_KEYS: &[&str] = &["level"];

const DOC_SECTION: DocSection = DocSection {
    include: true,
    label: "Inter-rater agreement",
    description: Some("Agreement among raters of the same items."),
};

fn parse_level(text: Option<&str>) -> Result<Level> {
    let options = match text {
        Some(t) => FunctionOptions::parse(NAME, t, OPTION_KEYS)?,
        None => FunctionOptions::empty(NAME),
    };
    options.choice_or(
        "level",
        Level::Nominal,
        &[
            ("nominal", Level::Nominal),
            ("ordinal", Level::Ordinal),
            ("interval", Level::Interval),
            ("ratio", Level::Ratio),
        ],
    )
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Nominal => "nominal",
        Level::Ordinal => "ordinal",
        Level::Interval => "interval",
        Level::Ratio => "ratio",
    }
}

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// Interval and ratio differences need numbers; text values support nominal and ordinal
/// (in lexicographic order).
fn check_level_type(level: Level, value_type: &DataType) -> Result<()> {
    if is_text(value_type) && matches!(level, Level::Interval | Level::Ratio) {
        return plan_err!(
            "{NAME}: level={} needs numeric values, got {value_type}; use level=nominal or level=ordinal for text labels",
            level_name(level)
        );
    }
    Ok(())
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct KrippendorffAlpha {
    signature: Signature,
}

impl Default for KrippendorffAlpha {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

pub fn krippendorff_alpha_udaf() -> AggregateUDF {
    AggregateUDF::from(KrippendorffAlpha::default())
}

impl AggregateUDFImpl for KrippendorffAlpha {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if !(3..=4).contains(&arg_types.len()) {
            return plan_err!(
                "{NAME} takes 3 or 4 arguments, got {}: {NAME}(item, rater, value [, 'level=nominal|ordinal|interval|ratio'])",
                arg_types.len()
            );
        }
        let item = ItemKind::of(NAME, "item", &arg_types[0])?.coerced_type(&arg_types[0]);
        let rater = ItemKind::of(NAME, "rater", &arg_types[1])?.coerced_type(&arg_types[1]);
        let value = match &arg_types[2] {
            t if is_text(t) => t.clone(),
            DataType::Dictionary(_, v) if is_text(v) => v.as_ref().clone(),
            DataType::Null => DataType::Float64,
            t if t.is_numeric() => DataType::Float64,
            t => return plan_err!("{NAME}: value must be a number or text label, got {t}"),
        };
        let mut coerced = vec![item, rater, value];
        if let Some(t) = arg_types.get(3) {
            if !is_text(t) {
                return plan_err!("{NAME}: the fourth argument must be the options string literal, e.g. 'level=interval'");
            }
            coerced.push(t.clone());
        }
        Ok(coerced)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let kind = |i: usize, what: &str| -> Result<DataType> {
            Ok(ItemKind::of(NAME, what, args.input_fields[i].data_type())?.output_type())
        };
        let value = if is_text(args.input_fields[2].data_type()) {
            DataType::Utf8
        } else {
            DataType::Float64
        };
        let list = |suffix: &str, t: DataType| {
            Arc::new(Field::new(
                format_state_name(args.name, suffix),
                DataType::new_list(t, true),
                true,
            ))
        };
        Ok(vec![
            list("items", kind(0, "item")?),
            list("raters", kind(1, "rater")?),
            list("values", value),
            list("item_ids", DataType::UInt32),
            list("rater_ids", DataType::UInt32),
            list("value_ids", DataType::UInt32),
        ])
    }

    fn accumulator(&self, acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        if acc_args.exprs.len() == 4 && physical_string_literal(&acc_args.exprs[3]).is_none() {
            return plan_err!("{NAME}: the fourth argument must be the options string literal, e.g. 'level=interval'");
        }
        let options = acc_args
            .exprs
            .get(3)
            .and_then(physical_string_literal)
            .flatten();
        let level = parse_level(options.as_deref())?;
        let value_type = acc_args.expr_fields[2].data_type();
        check_level_type(level, value_type)?;
        let kind = |i: usize| ItemKind::of(NAME, "item", acc_args.expr_fields[i].data_type());
        Ok(Box::new(AlphaAccumulator {
            level,
            items: ItemInterner::new(kind(0)?),
            raters: ItemInterner::new(kind(1)?),
            values: ValueDictionary::new(is_text(value_type)),
            ratings: HashMap::default(),
        }))
    }

    /// Validates the options and the level against the value type at planning time.
    fn simplify(&self) -> Option<AggregateFunctionSimplification> {
        Some(Box::new(|aggregate: AggregateFunction, info| {
            let args = &aggregate.params.args;
            let options = match args.get(3) {
                None => None,
                Some(e) => match logical_string_literal(e) {
                    Some(text) => text,
                    None => return plan_err!("{NAME}: the fourth argument must be the options string literal, e.g. 'level=interval'"),
                },
            };
            let level = parse_level(options.as_deref())?;
            if let Some(value) = args.get(2) {
                check_level_type(level, &info.get_data_type(value)?)?;
            }
            Ok(Expr::AggregateFunction(aggregate))
        }))
    }

    fn documentation(&self) -> Option<&Documentation> {
        static DOC: OnceLock<Documentation> = OnceLock::new();
        Some(DOC.get_or_init(documentation))
    }
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

    fn intern_number(ids: &mut HashMap<u64, u32>, values: &mut Vec<f64>, v: f64) -> u32 {
        // -0.0 and 0.0 are one value.
        let v = if v == 0.0 { 0.0 } else { v };
        *ids.entry(v.to_bits()).or_insert_with(|| {
            values.push(v);
            (values.len() - 1) as u32
        })
    }

    fn len(&self) -> usize {
        match self {
            ValueDictionary::Text(t) => t.len(),
            ValueDictionary::Number { values, .. } => values.len(),
        }
    }

    fn to_array(&self) -> ArrayRef {
        match self {
            ValueDictionary::Text(t) => t.to_array(),
            ValueDictionary::Number { values, .. } => {
                Arc::new(Float64Array::from_iter_values(values.iter().copied()))
            }
        }
    }

    /// Category numbering in ascending value order, and the numeric value of each category
    /// (text labels get their rank, which only nominal and ordinal use).
    fn sorted(&self) -> (Vec<usize>, Vec<f64>) {
        let n = self.len();
        let mut order: Vec<usize> = (0..n).collect();
        match self {
            ValueDictionary::Text(t) => order.sort_by(|&a, &b| t.cmp(a, b)),
            ValueDictionary::Number { values, .. } => {
                order.sort_by(|&a, &b| values[a].total_cmp(&values[b]))
            }
        }
        let mut category = vec![0; n];
        for (rank, &id) in order.iter().enumerate() {
            category[id] = rank;
        }
        let numbers = match self {
            ValueDictionary::Text(_) => (0..n).map(|r| r as f64).collect(),
            ValueDictionary::Number { values, .. } => order.iter().map(|&id| values[id]).collect(),
        };
        (category, numbers)
    }
}

/// Row access to a value column.
enum ValueColumn<'a> {
    Text(ItemColumn<'a>),
    Number(&'a Float64Array),
}

#[derive(Debug)]
struct AlphaAccumulator {
    level: Level,
    items: ItemInterner,
    raters: ItemInterner,
    values: ValueDictionary,
    /// (item id, rater id) -> value id
    ratings: HashMap<(u32, u32), u32>,
}

impl AlphaAccumulator {
    fn record(&mut self, item: u32, rater: u32, value: u32) -> Result<()> {
        match self.ratings.entry((item, rater)) {
            Entry::Vacant(v) => {
                v.insert(value);
            }
            Entry::Occupied(o) if *o.get() == value => {}
            Entry::Occupied(_) => {
                return exec_err!(
                    "{NAME}: rater {} gave item {} two different values; each rater rates an item at most once",
                    self.raters.display(rater as usize),
                    self.items.display(item as usize)
                )
            }
        }
        Ok(())
    }
}

impl Accumulator for AlphaAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let items = ItemColumn::new(&values[0])?;
        let raters = ItemColumn::new(&values[1])?;
        let column = match values[2].data_type() {
            DataType::Float64 => ValueColumn::Number(values[2].as_primitive::<Float64Type>()),
            _ => ValueColumn::Text(ItemColumn::new(&values[2])?),
        };
        for row in 0..values[0].len() {
            let (Some(item), Some(rater)) = (items.get(row), raters.get(row)) else {
                continue;
            };
            let value = match (&column, &mut self.values) {
                (ValueColumn::Number(a), ValueDictionary::Number { ids, values }) => {
                    if a.is_null(row) {
                        continue;
                    }
                    let v = a.value(row);
                    if !v.is_finite() {
                        return exec_err!("{NAME}: value must be a finite number, got {v}");
                    }
                    ValueDictionary::intern_number(ids, values, v)
                }
                (ValueColumn::Text(a), ValueDictionary::Text(dict)) => match a.get(row) {
                    None => continue,
                    Some(label) => dict.intern(label)?,
                },
                _ => return exec_err!("internal error: value column and state disagree"),
            };
            let item = self.items.intern(item)?;
            let rater = self.raters.intern(rater)?;
            self.record(item, rater, value)?;
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let (category, numbers) = self.values.sorted();
        let mut units: Vec<Vec<(usize, f64)>> = vec![Vec::new(); self.items.len()];
        for (&(item, _), &value) in &self.ratings {
            let unit = &mut units[item as usize];
            let c = category[value as usize];
            match unit.iter_mut().find(|(k, _)| *k == c) {
                Some((_, n)) => *n += 1.0,
                None => unit.push((c, 1.0)),
            }
        }
        // Summation order must not depend on hash order: sort each unit's categories.
        units.iter_mut().for_each(|u| u.sort_by_key(|&(c, _)| c));
        Ok(ScalarValue::Float64(krippendorff_alpha(
            &numbers, &units, self.level,
        )))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self.items.heap_size()
            + self.raters.heap_size()
            + self.values.len() * 24
            + self.ratings.capacity() * 16
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let wrap = |a: ArrayRef| SingleRowListArrayBuilder::new(a).build_list_scalar();
        let column = |f: fn(&((u32, u32), u32)) -> u32| -> ArrayRef {
            let entries: Vec<((u32, u32), u32)> =
                self.ratings.iter().map(|(k, v)| (*k, *v)).collect();
            Arc::new(UInt32Array::from_iter_values(entries.iter().map(f)))
        };
        Ok(vec![
            wrap(self.items.to_array()),
            wrap(self.raters.to_array()),
            wrap(self.values.to_array()),
            wrap(column(|e| e.0 .0)),
            wrap(column(|e| e.0 .1)),
            wrap(column(|e| e.1)),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let lists: Vec<&ListArray> = states.iter().map(|s| s.as_list::<i32>()).collect();
        for row in 0..lists[0].len() {
            if lists[0].is_null(row) {
                continue;
            }
            let (items, raters, values) = (
                lists[0].value(row),
                lists[1].value(row),
                lists[2].value(row),
            );
            let item_map = intern_all(&mut self.items, &items)?;
            let rater_map = intern_all(&mut self.raters, &raters)?;
            let value_map: Vec<u32> = match (&mut self.values, values.data_type()) {
                (ValueDictionary::Number { ids, values: dict }, DataType::Float64) => values
                    .as_primitive::<Float64Type>()
                    .values()
                    .iter()
                    .map(|&v| ValueDictionary::intern_number(ids, dict, v))
                    .collect(),
                (ValueDictionary::Text(dict), _) => intern_all(dict, &values)?,
                _ => return exec_err!("internal error: value state type mismatch"),
            };
            let ids = |i: usize| lists[i].value(row);
            let (item_ids, rater_ids, value_ids) = (ids(3), ids(4), ids(5));
            let (item_ids, rater_ids, value_ids) = (
                item_ids.as_primitive::<UInt32Type>(),
                rater_ids.as_primitive::<UInt32Type>(),
                value_ids.as_primitive::<UInt32Type>(),
            );
            for k in 0..item_ids.len() {
                self.record(
                    item_map[item_ids.value(k) as usize],
                    rater_map[rater_ids.value(k) as usize],
                    value_map[value_ids.value(k) as usize],
                )?;
            }
        }
        Ok(())
    }
}

fn intern_all(interner: &mut ItemInterner, array: &ArrayRef) -> Result<Vec<u32>> {
    let column = ItemColumn::new(array)?;
    (0..array.len())
        .map(|i| match column.get(i) {
            Some(v) => interner.intern(v),
            None => exec_err!("internal error: NULL in a partial state"),
        })
        .collect()
}

fn documentation() -> Documentation {
    Documentation::builder(
        DOC_SECTION,
        "Krippendorff's alpha over long-form ratings, computed from the coincidence matrix: \
         alpha = 1 - (n - 1) * sum(o_ck * d2_ck) / sum(n_c * n_k * d2_ck) (Krippendorff 2011, \
         Computing Krippendorff's Alpha-Reliability; reference: the krippendorff Python \
         package, to 1e-9). Missing ratings are allowed; items with fewer than two ratings are \
         not pairable and are ignored. d2 is 0/1 for nominal, (c - k)^2 for interval, \
         ((c - k)/(c + k))^2 for ratio, and for ordinal the squared count of values between c \
         and k less half of each end. Text labels support nominal and ordinal (in \
         lexicographic order); interval and ratio need numbers. A row with a NULL item, rater \
         or value is skipped; a rater who gives one item two different values is an error. \
         The result is NULL when nothing is pairable or when every pairable value is the same \
         (expected disagreement 0), as the krippendorff package leaves it undefined.",
        "krippendorff_alpha(item, rater, value [, 'level=nominal|ordinal|interval|ratio'])",
    )
    .with_argument("item", "The rated unit (string or integer).")
    .with_argument("rater", "Who rated it (string or integer).")
    .with_argument("value", "The rating: a number, or a text label.")
    .with_argument("options", "String literal: level (nominal, the default; ordinal; interval; ratio).")
    .with_sql_example(
        "SELECT category, krippendorff_alpha(item_id, worker, label, 'level=ordinal') FROM ratings GROUP BY category;",
    )
    .build()
}
