//! `openskill_rank(match_id, item, position [, options] ORDER BY ...)`: Weng–Lin
//! Plackett–Luce online ratings, as the `openskill` package computes them.
//!
//! Matches are replayed in ORDER BY order (a match takes the key of its first row in that
//! order); rows with equal keys are ordered by match, position and item values, so the
//! result never depends on partitioning.

use crate::call::{check_logical, check_physical, RowOrder};
use crate::items::ItemKind;
use crate::options::{split_logical_call, split_physical_call, FunctionOptions};
use crate::ordered::{no_order_error, OrderKeys};
use crate::pairwise::{f64_field, list_of, DOC_SECTION};
use crate::ranked::RankedRows;
use crate::state::{list_fields, wrap, StateRows};
use datafusion::arrow::array::{Array, ArrayRef, Float64Array, Int64Array, StructArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{exec_err, plan_err, HashMap, Result, ScalarValue};
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::function::{
    AccumulatorArgs, AggregateFunctionSimplification, StateFieldsArgs,
};
use datafusion::logical_expr::utils::AggregateOrderSensitivity;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, Expr, Signature, Volatility,
};
use prefdb_stats::pairwise::{competition_ranks, weng_lin_update, Skill, WengLinOptions};
use std::sync::{Arc, OnceLock};

/// The most entries one match may have.
const MAX_MATCH_SIZE: usize = 1000;

const NAME: &str = "openskill_rank";
const OPTION_KEYS: &[&str] = &["mu", "sigma", "beta", "kappa", "tau", "z"];
const USAGE: &str = "openskill_rank(match_id, item, position [, 'options'] ORDER BY t)";

#[derive(Debug, Clone, Copy, PartialEq)]
struct Config {
    model: WengLinOptions,
    z: f64,
}

fn parse_options(text: Option<&str>) -> Result<Config> {
    let o = match text {
        Some(t) => FunctionOptions::parse(NAME, t, OPTION_KEYS)?,
        None => FunctionOptions::empty(NAME),
    };
    let d = WengLinOptions::default();
    let positive = |v: f64| v.is_finite() && v > 0.0;
    Ok(Config {
        model: WengLinOptions {
            mu: o.f64_or("mu", d.mu, f64::is_finite, "a finite number")?,
            sigma: o.f64_or("sigma", d.sigma, positive, "a number > 0")?,
            beta: o.f64_or("beta", d.beta, positive, "a number > 0")?,
            kappa: o.f64_or("kappa", d.kappa, positive, "a number > 0")?,
            tau: o.f64_or("tau", d.tau, |v| v.is_finite() && v >= 0.0, "a number >= 0")?,
        },
        z: o.f64_or("z", 3.0, |v| v.is_finite() && v >= 0.0, "a number >= 0")?,
    })
}

/// Data arguments: match_id, item, position.
const ARITY: (usize, usize) = (3, 3);

fn entry_fields(item: DataType) -> Vec<Field> {
    vec![
        Field::new("rank", DataType::Int64, true),
        Field::new("item", item, true),
        f64_field("rating"),
        f64_field("mu"),
        f64_field("sigma"),
        Field::new("matches", DataType::Int64, true),
    ]
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct OpenSkillUdaf {
    signature: Signature,
}

pub fn openskill_rank_udaf() -> AggregateUDF {
    AggregateUDF::from(OpenSkillUdaf {
        signature: Signature::user_defined(Volatility::Immutable),
    })
}

impl AggregateUDFImpl for OpenSkillUdaf {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if !(3..=4).contains(&arg_types.len()) {
            return plan_err!(
                "{NAME} takes 3 or 4 arguments, got {}: {USAGE}",
                arg_types.len()
            );
        }
        let mut coerced = vec![
            ItemKind::of(NAME, "match_id", &arg_types[0])?.coerced_type(&arg_types[0]),
            ItemKind::of(NAME, "item", &arg_types[1])?.coerced_type(&arg_types[1]),
        ];
        coerced.push(match &arg_types[2] {
            DataType::Null => DataType::Float64,
            t if t.is_numeric() => DataType::Float64,
            t => return plan_err!("{NAME}: position must be numeric, got {t}"),
        });
        if let Some(t) = arg_types.get(3) {
            match t {
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                    coerced.push(t.clone())
                }
                t => {
                    return plan_err!(
                        "{NAME}: the last argument must be the options string literal, got {t}"
                    )
                }
            }
        }
        Ok(coerced)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let item = ItemKind::of(NAME, "item", &arg_types[1])?.output_type();
        Ok(list_of(entry_fields(item)))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let kind = |i: usize, arg: &str| -> Result<DataType> {
            Ok(ItemKind::of(NAME, arg, args.input_fields[i].data_type())?.output_type())
        };
        Ok(list_fields(
            args.name,
            vec![
                ("matches", kind(0, "match_id")?),
                ("items", kind(1, "item")?),
                ("match_ids", DataType::UInt32),
                ("item_ids", DataType::UInt32),
                ("positions", DataType::Float64),
                ("order_key", DataType::Binary),
            ],
        ))
    }

    fn order_sensitivity(&self) -> AggregateOrderSensitivity {
        AggregateOrderSensitivity::Beneficial
    }

    fn with_beneficial_ordering(
        self: Arc<Self>,
        _beneficial_ordering: bool,
    ) -> Result<Option<Arc<dyn AggregateUDFImpl>>> {
        Ok(Some(self))
    }

    fn accumulator(&self, acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        check_physical(NAME, &acc_args, RowOrder::Used)?;
        if acc_args.order_bys.is_empty() {
            return Err(order_error());
        }
        let n_args = acc_args.exprs.len();
        let (_, options) = split_physical_call(NAME, acc_args.exprs, ARITY, USAGE)?;
        let config = parse_options(options.as_deref())?;
        let kind =
            |i: usize, arg: &str| ItemKind::of(NAME, arg, acc_args.expr_fields[i].data_type());
        Ok(Box::new(OpenSkillAccumulator {
            config,
            n_args,
            keys: OrderKeys::new(acc_args.order_bys, acc_args.schema)?,
            rows: RankedRows::new(kind(0, "match_id")?, kind(1, "item")?),
            return_type: acc_args.return_field.data_type().clone(),
        }))
    }

    fn simplify(&self) -> Option<AggregateFunctionSimplification> {
        Some(Box::new(|aggregate: AggregateFunction, _info| {
            check_logical(&aggregate, RowOrder::Used)?;
            let (_, options) = split_logical_call(NAME, &aggregate.params.args, ARITY, USAGE)?;
            parse_options(options.as_deref())?;
            if aggregate.params.order_by.is_empty() {
                return Err(order_error());
            }
            Ok(Expr::AggregateFunction(aggregate))
        }))
    }

    fn documentation(&self) -> Option<&Documentation> {
        static DOC: OnceLock<Documentation> = OnceLock::new();
        Some(DOC.get_or_init(documentation))
    }
}

fn order_error() -> datafusion::common::DataFusionError {
    no_order_error(
        NAME,
        "online rating",
        "openskill_rank(match_id, model, position ORDER BY tstamp)",
    )
}

#[derive(Debug)]
struct OpenSkillAccumulator {
    config: Config,
    n_args: usize,
    /// Each row's ORDER BY key.
    keys: OrderKeys,
    /// (match, item, position) rows.
    rows: RankedRows,
    return_type: DataType,
}

impl OpenSkillAccumulator {
    /// Matches in replay order, each as (item id, position) rows sorted by position.
    fn matches_in_order(&self) -> Vec<(u32, Vec<(u32, f64)>)> {
        let data = &self.rows;
        let match_pos = data.groups.value_positions();
        let item_pos = data.items.value_positions();
        let mut rows: Vec<usize> = (0..data.group_ids.len()).collect();
        rows.sort_by(|&x, &y| {
            self.keys
                .key(x)
                .cmp(self.keys.key(y))
                .then(
                    match_pos[data.group_ids[x] as usize]
                        .cmp(&match_pos[data.group_ids[y] as usize]),
                )
                .then(data.positions[x].total_cmp(&data.positions[y]))
                .then(item_pos[data.item_ids[x] as usize].cmp(&item_pos[data.item_ids[y] as usize]))
        });
        let mut slot: HashMap<u32, usize> = HashMap::default();
        let mut out: Vec<(u32, Vec<(u32, f64)>)> = Vec::new();
        for r in rows {
            let m = data.group_ids[r];
            let k = *slot.entry(m).or_insert_with(|| {
                out.push((m, Vec::new()));
                out.len() - 1
            });
            out[k].1.push((data.item_ids[r], data.positions[r]));
        }
        for (_, entries) in &mut out {
            entries.sort_by(|a, b| a.1.total_cmp(&b.1));
        }
        out
    }
}

impl Accumulator for OpenSkillAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let keys = self.keys.convert(&values[self.n_args..])?;
        let own = &mut self.keys;
        self.rows.update(NAME, values, |row| {
            own.push(keys.row(row).as_ref());
            Ok(true)
        })
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        if self.rows.items.is_empty() {
            return ScalarValue::try_from(&self.return_type);
        }
        let o = self.config.model;
        let mut skills = vec![
            Skill {
                mu: o.mu,
                sigma: o.sigma,
            };
            self.rows.items.len()
        ];
        let mut played = vec![0i64; self.rows.items.len()];
        let mut entries: Vec<(u32, u32)> = Vec::new();
        // The match in which each item was last seen, to find an item listed twice.
        let mut last_match = vec![u32::MAX; self.rows.items.len()];
        for (m, rows) in self.matches_in_order() {
            // A match's update compares every pair of its entries.
            if rows.len() > MAX_MATCH_SIZE {
                return exec_err!(
                    "{NAME}: match {} has {} entries, and at most {MAX_MATCH_SIZE} are supported (the update compares every pair)",
                    self.rows.groups.display(m as usize),
                    rows.len()
                );
            }
            entries.clear();
            let mut rank = 0;
            for (k, &(item, position)) in rows.iter().enumerate() {
                if std::mem::replace(&mut last_match[item as usize], m) == m {
                    return exec_err!(
                        "{NAME}: match {} lists item {} twice",
                        self.rows.groups.display(m as usize),
                        self.rows.items.display(item as usize)
                    );
                }
                if k > 0 && position != rows[k - 1].1 {
                    rank += 1;
                }
                entries.push((item, rank));
            }
            // A match needs two items; openskill refuses fewer.
            if entries.len() < 2 {
                continue;
            }
            weng_lin_update(&mut skills, &entries, &o);
            for &(item, _) in &entries {
                played[item as usize] += 1;
            }
        }
        let ratings: Vec<f64> = skills
            .iter()
            .map(|s| s.mu - self.config.z * s.sigma)
            .collect();
        let order = self.rows.items.order_by_rating(&ratings);
        let sorted: Vec<f64> = order.iter().map(|&i| ratings[i]).collect();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(competition_ranks(&sorted, 1e-12))),
            self.rows.items.take(order.iter().copied()),
            Arc::new(Float64Array::from(sorted)),
            Arc::new(Float64Array::from_iter_values(
                order.iter().map(|&i| skills[i].mu),
            )),
            Arc::new(Float64Array::from_iter_values(
                order.iter().map(|&i| skills[i].sigma),
            )),
            Arc::new(Int64Array::from_iter_values(
                order.iter().map(|&i| played[i]),
            )),
        ];
        let fields = Fields::from(entry_fields(crate::leaderboard::item_type(
            &self.rows.items,
        )));
        let entries = StructArray::try_new(fields, columns, None)?;
        Ok(SingleRowListArrayBuilder::new(Arc::new(entries)).build_list_scalar())
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.rows.heap_size() + self.keys.heap_size()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let mut state = self.rows.state();
        state.push(wrap(Arc::new(self.keys.to_array())));
        Ok(state)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        for row in StateRows::new(NAME, states, 6)?.rows() {
            let keys = row.binary(5)?;
            if self.rows.merge(&row)? != keys.len() {
                return Err(row.corrupt("order keys do not match the rows"));
            }
            for x in 0..keys.len() {
                self.keys.push(keys.value(x));
            }
        }
        Ok(())
    }
}

fn documentation() -> Documentation {
    Documentation::builder(
        DOC_SECTION,
        "Online Bayesian ratings from ranked matches: Weng–Lin's Plackett–Luce update (Weng & \
         Lin 2011), as the openskill Python package computes it for one-item teams (checked \
         against openskill 6.2 to 1e-9). Each row is one item's position in one match (lower is \
         better; equal positions tie); matches are replayed in ORDER BY order, a match taking \
         the key of its first row. Every item starts at N(mu, sigma^2); before each match its \
         sigma grows by tau, then mu and sigma move by the Plackett–Luce update. ORDER BY \
         inside the call is required (a planning error without it); rows with equal keys are \
         ordered by match, position and item values, so the result never depends on \
         partitioning. Returns a list of (rank, item, rating, mu, sigma, matches) ordered by \
         rating = mu - z * sigma (openskill's ordinal, the conservative estimate) descending. \
         A match with one item is skipped; an item listed twice in a match is an error. A row \
         with a NULL match, item or position is skipped; NULL with no rows left.",
        "openskill_rank(match_id, item, position [, 'mu=25, sigma=8.333, beta=4.1667, kappa=0.0001, tau=0.08333, z=3'] ORDER BY t)",
    )
    .with_argument("match_id", "The match (string or integer).")
    .with_argument("item", "The ranked item (string or integer).")
    .with_argument("position", "The item's place in the match, 1 = best; equal positions are ties.")
    .with_argument("options", "String literal, last: mu, sigma, beta, kappa, tau (openskill's defaults: 25, 25/3, 25/6, 0.0001, 25/300) and z (default 3).")
    .with_sql_example(
        "SELECT * FROM leaderboard('SELECT openskill_rank(match_id, model, position ORDER BY tstamp) FROM ksort_votes');",
    )
    .with_related_udf("pl_rank")
    .build()
}
