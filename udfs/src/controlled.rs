//! `bt_rank_controlled(item_a, item_b, outcome, features [, weight] [, options])`:
//! Bradley–Terry with per-battle covariates (style and length control).
//!
//! Features differ from battle to battle, so unlike `bt_rank` the state cannot shrink to
//! pair counts: it keeps every battle (ids, score, weight and its feature vector).

use crate::call::{check_logical, check_physical, RowOrder};
use crate::items::{ItemColumn, ItemInterner, ItemKind};
use crate::leaderboard::{fisher_bounds, item_type, to_original_ids, Ranking};
use crate::memory::{bytes_of, MemoryBudget};
use crate::options::{
    row_weight, split_logical_call, split_physical_call, FunctionOptions, MAX_ITER,
};
use crate::pairwise::{
    check_dense_size, coerce_item_pair, f64_field, leaderboard_fields, OutcomeColumn, ARG_ITEMS,
    ARG_OUTCOME, DOC_SECTION,
};
use crate::state::{list_fields, wrap, StateRows};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int64Array, StructArray, UInt32Array,
};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::function::{
    AccumulatorArgs, AggregateFunctionSimplification, StateFieldsArgs,
};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, Expr, Signature, Volatility,
};
use prefdb_stats::calibration::scores::normal_upper_quantile;
use prefdb_stats::pairwise::bradley_terry::to_elo_scale;
use prefdb_stats::pairwise::{
    fit_controlled, Battles, BtOptions, ItemTotals, TieHandling, STRENGTH_RANK_TOLERANCE,
};
use prefdb_stats::special::normal_cdf;
use std::sync::{Arc, OnceLock};

/// The most features (entries of the features array) a controlled fit takes.
const MAX_FEATURES: usize = 100;

const NAME: &str = "bt_rank_controlled";
const OPTION_KEYS: &[&str] = &[
    "scale",
    "base",
    "ties",
    "prior",
    "max_iter",
    "tol",
    "confidence",
];
const USAGE: &str =
    "bt_rank_controlled(item_a, item_b, outcome, ARRAY[feature, ...] [, weight] [, 'options'])";

#[derive(Debug, Clone, Copy, PartialEq)]
struct Config {
    fit: BtOptions,
    scale: f64,
    base: f64,
    confidence: f64,
}

fn parse_options(text: Option<&str>) -> Result<Config> {
    let o = match text {
        Some(t) => FunctionOptions::parse(NAME, t, OPTION_KEYS)?,
        None => FunctionOptions::empty(NAME),
    };
    let d = BtOptions::default();
    Ok(Config {
        fit: BtOptions {
            ties: o.choice_or(
                "ties",
                TieHandling::Half,
                &[("half", TieHandling::Half), ("ignore", TieHandling::Ignore)],
            )?,
            prior: o.f64_or(
                "prior",
                d.prior,
                |v| v.is_finite() && v >= 0.0,
                "a number >= 0",
            )?,
            max_iter: o.usize_or("max_iter", d.max_iter, 1..=MAX_ITER)?,
            tol: o.f64_or("tol", d.tol, |v| v.is_finite() && v > 0.0, "a number > 0")?,
        },
        scale: o.f64_or("scale", 400.0, |v| v.is_finite() && v > 0.0, "a number > 0")?,
        base: o.f64_or("base", 1000.0, f64::is_finite, "a finite number")?,
        confidence: o.f64_or(
            "confidence",
            0.95,
            |c| c > 0.0 && c < 1.0,
            "a number between 0 and 1",
        )?,
    })
}

/// Data arguments: item_a, item_b, outcome, features and an optional weight.
const ARITY: (usize, usize) = (4, 5);

pub fn coefficient_fields() -> Fields {
    Fields::from(vec![
        Field::new("feature", DataType::Int64, true),
        f64_field("coef"),
        f64_field("se"),
        f64_field("z"),
        f64_field("p_value"),
        f64_field("ci_lower"),
        f64_field("ci_upper"),
    ])
}

fn result_fields(item: DataType) -> Fields {
    Fields::from(vec![
        Field::new(
            "leaderboard",
            DataType::new_list(
                DataType::Struct(Fields::from(leaderboard_fields(item))),
                true,
            ),
            true,
        ),
        Field::new(
            "coefficients",
            DataType::new_list(DataType::Struct(coefficient_fields()), true),
            true,
        ),
    ])
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ControlledUdaf {
    signature: Signature,
    budget: MemoryBudget,
}

pub fn bt_rank_controlled_udaf(budget: &MemoryBudget) -> AggregateUDF {
    AggregateUDF::from(ControlledUdaf {
        signature: Signature::user_defined(Volatility::Immutable),
        budget: budget.clone(),
    })
}

impl AggregateUDFImpl for ControlledUdaf {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if !(4..=6).contains(&arg_types.len()) {
            return plan_err!(
                "{NAME} takes 4 to 6 arguments, got {}: {USAGE}",
                arg_types.len()
            );
        }
        let mut coerced = coerce_item_pair(NAME, &arg_types[..2])?;
        coerced.push(match &arg_types[2] {
            t @ (DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) => t.clone(),
            DataType::Dictionary(_, v) if v.is_string() => v.as_ref().clone(),
            DataType::Null => DataType::Float64,
            t if t.is_numeric() => DataType::Float64,
            t => {
                return plan_err!(
                    "{NAME}: outcome must be text ('a', 'b', 'tie', ...) or a number in [0, 1], got {t}"
                )
            }
        });
        coerced.push(match &arg_types[3] {
            DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _)
                if f.data_type().is_numeric() || f.data_type() == &DataType::Null =>
            {
                DataType::new_list(DataType::Float64, true)
            }
            t => {
                return plan_err!(
                "{NAME}: features must be an array of numbers, e.g. ARRAY[len_diff, 1.0], got {t}"
            )
            }
        });
        for (i, t) in arg_types.iter().enumerate().skip(4) {
            coerced.push(match t {
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => t.clone(),
                DataType::Dictionary(_, v) if v.is_string() => v.as_ref().clone(),
                DataType::Null => DataType::Float64,
                t if i == 4 && t.is_numeric() => DataType::Float64,
                t if i == 4 => return plan_err!("{NAME}: weight must be numeric, got {t}"),
                t => {
                    return plan_err!(
                        "{NAME}: the last argument must be the options string literal, got {t}"
                    )
                }
            });
        }
        Ok(coerced)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let item = ItemKind::of(NAME, "the first item argument", &arg_types[0])?.output_type();
        Ok(DataType::Struct(result_fields(item)))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let item = ItemKind::of(
            NAME,
            "the first item argument",
            args.input_fields[0].data_type(),
        )?
        .output_type();
        Ok(list_fields(
            args.name,
            vec![
                ("items", item),
                ("a", DataType::UInt32),
                ("b", DataType::UInt32),
                ("score_a", DataType::Float64),
                ("weight", DataType::Float64),
                ("features", DataType::Float64),
            ],
        ))
    }

    fn accumulator(&self, acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        check_physical(NAME, &acc_args, RowOrder::Ignored)?;
        let (data_args, options) = split_physical_call(NAME, acc_args.exprs, ARITY, USAGE)?;
        let weight = data_args == 5;
        let config = parse_options(options.as_deref())?;
        let kind = ItemKind::of(
            NAME,
            "the first item argument",
            acc_args.expr_fields[0].data_type(),
        )?;
        Ok(Box::new(ControlledAccumulator {
            config,
            weight,
            items: ItemInterner::new(kind),
            n_features: None,
            battles: Battles::default(),
            return_type: acc_args.return_field.data_type().clone(),
            budget: self.budget.clone(),
        }))
    }

    fn simplify(&self) -> Option<AggregateFunctionSimplification> {
        Some(Box::new(|aggregate: AggregateFunction, _info| {
            check_logical(&aggregate, RowOrder::Ignored)?;
            let (_, options) = split_logical_call(NAME, &aggregate.params.args, ARITY, USAGE)?;
            parse_options(options.as_deref())?;
            Ok(Expr::AggregateFunction(aggregate))
        }))
    }

    fn documentation(&self) -> Option<&Documentation> {
        static DOC: OnceLock<Documentation> = OnceLock::new();
        Some(DOC.get_or_init(documentation))
    }
}

#[derive(Debug)]
struct ControlledAccumulator {
    config: Config,
    weight: bool,
    items: ItemInterner,
    n_features: Option<usize>,
    battles: Battles,
    return_type: DataType,
    budget: MemoryBudget,
}

impl ControlledAccumulator {
    fn set_width(&mut self, p: usize) -> Result<()> {
        match self.n_features {
            None => {
                self.n_features = Some(p);
                Ok(())
            }
            Some(q) if q == p => Ok(()),
            Some(q) => {
                exec_err!("{NAME}: every features array must have the same length; got {q} and {p}")
            }
        }
    }

    fn push(&mut self, a: u32, b: u32, score: f64, weight: f64, features: &[f64]) {
        self.battles.a.push(a);
        self.battles.b.push(b);
        self.battles.score_a.push(score);
        self.battles.weight.push(weight);
        self.battles.features.extend_from_slice(features);
    }

    /// Battles with items renumbered in value order and sorted, so the fit does not depend
    /// on the order in which rows arrived. Returns the original id of each canonical id.
    fn canonical(&self, p: usize) -> (Vec<usize>, Battles) {
        let original = self.items.value_order();
        let position = crate::items::inverse(&original);
        let b = &self.battles;
        let key = |r: usize| {
            (
                position[b.a[r] as usize],
                position[b.b[r] as usize],
                b.score_a[r].to_bits(),
                b.weight[r].to_bits(),
            )
        };
        let features = |r: usize| b.features[r * p..(r + 1) * p].iter().map(|f| f.to_bits());
        let mut rows: Vec<usize> = (0..b.a.len()).collect();
        rows.sort_unstable_by(|&x, &y| {
            key(x)
                .cmp(&key(y))
                .then_with(|| features(x).cmp(features(y)))
        });
        let mut out = Battles::default();
        for r in rows {
            out.a.push(position[b.a[r] as usize] as u32);
            out.b.push(position[b.b[r] as usize] as u32);
            out.score_a.push(b.score_a[r]);
            out.weight.push(b.weight[r]);
            out.features
                .extend_from_slice(&b.features[r * p..(r + 1) * p]);
        }
        (original, out)
    }
}

impl Accumulator for ControlledAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let col_a = ItemColumn::new(&values[0])?;
        let col_b = ItemColumn::new(&values[1])?;
        let outcome = OutcomeColumn::new(NAME, Some(&values[2]))?;
        let features = values[3].as_list::<i32>();
        let weights = self.weight.then(|| values[4].as_primitive::<Float64Type>());
        let mut row_features: Vec<f64> = Vec::new();
        for row in 0..values[0].len() {
            let (Some(a), Some(b)) = (col_a.get(row), col_b.get(row)) else {
                continue;
            };
            let Some((a_share, b_share, tie_share)) = outcome.shares(NAME, row)? else {
                continue;
            };
            if features.is_null(row) {
                continue;
            }
            let f = features.value(row);
            let f = f.as_primitive::<Float64Type>();
            if f.null_count() > 0 {
                continue;
            }
            let Some(w) = row_weight(NAME, weights, row)? else {
                continue;
            };
            if w == 0.0 || ItemColumn::same(a, b) {
                continue;
            }
            let score = if tie_share > 0.0 {
                if self.config.fit.ties == TieHandling::Ignore {
                    continue;
                }
                0.5
            } else {
                a_share / (a_share + b_share)
            };
            row_features.clear();
            row_features.extend_from_slice(f.values());
            if let Some(x) = row_features.iter().find(|x| !x.is_finite()) {
                return exec_err!("{NAME}: features must be finite numbers, got {x}");
            }
            self.set_width(row_features.len())?;
            let ia = self.items.intern(a)?;
            let ib = self.items.intern(b)?;
            self.push(ia, ib, score, w, &row_features);
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let Some(p) = self.n_features.filter(|_| !self.items.is_empty()) else {
            return ScalarValue::try_from(&self.return_type);
        };
        let n = self.items.len();
        if !self.battles.weight.iter().sum::<f64>().is_finite() {
            return exec_err!(
                "{NAME}: the weights add up past the largest representable number; scale them down"
            );
        }
        check_dense_size(
            NAME,
            "the controlled model",
            n,
            "rank per category, or bt_rank for the uncontrolled leaderboard",
        )?;
        if p > MAX_FEATURES {
            return exec_err!(
                "{NAME}: the features arrays have {p} entries, and at most {MAX_FEATURES} are supported (each adds a column to a dense system)"
            );
        }
        // The dense (items + features)² Hessian, its factor and the covariance, and a copy
        // of the battles in canonical order.
        let _workspace = self.budget.reserve(
            NAME,
            "the fit",
            bytes_of::<f64>(3 * (n + p) * (n + p) + self.battles.weight.len() * (p + 4)),
        )?;
        let (original, battles) = self.canonical(p);
        let fit = fit_controlled(n, p, &battles, &self.config.fit).map_err(|e| {
            datafusion::common::DataFusionError::Execution(format!(
                "{NAME}: {e}; a constant or collinear feature (e.g. one that is always 0, or \
                     a constant with items always in the same order), or a feature that predicts \
                     every outcome, has no finite estimate"
            ))
        })?;
        let z = normal_upper_quantile((1.0 - self.config.confidence) / 2.0);
        let se = |i: usize| fit.covariance.as_ref().map(|c| c[i][i].max(0.0).sqrt());
        // The leaderboard, by original item id.
        let unit = self.config.scale / std::f64::consts::LN_10;
        let canonical_ratings: Vec<f64> = fit
            .strengths
            .iter()
            .map(|&s| to_elo_scale(s, self.config.scale, self.config.base))
            .collect();
        let (lower, upper) = fisher_bounds(
            &canonical_ratings,
            fit.covariance.as_ref(),
            self.config.confidence,
            unit,
        );
        let ratings = to_original_ids(canonical_ratings, &original);
        let (lower, upper) = (
            to_original_ids(lower, &original),
            to_original_ids(upper, &original),
        );
        let mut totals = vec![ItemTotals::default(); n];
        for r in 0..battles.a.len() {
            let (a, b) = (
                original[battles.a[r] as usize],
                original[battles.b[r] as usize],
            );
            ItemTotals::add_battle(&mut totals, a, b, battles.score_a[r], battles.weight[r]);
        }
        let entries = Ranking {
            items: &self.items,
            ratings,
            rank_tolerance: STRENGTH_RANK_TOLERANCE * unit,
            totals: Some(totals),
            intervals: Some((lower, upper)),
            tie_param: None,
        }
        .into_entries()?;
        let coefs: Vec<(f64, Option<f64>)> =
            (0..p).map(|k| (fit.coefficients[k], se(n + k))).collect();
        let col = |f: &dyn Fn(f64, Option<f64>) -> Option<f64>| -> ArrayRef {
            Arc::new(Float64Array::from(
                coefs.iter().map(|&(c, s)| f(c, s)).collect::<Vec<_>>(),
            ))
        };
        let coefficients = StructArray::try_new(
            coefficient_fields(),
            vec![
                Arc::new(Int64Array::from_iter_values(1..=p as i64)),
                col(&|c, _| Some(c)),
                col(&|_, s| s),
                col(&|c, s| s.map(|s| c / s)),
                col(&|c, s| s.map(|s| 2.0 * (1.0 - normal_cdf((c / s).abs())))),
                col(&|c, s| s.map(|s| c - z * s)),
                col(&|c, s| s.map(|s| c + z * s)),
            ],
            None,
        )?;
        let list = |a: StructArray| -> ArrayRef {
            Arc::new(SingleRowListArrayBuilder::new(Arc::new(a)).build_list_array())
        };
        Ok(ScalarValue::Struct(Arc::new(StructArray::try_new(
            result_fields(item_type(&self.items)),
            vec![list(entries), list(coefficients)],
            None,
        )?)))
    }

    fn size(&self) -> usize {
        let b = &self.battles;
        std::mem::size_of_val(self)
            + self.items.heap_size()
            + (b.a.capacity() + b.b.capacity()) * 4
            + (b.score_a.capacity() + b.weight.capacity() + b.features.capacity()) * 8
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let b = &self.battles;
        Ok(vec![
            wrap(self.items.to_array()),
            wrap(Arc::new(UInt32Array::from(b.a.clone()))),
            wrap(Arc::new(UInt32Array::from(b.b.clone()))),
            wrap(Arc::new(Float64Array::from(b.score_a.clone()))),
            wrap(Arc::new(Float64Array::from(b.weight.clone()))),
            wrap(Arc::new(Float64Array::from(b.features.clone()))),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        for row in StateRows::new(NAME, states, 6)?.rows() {
            let id_map = self.items.intern_array(&row.list(0)?)?;
            let (a, b) = (row.ids(1, &id_map)?, row.ids(2, &id_map)?);
            let (s, w) = (row.values::<Float64Type>(3)?, row.counts(4)?);
            let f = row.values::<Float64Type>(5)?;
            let n = row.same_length(&[a.len(), b.len(), s.len(), w.len()])?;
            if n == 0 {
                continue;
            }
            if f.len() % n != 0 || s.values().iter().any(|s| !(0.0..=1.0).contains(s)) {
                return Err(row.corrupt("features or scores do not fit the battles"));
            }
            self.set_width(f.len() / n)?;
            self.battles.a.extend(a);
            self.battles.b.extend(b);
            self.battles.score_a.extend_from_slice(s.values());
            self.battles.weight.extend_from_slice(w.values());
            self.battles.features.extend_from_slice(f.values());
        }
        Ok(())
    }
}

fn documentation() -> Documentation {
    Documentation::builder(
        DOC_SECTION,
        "Bradley–Terry with per-battle covariates, for style and length control (Chatbot \
         Arena's style control; Style Over Substance): logit P(item_a beats item_b) = s_a - s_b \
         + beta . features, with features the battle's feature differences (e.g. (len_a - \
         len_b) / (len_a + len_b), or a constant 1 for a first-position effect). Fitted by \
         maximum likelihood (Newton, dense Hessian) with the same Gaussian prior on s as bt_rank \
         and none on beta; a tie counts as half a win for each side (ties=ignore drops ties). \
         Checked against a statsmodels binomial GLM with the same design to 1e-6. Returns a \
         struct: leaderboard, the controlled leaderboard list (ratings on bt_rank's scale; \
         ci_lower/ci_upper and rank_lower/rank_upper from the observed Fisher information at \
         the chosen confidence), and coefficients, a list of (feature, coef, se, z, p_value, \
         ci_lower, ci_upper), feature being the 1-based position in the array and coef on the \
         log-odds scale. Every features array must have the same length. A row with a NULL \
         item, outcome, weight, features array or feature is skipped, as are self-comparisons \
         and rows of weight 0. NULL with no rows left. Up to 1000 items and 100 features. Memory: every battle \
         is kept (about 24 + 8 * features bytes).",
        "bt_rank_controlled(item_a, item_b, outcome, ARRAY[f1, ...] [, weight] [, 'scale=400, base=1000, ties=half, prior=0.01, max_iter=100, tol=1e-10, confidence=0.95'])",
    )
    .with_argument("item_a, item_b", ARG_ITEMS)
    .with_argument("outcome", ARG_OUTCOME)
    .with_argument("features", "An array of numbers per battle: the covariates, as differences a - b.")
    .with_argument("weight", "Optional non-negative row weight.")
    .with_argument("options", "String literal, last: scale, base, ties (half | ignore), prior, max_iter, tol, confidence.")
    .with_sql_example(
        "SELECT unnest(r['coefficients']) FROM (SELECT bt_rank_controlled(model_a, model_b, winner, ARRAY[(len_a - len_b) / (len_a + len_b)]) AS r FROM votes);",
    )
    .with_related_udf("bt_rank")
    .build()
}
