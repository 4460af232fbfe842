//! `bt_rank_controlled(item_a, item_b, outcome, features [, weight] [, options])`:
//! Bradley–Terry with per-battle covariates (style and length control).
//!
//! Features differ from battle to battle, so unlike `bt_rank` the state cannot shrink to
//! pair counts: it keeps every battle (ids, score, weight and its feature vector).

use crate::items::{ItemColumn, ItemInterner, ItemKind};
use crate::leaderboard::{fisher_bounds, item_type, Ranking};
use crate::memory::{bytes_of, MemoryBudget};
use crate::options::row_weight;
use crate::pairwise::anchor::{Anchor, Spread};
use crate::pairwise::{check_dense_size, coerce_item_pair, reweight_floor, OutcomeColumn};
use crate::spec::aggregate::{Call, Family, PrefdbAggregate};
use crate::spec::{struct_fields, ArgType, FunctionSpec, Options};
use crate::state::{list_fields, wrap, StateRows};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int64Array, StructArray, UInt32Array,
};
use datafusion::arrow::datatypes::{DataType, FieldRef, Fields, Float64Type};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::{Accumulator, AggregateUDF};
use prefdb_stats::calibration::scores::normal_upper_quantile;
use prefdb_stats::pairwise::bradley_terry::to_elo_scale;
use prefdb_stats::pairwise::{
    fit_controlled_with, Battles, BtOptions, ControlledOptions, ItemTotals, Meat, TieHandling,
    STRENGTH_RANK_TOLERANCE,
};
use prefdb_stats::special::normal_cdf;
use std::sync::Arc;

/// The most features (entries of the features array) a controlled fit takes.
const MAX_FEATURES: usize = 100;

const NAME: &str = "bt_rank_controlled";

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    fit: BtOptions,
    scale: f64,
    base: f64,
    confidence: f64,
    contextual: ControlledOptions,
    anchor: Option<Anchor>,
}

pub fn coefficient_fields() -> Fields {
    struct_fields(crate::pairwise::spec::COEFFICIENT_FIELDS, &DataType::Utf8)
}

fn result_fields(item: DataType) -> Fields {
    struct_fields(crate::pairwise::spec::CONTROLLED_FIELDS, &item)
}

/// `bt_rank_controlled`: its declaration is `pairwise::spec::BT_RANK_CONTROLLED`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BtRankControlled;

pub fn bt_rank_controlled_udaf(budget: &MemoryBudget) -> AggregateUDF {
    PrefdbAggregate::udaf(BtRankControlled, budget)
}

impl Family for BtRankControlled {
    type Config = Config;

    fn spec(&self) -> &'static FunctionSpec {
        &crate::pairwise::spec::BT_RANK_CONTROLLED
    }

    fn configure(&self, o: &Options) -> Result<Config> {
        let d = BtOptions::default();
        Ok(Config {
            fit: BtOptions {
                ties: match o.choice("ties") {
                    Some("ignore") => TieHandling::Ignore,
                    _ => TieHandling::Half,
                },
                prior: o.number("prior").unwrap_or(d.prior),
                max_iter: o.count("max_iter").unwrap_or(d.max_iter),
                tol: o.number("tol").unwrap_or(d.tol),
            },
            scale: o.number("scale").unwrap_or_default(),
            base: o.number("base").unwrap_or_default(),
            confidence: o.number("confidence").unwrap_or_default(),
            contextual: ControlledOptions {
                normalize: o.choice("normalize") == Some("true"),
                coef_reg: o.number("coef_reg").unwrap_or_default(),
                reweight: reweight_floor(o),
                meat: match o.choice("se") {
                    Some("sandwich") => Meat::Observed,
                    _ => Meat::Expected,
                },
            },
            anchor: Anchor::from_options(o),
        })
    }

    /// Items of one kind, and the features an array of numbers.
    fn coerce(&self, types: &[DataType]) -> Result<Vec<DataType>> {
        let spec = self.spec();
        spec.check_arg_count(types.len())?;
        let mut coerced = coerce_item_pair(NAME, &types[..2])?;
        coerced.push(ArgType::Outcome.coerce(NAME, "outcome", &types[2])?);
        coerced.push(match &types[3] {
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
        spec.coerce_rest(types, coerced)
    }

    fn state_fields(&self, name: &str, args: &[FieldRef]) -> Result<Vec<FieldRef>> {
        let item = self.item_type(&[args[0].data_type().clone()])?;
        Ok(list_fields(
            name,
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

    fn accumulator(&self, call: &Call<'_, Config>) -> Result<Box<dyn Accumulator>> {
        let kind = ItemKind::of(NAME, "the first item argument", call.data_type(0))?;
        Ok(Box::new(ControlledAccumulator {
            config: call.config.clone(),
            weight: call.data == 5,
            items: ItemInterner::new(kind),
            n_features: None,
            battles: Battles::default(),
            return_type: call.return_type(),
            budget: call.budget.clone(),
        }))
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
        let fit = fit_controlled_with(n, p, &battles, &self.config.fit, &self.config.contextual)
            .map_err(|e| {
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
        let mut canonical_ratings: Vec<f64> = fit
            .strengths
            .iter()
            .map(|&s| to_elo_scale(s, self.config.scale, self.config.base))
            .collect();
        let mut intervals = Some(fisher_bounds(
            &canonical_ratings,
            fit.covariance.as_ref(),
            self.config.confidence,
            unit,
        ));
        let reported = match &self.config.anchor {
            None => None,
            Some(anchor) => anchor.apply(
                NAME,
                &self.items,
                &original,
                &mut canonical_ratings,
                &mut intervals,
                Spread::Covariance(fit.covariance.as_ref()),
                self.config.confidence,
                unit,
            )?,
        };
        let mut totals = vec![ItemTotals::default(); n];
        for r in 0..battles.a.len() {
            let (a, b) = (battles.a[r] as usize, battles.b[r] as usize);
            ItemTotals::add_battle(&mut totals, a, b, battles.score_a[r], battles.weight[r]);
        }
        let entries = Ranking {
            items: &self.items,
            ids: &original,
            ratings: canonical_ratings,
            rank_tolerance: STRENGTH_RANK_TOLERANCE * unit,
            totals: Some(totals),
            intervals,
            reported,
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
