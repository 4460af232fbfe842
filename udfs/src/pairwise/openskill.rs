//! `openskill_rank(match_id, item, position [, options] ORDER BY ...)`: Weng–Lin
//! Plackett–Luce online ratings, as the `openskill` package computes them.
//!
//! Matches are replayed in ORDER BY order (a match takes the key of its first row in that
//! order); rows with equal keys are ordered by match, position and item values, so the
//! result never depends on partitioning.

use crate::items::ItemKind;
use crate::ordered::OrderKeys;
use crate::ranked::RankedRows;
use crate::spec::aggregate::{Call, Family, PrefdbAggregate};
use crate::spec::{struct_fields, FunctionSpec, Options};
use crate::state::{list_fields, wrap, StateRows};
use datafusion::arrow::array::{Array, ArrayRef, Float64Array, Int64Array, StructArray};
use datafusion::arrow::datatypes::{DataType, FieldRef, Fields};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{exec_err, HashMap, Result, ScalarValue};
use datafusion::logical_expr::{Accumulator, AggregateUDF};
use prefdb_stats::pairwise::{competition_ranks, weng_lin_update, Skill, WengLinOptions};
use std::sync::Arc;

/// The most entries one match may have.
const MAX_MATCH_SIZE: usize = 1000;

const NAME: &str = "openskill_rank";

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    model: WengLinOptions,
    z: f64,
}

fn entry_fields(item: DataType) -> Fields {
    struct_fields(crate::pairwise::spec::OPENSKILL_FIELDS, &item)
}

/// `openskill_rank`: its declaration is `pairwise::spec::OPENSKILL_RANK`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OpenSkillRank;

pub fn openskill_rank_udaf() -> AggregateUDF {
    PrefdbAggregate::udaf(OpenSkillRank, &crate::MemoryBudget::default())
}

impl Family for OpenSkillRank {
    type Config = Config;

    fn spec(&self) -> &'static FunctionSpec {
        &crate::pairwise::spec::OPENSKILL_RANK
    }

    fn configure(&self, o: &Options) -> Result<Config> {
        let number = |key: &str| o.number(key).unwrap_or_default();
        Ok(Config {
            model: WengLinOptions {
                mu: number("mu"),
                sigma: number("sigma"),
                beta: number("beta"),
                kappa: number("kappa"),
                tau: number("tau"),
            },
            z: number("z"),
        })
    }

    /// The items are the second argument (the first is the match).
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
                ("matches", kind(0, "match_id")?),
                ("items", kind(1, "item")?),
                ("match_ids", DataType::UInt32),
                ("item_ids", DataType::UInt32),
                ("positions", DataType::Float64),
                ("order_key", DataType::Binary),
            ],
        ))
    }

    fn accumulator(&self, call: &Call<'_, Config>) -> Result<Box<dyn Accumulator>> {
        let kind = |i: usize, arg: &str| ItemKind::of(NAME, arg, call.data_type(i));
        Ok(Box::new(OpenSkillAccumulator {
            config: *call.config,
            n_args: call.args.exprs.len(),
            keys: OrderKeys::new(call.args.order_bys, call.args.schema)?,
            rows: RankedRows::new(kind(0, "match_id")?, kind(1, "item")?),
            return_type: call.return_type(),
        }))
    }
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
