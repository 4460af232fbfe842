//! `elo_rank(item_a, item_b [, outcome] [, options] ORDER BY ...)`: online Elo.
//!
//! The accumulator keeps every battle with its `ORDER BY` key ([`crate::ordered`]), and
//! `evaluate` sorts the merged battles once before replaying them. Battles with equal keys
//! are applied in the order of (item_a, item_b, outcome) values, so the result never
//! depends on partitioning.

use crate::call::{check_logical, check_physical, RowOrder};
use crate::items::{ItemColumn, ItemInterner, ItemKind};
use crate::leaderboard::Ranking;
#[cfg(test)]
use crate::options::split_call;
use crate::options::{split_logical_call, split_physical_call, FunctionOptions};
use crate::ordered::OrderKeys;
use crate::pairwise::{
    leaderboard_fields, list_of, OutcomeColumn, ARG_ITEMS, ARG_OUTCOME, DOC_SECTION,
};
use crate::state::{list_fields, wrap, StateRows};
use datafusion::arrow::array::{Array, ArrayRef, Float64Array, UInt32Array};
use datafusion::arrow::datatypes::{DataType, FieldRef, Float64Type};
use datafusion::common::{plan_err, Result, ScalarValue};
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::function::{
    AccumulatorArgs, AggregateFunctionSimplification, StateFieldsArgs,
};
use datafusion::logical_expr::utils::AggregateOrderSensitivity;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, Expr, Signature, Volatility,
};
use prefdb_stats::pairwise::{online_elo, EloBattle, EloOptions, ItemTotals};
use std::sync::{Arc, OnceLock};

const NAME: &str = "elo_rank";
const OPTION_KEYS: &[&str] = &["k", "scale", "base", "init"];
const USAGE: &str =
    "elo_rank(winner, loser ORDER BY t) or elo_rank(item_a, item_b, outcome ORDER BY t), \
each with an optional trailing options string literal";

fn parse_options(text: Option<&str>) -> Result<EloOptions> {
    let o = match text {
        Some(t) => FunctionOptions::parse_with_hints(
            NAME,
            t,
            OPTION_KEYS,
            &[(
                "initial",
                "the starting rating is the option 'init' (default 1000)",
            )],
        )?,
        None => FunctionOptions::empty(NAME),
    };
    let d = EloOptions::default();
    Ok(EloOptions {
        k: o.f64_or("k", d.k, |v| v.is_finite() && v > 0.0, "a number > 0")?,
        scale: o.f64_or(
            "scale",
            d.scale,
            |v| v.is_finite() && v > 0.0,
            "a number > 0",
        )?,
        base: o.f64_or(
            "base",
            d.base,
            |v| v.is_finite() && v > 1.0,
            "a number > 1 (the base of the exponent, 10 in FastChat and evalica)",
        )?,
        initial: o.f64_or("init", d.initial, f64::is_finite, "a finite number")?,
    })
}

/// Data arguments: item_a, item_b and an optional outcome.
const ARITY: (usize, usize) = (2, 3);

fn no_order_error() -> datafusion::common::DataFusionError {
    crate::ordered::no_order_error(
        NAME,
        "online Elo",
        "elo_rank(model_a, model_b, winner ORDER BY tstamp)",
    )
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct EloUdaf {
    signature: Signature,
}

pub fn elo_rank_udaf() -> AggregateUDF {
    AggregateUDF::from(EloUdaf {
        signature: Signature::user_defined(Volatility::Immutable),
    })
}

impl AggregateUDFImpl for EloUdaf {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if !(2..=4).contains(&arg_types.len()) {
            return plan_err!(
                "{NAME} takes 2 to 4 arguments, got {}: {USAGE}",
                arg_types.len()
            );
        }
        let mut coerced = crate::pairwise::coerce_item_pair(NAME, &arg_types[..2])?;
        for (i, t) in arg_types.iter().enumerate().skip(2) {
            coerced.push(match t {
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => t.clone(),
                DataType::Dictionary(_, v) if v.is_string() => v.as_ref().clone(),
                DataType::Null if i == 2 => DataType::Float64,
                t if i == 2 && t.is_numeric() => DataType::Float64,
                t if i == 2 => {
                    return plan_err!(
                        "{NAME}: outcome must be text ('a', 'b', 'tie', ...) or a number in [0, 1], got {t}"
                    )
                }
                t => {
                    return plan_err!(
                        "{NAME}: the fourth argument must be the options string literal, got {t}"
                    )
                }
            });
        }
        Ok(coerced)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let item = ItemKind::of(NAME, "the first item argument", &arg_types[0])?.output_type();
        Ok(list_of(leaderboard_fields(item)))
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
                ("order_key", DataType::Binary),
            ],
        ))
    }

    fn order_sensitivity(&self) -> AggregateOrderSensitivity {
        AggregateOrderSensitivity::Beneficial
    }

    /// The accumulator sorts by itself, so an ordered input changes nothing.
    fn with_beneficial_ordering(
        self: Arc<Self>,
        _beneficial_ordering: bool,
    ) -> Result<Option<Arc<dyn AggregateUDFImpl>>> {
        Ok(Some(self))
    }

    fn accumulator(&self, acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        check_physical(NAME, &acc_args, RowOrder::Used)?;
        if acc_args.order_bys.is_empty() {
            return Err(no_order_error());
        }
        let n_args = acc_args.exprs.len();
        let (data_args, options) = split_physical_call(NAME, acc_args.exprs, ARITY, USAGE)?;
        let outcome = data_args == 3;
        let options = parse_options(options.as_deref())?;
        let kind = ItemKind::of(
            NAME,
            "the first item argument",
            acc_args.expr_fields[0].data_type(),
        )?;
        Ok(Box::new(EloAccumulator {
            options,
            n_args,
            outcome,
            keys: OrderKeys::new(acc_args.order_bys, acc_args.schema)?,
            items: ItemInterner::new(kind),
            a: Vec::new(),
            b: Vec::new(),
            score_a: Vec::new(),
            return_type: acc_args.return_field.data_type().clone(),
        }))
    }

    /// Rejects a call without ORDER BY, and bad options, while the query is planned.
    fn simplify(&self) -> Option<AggregateFunctionSimplification> {
        Some(Box::new(|aggregate: AggregateFunction, _info| {
            check_logical(&aggregate, RowOrder::Used)?;
            let (_, options) = split_logical_call(NAME, &aggregate.params.args, ARITY, USAGE)?;
            parse_options(options.as_deref())?;
            if aggregate.params.order_by.is_empty() {
                return Err(no_order_error());
            }
            Ok(Expr::AggregateFunction(aggregate))
        }))
    }

    fn documentation(&self) -> Option<&Documentation> {
        static DOC: OnceLock<Documentation> = OnceLock::new();
        Some(DOC.get_or_init(documentation))
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
        Ranking {
            items: &self.items,
            ratings,
            rank_tolerance: 1e-9 * self.options.scale,
            totals: Some(totals),
            intervals: None,
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

fn documentation() -> Documentation {
    Documentation::builder(
        DOC_SECTION,
        "Online Elo, as Chatbot Arena first computed its leaderboard (FastChat's \
         compute_online_elo; evalica's elo). Every item starts at init; battles are replayed in \
         ORDER BY order, and each moves item_a by k * (s - e) and item_b by the opposite, where \
         s is item_a's score (1 win, 0 loss, 0.5 tie, or a fraction) and e = 1 / (1 + \
         base^((r_b - r_a) / scale)). ORDER BY inside the call is required: without it the \
         query fails to plan. Battles with equal ORDER BY keys are applied in order of \
         (item_a, item_b, outcome) values, so the result never depends on how the table was \
         read or partitioned; add a unique column such as a battle id to the ORDER BY to fix \
         a different order. Returns the leaderboard list ordered by rating descending (equal \
         ratings by item), with competition ranks; ci_lower, ci_upper, rank_lower and \
         rank_upper are NULL; wins, losses and ties count battles (a fractional score splits \
         one battle between wins and losses). A row with a NULL item or outcome is skipped, \
         as is a row comparing an item with itself. With no rows left the result is NULL. \
         Memory: the accumulator keeps every battle (about 20 bytes plus the ORDER BY key).",
        "elo_rank(item_a, item_b [, outcome] [, 'k=4, scale=400, base=10, init=1000'] ORDER BY t)",
    )
    .with_argument("item_a, item_b", ARG_ITEMS)
    .with_argument("outcome", ARG_OUTCOME)
    .with_argument(
        "options",
        "String literal, last: k (K-factor > 0, default 4), scale (> 0, default 400), base (the \
         base of the exponent, > 1, default 10), init (starting rating, default 1000). Unknown \
         keys and bad values are planning-time errors.",
    )
    .with_sql_example(
        "SELECT r.rank, r.item, round(r.rating, 1) AS rating\n\
         FROM (SELECT unnest(elo_rank(model_a, model_b, winner ORDER BY tstamp)) AS r FROM votes);",
    )
    .with_related_udf("bt_rank")
    .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_and_layout() {
        let o = parse_options(Some("k=32, init=1500")).unwrap();
        assert_eq!(
            (o.k, o.initial, o.base, o.scale),
            (32.0, 1500.0, 10.0, 400.0)
        );
        let e = parse_options(Some("base=1")).unwrap_err().to_string();
        assert!(
            e.contains("elo_rank: option 'base' must be a number > 1"),
            "{e}"
        );
        let some = |t: &str| Some(Some(t.to_string()));
        assert_eq!(
            split_call(NAME, 3, some("k=1"), ARITY, USAGE).unwrap(),
            (2, Some("k=1".into()))
        );
        assert_eq!(split_call(NAME, 3, None, ARITY, USAGE).unwrap(), (3, None));
        assert!(split_call(NAME, 5, some("k=1"), ARITY, USAGE).is_err());
    }
}
