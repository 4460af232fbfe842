//! Pairwise ranking. This file: `bt_rank`, `newman_rank`, `win_matrix`, `avg_win_rate` and
//! `intransitivity`, which share the pair table; the other models of the family each have a
//! file here (`elo`, `openskill`, `plackett_luce`, `controlled`), and `spec` declares them all.
//!
//! The pair-table functions share one argument layout and one accumulator. The partial state is
//! [`PairCounts`]: per unordered pair of items, the weighted wins of each side and the
//! weighted ties. Partial states merge by addition; every statistic is computed once, in
//! `evaluate`, on the merged state. Nothing is ever computed per row but the counts.

pub(crate) use crate::items::UNSEEN;
use crate::items::{
    each_view, ItemCodes, ItemColumn, ItemInterner, ItemKind, ItemRef, ViewCache, NULL_CODE,
};
use crate::leaderboard::{fisher_bounds, Bounds, Ranking};
use crate::memory::{bytes_of, MemoryBudget, Workspace};
use crate::options::row_weight;
use crate::spec::aggregate::{Call, Family, PrefdbAggregate};
use crate::spec::{struct_fields, FunctionSpec, Options, OutField};
use crate::state::StateRows;
use anchor::{Anchor, Spread};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int64Array, StructArray, UInt32Array,
};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, FieldRef, Fields, Float64Type};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::{Accumulator, AggregateUDF, GroupsAccumulator};
use prefdb_stats::pairwise::bradley_terry::{to_elo_scale, MleObstacle};
use prefdb_stats::pairwise::{
    average_win_rate, bootstrap_bradley_terry, bootstrap_tie_model, bt_covariance,
    fit_bradley_terry, fit_tie_model, intransitivity, item_totals, order_by_score_desc,
    pair_reweights, pair_win_rate, scale_pairs, tie_model_covariance_with, BootstrapIntervals,
    BootstrapOptions, BtError, BtOptions, Meat, PairCounts, PairOutcomes, TieHandling, TieModel,
    STRENGTH_RANK_TOLERANCE,
};
use std::sync::Arc;

pub(crate) mod anchor;
mod compare;
pub mod controlled;
pub mod elo;
mod groups;
pub mod openskill;
pub mod plackett_luce;
pub(crate) mod spec;

/// Which function of the family an instance implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PairwiseFunction {
    BtRank,
    /// `bt_rank` with Davidson's tie model in Newman's (2023) parameterisation, as evalica's
    /// `newman`.
    NewmanRank,
    WinMatrix,
    AvgWinRate,
    Intransitivity,
    /// Every pair of `bt_rank`'s items compared.
    RankCompare,
}

impl PairwiseFunction {
    pub fn name(self) -> &'static str {
        self.spec().name
    }
}

/// Settings of `bt_rank`, parsed from its options literal.
#[derive(Debug, Clone, PartialEq)]
pub struct BtConfig {
    pub fit: BtOptions,
    /// `ties=davidson` or `ties=rao_kupper`: ties as a model parameter.
    pub tie_model: Option<TieModel>,
    pub scale: f64,
    pub base: f64,
    /// Where `ci_lower`/`ci_upper` and the rank range come from.
    pub intervals: Intervals,
    pub confidence: f64,
    /// `reweight=pair`: the floor of a pair's number of votes, `min_pair_count`.
    pub reweight: Option<f64>,
    pub(crate) anchor: Option<Anchor>,
}

/// The interval method of `bt_rank` and `pl_rank`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Intervals {
    None,
    /// `se=fisher`: the observed Fisher information.
    Fisher,
    /// `se=sandwich`: the robust covariance `H⁻¹ G H⁻¹`.
    Sandwich,
    /// `bootstrap=B, seed=S`: percentile intervals from B resamples of the pair table (or,
    /// for `pl_rank`, of the rankings).
    Bootstrap {
        replicates: usize,
        seed: u64,
    },
}

impl Intervals {
    /// The `se` and `bootstrap` (with `seed`) options of a ranking function: at most one
    /// interval method, and at least 2 replicates.
    pub(crate) fn from_options(o: &Options) -> Result<Self> {
        let function = o.function();
        let se = o.choice("se").unwrap_or("none");
        let seed = o.integer("seed").unwrap_or_default();
        match (se, o.count("bootstrap").unwrap_or_default()) {
            ("fisher", 0) => Ok(Intervals::Fisher),
            ("sandwich", 0) => Ok(Intervals::Sandwich),
            ("none", 0) => Ok(Intervals::None),
            ("none", 1) => plan_err!("{function}: bootstrap must be at least 2 replicates, got 1"),
            ("none", replicates) => Ok(Intervals::Bootstrap { replicates, seed }),
            (se, _) => plan_err!(
                "{function}: choose one interval method, se={se} or bootstrap=..., not both"
            ),
        }
    }
}

/// Items up to which `se=fisher` inverts the dense information matrix.
pub(crate) const FISHER_MAX_ITEMS: usize = 5000;

/// Items up to which `se=sandwich` (and `se=fisher` on reweighted pairs) forms
/// `H⁻¹ G H⁻¹`: two dense items × items products, about 2 × items³ operations (seconds at
/// this size).
pub(crate) const SANDWICH_MAX_ITEMS: usize = 2000;

/// Items up to which the models fitted by dense Newton steps (the tie models, `newman_rank`,
/// `pl_rank`, `bt_rank_controlled`) are fitted: each step factors an items × items matrix,
/// O(items³), about a second per step at this size.
pub(crate) const DENSE_MAX_ITEMS: usize = 1000;

/// The most values a bootstrap keeps: one strength per replicate and item.
pub(crate) const BOOTSTRAP_MAX_VALUES: usize = 50_000_000;

/// The error of a dense fit over more than [`DENSE_MAX_ITEMS`] items; `what` names the model
/// and `instead` the alternative that scales.
pub(crate) fn check_dense_size(function: &str, what: &str, n: usize, instead: &str) -> Result<()> {
    if n > DENSE_MAX_ITEMS {
        return exec_err!(
            "{function}: {what} is fitted with dense Newton steps (items × items) and supports up to {DENSE_MAX_ITEMS} items, got {n}; {instead}"
        );
    }
    Ok(())
}

/// The checks an interval method makes before a fit: `se=fisher` up to
/// [`FISHER_MAX_ITEMS`] items, a bootstrap up to [`BOOTSTRAP_MAX_VALUES`] kept strengths.
pub(crate) fn check_interval_size(function: &str, intervals: Intervals, n: usize) -> Result<()> {
    match intervals {
        Intervals::None => Ok(()),
        Intervals::Fisher => check_fisher_size(function, n),
        Intervals::Sandwich => check_sandwich_size(function, "se=sandwich", n),
        Intervals::Bootstrap { replicates, .. } => {
            if replicates.saturating_mul(n) > BOOTSTRAP_MAX_VALUES {
                return exec_err!(
                    "{function}: bootstrap={replicates} over {n} items would keep {} strengths, and at most {BOOTSTRAP_MAX_VALUES} are kept; use fewer replicates (at most {})",
                    replicates.saturating_mul(n),
                    BOOTSTRAP_MAX_VALUES / n.max(1)
                );
            }
            Ok(())
        }
    }
}

/// An error when weighted counts have overflowed to infinity.
pub(crate) fn check_finite_counts(function: &str, pairs: &[PairOutcomes]) -> Result<()> {
    if pairs
        .iter()
        .any(|p| !(p.a_wins + p.b_wins + p.ties).is_finite())
    {
        return exec_err!(
            "{function}: the weights add up past the largest representable number; scale them down"
        );
    }
    Ok(())
}

/// The error of a sandwich covariance (`what`: the option that asks for it) on more than
/// [`SANDWICH_MAX_ITEMS`] items.
pub(crate) fn check_sandwich_size(function: &str, what: &str, n: usize) -> Result<()> {
    if n > SANDWICH_MAX_ITEMS {
        return exec_err!(
            "{function}: {what} multiplies items × items matrices and supports up to {SANDWICH_MAX_ITEMS} items, got {n}"
        );
    }
    Ok(())
}

/// The error of `se=fisher` on more than [`FISHER_MAX_ITEMS`] items.
pub(crate) fn check_fisher_size(function: &str, n: usize) -> Result<()> {
    if n > FISHER_MAX_ITEMS {
        return exec_err!(
            "{function}: se=fisher inverts an items × items matrix and supports up to {FISHER_MAX_ITEMS} items, got {n}"
        );
    }
    Ok(())
}

impl BtConfig {
    /// The settings of a call from its options; the declaration supplies every default.
    pub fn from_options(o: &Options, function: PairwiseFunction) -> Result<Self> {
        // newman_rank always fits Davidson's model.
        let (ties, tie_model) = match (function, o.choice("ties")) {
            (PairwiseFunction::NewmanRank, _) => (TieHandling::Half, Some(TieModel::Davidson)),
            (_, Some("ignore")) => (TieHandling::Ignore, None),
            (_, Some("davidson")) => (TieHandling::Half, Some(TieModel::Davidson)),
            (_, Some("rao_kupper")) => (TieHandling::Half, Some(TieModel::RaoKupper)),
            _ => (TieHandling::Half, None),
        };
        let defaults = BtOptions::default();
        Ok(Self {
            fit: BtOptions {
                ties,
                prior: o.number("prior").unwrap_or(defaults.prior),
                max_iter: o.count("max_iter").unwrap_or(defaults.max_iter),
                tol: o.number("tol").unwrap_or(defaults.tol),
            },
            tie_model,
            scale: o.number("scale").unwrap_or_default(),
            base: o.number("base").unwrap_or_default(),
            intervals: match (function, Intervals::from_options(o)?) {
                // rank_compare always has standard errors: Fisher's unless asked otherwise.
                (PairwiseFunction::RankCompare, Intervals::None) => Intervals::Fisher,
                (_, intervals) => intervals,
            },
            confidence: o.number("confidence").unwrap_or_default(),
            reweight: reweight_floor(o),
            anchor: Anchor::from_options(o),
        })
    }
}

/// `min_pair_count` when the call asks for `reweight=pair`.
pub(crate) fn reweight_floor(o: &Options) -> Option<f64> {
    (o.choice("reweight") == Some("pair")).then(|| o.number("min_pair_count").unwrap_or(50.0))
}

/// Positions of the optional outcome and weight arguments, once a trailing options literal
/// is told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ArgLayout {
    outcome: Option<usize>,
    weight: Option<usize>,
}

impl ArgLayout {
    /// The layout of a call with `data` data arguments.
    fn of(data: usize) -> Self {
        Self {
            outcome: (data >= 3).then_some(2),
            weight: (data >= 4).then_some(3),
        }
    }
}

pub fn bt_rank_udaf(budget: &MemoryBudget) -> AggregateUDF {
    PrefdbAggregate::udaf(PairwiseFunction::BtRank, budget)
}

pub fn newman_rank_udaf(budget: &MemoryBudget) -> AggregateUDF {
    PrefdbAggregate::udaf(PairwiseFunction::NewmanRank, budget)
}

pub fn win_matrix_udaf(budget: &MemoryBudget) -> AggregateUDF {
    PrefdbAggregate::udaf(PairwiseFunction::WinMatrix, budget)
}

pub fn avg_win_rate_udaf(budget: &MemoryBudget) -> AggregateUDF {
    PrefdbAggregate::udaf(PairwiseFunction::AvgWinRate, budget)
}

pub fn intransitivity_udaf(budget: &MemoryBudget) -> AggregateUDF {
    PrefdbAggregate::udaf(PairwiseFunction::Intransitivity, budget)
}

pub fn rank_compare_udaf(budget: &MemoryBudget) -> AggregateUDF {
    PrefdbAggregate::udaf(PairwiseFunction::RankCompare, budget)
}

/// The fields of `intransitivity`'s result struct.
pub fn intransitivity_fields() -> Fields {
    struct_fields(spec::INTRANSITIVITY_FIELDS, &DataType::Utf8)
}

/// The coerced types of a call's two item arguments, which must be of one kind.
pub(crate) fn coerce_item_pair(name: &str, arg_types: &[DataType]) -> Result<Vec<DataType>> {
    let kind_a = ItemKind::of(name, "the first item argument", &arg_types[0])?;
    let kind_b = ItemKind::of(name, "the second item argument", &arg_types[1])?;
    if kind_a != kind_b {
        return plan_err!(
            "{name}: both item arguments must be strings or both integers, got {} and {}",
            arg_types[0],
            arg_types[1]
        );
    }
    Ok(vec![
        kind_a.coerced_type(&arg_types[0]),
        kind_b.coerced_type(&arg_types[1]),
    ])
}

impl PairwiseFunction {
    /// An empty accumulator for a call.
    fn fresh(self, call: &Call<'_, BtConfig>) -> Result<PairwiseAccumulator> {
        let kind = ItemKind::of(self.name(), "the first item argument", call.data_type(0))?;
        Ok(PairwiseAccumulator {
            function: self,
            layout: ArgLayout::of(call.data),
            config: call.config.clone(),
            items: ItemInterner::new(kind),
            counts: PairCounts::new(),
            return_type: call.return_type(),
            budget: call.budget.clone(),
        })
    }
}

impl Family for PairwiseFunction {
    type Config = BtConfig;

    fn spec(&self) -> &'static FunctionSpec {
        spec::PAIRWISE_SPECS[*self as usize]
    }

    fn configure(&self, options: &Options) -> Result<BtConfig> {
        BtConfig::from_options(options, *self)
    }

    /// Both items are strings or both integers.
    fn coerce(&self, types: &[DataType]) -> Result<Vec<DataType>> {
        let spec = self.spec();
        spec.check_arg_count(types.len())?;
        let items = coerce_item_pair(spec.name, &types[..2])?;
        spec.coerce_rest(types, items)
    }

    /// A text column in the weight's place is not an options literal.
    fn check_types(&self, _config: &BtConfig, data: &[DataType]) -> Result<()> {
        match data.get(3) {
            Some(t) if *t != DataType::Float64 => {
                plan_err!("{}: weight must be numeric, got {t}", self.name())
            }
            _ => Ok(()),
        }
    }

    fn state_fields(&self, name: &str, args: &[FieldRef]) -> Result<Vec<FieldRef>> {
        let item = self.item_type(&[args[0].data_type().clone()])?;
        Ok(crate::state::list_fields(
            name,
            vec![
                ("items", ItemInterner::keyed_type(item)),
                ("pair_a", DataType::UInt32),
                ("pair_b", DataType::UInt32),
                ("a_wins", DataType::Float64),
                ("b_wins", DataType::Float64),
                ("ties", DataType::Float64),
            ],
        ))
    }

    fn accumulator(&self, call: &Call<'_, BtConfig>) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(self.fresh(call)?))
    }

    /// Every function of the family keeps its groups' counts in one accumulator.
    fn grouped(&self, _config: &BtConfig) -> bool {
        true
    }

    fn groups_accumulator(&self, call: &Call<'_, BtConfig>) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(groups::PairwiseGroups::new(self.fresh(call)?)))
    }
}

/// A fit, by canonical id, with what its intervals need.
pub(crate) struct Fitted {
    /// Natural-log strengths, centred.
    pub strengths: Vec<f64>,
    pub ratings: Vec<f64>,
    /// Rating points per unit of strength.
    pub unit: f64,
    pub tie_param: Option<f64>,
    /// The covariance of the centred strengths (`Some(None)`: singular), for se=fisher or
    /// se=sandwich.
    pub cov: Option<Option<Vec<Vec<f64>>>>,
    pub boot: Option<BootstrapIntervals>,
}

/// A call's counts in value order, which is all any evaluation reads.
///
/// Row order and partitioning decide the ids an interner hands out. Every evaluation first
/// numbers the items in value order ("canonical" ids) and sorts the pairs, so fits, bounds
/// and counts see the same input in the same order however the rows arrived, and the
/// result is bitwise the same. Results stay in canonical ids up to the output, which takes
/// each item's value through `ids`.
/// `pairs` (distinct, ends in `0..n`) sorted by `(a, b)`. Many pairs among few items (a
/// leaderboard per day: thousands of pairs among a hundred models) are sorted in two
/// counting passes, by `b` and then stably by `a`, in O(pairs + n); few by comparison.
fn sorted_by_ends(mut pairs: Vec<PairOutcomes>, n: usize) -> Vec<PairOutcomes> {
    if pairs.len() < 64 || pairs.len() < n {
        pairs.sort_unstable_by_key(|p| (p.a, p.b));
        return pairs;
    }
    let pass =
        |from: &[PairOutcomes], to: &mut Vec<PairOutcomes>, end: fn(&PairOutcomes) -> u32| {
            let mut start = vec![0usize; n + 1];
            for p in from {
                start[end(p) as usize + 1] += 1;
            }
            for k in 0..n {
                start[k + 1] += start[k];
            }
            to.clear();
            to.extend_from_slice(from);
            for p in from {
                let at = &mut start[end(p) as usize];
                to[*at] = *p;
                *at += 1;
            }
        };
    let mut by_b = Vec::with_capacity(pairs.len());
    pass(&pairs, &mut by_b, |p| p.b);
    pass(&by_b, &mut pairs, |p| p.a);
    pairs
}

/// The shared ids of the items in `counts`' pairs, in order of first appearance, with
/// `scratch` as in [`ValueOrdered::of_group`] (all [`UNSEEN`] before and after).
pub(crate) fn group_ids(pairs: &[PairOutcomes], scratch: &mut [u32]) -> Vec<usize> {
    let mut ids = Vec::new();
    for p in pairs {
        for id in [p.a as usize, p.b as usize] {
            if scratch[id] == UNSEEN {
                scratch[id] = 0;
                ids.push(id);
            }
        }
    }
    for &id in &ids {
        scratch[id] = UNSEEN;
    }
    ids
}

pub(crate) struct ValueOrdered<'a> {
    pub items: &'a ItemInterner,
    /// The interner id of each canonical id, in item value order.
    pub ids: Vec<usize>,
    /// Every pair in canonical ids, with `a < b`, sorted by `(a, b)`.
    pub pairs: Vec<PairOutcomes>,
}

impl<'a> ValueOrdered<'a> {
    /// All of `items` (every interned item is in some pair) and `counts`.
    pub(crate) fn of(items: &'a ItemInterner, counts: &PairCounts) -> Self {
        let ids = items.value_order();
        let position: Vec<u32> = crate::items::inverse(&ids)
            .into_iter()
            .map(|p| p as u32)
            .collect();
        Self::with_positions(items, ids, counts.pairs(), |id| position[id as usize])
    }

    /// One group's `pairs`, in ids of the shared `items`, given every shared id's value
    /// position (`positions`, computed once for all groups) and a scratch vector of
    /// `items.len()` entries, all [`UNSEEN`] (and left so). The group's items in value order are
    /// its shared ids sorted by position, so no item is compared or copied per group.
    pub(crate) fn of_group(
        items: &'a ItemInterner,
        positions: &[usize],
        scratch: &mut [u32],
        pairs: &[PairOutcomes],
    ) -> Self {
        let mut ids = group_ids(pairs, scratch);
        ids.sort_unstable_by_key(|&id| positions[id]);
        for (c, &id) in ids.iter().enumerate() {
            scratch[id] = c as u32;
        }
        let ordered = Self::with_positions(items, ids, pairs, |id| scratch[id as usize]);
        for &id in &ordered.ids {
            scratch[id] = UNSEEN;
        }
        ordered
    }

    fn with_positions(
        items: &'a ItemInterner,
        ids: Vec<usize>,
        pairs: &[PairOutcomes],
        canonical: impl Fn(u32) -> u32,
    ) -> Self {
        let pairs: Vec<PairOutcomes> = pairs
            .iter()
            .map(|p| {
                let (a, b) = (canonical(p.a), canonical(p.b));
                if a < b {
                    PairOutcomes { a, b, ..*p }
                } else {
                    PairOutcomes {
                        a: b,
                        b: a,
                        a_wins: p.b_wins,
                        b_wins: p.a_wins,
                        ties: p.ties,
                    }
                }
            })
            .collect();
        let pairs = sorted_by_ends(pairs, ids.len());
        Self { items, ids, pairs }
    }

    fn len(&self) -> usize {
        self.ids.len()
    }

    /// The item values of `canonical` ids, as an Arrow array.
    fn take(&self, canonical: impl Iterator<Item = usize>) -> ArrayRef {
        self.items.take(canonical.map(|c| self.ids[c]))
    }

    fn item_type(&self) -> DataType {
        crate::leaderboard::item_type(self.items)
    }
}

#[derive(Debug)]
pub(crate) struct PairwiseAccumulator {
    function: PairwiseFunction,
    layout: ArgLayout,
    config: BtConfig,
    items: ItemInterner,
    counts: PairCounts,
    return_type: DataType,
    budget: MemoryBudget,
}

/// How one row's outcome splits into (a-wins, b-wins, ties) before weighting.
pub(crate) enum OutcomeColumn<'a> {
    /// The two-argument form: the first item always won.
    FirstWins,
    /// Text outcomes: the column, its array and its NULLs (if any).
    Text {
        column: ItemColumn<'a>,
        array: &'a ArrayRef,
        nulls: Option<NullBuffer>,
    },
    Score(&'a Float64Array),
}

impl<'a> OutcomeColumn<'a> {
    /// The outcome column of a call, or [`OutcomeColumn::FirstWins`] when there is none.
    pub(crate) fn new(function: &str, column: Option<&'a ArrayRef>) -> Result<Self> {
        let Some(col) = column else {
            return Ok(OutcomeColumn::FirstWins);
        };
        Ok(match col.data_type() {
            DataType::Float64 => OutcomeColumn::Score(col.as_primitive::<Float64Type>()),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => OutcomeColumn::Text {
                column: ItemColumn::new(col)?,
                array: col,
                nulls: col.logical_nulls().filter(|n| n.null_count() > 0),
            },
            t => {
                return exec_err!("{function}: outcome must be text or a number in [0, 1], got {t}")
            }
        })
    }

    /// A text column's outcomes, a column at a time: per row, the position in [`DECIDED`] of
    /// its outcome, [`OUTCOME_NULL`], or [`OUTCOME_UNKNOWN`] for text that names no outcome
    /// (its error is raised where the row is read, so errors come in row order). Each
    /// distinct view is parsed once through a [`ViewCache`]. `None` for a column that is
    /// not text.
    pub(crate) fn text_codes(&self, function: &str) -> Option<Vec<u8>> {
        let OutcomeColumn::Text {
            column,
            array,
            nulls,
        } = self
        else {
            return None;
        };
        let mut seen = ViewCache::default();
        let mut codes = Vec::with_capacity(array.len());
        let cache_long = array.data_type() == &DataType::Utf8View;
        // A view not in the cache: rare, so kept out of the loop.
        #[cold]
        #[inline(never)]
        fn parse(
            function: &str,
            column: &ItemColumn,
            row: usize,
            view: u128,
            cache_long: bool,
            seen: &mut ViewCache,
        ) -> u8 {
            let Some(ItemRef::Text(text)) = column.get(row) else {
                return OUTCOME_NULL;
            };
            let code = match text_outcome(function, text) {
                Ok(shares) => DECIDED
                    .iter()
                    .position(|&d| d == shares)
                    .expect("a decided outcome") as u8,
                Err(_) => OUTCOME_UNKNOWN,
            };
            // Equal made views of long strings say nothing (see `string_views`).
            if cache_long || view as u32 <= 12 {
                seen.insert(view, u32::from(code));
            }
            code
        }
        each_view(array, |row, view| {
            codes.push(match nulls {
                Some(nulls) if nulls.is_null(row) => OUTCOME_NULL,
                _ => match seen.get(view) {
                    Some(code) => code as u8,
                    None => parse(function, column, row, view, cache_long, &mut seen),
                },
            })
        })?;
        Some(codes)
    }

    pub(crate) fn shares(&self, function: &str, row: usize) -> Result<Option<(f64, f64, f64)>> {
        match self {
            OutcomeColumn::FirstWins => Ok(Some((1.0, 0.0, 0.0))),
            OutcomeColumn::Text { column: col, .. } => match col.get(row) {
                None => Ok(None),
                Some(ItemRef::Text(s)) => text_outcome(function, s).map(Some),
                Some(ItemRef::Integer(_)) => unreachable!("text outcome column holds text"),
            },
            OutcomeColumn::Score(col) => {
                if col.is_null(row) {
                    return Ok(None);
                }
                let x = col.value(row);
                if !(0.0..=1.0).contains(&x) {
                    return exec_err!(
                        "{function}: a numeric outcome must be in [0, 1] (1 = item_a wins, 0 = item_b wins, 0.5 = tie), got {x}"
                    );
                }
                Ok(Some(if x == 0.5 {
                    (0.0, 0.0, 1.0)
                } else {
                    (x, 1.0 - x, 0.0)
                }))
            }
        }
    }
}

/// The shares `(a, b, tie)` of the three decided text outcomes; a [`ViewCache`] holds their
/// positions here.
const DECIDED: [(f64, f64, f64); 3] = [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)];

/// [`OutcomeColumn::text_codes`] of a NULL outcome.
const OUTCOME_NULL: u8 = 3;
/// [`OutcomeColumn::text_codes`] of text that names no outcome.
const OUTCOME_UNKNOWN: u8 = 4;

const TEXT_OUTCOMES: &str =
    "'a', 'b', 'tie', 'model_a', 'model_b', 'tie (bothbad)', 'both_bad', 'left', 'right'";

fn text_outcome(function: &str, s: &str) -> Result<(f64, f64, f64)> {
    // The spellings as arenas export them, matched exactly first.
    let [a, b, tie] = DECIDED;
    match s {
        "a" | "model_a" | "left" => return Ok(a),
        "b" | "model_b" | "right" => return Ok(b),
        "tie" | "tie (bothbad)" | "both_bad" => return Ok(tie),
        _ => {}
    }
    let is = |names: &[&str]| names.iter().any(|n| s.eq_ignore_ascii_case(n));
    if is(&["a", "model_a", "left"]) {
        Ok(a)
    } else if is(&["b", "model_b", "right"]) {
        Ok(b)
    } else if is(&["tie", "tie (bothbad)", "both_bad"]) {
        Ok(tie)
    } else {
        exec_err!(
            "{function}: unknown outcome '{s}' (expected one of {TEXT_OUTCOMES}, matched case-insensitively, or a number in [0, 1])"
        )
    }
}

impl PairwiseAccumulator {
    /// The kind of the items this accumulator's calls take.
    pub(crate) fn kind(&self) -> ItemKind {
        self.items.kind()
    }

    /// An accumulator of the same call over `items` and `counts`.
    pub(crate) fn with_counts(&self, items: ItemInterner, counts: PairCounts) -> Self {
        Self {
            function: self.function,
            layout: self.layout,
            config: self.config.clone(),
            items,
            counts,
            return_type: self.return_type.clone(),
            budget: self.budget.clone(),
        }
    }

    /// A one-row list of the declared entries `fields`, items of `v`'s type.
    fn list_scalar(
        &self,
        fields: &[OutField],
        v: &ValueOrdered,
        columns: Vec<ArrayRef>,
    ) -> Result<ScalarValue> {
        let entries = StructArray::try_new(struct_fields(fields, &v.item_type()), columns, None)?;
        Ok(SingleRowListArrayBuilder::new(Arc::new(entries)).build_list_scalar())
    }

    fn evaluate_bt_rank(&self, v: &ValueOrdered) -> Result<ScalarValue> {
        self.rank(v)?.into_scalar()
    }

    /// The fit of `bt_rank`, `newman_rank` or `rank_compare`, by canonical id, with the
    /// covariance or the bootstrap replicates its interval method asks for.
    fn fit(&self, v: &ValueOrdered) -> Result<Fitted> {
        let n = v.len();
        let pairs = &v.pairs;
        let name = self.function.name();
        if self.config.tie_model.is_some() {
            let what = match self.function {
                PairwiseFunction::NewmanRank => "Newman's model",
                _ => "a tie model (ties=davidson or rao_kupper)",
            };
            check_dense_size(
                name,
                what,
                n,
                "bt_rank with ties=half (the default) scales to hundreds of thousands of items",
            )?;
        }
        check_interval_size(name, self.config.intervals, n)?;
        if self.config.reweight.is_some() && self.config.intervals == Intervals::Fisher {
            check_sandwich_size(name, "se=fisher with reweight=pair", n)?;
        }
        let _workspace = self.fit_workspace(n, pairs.len())?;
        // reweight=pair: the fit sees every pair's votes times its factor.
        let factors = self
            .config
            .reweight
            .map(|floor| pair_reweights(pairs, floor));
        let fitted: std::borrow::Cow<[PairOutcomes]> = match &factors {
            Some(f) => std::borrow::Cow::Owned(scale_pairs(pairs, f)),
            None => std::borrow::Cow::Borrowed(pairs),
        };
        let (strengths, tie_fit) = match self.config.tie_model {
            None => (
                fit_bradley_terry(n, &fitted, &self.config.fit)
                    .map_err(|e| self.fit_error(e, v))?
                    .strengths,
                None,
            ),
            Some(model) => {
                let f = fit_tie_model(n, &fitted, model, &self.config.fit)
                    .map_err(|e| self.fit_error(e, v))?;
                (f.strengths.clone(), Some((model, f)))
            }
        };
        let tie_param = tie_fit.as_ref().and_then(|(_, f)| f.tie_param);
        // Newman writes Davidson's ν as 2v: P(tie) = 2v√(πᵢπⱼ) / (πᵢ + πⱼ + 2v√(πᵢπⱼ)).
        let tie_param = match self.function {
            PairwiseFunction::NewmanRank => tie_param.map(|nu| nu / 2.0),
            _ => tie_param,
        };
        let rating = |s: f64| to_elo_scale(s, self.config.scale, self.config.base);
        let unit = self.config.scale / std::f64::consts::LN_10;
        let ratings: Vec<f64> = strengths.iter().map(|&s| rating(s)).collect();
        let covariance = |meat: Meat| {
            let factors = factors.as_deref();
            match &tie_fit {
                None => bt_covariance(n, &fitted, factors, &strengths, &self.config.fit, meat),
                Some((model, fit)) => tie_model_covariance_with(
                    n,
                    &fitted,
                    factors,
                    *model,
                    &self.config.fit,
                    fit,
                    meat,
                ),
            }
        };
        let (mut cov, mut boot) = (None, None);
        match self.config.intervals {
            Intervals::None => {}
            Intervals::Fisher => cov = Some(covariance(Meat::Expected)),
            Intervals::Sandwich => cov = Some(covariance(Meat::Observed)),
            Intervals::Bootstrap { replicates, seed } => {
                let boot_opts = BootstrapOptions {
                    replicates,
                    seed,
                    confidence: self.config.confidence,
                };
                let factors = factors.as_deref();
                boot = Some(
                    match &tie_fit {
                        None => {
                            bootstrap_bradley_terry(n, pairs, factors, &self.config.fit, &boot_opts)
                        }
                        Some((model, _)) => bootstrap_tie_model(
                            n,
                            pairs,
                            factors,
                            *model,
                            &self.config.fit,
                            &boot_opts,
                        ),
                    }
                    .map_err(|e| self.fit_error(e, v))?,
                );
            }
        }
        Ok(Fitted {
            strengths,
            ratings,
            unit,
            tie_param,
            cov,
            boot,
        })
    }

    /// The fitted leaderboard of `bt_rank` or `newman_rank`, by canonical id.
    pub(crate) fn rank<'a>(&self, v: &'a ValueOrdered) -> Result<Ranking<'a>> {
        let Fitted {
            mut ratings,
            unit,
            tie_param,
            cov,
            boot,
            ..
        } = self.fit(v)?;
        let rating = |s: f64| to_elo_scale(s, self.config.scale, self.config.base);
        // Intervals by canonical id, on the rating scale: rating ± z · se · scale / ln 10
        // from a covariance, or the bootstrap's percentiles.
        let mut intervals: Option<Bounds> = match (&cov, &boot) {
            (Some(c), _) => Some(fisher_bounds(
                &ratings,
                c.as_ref(),
                self.config.confidence,
                unit,
            )),
            (_, Some(b)) => Some((
                b.lower.iter().map(|&s| Some(rating(s))).collect(),
                b.upper.iter().map(|&s| Some(rating(s))).collect(),
            )),
            _ => None,
        };
        let reported = match &self.config.anchor {
            None => None,
            Some(anchor) => anchor.apply(
                self.function.name(),
                v.items,
                &v.ids,
                &mut ratings,
                &mut intervals,
                Spread::of(&cov, &boot),
                self.config.confidence,
                unit,
            )?,
        };
        Ok(Ranking {
            items: v.items,
            ids: &v.ids,
            ratings,
            rank_tolerance: STRENGTH_RANK_TOLERANCE * unit,
            totals: Some(item_totals(v.len(), &v.pairs)),
            intervals,
            reported,
            tie_param,
        })
    }

    /// Reserves what a fit over `n` items and `pairs` pairs builds: the sparse Newton/CG
    /// vectors, the dense matrices of a tie model or of Fisher intervals, the bootstrap's
    /// kept strengths and per-thread refits.
    fn fit_workspace(&self, n: usize, pairs: usize) -> Result<Workspace> {
        let name = self.function.name();
        let mut workspace =
            self.budget
                .reserve(name, "the fit", bytes_of::<f64>(16 * n + 8 * pairs))?;
        if self.config.tie_model.is_some() {
            // Hessian and its Cholesky factor over items and the tie parameter.
            workspace.grow(
                name,
                "the dense Newton steps",
                bytes_of::<f64>(2 * (n + 1) * (n + 1)),
            )?;
        }
        match self.config.intervals {
            Intervals::None => {}
            // The information matrix, its factor and the covariance.
            Intervals::Fisher if self.config.reweight.is_none() => {
                workspace.grow(name, "se=fisher", bytes_of::<f64>(3 * (n + 1) * (n + 1)))?
            }
            // The information, the meat, the inverse and two products.
            Intervals::Fisher | Intervals::Sandwich => workspace.grow(
                name,
                "the sandwich covariance",
                bytes_of::<f64>(6 * (n + 1) * (n + 1)),
            )?,
            Intervals::Bootstrap { replicates, .. } => {
                let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
                let refit = match self.config.tie_model {
                    Some(_) => 2 * (n + 1) * (n + 1),
                    None => 16 * n + 8 * pairs,
                };
                workspace.grow(
                    name,
                    "the bootstrap",
                    bytes_of::<f64>(replicates.saturating_mul(n) + threads * refit),
                )?
            }
        }
        Ok(workspace)
    }

    fn fit_error(&self, e: BtError, v: &ValueOrdered) -> datafusion::common::DataFusionError {
        let name = self.function.name();
        let message = match e {
            BtError::MleDoesNotExist { item, obstacle } => {
                let item = v.items.display(v.ids[item as usize]);
                let why = match obstacle {
                    MleObstacle::NeverLost => format!("item {item} never lost"),
                    MleObstacle::NeverWon => format!("item {item} never won"),
                    MleObstacle::NotStronglyConnected => format!(
                        "the comparisons do not connect item {item} with the others in both directions"
                    ),
                };
                let advice = match self.function {
                    PairwiseFunction::NewmanRank => "e.g. 'prior=0.01'".to_string(),
                    _ => format!(
                        "the default is {}",
                        prefdb_stats::pairwise::bradley_terry::DEFAULT_PRIOR
                    ),
                };
                format!(
                    "{name}: with prior=0 the maximum-likelihood ratings do not exist because {why}; \
                     use a prior > 0 ({advice})"
                )
            }
            other => format!("{name}: {other}"),
        };
        datafusion::common::DataFusionError::Execution(message)
    }

    /// Both orientations of every compared pair, sorted by (item_a, item_b) value.
    fn evaluate_win_matrix(&self, v: &ValueOrdered) -> Result<ScalarValue> {
        let mut rows: Vec<PairOutcomes> = Vec::with_capacity(2 * v.pairs.len());
        for p in &v.pairs {
            rows.push(*p);
            rows.push(PairOutcomes {
                a: p.b,
                b: p.a,
                a_wins: p.b_wins,
                b_wins: p.a_wins,
                ties: p.ties,
            });
        }
        rows.sort_by_key(|r| (r.a, r.b));
        let f = |g: fn(&PairOutcomes) -> f64| -> ArrayRef {
            Arc::new(Float64Array::from_iter_values(rows.iter().map(g)))
        };
        let columns: Vec<ArrayRef> = vec![
            v.take(rows.iter().map(|r| r.a as usize)),
            v.take(rows.iter().map(|r| r.b as usize)),
            f(|r| r.a_wins),
            f(|r| r.b_wins),
            f(|r| r.ties),
            Arc::new(rows.iter().map(pair_win_rate).collect::<Float64Array>()),
        ];
        self.list_scalar(spec::WIN_MATRIX_FIELDS, v, columns)
    }

    fn evaluate_intransitivity(&self, v: &ValueOrdered) -> Result<ScalarValue> {
        // Four items × items bitsets: 200 MB at this size.
        const MAX_ITEMS: usize = 20_000;
        let n = v.len();
        if n > MAX_ITEMS {
            return exec_err!(
                "intransitivity: counts cycles with items × items bitsets and supports up to {MAX_ITEMS} items, got {n}"
            );
        }
        // The four bitsets.
        let _workspace = self.budget.reserve(
            "intransitivity",
            "the items × items bitsets",
            bytes_of::<u64>(4 * n * n.div_ceil(64)),
        )?;
        let r = intransitivity(n, &v.pairs);
        let count = |v: u64| Arc::new(Int64Array::from(vec![v as i64])) as ArrayRef;
        let share = |v: Option<f64>| Arc::new(Float64Array::from(vec![v])) as ArrayRef;
        let columns = vec![
            count(r.triads),
            count(r.cycles),
            share(r.cycle_share()),
            count(r.tie_between),
            count(r.equivalence_contradictions),
            count(r.weak_violations()),
            share(r.weak_violation_share()),
        ];
        Ok(ScalarValue::Struct(Arc::new(StructArray::try_new(
            intransitivity_fields(),
            columns,
            None,
        )?)))
    }

    fn evaluate_avg_win_rate(&self, v: &ValueOrdered) -> Result<ScalarValue> {
        // Canonical ids follow item value order, so the stable sort breaks equal scores by
        // item value.
        let scores = average_win_rate(v.len(), &v.pairs);
        let order = order_by_score_desc(&scores);
        let columns: Vec<ArrayRef> = vec![
            v.take(order.iter().copied()),
            Arc::new(Float64Array::from_iter_values(
                order.iter().map(|&i| scores[i]),
            )),
        ];
        self.list_scalar(spec::AVG_WIN_RATE_FIELDS, v, columns)
    }

    /// The result for counts in value order; NULL for no items.
    pub(crate) fn evaluate_ordered(&self, v: &ValueOrdered) -> Result<ScalarValue> {
        if v.len() == 0 {
            return ScalarValue::try_from(&self.return_type);
        }
        check_finite_counts(self.function.name(), &v.pairs)?;
        match self.function {
            PairwiseFunction::BtRank | PairwiseFunction::NewmanRank => self.evaluate_bt_rank(v),
            PairwiseFunction::WinMatrix => self.evaluate_win_matrix(v),
            PairwiseFunction::AvgWinRate => self.evaluate_avg_win_rate(v),
            PairwiseFunction::Intransitivity => self.evaluate_intransitivity(v),
            PairwiseFunction::RankCompare => self.evaluate_rank_compare(v),
        }
    }
}

/// Reads the votes of a batch: for each row `take(row)` accepts that counts (both items,
/// outcome and weight present, weight not 0, two different items), interns its items in
/// `items` and calls `add(row, a, b, a_wins, b_wins, ties)` with the weighted shares.
///
/// The item and text-outcome columns are first coded a column at a time ([`ItemCodes`],
/// [`OutcomeColumn::text_codes`]), in tight loops over the rows' views; the rows are then
/// read in order, so that errors (a bad weight, an unknown outcome) are raised for the first
/// row that has one, as a row-by-row reading would.
pub(crate) fn read_votes(
    function: PairwiseFunction,
    layout: ArgLayout,
    values: &[ArrayRef],
    items: &mut ItemInterner,
    mut take: impl FnMut(usize) -> bool,
    mut add: impl FnMut(usize, u32, u32, f64, f64, f64),
) -> Result<()> {
    let name = function.name();
    let (mut col_a, mut col_b) = (ItemCodes::new(&values[0])?, ItemCodes::new(&values[1])?);
    let outcome = OutcomeColumn::new(name, layout.outcome.map(|i| &values[i]))?;
    let outcome_codes = outcome.text_codes(name);
    let weight = layout
        .weight
        .map(|i| values[i].as_primitive::<Float64Type>());
    let codes_a = std::mem::take(&mut col_a.codes);
    let codes_b = std::mem::take(&mut col_b.codes);
    for (row, (&a, &b)) in codes_a.iter().zip(&codes_b).enumerate() {
        if a == NULL_CODE || b == NULL_CODE || !take(row) {
            continue;
        }
        let w = match weight {
            None => 1.0,
            weight => match row_weight(name, weight, row)? {
                Some(w) => w,
                None => continue,
            },
        };
        let (a_share, b_share, tie_share) = match (&outcome_codes, &outcome) {
            (Some(codes), _) => match codes[row] {
                OUTCOME_NULL => continue,
                OUTCOME_UNKNOWN => match outcome.shares(name, row)? {
                    Some(shares) => shares,
                    None => continue,
                },
                code => DECIDED[code as usize],
            },
            (None, OutcomeColumn::FirstWins) => DECIDED[0],
            (None, _) => match outcome.shares(name, row)? {
                Some(shares) => shares,
                None => continue,
            },
        };
        if w == 0.0 || col_a.same(a, &col_b, b) {
            continue;
        }
        let ia = col_a.id(items, a)?;
        let ib = col_b.id(items, b)?;
        add(row, ia, ib, w * a_share, w * b_share, w * tie_share);
    }
    Ok(())
}

impl Accumulator for PairwiseAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let counts = &mut self.counts;
        read_votes(
            self.function,
            self.layout,
            values,
            &mut self.items,
            |_| true,
            |_, a, b, a_wins, b_wins, ties| counts.add(a, b, a_wins, b_wins, ties),
        )
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.evaluate_ordered(&ValueOrdered::of(&self.items, &self.counts))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.items.heap_size() + self.counts.heap_size()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let pairs = self.counts.pairs();
        let wrap = |a: ArrayRef| SingleRowListArrayBuilder::new(a).build_list_scalar();
        Ok(vec![
            wrap(self.items.keyed((0..self.items.len() as u32).collect())),
            wrap(Arc::new(UInt32Array::from_iter_values(
                pairs.iter().map(|p| p.a),
            ))),
            wrap(Arc::new(UInt32Array::from_iter_values(
                pairs.iter().map(|p| p.b),
            ))),
            wrap(Arc::new(Float64Array::from_iter_values(
                pairs.iter().map(|p| p.a_wins),
            ))),
            wrap(Arc::new(Float64Array::from_iter_values(
                pairs.iter().map(|p| p.b_wins),
            ))),
            wrap(Arc::new(Float64Array::from_iter_values(
                pairs.iter().map(|p| p.ties),
            ))),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let rows = StateRows::new(self.function.name(), states, 6)?;
        let items = rows.keyed_items(0, &mut self.items)?;
        for row in rows.rows() {
            let id_map = row.item_ids(0, &items)?;
            let (a, b) = (row.ids(1, &id_map)?, row.ids(2, &id_map)?);
            let (a_wins, b_wins, ties) = (row.counts(3)?, row.counts(4)?, row.counts(5)?);
            let n = row.same_length(&[a.len(), b.len(), a_wins.len(), b_wins.len(), ties.len()])?;
            for k in 0..n {
                self.counts
                    .add(a[k], b[k], a_wins.value(k), b_wins.value(k), ties.value(k));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The counting sort orders pairs as a comparison sort does, for dense and sparse
        /// sets of pairs.
        #[test]
        fn pairs_sorted_by_ends_as_by_comparison(
            n in 2u32..40,
            picks in prop::collection::vec((0u32..40, 0u32..40, 0.0f64..5.0), 0..400),
        ) {
            let mut seen = std::collections::HashSet::new();
            let pairs: Vec<PairOutcomes> = picks
                .into_iter()
                .map(|(x, y, w)| (x % n, y % n, w))
                .filter(|&(x, y, _)| x < y && seen.insert((x, y)))
                .map(|(a, b, w)| PairOutcomes { a, b, a_wins: w, b_wins: 1.0, ties: 0.0 })
                .collect();
            let mut expected = pairs.clone();
            expected.sort_by_key(|p| (p.a, p.b));
            prop_assert_eq!(sorted_by_ends(pairs, n as usize), expected);
        }
    }
}
