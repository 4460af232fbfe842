//! `pl_rank(ranking_id, item, position [, weight] [, options])`: Plackett–Luce leaderboards
//! from rankings.
//!
//! The rows of one ranking may arrive in different partitions, so the state keeps every
//! row; `evaluate` groups them by ranking, in value order, and fits once.

use crate::call::{check_logical, check_physical, RowOrder};
use crate::items::ItemKind;
use crate::leaderboard::{fisher_bounds, to_original_ids, Bounds, Ranking as Leaderboard};
use crate::memory::{bytes_of, MemoryBudget};
use crate::options::{
    row_weight, split_logical_call, split_physical_call, FunctionOptions, MAX_ITER,
};
use crate::pairwise::{
    check_dense_size, check_interval_size, leaderboard_fields, list_of, Intervals, DOC_SECTION,
    RANKING_OPTION_KEYS,
};
use crate::ranked::RankedRows;
use crate::state::{list_fields, wrap, StateRows};
use datafusion::arrow::array::{ArrayRef, AsArray, Float64Array};
use datafusion::arrow::datatypes::{DataType, FieldRef, Float64Type};
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::function::{
    AccumulatorArgs, AggregateFunctionSimplification, StateFieldsArgs,
};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, Expr, Signature, Volatility,
};
use prefdb_stats::pairwise::bradley_terry::{to_elo_scale, DEFAULT_PRIOR};
use prefdb_stats::pairwise::{
    bootstrap_plackett_luce, fit_plackett_luce, implied_pairs, item_totals,
    plackett_luce_covariance, BootstrapOptions, BtError, BtOptions, Ranking, TieHandling,
    STRENGTH_RANK_TOLERANCE,
};
use std::sync::{Arc, OnceLock};

const NAME: &str = "pl_rank";
const USAGE: &str = "pl_rank(ranking_id, item, position [, weight] [, 'options'])";

#[derive(Debug, Clone, Copy, PartialEq)]
struct PlConfig {
    fit: BtOptions,
    scale: f64,
    base: f64,
    intervals: Intervals,
    confidence: f64,
}

fn parse_options(text: Option<&str>) -> Result<PlConfig> {
    let o = match text {
        Some(t) => FunctionOptions::parse_with_hints(
            NAME,
            t,
            RANKING_OPTION_KEYS,
            &[(
                "ties",
                "tied positions are handled by Breslow's convention and need no option",
            )],
        )?,
        None => FunctionOptions::empty(NAME),
    };
    let d = BtOptions::default();
    Ok(PlConfig {
        fit: BtOptions {
            ties: TieHandling::Half,
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
        intervals: Intervals::from_options(&o, NAME)?,
        confidence: o.f64_or(
            "confidence",
            0.95,
            |c| c > 0.0 && c < 1.0,
            "a number between 0 and 1",
        )?,
    })
}

/// Data arguments: ranking_id, item, position and an optional weight.
const ARITY: (usize, usize) = (3, 4);

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PlUdaf {
    signature: Signature,
    budget: MemoryBudget,
}

pub fn pl_rank_udaf(budget: &MemoryBudget) -> AggregateUDF {
    AggregateUDF::from(PlUdaf {
        signature: Signature::user_defined(Volatility::Immutable),
        budget: budget.clone(),
    })
}

impl AggregateUDFImpl for PlUdaf {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if !(3..=5).contains(&arg_types.len()) {
            return plan_err!(
                "{NAME} takes 3 to 5 arguments, got {}: {USAGE}",
                arg_types.len()
            );
        }
        let mut coerced = vec![
            ItemKind::of(NAME, "ranking_id", &arg_types[0])?.coerced_type(&arg_types[0]),
            ItemKind::of(NAME, "item", &arg_types[1])?.coerced_type(&arg_types[1]),
        ];
        for (i, t) in arg_types.iter().enumerate().skip(2) {
            coerced.push(match t {
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View if i >= 3 => t.clone(),
                DataType::Null => DataType::Float64,
                t if t.is_numeric() => DataType::Float64,
                t if i == 2 => return plan_err!("{NAME}: position must be numeric, got {t}"),
                t if i == 3 => return plan_err!("{NAME}: weight must be numeric, got {t}"),
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
        let item = ItemKind::of(NAME, "item", &arg_types[1])?.output_type();
        Ok(list_of(leaderboard_fields(item)))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let kind = |i: usize, arg: &str| -> Result<DataType> {
            Ok(ItemKind::of(NAME, arg, args.input_fields[i].data_type())?.output_type())
        };
        Ok(list_fields(
            args.name,
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

    fn accumulator(&self, acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        check_physical(NAME, &acc_args, RowOrder::Ignored)?;
        let (data_args, options) = split_physical_call(NAME, acc_args.exprs, ARITY, USAGE)?;
        let weight = data_args == 4;
        let config = parse_options(options.as_deref())?;
        let kind =
            |i: usize, arg: &str| ItemKind::of(NAME, arg, acc_args.expr_fields[i].data_type());
        Ok(Box::new(PlAccumulator {
            config,
            weight,
            rows: RankedRows::new(kind(0, "ranking_id")?, kind(1, "item")?),
            weights: Vec::new(),
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
        let totals_canonical = item_totals(n, &implied_pairs(&rankings));
        let mut ratings = vec![0.0; n];
        let mut totals = vec![Default::default(); n];
        for (c, &id) in original.iter().enumerate() {
            ratings[id] = to_elo_scale(canonical[c], self.config.scale, self.config.base);
            totals[id] = totals_canonical[c];
        }
        let unit = self.config.scale / std::f64::consts::LN_10;
        let rating = |s: f64| to_elo_scale(s, self.config.scale, self.config.base);
        // Intervals by canonical id, then by item id.
        let intervals: Option<Bounds> = match self.config.intervals {
            Intervals::None => None,
            Intervals::Fisher => {
                let cov = plackett_luce_covariance(n, &rankings, &canonical, &self.config.fit);
                let canonical_ratings: Vec<f64> = canonical.iter().map(|&s| rating(s)).collect();
                Some(fisher_bounds(
                    &canonical_ratings,
                    cov.as_ref(),
                    self.config.confidence,
                    unit,
                ))
            }
            Intervals::Bootstrap { replicates, seed } => {
                let boot = bootstrap_plackett_luce(
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
                Some((bounds(&boot.lower), bounds(&boot.upper)))
            }
        }
        .map(|(lower, upper)| {
            (
                to_original_ids(lower, &original),
                to_original_ids(upper, &original),
            )
        });
        Leaderboard {
            items: &self.rows.items,
            ratings,
            rank_tolerance: STRENGTH_RANK_TOLERANCE * self.config.scale,
            totals: Some(totals),
            intervals,
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

fn documentation() -> Documentation {
    Documentation::builder(
        DOC_SECTION,
        "Plackett–Luce leaderboard from rankings (Luce 1959; Plackett 1975): K-wise votes (K-Sort \
         Arena), ranked lists (UltraFeedback), or partial top-k lists. Each row is one item of \
         one ranking at a position (lower is better; only the order matters). A ranking is read \
         as successive choices, the best item chosen from all listed items with probability \
         e^{s_i} / sum of e^{s_j}, the next from the rest, and so on; unlisted items play no \
         part. Tied positions follow Breslow's convention: each tied item counts as chosen from \
         its group and everything below it. Strengths maximise the log-likelihood with the \
         same Gaussian prior as bt_rank (Newton's method, dense Hessian; checked against choix's \
         ilsr_rankings and opt_rankings, and SciPy for the prior and ties); rating = base + \
         scale * s / ln(10), as bt_rank. With prior=0 and an item never ranked below (or never \
         above) the items it meets, the ratings do not exist: an error. Returns the leaderboard \
         list; wins, losses and ties are the implied pairwise counts (items ranked below, \
         above, and tied within the same rankings, weighted). An item listed twice in a \
         ranking, or rows of one ranking with different weights, are errors. A row with a NULL \
         ranking, item, position or weight is skipped; a ranking of one item adds nothing but \
         the item; NULL with no rows left. With se=fisher, ci_lower and ci_upper are rating ± \
         z * se * scale / ln(10) from the observed information, for the centred \
         strengths as bt_rank's; on rankings of two items they equal \
         bt_rank's (tested), and rank_lower / rank_upper follow from them. With \
         bootstrap=B (and seed, default 42) they are percentile intervals from B refits on \
         rankings resampled with replacement (a multinomial over the distinct rankings; \
         weights are frequency weights), the same for a seed whatever the partitioning. \
         Fitted by dense Newton steps, up to 1000 items.",
        "pl_rank(ranking_id, item, position [, weight] [, 'scale=400, base=1000, prior=0.01, max_iter=100, tol=1e-10, se=none, bootstrap=0, seed=42, confidence=0.95'])",
    )
    .with_argument("ranking_id", "Which ranking the row belongs to (string or integer).")
    .with_argument("item", "The ranked item (string or integer).")
    .with_argument("position", "The item's place in the ranking, 1 = best; equal positions are ties.")
    .with_argument("weight", "Optional non-negative weight of the ranking (the same on all its rows).")
    .with_argument("options", "String literal, last: scale, base, prior, max_iter, tol, se (none or fisher), bootstrap, seed and confidence, as bt_rank.")
    .with_sql_example(
        "SELECT * FROM leaderboard('SELECT pl_rank(vote_id, model, position) FROM ksort_votes');",
    )
    .with_related_udf("bt_rank")
    .build()
}
