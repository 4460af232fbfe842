//! `noisy_bt(worker, item_a, item_b [, outcome [, weight]] [, options])`: Bradley–Terry from
//! a crowd, with each worker's skill and left/right bias (crowd-kit's NoisyBT model). The
//! kernel is `prefdb_stats::noisy_bt`.

use crate::items::{ItemInterner, ItemKind, ItemReader};
use crate::leaderboard::{Ranking, LEADERBOARD_FIELDS};
use crate::memory::MemoryBudget;
use crate::options::{row_weight, weight_column};
use crate::pairwise::{coerce_item_pair, OutcomeColumn};
use crate::spec::aggregate::{Call, Family, PrefdbAggregate};
use crate::spec::ArgType::{Item, Outcome, Weight};
use crate::spec::FieldType::{self, Float, Int, List};
use crate::spec::StateSize;
use crate::spec::{
    fields_for, Arg, Doc, FunctionSpec, ItemTypes, Mapping, OptionSpec, OptionType, Options,
    OutField, Output, Section,
};
use crate::state::{list_fields, wrap, StateRows};
use datafusion::arrow::array::{
    Array, ArrayRef, Float64Array, Int64Array, StructArray, UInt32Array,
};
use datafusion::arrow::datatypes::{DataType, FieldRef, UInt32Type};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{exec_err, plan_err, DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::{Accumulator, AggregateUDF};
use prefdb_stats::noisy_bt::{noisy_bt, CrowdComparisons, NoisyBtOptions};
use prefdb_stats::pairwise::ItemTotals;
use std::sync::Arc;

const NAME: &str = "noisy_bt";

/// The most parameters (1 + items + 2 × workers): L-BFGS keeps 2 × 10 vectors of this
/// length.
const MAX_PARAMETERS: usize = 10_000_000;

pub(crate) static WORKER_FIELDS: &[OutField] = &[
    OutField::new("worker", FieldType::ItemOf("worker"), "The worker."),
    OutField::new("skill", Float, "σ(g): the probability that the worker answers by the items' strengths rather than by its own coin (crowd-kit's skills_)."),
    OutField::new("bias", Float, "σ(q): the probability that, answering by its coin, the worker picks item_a (crowd-kit's biases_; 0.5 is no side preference)."),
    OutField::new("n_labels", Int, "Comparisons by the worker."),
];

pub(crate) static NOISY_BT_FIELDS: &[OutField] = &[
    OutField::new(
        "leaderboard",
        List(LEADERBOARD_FIELDS),
        "One entry per item, by rating: the rating is s - x0 on the log-odds scale; no intervals.",
    ),
    OutField::new(
        "workers",
        List(WORKER_FIELDS),
        "One entry per worker, in worker order.",
    ),
];

pub(crate) static NOISY_BT: FunctionSpec = FunctionSpec {
    name: NAME,
    section: Section::Crowd,
    args: &[
        Arg::required("worker", Item, "The annotator (text or integer)."),
        Arg::required("item_a", Item, "The first item shown; item_a and item_b must both be strings or both integers. In the three-argument form each row is a win of item_a."),
        Arg::required("item_b", Item, "The second item shown."),
        Arg::optional("outcome", Outcome, "As bt_rank's: 'a' | 'b' | 'tie' (and the arena spellings), or the score of item_a in [0, 1]; a tie is half a win for each side."),
        Arg::optional("weight", Weight, "How many times the comparison counts (default 1); crowd-kit has no weights."),
    ],
    options: &[
        OptionSpec {
            key: "regularization",
            ty: OptionType::Number {
                valid: crate::spec::valid::non_negative,
                what: "a number >= 0",
            },
            default: Some("0.00001"),
            meaning: "ρ: the weight of the pull of every item's score toward the anchor (crowd-kit's regularization_ratio).",
        },
        OptionSpec {
            key: "worker_prior",
            ty: OptionType::Number {
                valid: crate::spec::valid::non_negative,
                what: "a number >= 0",
            },
            default: Some("0.5"),
            meaning: "α of a Beta(α, α) prior on every skill and bias; 0 is crowd-kit's model without one.",
        },
        OptionSpec {
            key: "seed",
            ty: OptionType::Integer { min: 0, max: 4_294_967_295 },
            default: Some("0"),
            meaning: "The seed of the starting values: numpy's RandomState(seed).rand, as crowd-kit's random_state.",
        },
        OptionSpec {
            key: "max_iter",
            ty: OptionType::Integer { min: 1, max: 1_000_000 },
            default: Some("10000"),
            meaning: "The most L-BFGS iterations.",
        },
        OptionSpec {
            key: "tol",
            ty: OptionType::Number {
                valid: crate::spec::valid::positive,
                what: "a number > 0",
            },
            default: Some("1e-10"),
            meaning: "Stop when no component of the objective's gradient exceeds tol × the total weight.",
        },
    ],
    output: Output::Struct(NOISY_BT_FIELDS),
    doc: Doc {
        summary: "Bradley–Terry ratings from a crowd, with each worker's skill and side bias: crowd-kit's NoisyBT.",
        method: "A worker answers by Bradley–Terry with probability σ(g) (its skill), otherwise by its own coin, which picks item_a with probability σ(q) (its bias): P(item_a wins) = σ(g) σ(s_a - s_b) + (1 - σ(g)) σ(q). prefdb maximises the log-likelihood minus crowd-kit's regularisation ρ Σ -[log σ(s_k - x0) + log σ(x0 - s_k)] (which ties the scores to an anchor x0) and a Beta(α, α) prior on every skill and bias (worker_prior; it keeps a worker who always agrees, or always picks one side, finite). Start: crowd-kit's, numpy's RandomState(seed).rand over [x0, items, biases, skills], items and workers in value order; fit: L-BFGS with a strong-Wolfe line search, then Newton steps to the stationary point (each worker's bias and skill eliminated per worker, which leaves an items × items system; skipped above 2000 items, where L-BFGS's tolerance decides). Ratings are s - x0 (log-odds). crowd-kit 1.4.2's NoisyBradleyTerry fits the same model with a gradient that keeps only each worker's last row, in the wrong slot, and a loss whose regularisation has the wrong sign, so it stops after a few iterations away from any optimum, at a point that depends on row order; prefdb is checked against scipy's L-BFGS-B with the correct gradient from the same start, polished by Newton steps (tests/oracle/noisy_bt_fit.py): ratings agree to 1e-10, skills and biases to 1e-14, on generated crowds, soft outcomes with weights, and LLMFAO's 124 workers.",
        nulls: "A row with a NULL worker, item, outcome or weight is skipped. A negative or non-finite weight is an error; a zero weight counts nothing (its items and worker still get entries).",
        degenerate: "NULL for no rows. The model is not convex: another seed can reach another optimum on small or contradictory data. An item that never wins sits about log(1/ρ) below the anchor. A row comparing an item with itself carries no information about ratings.",
        example: "SELECT * FROM leaderboard('SELECT noisy_bt(annotator, model_a, model_b, winner) FROM votes', 'workers') ORDER BY skill;",
    },
    mapping: Some(Mapping {
        reference: "crowd-kit 1.4.2, NoisyBradleyTerry",
        rows: &[
            ("regularization_ratio=1e-5", "regularization=0.00001"),
            ("random_state=0", "seed=0"),
            ("scores_ = expit(s)", "leaderboard.rating = s - x0 (log-odds; the level of s is not identified)"),
            ("skills_, biases_", "workers.skill, workers.bias"),
            ("label (the winner's name)", "outcome ('a', 'b', ...)"),
        ],
    }),
    state: StateSize::Rows,
    ..FunctionSpec::PLAIN
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NoisyBtFunction;

pub fn noisy_bt_udaf(budget: &MemoryBudget) -> AggregateUDF {
    PrefdbAggregate::udaf(NoisyBtFunction, budget)
}

impl Family for NoisyBtFunction {
    type Config = NoisyBtOptions;

    fn spec(&self) -> &'static FunctionSpec {
        &NOISY_BT
    }

    fn configure(&self, o: &Options) -> Result<NoisyBtOptions> {
        let d = NoisyBtOptions::default();
        Ok(NoisyBtOptions {
            regularization: o.number("regularization").unwrap_or(d.regularization),
            worker_prior: o.number("worker_prior").unwrap_or(d.worker_prior),
            seed: o.integer("seed").map_or(d.seed, |s| s as u32),
            max_iter: o.count("max_iter").unwrap_or(d.max_iter),
            tol: o.number("tol").unwrap_or(d.tol),
            polish: d.polish,
        })
    }

    /// Both items are strings or both integers.
    fn coerce(&self, types: &[DataType]) -> Result<Vec<DataType>> {
        let spec = self.spec();
        spec.check_arg_count(types.len())?;
        let mut coerced = spec.coerce(types)?;
        if types.len() >= 3 {
            let items = coerce_item_pair(NAME, &types[1..3])?;
            coerced[1..3].clone_from_slice(&items);
        }
        Ok(coerced)
    }

    /// A text column in the weight's place is not an options literal.
    fn check_types(&self, _config: &NoisyBtOptions, data: &[DataType]) -> Result<()> {
        match data.get(4) {
            Some(t) if *t != DataType::Float64 => {
                plan_err!("{NAME}: weight must be numeric, got {t}")
            }
            _ => Ok(()),
        }
    }

    fn item_type(&self, data: &[DataType]) -> Result<DataType> {
        Ok(ItemKind::of(NAME, "item_a", &data[1])?.output_type())
    }

    fn state_fields(&self, name: &str, args: &[FieldRef]) -> Result<Vec<FieldRef>> {
        let kind = |i: usize, arg: &str| -> Result<DataType> {
            Ok(ItemKind::of(NAME, arg, args[i].data_type())?.output_type())
        };
        Ok(list_fields(
            name,
            vec![
                ("workers", kind(0, "worker")?),
                ("items", kind(1, "item_a")?),
                ("ids", DataType::UInt32),
                ("scores", DataType::Float64),
                ("weights", DataType::Float64),
            ],
        ))
    }

    fn accumulator(&self, call: &Call<'_, NoisyBtOptions>) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(NoisyBtAccumulator {
            config: *call.config,
            workers: ItemInterner::new(ItemKind::of(NAME, "worker", call.data_type(0))?),
            items: ItemInterner::new(ItemKind::of(NAME, "item_a", call.data_type(1))?),
            ids: Vec::new(),
            scores: Vec::new(),
            weights: Vec::new(),
            data: call.data,
            return_type: call.return_type(),
        }))
    }
}

#[derive(Debug)]
struct NoisyBtAccumulator {
    config: NoisyBtOptions,
    workers: ItemInterner,
    items: ItemInterner,
    /// (worker, item_a, item_b) ids per comparison, flattened.
    ids: Vec<u32>,
    /// The score of item_a per comparison.
    scores: Vec<f64>,
    weights: Vec<f64>,
    /// Data arguments of the call: 3, 4 (outcome) or 5 (weight).
    data: usize,
    return_type: DataType,
}

/// One comparison by canonical ids.
#[derive(Clone, Copy)]
struct Row {
    worker: u32,
    a: u32,
    b: u32,
    score: f64,
    weight: f64,
}

impl NoisyBtAccumulator {
    /// The comparisons in value order: ids renumbered so that each dictionary is sorted,
    /// rows sorted by (worker, item_a, item_b, score, weight), so that the result does not
    /// depend on row order or partitioning.
    fn canonical(&self) -> Vec<Row> {
        let (pw, pi) = (self.workers.value_positions(), self.items.value_positions());
        let mut rows: Vec<Row> = self
            .ids
            .chunks_exact(3)
            .zip(self.scores.iter().zip(&self.weights))
            .map(|(r, (&score, &weight))| Row {
                worker: pw[r[0] as usize] as u32,
                a: pi[r[1] as usize] as u32,
                b: pi[r[2] as usize] as u32,
                score,
                weight,
            })
            .collect();
        rows.sort_by(|x, y| {
            (x.worker, x.a, x.b)
                .cmp(&(y.worker, y.a, y.b))
                .then(x.score.total_cmp(&y.score))
                .then(x.weight.total_cmp(&y.weight))
        });
        rows
    }

    /// Sorted rows merged per (worker, item_a, item_b).
    fn comparisons(&self, rows: &[Row]) -> CrowdComparisons {
        let mut c = CrowdComparisons {
            items: self.items.len(),
            workers: self.workers.len(),
            ..CrowdComparisons::default()
        };
        for r in rows {
            let same = c.worker.last() == Some(&r.worker)
                && c.a.last() == Some(&r.a)
                && c.b.last() == Some(&r.b);
            if !same {
                c.worker.push(r.worker);
                c.a.push(r.a);
                c.b.push(r.b);
                c.wins_a.push(0.0);
                c.wins_b.push(0.0);
            }
            *c.wins_a.last_mut().expect("pushed") += r.weight * r.score;
            *c.wins_b.last_mut().expect("pushed") += r.weight * (1.0 - r.score);
        }
        c
    }

    fn result(&self) -> Result<ScalarValue> {
        let DataType::Struct(fields) = &self.return_type else {
            return exec_err!("{NAME}: unexpected return type {}", self.return_type);
        };
        if self.weights.is_empty() {
            return Ok(ScalarValue::try_from(self.return_type.clone())?);
        }
        let (l, w) = (self.items.len(), self.workers.len());
        let parameters = 1 + l + 2 * w;
        if parameters > MAX_PARAMETERS {
            return exec_err!(
                "{NAME}: {l} items and {w} workers make {parameters} parameters, and at most {MAX_PARAMETERS} are fitted; group the data or merge workers"
            );
        }
        let rows = self.canonical();
        let fit = noisy_bt(&self.comparisons(&rows), &self.config).map_err(|_| {
            DataFusionError::Execution(format!("{NAME}: the statement was cancelled"))
        })?;
        let mut totals = vec![ItemTotals::default(); l];
        let mut per_worker = vec![0i64; w];
        for r in &rows {
            ItemTotals::add_battle(&mut totals, r.a as usize, r.b as usize, r.score, r.weight);
            per_worker[r.worker as usize] += 1;
        }
        let item_order = self.items.value_order();
        let leaderboard = Ranking {
            items: &self.items,
            ids: &item_order,
            ratings: fit.rating,
            rank_tolerance: 1e-9,
            totals: Some(totals),
            intervals: None,
            reported: None,
            tie_param: None,
        }
        .into_entries()?;
        let types = ItemTypes {
            item: self.items.kind().output_type(),
            args: vec![("worker", self.workers.kind().output_type())],
        };
        let workers = StructArray::try_new(
            fields_for(WORKER_FIELDS, &types),
            vec![
                self.workers.take(self.workers.value_order().into_iter()),
                Arc::new(Float64Array::from(fit.skill)),
                Arc::new(Float64Array::from(fit.bias)),
                Arc::new(Int64Array::from(per_worker)),
            ],
            None,
        )?;
        let list = |entries: StructArray| -> ArrayRef {
            Arc::new(SingleRowListArrayBuilder::new(Arc::new(entries)).build_list_array())
        };
        Ok(ScalarValue::Struct(Arc::new(StructArray::try_new(
            fields.clone(),
            vec![list(leaderboard), list(workers)],
            None,
        )?)))
    }
}

impl Accumulator for NoisyBtAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let outcome = OutcomeColumn::new(NAME, values.get(3).filter(|_| self.data >= 4))?;
        let weights = weight_column(values.get(4).filter(|_| self.data >= 5))?;
        let weights = weights.as_ref();
        let mut readers = [
            ItemReader::new(&values[0])?,
            ItemReader::new(&values[1])?,
            ItemReader::new(&values[2])?,
        ];
        for row in 0..values[0].len() {
            if readers.iter().any(|r| !r.is_valid(row)) {
                continue;
            }
            let Some(weight) = row_weight(NAME, weights, row)? else {
                continue;
            };
            let Some((a, _, tie)) = outcome.shares(NAME, row)? else {
                continue;
            };
            let [worker, item_a, item_b] = &mut readers;
            self.ids.push(worker.id(&mut self.workers, row)?);
            self.ids.push(item_a.id(&mut self.items, row)?);
            self.ids.push(item_b.id(&mut self.items, row)?);
            self.scores.push(a + 0.5 * tie);
            self.weights.push(weight);
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.result()
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self.workers.heap_size()
            + self.items.heap_size()
            + self.ids.capacity() * 4
            + (self.scores.capacity() + self.weights.capacity()) * 8
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![
            wrap(self.workers.to_array()),
            wrap(self.items.to_array()),
            wrap(Arc::new(UInt32Array::from(self.ids.clone()))),
            wrap(Arc::new(Float64Array::from(self.scores.clone()))),
            wrap(Arc::new(Float64Array::from(self.weights.clone()))),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        for row in StateRows::new(NAME, states, 5)?.rows() {
            let workers = self.workers.intern_array(&row.list(0)?)?;
            let items = self.items.intern_array(&row.list(1)?)?;
            let ids = row.values::<UInt32Type>(2)?;
            let scores = row.counts(3)?;
            let weights = row.counts(4)?;
            if ids.len() != weights.len() * 3 || scores.len() != weights.len() {
                return Err(row.corrupt("ids and scores do not fit the weights"));
            }
            for (i, &id) in ids.values().iter().enumerate() {
                let map = if i % 3 == 0 { &workers } else { &items };
                match map.get(id as usize) {
                    Some(&mapped) => self.ids.push(mapped),
                    None => return Err(row.corrupt(format!("id {id} of {}", map.len()))),
                }
            }
            self.scores.extend_from_slice(scores.values());
            self.weights.extend_from_slice(weights.values());
        }
        Ok(())
    }
}
