//! Test-time selection estimators: `maj_at_k` and `best_of_n_at_k`, each over one problem's
//! samples (`GROUP BY problem`). The kernels are `prefdb_stats::selection`'s.

use crate::items::{ItemColumn, ItemInterner, ItemKind};
use crate::memory::MemoryBudget;
use crate::spec::aggregate::{Call, Family, PrefdbAggregate};
use crate::spec::ArgType::{Item, Label, Number, Whole};
use crate::spec::{Arg, Doc, FunctionSpec, Options, Output, Section};
use crate::state::{list_fields, wrap, StateRows};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int64Array, UInt32Array, UInt8Array,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, FieldRef, Float64Type, Int64Type, UInt32Type, UInt8Type,
};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::{Accumulator, AggregateUDF};
use prefdb_stats::selection::{best_of_n_at_k, maj_at_k};
use std::sync::Arc;

/// The most samples one group may hold: `maj_at_k` counts draws with a dynamic programme
/// over the answers, about samples² × k operations in the worst case.
const MAX_SAMPLES: usize = 1000;

const K: Arg = Arg::required("k", Whole, "How many samples are drawn, 1 to the group's number of samples; the same on every row of a group.");
const IS_CORRECT: Arg = Arg::required("is_correct", Label, "Whether the sample is correct.");

pub(crate) static MAJ_AT_K: FunctionSpec = FunctionSpec {
    name: "maj_at_k",
    section: Section::Selection,
    args: &[
        Arg::required("answer", Item, "The sample's final answer (text or integer); equal answers vote together."),
        IS_CORRECT,
        K,
    ],
    output: Output::Number,
    doc: Doc {
        summary: "maj@k: the expected accuracy of a majority vote among k of a problem's n samples.",
        method: "The exact expectation over all C(n, k) subsets of the samples drawn without replacement, not a Monte-Carlo estimate. In a subset the top answers are those drawn most often; the subset scores the share of them that are correct (a tie between a right and a wrong answer scores 1/2). A dynamic programme over the answers counts the draws (no enumeration), checked against brute-force enumeration of the subsets. Use one group per problem: SELECT problem, maj_at_k(answer, is_correct, 8) FROM samples GROUP BY problem, then average over problems. Up to 1000 samples per group.",
        nulls: "A row with a NULL answer, is_correct or k is skipped. An answer marked both correct and incorrect, a k that differs between rows of a group, and k outside 1 to the group's number of samples are errors.",
        degenerate: "NULL for no rows.",
        example: "SELECT avg(m) FROM (SELECT problem, maj_at_k(answer, is_correct, 5) AS m FROM samples GROUP BY problem);",
    },
    ..FunctionSpec::PLAIN
};

pub(crate) static BEST_OF_N_AT_K: FunctionSpec = FunctionSpec {
    name: "best_of_n_at_k",
    section: Section::Selection,
    args: &[
        Arg::required("reward", Number, "The sample's score from a reward model or verifier; the highest is selected."),
        IS_CORRECT,
        K,
    ],
    output: Output::Number,
    doc: Doc {
        summary: "best-of-n@k: the expected accuracy of picking the highest-reward sample among k of a problem's n samples.",
        method: "The exact expectation over all C(n, k) subsets drawn without replacement. When rewards tie at the top of a subset, the pick is uniform among them (the subset scores the share of them that are correct). Closed form: with the distinct rewards in descending order, the best level of a subset is level L (m_L samples, c_L correct, N_L above it) with probability [C(n - N_L, k) - C(n - N_L - m_L, k)] / C(n, k), scoring c_L / m_L. Checked against brute-force enumeration. Use one group per problem. Up to 1000 samples per group.",
        nulls: "A row with a NULL reward, is_correct or k is skipped. A reward that is NaN or infinite, a k that differs between rows of a group, and k outside 1 to the group's number of samples are errors.",
        degenerate: "NULL for no rows.",
        example: "SELECT avg(b) FROM (SELECT problem, best_of_n_at_k(reward, is_correct, 4) AS b FROM samples GROUP BY problem);",
    },
    ..FunctionSpec::PLAIN
};

pub(crate) static SPECS: [&FunctionSpec; 2] = [&MAJ_AT_K, &BEST_OF_N_AT_K];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SelectionFunction {
    MajAtK,
    BestOfNAtK,
}

pub fn selection_udafs(budget: &MemoryBudget) -> Vec<AggregateUDF> {
    [SelectionFunction::MajAtK, SelectionFunction::BestOfNAtK]
        .into_iter()
        .map(|f| PrefdbAggregate::udaf(f, budget))
        .collect()
}

impl Family for SelectionFunction {
    type Config = ();

    fn spec(&self) -> &'static FunctionSpec {
        SPECS[*self as usize]
    }

    fn configure(&self, _options: &Options) -> Result<()> {
        Ok(())
    }

    fn state_fields(&self, name: &str, args: &[FieldRef]) -> Result<Vec<FieldRef>> {
        Ok(match self {
            SelectionFunction::MajAtK => {
                let item =
                    ItemKind::of(MAJ_AT_K.name, "answer", args[0].data_type())?.output_type();
                list_fields(
                    name,
                    vec![
                        ("answers", item),
                        ("answer_ids", DataType::UInt32),
                        ("correct", DataType::UInt8),
                        ("k", DataType::Int64),
                    ],
                )
            }
            SelectionFunction::BestOfNAtK => list_fields(
                name,
                vec![
                    ("rewards", DataType::Float64),
                    ("correct", DataType::UInt8),
                    ("k", DataType::Int64),
                ],
            ),
        })
    }

    fn accumulator(&self, call: &Call<'_, ()>) -> Result<Box<dyn Accumulator>> {
        let answers = match self {
            SelectionFunction::MajAtK => Some(ItemInterner::new(ItemKind::of(
                MAJ_AT_K.name,
                "answer",
                call.data_type(0),
            )?)),
            SelectionFunction::BestOfNAtK => None,
        };
        Ok(Box::new(SelectionAccumulator {
            function: *self,
            answers,
            keys: Vec::new(),
            rewards: Vec::new(),
            correct: Vec::new(),
            k: None,
        }))
    }
}

#[derive(Debug)]
struct SelectionAccumulator {
    function: SelectionFunction,
    /// `maj_at_k`'s answers, and each sample's answer id.
    answers: Option<ItemInterner>,
    keys: Vec<u32>,
    /// `best_of_n_at_k`'s rewards.
    rewards: Vec<f64>,
    correct: Vec<u8>,
    k: Option<i64>,
}

impl SelectionAccumulator {
    fn name(&self) -> &'static str {
        self.function.spec().name
    }

    fn set_k(&mut self, k: i64) -> Result<()> {
        match self.k {
            Some(old) if old != k => exec_err!(
                "{}: k must be the same on every row of a group, got {old} and {k}",
                self.name()
            ),
            _ => {
                self.k = Some(k);
                Ok(())
            }
        }
    }
}

impl Accumulator for SelectionAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let name = self.name();
        let correct = cast(&values[1], &DataType::Float64)?;
        let correct = correct.as_primitive::<Float64Type>();
        let k = cast(&values[2], &DataType::Float64)?;
        let k = k.as_primitive::<Float64Type>();
        let rewards = match self.function {
            SelectionFunction::BestOfNAtK => Some(cast(&values[0], &DataType::Float64)?),
            SelectionFunction::MajAtK => None,
        };
        let answers = match self.function {
            SelectionFunction::MajAtK => Some(ItemColumn::new(&values[0])?),
            SelectionFunction::BestOfNAtK => None,
        };
        for row in 0..correct.len() {
            let first_valid = match (&answers, &rewards) {
                (Some(a), _) => a.get(row).is_some(),
                (_, Some(r)) => r.is_valid(row),
                _ => false,
            };
            if !first_valid || correct.is_null(row) || k.is_null(row) {
                continue;
            }
            let c = correct.value(row);
            if c != 0.0 && c != 1.0 {
                return exec_err!("{name}: is_correct must be true/false or 1/0, got {c}");
            }
            let kv = k.value(row);
            if kv.fract() != 0.0 || !kv.is_finite() {
                return exec_err!("{name}: k must be a whole number, got {kv}");
            }
            self.set_k(kv as i64)?;
            if let Some(r) = &rewards {
                let r = r.as_primitive::<Float64Type>().value(row);
                if !r.is_finite() {
                    return exec_err!("{name}: reward must be a finite number, got {r}");
                }
                self.rewards.push(r);
            }
            if let (Some(a), Some(interner)) = (&answers, &mut self.answers) {
                let item = a.get(row).expect("checked above");
                self.keys.push(interner.intern(item)?);
            }
            self.correct.push(c as u8);
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let name = self.name();
        let n = self.correct.len();
        let Some(k) = self.k.filter(|_| n > 0) else {
            return Ok(ScalarValue::Float64(None));
        };
        if n > MAX_SAMPLES {
            return exec_err!(
                "{name}: supports up to {MAX_SAMPLES} samples per group, got {n}; group by problem"
            );
        }
        if k < 1 || k as usize > n {
            return exec_err!("{name}: k must be from 1 to the group's {n} samples, got {k}");
        }
        let k = k as usize;
        let value = match self.function {
            SelectionFunction::BestOfNAtK => {
                let mut samples: Vec<(f64, bool)> = self
                    .rewards
                    .iter()
                    .zip(&self.correct)
                    .map(|(&r, &c)| (r, c == 1))
                    .collect();
                // Value order, so that the sums do not depend on arrival order.
                samples.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                best_of_n_at_k(&samples, k)
            }
            SelectionFunction::MajAtK => {
                let interner = self.answers.as_ref().expect("maj_at_k has answers");
                let mut per_answer: Vec<(usize, Option<bool>)> = vec![(0, None); interner.len()];
                for (&key, &c) in self.keys.iter().zip(&self.correct) {
                    let entry = &mut per_answer[key as usize];
                    entry.0 += 1;
                    match entry.1 {
                        Some(old) if old != (c == 1) => {
                            return exec_err!(
                                "{name}: answer {} is marked both correct and incorrect",
                                interner.display(key as usize)
                            )
                        }
                        _ => entry.1 = Some(c == 1),
                    }
                }
                // In answer value order, for the same reason.
                let answers: Vec<(usize, bool)> = interner
                    .value_order()
                    .into_iter()
                    .map(|i| (per_answer[i].0, per_answer[i].1 == Some(true)))
                    .filter(|a| a.0 > 0)
                    .collect();
                maj_at_k(&answers, k)
            }
        };
        Ok(ScalarValue::Float64(value))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self.answers.as_ref().map_or(0, ItemInterner::heap_size)
            + self.keys.capacity() * 4
            + self.rewards.capacity() * 8
            + self.correct.capacity()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let k: ArrayRef = Arc::new(Int64Array::from(self.k.into_iter().collect::<Vec<_>>()));
        let correct: ArrayRef = Arc::new(UInt8Array::from(self.correct.clone()));
        Ok(match &self.answers {
            Some(interner) => vec![
                wrap(interner.to_array()),
                wrap(Arc::new(UInt32Array::from(self.keys.clone()))),
                wrap(correct),
                wrap(k),
            ],
            None => vec![
                wrap(Arc::new(Float64Array::from(self.rewards.clone()))),
                wrap(correct),
                wrap(k),
            ],
        })
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let name = self.name();
        let columns = if self.answers.is_some() { 4 } else { 3 };
        for row in StateRows::new(name, states, columns)?.rows() {
            let c = columns - 2;
            let correct = row.values::<UInt8Type>(c)?;
            if let Some(k) = row.values::<Int64Type>(c + 1)?.values().first() {
                self.set_k(*k)?;
            }
            match &mut self.answers {
                Some(interner) => {
                    let id_map = interner.intern_array(&row.list(0)?)?;
                    let keys = row.values::<UInt32Type>(1)?;
                    row.same_length(&[keys.len(), correct.len()])?;
                    for &key in keys.values() {
                        let mapped = id_map
                            .get(key as usize)
                            .ok_or_else(|| row.corrupt("an answer id out of range"))?;
                        self.keys.push(*mapped);
                    }
                }
                None => {
                    let rewards = row.values::<Float64Type>(0)?;
                    row.same_length(&[rewards.len(), correct.len()])?;
                    self.rewards.extend_from_slice(rewards.values());
                }
            }
            self.correct.extend_from_slice(correct.values());
        }
        Ok(())
    }
}
