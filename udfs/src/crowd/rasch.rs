//! `rasch(item, rater, rating [, weight] [, options])`: the many-facet Rasch rating-scale
//! model with two facets, item difficulty and rater severity, from ordinal ratings. The
//! kernel is `prefdb_stats::rasch`.

use super::annotations::AnnotationRows;
use crate::items::ItemKind;
use crate::memory::MemoryBudget;
use crate::spec::aggregate::{Call, Family, PrefdbAggregate};
use crate::spec::ArgType::{Item, Weight, Whole};
use crate::spec::FieldType::{self, Float, Int, List};
use crate::spec::StateSize;
use crate::spec::{
    fields_for, Arg, Doc, FunctionSpec, ItemTypes, Mapping, OptionSpec, OptionType, Options,
    OutField, Output, Section,
};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, StructArray};
use datafusion::arrow::datatypes::{DataType, FieldRef, Float64Type, Int64Type};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::{Accumulator, AggregateUDF};
use prefdb_stats::rasch::{rasch, Measure, RaschError, RaschFit, RaschOptions, RatingRows, LIMIT};
use std::sync::Arc;

const NAME: &str = "rasch";

/// The columns' names, for messages.
const COLUMNS: [&str; 3] = ["item", "rater", "rating"];

/// The most categories of the rating scale: the thresholds' Newton step costs K² per rating.
const MAX_CATEGORIES: i64 = 21;

pub(crate) static ITEM_FIELDS: &[OutField] = &[
    OutField::new("item", FieldType::ItemOf("item"), "The item rated."),
    OutField::new("difficulty", Float, "δ in logits: higher means lower ratings. NULL for an item set aside (every rating the lowest, or every rating the highest)."),
    OutField::new("se", Float, "The model standard error, 1 / sqrt(the information on the item alone: its ratings' summed variance)."),
    OutField::new("infit", Float, "Information-weighted mean square of its residuals, Σ (x - E)² / Σ Var: near 1 fits; above 1.5 is noisy, below 0.5 too predictable."),
    OutField::new("outfit", Float, "Unweighted mean square, the mean of (x - E)² / Var: like infit, more sensitive to single surprising ratings."),
    OutField::new("n_ratings", Int, "Its rows (set-aside ones included)."),
    OutField::new("mean_rating", Float, "The (weighted) mean of its ratings."),
];

pub(crate) static RATER_FIELDS: &[OutField] = &[
    OutField::new("rater", FieldType::ItemOf("rater"), "The rater."),
    OutField::new("severity", Float, "s in logits, the raters' mean 0: higher means harsher. NULL for a rater set aside."),
    OutField::new("se", Float, "The model standard error, as the items'."),
    OutField::new("infit", Float, "Information-weighted mean square, as the items': a rater far above 1 rates inconsistently with the others, far below 1 uses the scale too narrowly."),
    OutField::new("outfit", Float, "Unweighted mean square."),
    OutField::new("n_ratings", Int, "Its rows (set-aside ones included)."),
    OutField::new("mean_rating", Float, "The (weighted) mean of its ratings."),
];

pub(crate) static THRESHOLD_FIELDS: &[OutField] = &[
    OutField::new("rating", Int, "A rating from the lowest to the highest given."),
    OutField::new("threshold", Float, "τ of the step up to this rating, the thresholds summing to 0: where a rating here and one below are equally likely, relative to δ + s. NULL for the lowest rating."),
    OutField::new("se", Float, "1 / sqrt(Σ P(x ≥ rating) P(x < rating)) over the rows fitted; NULL for the lowest rating."),
    OutField::new("count", Float, "The rows fitted with this rating (their weights' sum)."),
];

pub(crate) static RASCH_FIELDS: &[OutField] = &[
    OutField::new(
        "items",
        List(ITEM_FIELDS),
        "One entry per item, in item order.",
    ),
    OutField::new(
        "raters",
        List(RATER_FIELDS),
        "One entry per rater, in rater order.",
    ),
    OutField::new(
        "thresholds",
        List(THRESHOLD_FIELDS),
        "One entry per rating value, lowest first.",
    ),
];

pub(crate) static RASCH: FunctionSpec = FunctionSpec {
    name: NAME,
    section: Section::Crowd,
    options_slot: true,
    args: &[
        Arg::required("item", Item, "What is rated (a response, an essay; text or integer)."),
        Arg::required("rater", Item, "Who rates it (an annotator or a judge model; text or integer)."),
        Arg::required("rating", Whole, "The ordinal rating, a whole number; the scale runs from the lowest rating given to the highest, every value in between used."),
        Arg::optional("weight", Weight, "How many times the rating counts (default 1)."),
    ],
    options: &[
        OptionSpec {
            key: "max_iter",
            ty: OptionType::Integer { min: 1, max: 1_000_000 },
            default: Some("1000"),
            meaning: "The most rounds of Newton steps (items, raters, thresholds); more is an error.",
        },
        OptionSpec {
            key: "tol",
            ty: OptionType::Number {
                valid: crate::spec::valid::positive,
                what: "a number > 0",
            },
            default: Some("1e-9"),
            meaning: "Stop when no item's, rater's or threshold's score residual (observed minus expected, in rating points) exceeds this.",
        },
    ],
    output: Output::Struct(RASCH_FIELDS),
    doc: Doc {
        summary: "Rater severity and item difficulty from ordinal ratings: the many-facet Rasch rating-scale model with two facets.",
        method: "P(rating = lowest + k) ∝ exp(Σ_{h ≤ k} -(δ_item + s_rater + τ_h)) (Andrich's rating scale, Linacre's many-facet form): each step up the scale has log-odds -(δ + s + τ_h). Joint maximum likelihood (JMLE, as Facets), with the raters' mean severity 0 and the thresholds summing to 0; an item or rater whose every rating is the lowest, or every rating the highest, has no finite estimate and is set aside with its rows, repeatedly (which can leave another rater with only extreme ratings), and the rest is fitted. Newton steps in turn on every item, every rater and the thresholds, each limited to 1 logit, until no score residual exceeds tol. Standard errors are the model's, from each element's own information; infit and outfit are Wright's mean squares. JMLE estimates are somewhat spread out with few ratings per element (Facets applies no correction either). Checked against scipy's fit of the same likelihood (tests/oracle/rasch.py) on five generated designs: five-point and three-point scales, a dichotomous one, repeated ratings, integer ids and set-aside elements in three rounds.",
        nulls: "A row with a NULL item, rater, rating or weight is skipped. A rating that is not a whole number, and a negative or non-finite weight, are errors; a zero weight counts nothing.",
        degenerate: "NULL for no rows. If every item or rater is set aside (one rating value in all, for example), every measure and threshold is NULL. Errors: ratings spanning more than 21 values (a longer scale costs K² per rating per round; recode it); a rating value between the lowest and the highest that no fitted row has (its threshold is not identified: recode the scale to the values used); items and raters that fall into subsets sharing no rater or item (their measures are not on one scale: fit each subset alone); ratings that order the items and raters perfectly (a Guttman pattern), where the likelihood has no finite maximum (detected when an estimate passes 30 logits); no convergence in max_iter rounds.",
        example: "SELECT rater, severity, infit FROM leaderboard('SELECT rasch(response_id, annotator, score) FROM ratings', 'raters') ORDER BY severity DESC;",
    },
    mapping: Some(Mapping {
        reference: "Facets (Linacre), two facets, rating scale model; the fixtures are scipy fits",
        rows: &[
            ("examinee/item measure (as difficulty)", "items.difficulty"),
            ("judge severity", "raters.severity"),
            ("Rasch-Andrich thresholds", "thresholds.threshold"),
            ("Model S.E., Infit MnSq, Outfit MnSq", "se, infit, outfit"),
        ],
    }),
    state: StateSize::Rows,
    ..FunctionSpec::PLAIN
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RaschFunction;

pub fn rasch_udaf(budget: &MemoryBudget) -> AggregateUDF {
    PrefdbAggregate::udaf(RaschFunction, budget)
}

/// The ratings' kinds: the item and rater as given, ratings as integers.
fn kinds(types: &[DataType]) -> Result<[ItemKind; 3]> {
    Ok([
        ItemKind::of(NAME, COLUMNS[0], &types[0])?,
        ItemKind::of(NAME, COLUMNS[1], &types[1])?,
        ItemKind::Integer,
    ])
}

impl Family for RaschFunction {
    type Config = RaschOptions;

    fn spec(&self) -> &'static FunctionSpec {
        &RASCH
    }

    fn configure(&self, o: &Options) -> Result<RaschOptions> {
        let d = RaschOptions::default();
        Ok(RaschOptions {
            max_iter: o.count("max_iter").unwrap_or(d.max_iter),
            tol: o.number("tol").unwrap_or(d.tol),
        })
    }

    fn item_type(&self, data: &[DataType]) -> Result<DataType> {
        Ok(ItemKind::of(NAME, "item", &data[0])?.output_type())
    }

    fn state_fields(&self, name: &str, args: &[FieldRef]) -> Result<Vec<FieldRef>> {
        let types: Vec<DataType> = args.iter().map(|f| f.data_type().clone()).collect();
        Ok(AnnotationRows::state_fields(name, kinds(&types)?))
    }

    fn accumulator(&self, call: &Call<'_, RaschOptions>) -> Result<Box<dyn Accumulator>> {
        let types: Vec<DataType> = (0..3).map(|i| call.data_type(i).clone()).collect();
        Ok(Box::new(RaschAccumulator {
            options: *call.config,
            rows: AnnotationRows::new(NAME, call, kinds(&types)?),
            return_type: call.return_type(),
        }))
    }
}

#[derive(Debug)]
struct RaschAccumulator {
    options: RaschOptions,
    rows: AnnotationRows,
    return_type: DataType,
}

impl RaschAccumulator {
    fn result(&self) -> Result<ScalarValue> {
        let DataType::Struct(fields) = &self.return_type else {
            return exec_err!("{NAME}: unexpected return type {}", self.return_type);
        };
        if self.rows.is_empty() {
            return Ok(ScalarValue::try_from(self.return_type.clone())?);
        }
        let a = self.rows.canonical();
        // The rating of each label id (label ids are in value order).
        let labels = self
            .rows
            .labels
            .take(self.rows.labels.value_order().into_iter());
        let ratings: Vec<i64> = labels.as_primitive::<Int64Type>().values().to_vec();
        let (lowest, highest) = (ratings[0], ratings[ratings.len() - 1]);
        if highest.saturating_sub(lowest) >= MAX_CATEGORIES {
            return exec_err!(
                "{NAME}: the ratings run from {lowest} to {highest}; the scale may have at most {MAX_CATEGORIES} values"
            );
        }
        let category: Vec<u32> = a
            .label
            .iter()
            .map(|&l| (ratings[l as usize] - lowest) as u32)
            .collect();
        let rows = RatingRows {
            items: a.tasks,
            raters: a.workers,
            steps: (highest - lowest) as usize,
            item: &a.task,
            rater: &a.worker,
            category: &category,
            weight: &a.weight,
        };
        let fit = rasch(&rows, &self.options).or_else(|e| match e {
            RaschError::MissingCategory(k) => exec_err!(
                "{NAME}: no fitted rating is {}; the scale runs from {lowest} to {highest} and every value in between needs ratings to place its threshold (items and raters whose every rating is the lowest or the highest are set aside first); recode the ratings to the values used",
                lowest + k as i64
            ),
            RaschError::Disconnected(n) => exec_err!(
                "{NAME}: the ratings fall into {n} subsets of items and raters that share no rater or item, so their measures are not on one scale; fit each subset on its own"
            ),
            RaschError::NotConverged {
                iterations,
                residual,
            } => exec_err!(
                "{NAME}: no convergence in {iterations} iterations (largest score residual {residual:e}); raise max_iter or tol"
            ),
            RaschError::NoFiniteMaximum => exec_err!(
                "{NAME}: the likelihood has no finite maximum (an estimate passed {LIMIT} logits): the ratings order the items and raters perfectly, so no finite severities and difficulties fit them best; more ratings that cross the pattern are needed"
            ),
            RaschError::Interrupted => exec_err!("{NAME}: the statement was cancelled"),
        })?;
        self.output(fields, &a, &ratings, lowest, fit)
    }

    fn output(
        &self,
        fields: &datafusion::arrow::datatypes::Fields,
        a: &prefdb_stats::crowd::Annotations,
        ratings: &[i64],
        lowest: i64,
        fit: RaschFit,
    ) -> Result<ScalarValue> {
        let types = ItemTypes {
            item: self.rows.tasks.kind().output_type(),
            args: vec![
                ("item", self.rows.tasks.kind().output_type()),
                ("rater", self.rows.workers.kind().output_type()),
            ],
        };
        // Per element: rows, weight, weighted rating sum.
        let mut by_item = vec![(0i64, 0.0, 0.0); a.tasks];
        let mut by_rater = vec![(0i64, 0.0, 0.0); a.workers];
        for r in 0..a.task.len() {
            let (w, x) = (a.weight[r], ratings[a.label[r] as usize] as f64);
            for e in [
                &mut by_item[a.task[r] as usize],
                &mut by_rater[a.worker[r] as usize],
            ] {
                e.0 += 1;
                e.1 += w;
                e.2 += w * x;
            }
        }
        let entries = |names: ArrayRef,
                       measures: &[Option<Measure>],
                       counts: &[(i64, f64, f64)],
                       outs: &'static [OutField]|
         -> Result<StructArray> {
            let column = |f: fn(&Measure) -> f64| -> ArrayRef {
                Arc::new(Float64Array::from_iter(
                    measures.iter().map(|m| m.as_ref().map(f)),
                ))
            };
            Ok(StructArray::try_new(
                fields_for(outs, &types),
                vec![
                    names,
                    column(|m| m.measure),
                    column(|m| m.se),
                    column(|m| m.infit),
                    column(|m| m.outfit),
                    Arc::new(Int64Array::from_iter_values(counts.iter().map(|c| c.0))),
                    Arc::new(Float64Array::from_iter(
                        counts.iter().map(|c| (c.1 > 0.0).then(|| c.2 / c.1)),
                    )),
                ],
                None,
            )?)
        };
        let items = entries(
            self.rows
                .tasks
                .take(self.rows.tasks.value_order().into_iter()),
            &fit.items,
            &by_item,
            ITEM_FIELDS,
        )?;
        let raters = entries(
            self.rows
                .workers
                .take(self.rows.workers.value_order().into_iter()),
            &fit.raters,
            &by_rater,
            RATER_FIELDS,
        )?;
        let values = fit.kept.len();
        let step = |h: usize, v: &[f64]| (h > 0).then(|| v.get(h - 1).copied()).flatten();
        let thresholds = StructArray::try_new(
            fields_for(THRESHOLD_FIELDS, &types),
            vec![
                Arc::new(Int64Array::from_iter_values(
                    (0..values as i64).map(|k| lowest + k),
                )),
                Arc::new(Float64Array::from_iter(
                    (0..values).map(|h| step(h, &fit.thresholds)),
                )),
                Arc::new(Float64Array::from_iter(
                    (0..values).map(|h| step(h, &fit.threshold_se)),
                )),
                Arc::new(Float64Array::from(fit.kept.clone())),
            ],
            None,
        )?;
        let list = |entries: StructArray| -> ArrayRef {
            Arc::new(SingleRowListArrayBuilder::new(Arc::new(entries)).build_list_array())
        };
        Ok(ScalarValue::Struct(Arc::new(StructArray::try_new(
            fields.clone(),
            vec![list(items), list(raters), list(thresholds)],
            None,
        )?)))
    }
}

impl Accumulator for RaschAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        // Ratings as integers: a whole number given as a float becomes one.
        if values[2].data_type() == &DataType::Float64 {
            let floats = values[2].as_primitive::<Float64Type>();
            if let Some(x) = floats
                .iter()
                .flatten()
                .find(|x| x.fract() != 0.0 || !x.is_finite() || x.abs() > 9e15)
            {
                return exec_err!("{NAME}: rating must be a whole number, got {x}");
            }
            let whole: Int64Array = floats.unary(|x| x as i64);
            let mut values = values.to_vec();
            values[2] = Arc::new(whole);
            return self.rows.update(&values);
        }
        self.rows.update(values)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.result()
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.rows.heap_size()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(self.rows.state())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.rows.merge(states)
    }
}
