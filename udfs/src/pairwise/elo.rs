//! `elo_rank(item_a, item_b [, outcome] [, options] ORDER BY ...)`: online Elo.
//!
//! The accumulator keeps every battle with its `ORDER BY` key ([`crate::ordered`]), and
//! `evaluate` sorts the merged battles once before replaying them. Battles with equal keys
//! are applied in the order of (item_a, item_b, outcome) values, so the result never
//! depends on partitioning.

use crate::items::{ItemColumn, ItemInterner, ItemKind};
use crate::leaderboard::{by_canonical_id, Ranking};
use crate::ordered::OrderKeys;
use crate::pairwise::{coerce_item_pair, OutcomeColumn};
use crate::spec::aggregate::{Call, Family, PrefdbAggregate};
use crate::spec::{FunctionSpec, Options};
use crate::state::{list_fields, wrap, StateRows};
use datafusion::arrow::array::{Array, ArrayRef, Float64Array, UInt32Array};
use datafusion::arrow::datatypes::{DataType, FieldRef, Float64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{Accumulator, AggregateUDF};
use prefdb_stats::pairwise::{online_elo, EloBattle, EloOptions, ItemTotals};
use std::sync::Arc;

const NAME: &str = "elo_rank";

/// `elo_rank`: its declaration is `pairwise::spec::ELO_RANK`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EloRank;

pub fn elo_rank_udaf() -> AggregateUDF {
    PrefdbAggregate::udaf(EloRank, &crate::MemoryBudget::default())
}

impl Family for EloRank {
    type Config = EloOptions;

    fn spec(&self) -> &'static FunctionSpec {
        &crate::pairwise::spec::ELO_RANK
    }

    fn configure(&self, o: &Options) -> Result<EloOptions> {
        Ok(EloOptions {
            k: o.number("k").unwrap_or_default(),
            scale: o.number("scale").unwrap_or_default(),
            base: o.number("base").unwrap_or_default(),
            initial: o.number("init").unwrap_or_default(),
        })
    }

    fn coerce(&self, types: &[DataType]) -> Result<Vec<DataType>> {
        let spec = self.spec();
        spec.check_arg_count(types.len())?;
        spec.coerce_rest(types, coerce_item_pair(NAME, &types[..2])?)
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
                ("order_key", DataType::Binary),
            ],
        ))
    }

    fn accumulator(&self, call: &Call<'_, EloOptions>) -> Result<Box<dyn Accumulator>> {
        let kind = ItemKind::of(NAME, "the first item argument", call.data_type(0))?;
        Ok(Box::new(EloAccumulator {
            options: *call.config,
            n_args: call.args.exprs.len(),
            outcome: call.data == 3,
            keys: OrderKeys::new(call.args.order_bys, call.args.schema)?,
            items: ItemInterner::new(kind),
            a: Vec::new(),
            b: Vec::new(),
            score_a: Vec::new(),
            return_type: call.return_type(),
        }))
    }
}

#[derive(Debug)]
struct EloAccumulator {
    options: EloOptions,
    /// Arguments of the call; the ORDER BY columns follow them in `update_batch`.
    n_args: usize,
    outcome: bool,
    items: ItemInterner,
    a: Vec<u32>,
    b: Vec<u32>,
    score_a: Vec<f64>,
    /// The row-format ORDER BY key of every battle.
    keys: OrderKeys,
    return_type: DataType,
}

impl EloAccumulator {
    fn push(&mut self, a: u32, b: u32, score_a: f64, key: &[u8]) {
        self.a.push(a);
        self.b.push(b);
        self.score_a.push(score_a);
        self.keys.push(key);
    }

    /// Battle indices in replay order: by ORDER BY key, then by item_a, item_b and score.
    fn replay_order(&self) -> Vec<usize> {
        let position = self.items.value_positions();
        let mut order: Vec<usize> = (0..self.a.len()).collect();
        order.sort_by(|&x, &y| {
            self.keys
                .key(x)
                .cmp(self.keys.key(y))
                .then(position[self.a[x] as usize].cmp(&position[self.a[y] as usize]))
                .then(position[self.b[x] as usize].cmp(&position[self.b[y] as usize]))
                .then(self.score_a[x].total_cmp(&self.score_a[y]))
        });
        order
    }
}

impl Accumulator for EloAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let col_a = ItemColumn::new(&values[0])?;
        let col_b = ItemColumn::new(&values[1])?;
        let outcome = OutcomeColumn::new(NAME, self.outcome.then(|| &values[2]))?;
        let keys = self.keys.convert(&values[self.n_args..])?;
        for row in 0..values[0].len() {
            let (Some(a), Some(b)) = (col_a.get(row), col_b.get(row)) else {
                continue;
            };
            let Some((a_share, b_share, _)) = outcome.shares(NAME, row)? else {
                continue;
            };
            if ItemColumn::same(a, b) {
                continue;
            }
            let ia = self.items.intern(a)?;
            let ib = self.items.intern(b)?;
            // A tie has shares (0, 0, 1): a scores a half.
            let score = if a_share + b_share == 0.0 {
                0.5
            } else {
                a_share
            };
            self.push(ia, ib, score, keys.row(row).as_ref());
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        if self.items.is_empty() {
            return ScalarValue::try_from(&self.return_type);
        }
        let order = self.replay_order();
        let battles = order.iter().map(|&i| EloBattle {
            a: self.a[i],
            b: self.b[i],
            score_a: self.score_a[i],
        });
        let ratings = online_elo(self.items.len(), battles, &self.options);
        let mut totals = vec![ItemTotals::default(); self.items.len()];
        for i in 0..self.a.len() {
            let (a, b) = (self.a[i] as usize, self.b[i] as usize);
            ItemTotals::add_battle(&mut totals, a, b, self.score_a[i], 1.0);
        }
        let ids = self.items.value_order();
        Ranking {
            items: &self.items,
            ids: &ids,
            ratings: by_canonical_id(&ratings, &ids),
            rank_tolerance: 1e-9 * self.options.scale,
            totals: Some(by_canonical_id(&totals, &ids)),
            intervals: None,
            reported: None,
            tie_param: None,
        }
        .into_scalar()
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self.items.heap_size()
            + self.a.capacity() * 4
            + self.b.capacity() * 4
            + self.score_a.capacity() * 8
            + self.keys.heap_size()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let keys = self.keys.to_array();
        Ok(vec![
            wrap(self.items.to_array()),
            wrap(Arc::new(UInt32Array::from(self.a.clone()))),
            wrap(Arc::new(UInt32Array::from(self.b.clone()))),
            wrap(Arc::new(Float64Array::from(self.score_a.clone()))),
            wrap(Arc::new(keys)),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        for row in StateRows::new(NAME, states, 5)?.rows() {
            let id_map = self.items.intern_array(&row.list(0)?)?;
            let (a, b) = (row.ids(1, &id_map)?, row.ids(2, &id_map)?);
            let (score, keys) = (row.values::<Float64Type>(3)?, row.binary(4)?);
            let n = row.same_length(&[a.len(), b.len(), score.len(), keys.len()])?;
            if score.values().iter().any(|s| !(0.0..=1.0).contains(s)) {
                return Err(row.corrupt("a score outside [0, 1]"));
            }
            for k in 0..n {
                self.push(a[k], b[k], score.value(k), keys.value(k));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_and_layout() {
        let parse =
            |text| Options::parse(EloRank.spec(), Some(text)).and_then(|o| EloRank.configure(&o));
        let o = parse("k=32, init=1500").unwrap();
        assert_eq!(
            (o.k, o.initial, o.base, o.scale),
            (32.0, 1500.0, 10.0, 400.0)
        );
        let e = parse("base=1").unwrap_err().to_string();
        assert!(
            e.contains("elo_rank: option 'base' must be a number > 1"),
            "{e}"
        );
        let spec = EloRank.spec();
        assert_eq!(spec.split(3, true).unwrap(), 2);
        assert_eq!(spec.split(3, false).unwrap(), 3);
        assert!(spec.split(5, true).is_err());
    }
}
