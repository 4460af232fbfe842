//! `pl_rank(ranking_id, item, position [, weight] [, options])`: Plackett–Luce leaderboards
//! from rankings.
//!
//! The rows of one ranking may arrive in different partitions, so the state keeps every
//! row; `evaluate` groups them by ranking, in value order, and fits once.

use crate::items::ItemKind;
use crate::leaderboard::{fisher_bounds, Bounds, Ranking as Leaderboard};
use crate::memory::{bytes_of, MemoryBudget};
use crate::options::row_weight;
use crate::pairwise::anchor::{Anchor, Spread};
use crate::pairwise::{check_dense_size, check_interval_size, Intervals};
use crate::ranked::RankedRows;
use crate::spec::aggregate::{Call, Family, PrefdbAggregate};
use crate::spec::{FunctionSpec, Options};
use crate::state::{list_fields, wrap, StateRows};
use datafusion::arrow::array::{ArrayRef, AsArray, Float64Array};
use datafusion::arrow::datatypes::{DataType, FieldRef, Float64Type};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::{Accumulator, AggregateUDF};
use prefdb_stats::pairwise::bradley_terry::{to_elo_scale, DEFAULT_PRIOR};
use prefdb_stats::pairwise::{
    bootstrap_plackett_luce, fit_plackett_luce, implied_pairs, item_totals,
    plackett_luce_covariance, plackett_luce_sandwich, BootstrapOptions, BtError, BtOptions,
    Ranking, TieHandling, STRENGTH_RANK_TOLERANCE,
};
use std::sync::Arc;

const NAME: &str = "pl_rank";

#[derive(Debug, Clone, PartialEq)]
pub struct PlConfig {
    fit: BtOptions,
    scale: f64,
    base: f64,
    intervals: Intervals,
    confidence: f64,
    anchor: Option<Anchor>,
}

/// `pl_rank`: its declaration is `pairwise::spec::PL_RANK`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PlRank;

pub fn pl_rank_udaf(budget: &MemoryBudget) -> AggregateUDF {
    PrefdbAggregate::udaf(PlRank, budget)
}

impl Family for PlRank {
    type Config = PlConfig;

    fn spec(&self) -> &'static FunctionSpec {
        &crate::pairwise::spec::PL_RANK
    }

    fn configure(&self, o: &Options) -> Result<PlConfig> {
        let d = BtOptions::default();
        Ok(PlConfig {
            fit: BtOptions {
                ties: TieHandling::Half,
                prior: o.number("prior").unwrap_or(d.prior),
                max_iter: o.count("max_iter").unwrap_or(d.max_iter),
                tol: o.number("tol").unwrap_or(d.tol),
            },
            scale: o.number("scale").unwrap_or_default(),
            base: o.number("base").unwrap_or_default(),
            intervals: Intervals::from_options(o)?,
            confidence: o.number("confidence").unwrap_or_default(),
            anchor: Anchor::from_options(o),
        })
    }

    /// The items are the second argument (the first is the ranking).
    fn item_type(&self, data: &[DataType]) -> Result<DataType> {
        Ok(ItemKind::of(NAME, "item", &data[1])?.output_type())
    }

    fn state_fields(&self, name: &str, args: &[FieldRef]) -> Result<Vec<FieldRef>> {
        let kind = |i: usize, arg: &str| -> Result<DataType> {
            Ok(ItemKind::of(NAME, arg, args[i].data_type())?.output_type())
        };
        Ok(list_fields(
            name,
            vec![
                ("rankings", kind(0, "ranking_id")?),
                ("items", kind(1, "item")?),
                ("ranking_ids", DataType::UInt32),
                ("item_ids", DataType::UInt32),
                ("positions", DataType::Float64),
                ("weights", DataType::Float64),
            ],
        ))
    }

    fn accumulator(&self, call: &Call<'_, PlConfig>) -> Result<Box<dyn Accumulator>> {
        let kind = |i: usize, arg: &str| ItemKind::of(NAME, arg, call.data_type(i));
        Ok(Box::new(PlAccumulator {
            config: call.config.clone(),
            weight: call.data == 4,
            rows: RankedRows::new(kind(0, "ranking_id")?, kind(1, "item")?),
            weights: Vec::new(),
            return_type: call.return_type(),
            budget: call.budget.clone(),
        }))
    }
}

#[derive(Debug)]
struct PlAccumulator {
    config: PlConfig,
    weight: bool,
    /// (ranking, item, position) rows.
    rows: RankedRows,
    /// Each row's weight.
    weights: Vec<f64>,
    return_type: DataType,
    budget: MemoryBudget,
}

impl PlAccumulator {
    /// Rankings in ranking-value order, items renumbered in value order, so the fit does not
    /// depend on how rows arrived. Returns the original id of each canonical item id.
    fn canonical_rankings(&self) -> Result<(Vec<usize>, Vec<Ranking>)> {
        let data = &self.rows;
        let original = data.items.value_order();
        let item_pos = crate::items::inverse(&original);
        let ranking_pos = data.groups.value_positions();
        let mut rows: Vec<usize> = (0..data.item_ids.len()).collect();
        rows.sort_by(|&x, &y| {
            ranking_pos[data.group_ids[x] as usize]
                .cmp(&ranking_pos[data.group_ids[y] as usize])
                .then(data.positions[x].total_cmp(&data.positions[y]))
                .then(item_pos[data.item_ids[x] as usize].cmp(&item_pos[data.item_ids[y] as usize]))
        });
        let mut out = Vec::new();
        // The ranking in which each item was last seen, to find an item listed twice.
        let mut last_ranking = vec![u32::MAX; original.len()];
        let mut start = 0;
        while start < rows.len() {
            let rid = data.group_ids[rows[start]];
            let mut end = start;
            while end < rows.len() && data.group_ids[rows[end]] == rid {
                end += 1;
            }
            let members = &rows[start..end];
            let weight = self.weights[members[0]];
            let mut groups: Vec<Vec<u32>> = Vec::new();
            for (k, &row) in members.iter().enumerate() {
                let item = item_pos[data.item_ids[row] as usize] as u32;
                if std::mem::replace(&mut last_ranking[item as usize], rid) == rid {
                    return exec_err!(
                        "{NAME}: ranking {} lists item {} twice",
                        data.groups.display(rid as usize),
                        data.items.display(data.item_ids[row] as usize)
                    );
                }
                if self.weights[row] != weight {
                    return exec_err!(
                        "{NAME}: the rows of ranking {} have different weights ({weight} and {}); a weight belongs to the whole ranking",
                        data.groups.display(rid as usize),
                        self.weights[row]
                    );
                }
                if k > 0 && data.positions[row] == data.positions[members[k - 1]] {
                    groups.last_mut().expect("a previous group").push(item);
                } else {
                    groups.push(vec![item]);
                }
            }
            if weight > 0.0 {
                out.push(Ranking { groups, weight });
            }
            start = end;
        }
        Ok((original, out))
    }

    fn fit_error(&self, e: BtError, original: &[usize]) -> datafusion::common::DataFusionError {
        let message = match e {
            BtError::MleDoesNotExist { item, .. } => format!(
                "{NAME}: with prior=0 the maximum-likelihood ratings do not exist because item {} is never ranked below (or never above) the others it meets; use a prior > 0 (the default is {DEFAULT_PRIOR})",
                self.rows.items.display(original[item as usize])
            ),
            other => format!("{NAME}: {other}"),
        };
        datafusion::common::DataFusionError::Execution(message)
    }
}

impl Accumulator for PlAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let weights = self.weight.then(|| values[3].as_primitive::<Float64Type>());
        let own = &mut self.weights;
        self.rows.update(NAME, values, |row| {
            let Some(weight) = row_weight(NAME, weights, row)? else {
                return Ok(false);
            };
            own.push(weight);
            Ok(true)
        })
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let (original, rankings) = self.canonical_rankings()?;
        if rankings.is_empty() {
            return ScalarValue::try_from(&self.return_type);
        }
        if !rankings.iter().map(|r| r.weight).sum::<f64>().is_finite() {
            return exec_err!(
                "{NAME}: the weights add up past the largest representable number; scale them down"
            );
        }
        let n = self.rows.items.len();
        check_dense_size(
            NAME,
            "Plackett–Luce",
            n,
            "bt_rank over the pairs the rankings imply (one row per pair of ranked items) scales to hundreds of thousands of items",
        )?;
        check_interval_size(NAME, self.config.intervals, n)?;
        // The dense Hessian and its factor; Fisher intervals' covariance; the bootstrap's
        // kept strengths and a dense refit per thread.
        let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
        let dense = bytes_of::<f64>(3 * n * n);
        let _workspace = self.budget.reserve(
            NAME,
            "the fit",
            match self.config.intervals {
                Intervals::Bootstrap { replicates, .. } => dense
                    .saturating_add(bytes_of::<f64>(replicates.saturating_mul(n)))
                    .saturating_add(threads.saturating_mul(dense)),
                _ => dense,
            },
        )?;
        let (canonical, _) = fit_plackett_luce(n, &rankings, &self.config.fit)
            .map_err(|e| self.fit_error(e, &original))?;
        let totals = item_totals(n, &implied_pairs(&rankings));
        let mut ratings: Vec<f64> = canonical
            .iter()
            .map(|&s| to_elo_scale(s, self.config.scale, self.config.base))
            .collect();
        let unit = self.config.scale / std::f64::consts::LN_10;
        let rating = |s: f64| to_elo_scale(s, self.config.scale, self.config.base);
        let (mut cov, mut boot) = (None, None);
        // Intervals by canonical id.
        let mut intervals: Option<Bounds> = match self.config.intervals {
            Intervals::None => None,
            Intervals::Fisher | Intervals::Sandwich => {
                let fit = &self.config.fit;
                cov = Some(match self.config.intervals {
                    Intervals::Sandwich => plackett_luce_sandwich(n, &rankings, &canonical, fit),
                    _ => plackett_luce_covariance(n, &rankings, &canonical, fit),
                });
                Some(fisher_bounds(
                    &ratings,
                    cov.as_ref().and_then(Option::as_ref),
                    self.config.confidence,
                    unit,
                ))
            }
            Intervals::Bootstrap { replicates, seed } => {
                let b = bootstrap_plackett_luce(
                    n,
                    &rankings,
                    &self.config.fit,
                    &BootstrapOptions {
                        replicates,
                        seed,
                        confidence: self.config.confidence,
                    },
                )
                .map_err(|e| self.fit_error(e, &original))?;
                let bounds = |v: &[f64]| v.iter().map(|&s| Some(rating(s))).collect();
                let found = (bounds(&b.lower), bounds(&b.upper));
                boot = Some(b);
                Some(found)
            }
        };
        let reported = match &self.config.anchor {
            None => None,
            Some(anchor) => anchor.apply(
                NAME,
                &self.rows.items,
                &original,
                &mut ratings,
                &mut intervals,
                Spread::of(&cov, &boot),
                self.config.confidence,
                unit,
            )?,
        };
        Leaderboard {
            items: &self.rows.items,
            ids: &original,
            ratings,
            rank_tolerance: STRENGTH_RANK_TOLERANCE * self.config.scale,
            totals: Some(totals),
            intervals,
            reported,
            tie_param: None,
        }
        .into_scalar()
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.rows.heap_size() + self.weights.capacity() * 8
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let mut state = self.rows.state();
        state.push(wrap(Arc::new(Float64Array::from(self.weights.clone()))));
        Ok(state)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        for row in StateRows::new(NAME, states, 6)?.rows() {
            let weights = row.counts(5)?;
            let n = self.rows.merge(&row)?;
            if weights.len() != n {
                return Err(row.corrupt("weights do not match the rows"));
            }
            self.weights.extend_from_slice(weights.values());
        }
        Ok(())
    }
}
