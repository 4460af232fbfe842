//! Consensus labels from crowd annotations: `majority_vote`, `wawa`, `zero_based_skill`,
//! `dawid_skene` and `one_coin`, each `METHOD(task, worker, label [, weight] [, options])`
//! returning a struct of two lists, `tasks` and `workers`. Kernels: `prefdb_stats::crowd`.

use super::annotations::AnnotationRows;
use crate::items::ItemKind;
use crate::memory::MemoryBudget;
use crate::spec::aggregate::{Call, Family, PrefdbAggregate};
use crate::spec::ArgType::{Item, Weight};
use crate::spec::FieldType::{self, Float, Int};
use crate::spec::StateSize;
use crate::spec::{
    fields_for, Arg, Doc, FunctionSpec, ItemTypes, Mapping, OptionSpec, OptionType, Options,
    OutField, Output, Section,
};
use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, ListArray, StructArray};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{exec_err, DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::{Accumulator, AggregateUDF};
use prefdb_stats::crowd::{
    dawid_skene, glad, mace, majority_vote, one_coin, wawa, zero_based_skill, Annotations,
    Consensus, EmOptions, GladOptions, MaceOptions, ZbsOptions,
};
use std::sync::Arc;

/// The columns' names, for messages.
const COLUMNS: [&str; 3] = ["task", "worker", "label"];

/// The most distinct labels.
const MAX_LABELS: usize = 1000;
/// The most confusion-matrix entries (workers × labels²) Dawid–Skene keeps.
const MAX_CONFUSION: usize = 50_000_000;

static DISTRIBUTION_FIELDS: &[OutField] = &[
    OutField::new("label", FieldType::ItemOf("label"), "A label."),
    OutField::new(
        "probability",
        Float,
        "Its posterior probability (its vote share for majority_vote and wawa).",
    ),
];

static CONFUSION_FIELDS: &[OutField] = &[
    OutField::new("true_label", FieldType::ItemOf("label"), "The true label."),
    OutField::new(
        "label",
        FieldType::ItemOf("label"),
        "A label the worker gave.",
    ),
    OutField::new(
        "probability",
        Float,
        "P(the worker gives label | true_label).",
    ),
];

pub(crate) static TASK_FIELDS: &[OutField] = &[
    OutField::new("task", FieldType::ItemOf("task"), "The task."),
    OutField::new("label", FieldType::ItemOf("label"), "Its consensus label: the most probable, the lowest label value on ties (crowd-kit's rule)."),
    OutField::new("confidence", Float, "That label's posterior probability (its vote share for majority_vote and wawa)."),
    OutField::new("n_labels", Int, "Annotations of the task."),
    OutField::new("distribution", FieldType::List(DISTRIBUTION_FIELDS), "The posterior over every label, in label order: the soft label."),
    OutField::new("difficulty", Float, "glad: β, the log of the task's inverse difficulty (higher is easier; crowd-kit's betas_); NULL for the other methods."),
];

pub(crate) static WORKER_FIELDS: &[OutField] = &[
    OutField::new("worker", FieldType::ItemOf("worker"), "The worker."),
    OutField::new("skill", Float, "The worker's skill on the method's scale (see the method)."),
    OutField::new("n_labels", Int, "Annotations by the worker."),
    OutField::new("confusion", FieldType::List(CONFUSION_FIELDS), "dawid_skene: the worker's confusion matrix, entries for the labels the worker gave; NULL for the other methods."),
];

pub(crate) static CONSENSUS_FIELDS: &[OutField] = &[
    OutField::new(
        "tasks",
        FieldType::List(TASK_FIELDS),
        "One entry per task, in task order.",
    ),
    OutField::new(
        "workers",
        FieldType::List(WORKER_FIELDS),
        "One entry per worker, in worker order.",
    ),
];

const ARGS: &[Arg] = &[
    Arg::required("task", Item, "The item being labelled (text or integer)."),
    Arg::required("worker", Item, "The annotator (text or integer)."),
    Arg::required("label", Item, "The label given (text or integer)."),
    Arg::optional(
        "weight",
        Weight,
        "How many times the annotation counts (default 1); crowd-kit has no weights.",
    ),
];

const NULLS: &str = "A row with a NULL task, worker, label or weight is skipped. A negative or non-finite weight is an error; a zero weight counts nothing.";

const MAX_ITER: OptionSpec = OptionSpec {
    key: "max_iter",
    ty: OptionType::Integer {
        min: 1,
        max: 100_000,
    },
    default: Some("100"),
    meaning: "The most EM iterations (crowd-kit's n_iter).",
};

const TOL: OptionSpec = OptionSpec {
    key: "tol",
    ty: OptionType::Number {
        valid: crate::spec::valid::non_negative,
        what: "a number >= 0",
    },
    default: Some("0.00001"),
    meaning: "Stop when crowd-kit's per-annotation lower bound rises by less than this.",
};

/// The EM paragraph the two Dawid–Skene methods share.
macro_rules! em_method {
    () => {
        "EM from the majority vote's shares, as crowd-kit 1.4.2: the E-step computes each task's posterior P(t, c) ∝ prior(c) Π over its annotations of E(worker, given, c) (in base 2, as crowd-kit); the prior is the mean posterior over tasks. crowd-kit's stopping rule: after each iteration, the expected complete log-likelihood (the prior counted once per annotation) plus the entropy of the posteriors clipped at 1e-10, over the annotations; stop when it rises by less than tol, keeping that iteration. Posteriors below 1e-10 are reported as 1e-10, as crowd-kit's."
    };
}

pub(crate) static MAJORITY_VOTE: FunctionSpec = FunctionSpec {
    // The other methods take options in that place: a trailing string is options, not a
    // weight.
    options_slot: true,
    name: "majority_vote",
    section: Section::Crowd,
    args: ARGS,
    output: Output::Struct(CONSENSUS_FIELDS),
    doc: Doc {
        summary: "Consensus labels by majority vote, with each worker's agreement with the majority.",
        method: "Each task's distribution is its vote shares; its label the most voted, ties going to the lowest label value (crowd-kit's MajorityVote with pandas 2: its idxmax over sorted labels). A worker's skill is the share of its annotations that agree with the consensus (crowd-kit's get_accuracy, which counts a repeated (task, worker, label) once; prefdb counts every row). Checked against crowd-kit 1.4.2 on generated crowds and LLMFAO's 124 workers.",
        nulls: NULLS,
        degenerate: "NULL for no rows. A task with one annotation gets that label with confidence 1.",
        example: "SELECT * FROM leaderboard('SELECT majority_vote(item_id, annotator, label) FROM labels', 'tasks');",
    },
    state: StateSize::Rows,
    ..FunctionSpec::PLAIN
};

pub(crate) static WAWA: FunctionSpec = FunctionSpec {
    // The other methods take options in that place: a trailing string is options, not a
    // weight.
    options_slot: true,
    name: "wawa",
    section: Section::Crowd,
    args: ARGS,
    output: Output::Struct(CONSENSUS_FIELDS),
    doc: Doc {
        summary: "Worker-agreement-with-aggregate: a majority vote weighted by each worker's agreement with the plain majority.",
        method: "Skill = a worker's accuracy against the unweighted majority vote (as majority_vote); then each task's distribution is the skill-weighted vote shares and its label the heaviest, ties to the lowest label value (crowd-kit's Wawa). Checked against crowd-kit 1.4.2.",
        nulls: NULLS,
        degenerate: "NULL for no rows. A task whose every worker has skill 0 has NaN shares and the lowest label.",
        example: "SELECT * FROM leaderboard('SELECT wawa(item_id, annotator, label) FROM labels', 'workers') ORDER BY skill;",
    },
    state: StateSize::Rows,
    ..FunctionSpec::PLAIN
};

pub(crate) static ZERO_BASED_SKILL: FunctionSpec = FunctionSpec {
    name: "zero_based_skill",
    section: Section::Crowd,
    args: ARGS,
    options: &[
        OptionSpec {
            key: "n_iter",
            ty: OptionType::Integer { min: 1, max: 100_000 },
            default: Some("100"),
            meaning: "Steps (always all of them: crowd-kit's rule has no convergence test).",
        },
        OptionSpec {
            key: "lr_init",
            ty: OptionType::Number {
                valid: crate::spec::valid::positive,
                what: "a number > 0",
            },
            default: Some("1"),
            meaning: "The first step size.",
        },
        OptionSpec {
            key: "lr_steps_to_reduce",
            ty: OptionType::Integer { min: 1, max: 100_000 },
            default: Some("20"),
            meaning: "The step size is multiplied by lr_reduce_factor before every step whose number is a multiple of this.",
        },
        OptionSpec {
            key: "lr_reduce_factor",
            ty: OptionType::Number {
                valid: |v| v > 0.0 && v <= 1.0,
                what: "a number in (0, 1]",
            },
            default: Some("0.5"),
            meaning: "The factor.",
        },
    ],
    output: Output::Struct(CONSENSUS_FIELDS),
    doc: Doc {
        summary: "Zero-based skill: skills learned by moving each toward the worker's accuracy against the skill-weighted vote.",
        method: "Skills start at 1/K + 1e-5 (K labels). Each step takes the skill-weighted majority vote and moves every skill toward that worker's accuracy against it, s += lr (accuracy - s); the step size starts at lr_init and is multiplied by lr_reduce_factor before every lr_steps_to_reduce-th step. After n_iter steps the result is the vote weighted by the final skills, ties to the lowest label value. This is crowd-kit's ZeroBasedSkill; checked against crowd-kit 1.4.2.",
        nulls: NULLS,
        degenerate: "NULL for no rows.",
        example: "SELECT * FROM leaderboard('SELECT zero_based_skill(item_id, annotator, label) FROM labels', 'workers');",
    },
    state: StateSize::Rows,
    ..FunctionSpec::PLAIN
};

pub(crate) static DAWID_SKENE: FunctionSpec = FunctionSpec {
    name: "dawid_skene",
    section: Section::Crowd,
    args: ARGS,
    options: &[MAX_ITER, TOL],
    output: Output::Struct(CONSENSUS_FIELDS),
    doc: Doc {
        summary: "Dawid–Skene: posterior labels and a full confusion matrix per worker, by EM.",
        method: concat!(
            "Each worker has a confusion matrix E(worker, given, true). ",
            em_method!(),
            " M-step: for each worker and each label it gave, the posterior mass of each true label over its annotations, at least 1e-10, normalised over the labels that worker gave (a label a worker never gave has no entry, as in crowd-kit, so a worker who always gives the same label carries no information). A worker's skill is sum over labels c of prior(c) E(worker, c, c): the probability that it gives the true label. Checked against crowd-kit 1.4.2's DawidSkene: posteriors, priors, confusion matrices and iteration counts. Memory: workers × labels² entries, at most 50000000."
        ),
        nulls: NULLS,
        degenerate: "NULL for no rows. With one label every posterior is 1.",
        example: "SELECT * FROM leaderboard('SELECT dawid_skene(item_id, annotator, label) FROM labels', 'tasks') WHERE confidence < 0.9;",
    },
    mapping: Some(Mapping {
        reference: "crowd-kit 1.4.2, DawidSkene",
        rows: &[
            ("n_iter=100", "max_iter=100"),
            ("tol=1e-5", "tol=0.00001"),
            ("probas_", "tasks.distribution"),
            ("labels_", "tasks.label"),
            ("errors_ (worker, given) x true", "workers.confusion"),
            ("priors_", "the mean of tasks.distribution"),
        ],
    }),
    state: StateSize::Rows,
    ..FunctionSpec::PLAIN
};

pub(crate) static GLAD: FunctionSpec = FunctionSpec {
    name: "glad",
    section: Section::Crowd,
    args: ARGS,
    options: &[
        OptionSpec {
            default: Some("1000"),
            ..MAX_ITER
        },
        OptionSpec {
            key: "tol",
            default: Some("0.0000001"),
            meaning: "Stop when no ability or difficulty moves by more than this in an iteration.",
            ..TOL
        },
    ],
    output: Output::Struct(CONSENSUS_FIELDS),
    doc: Doc {
        summary: "GLAD: posterior labels with each worker's ability and each task's difficulty, by EM.",
        method: "Whitehill et al. (2009), in crowd-kit's parameterisation: a worker gives the true label with probability sigmoid(α_worker e^β_task), each other label with an equal share of the rest; label priors uniform; N(1, 1) priors on every α and β, which start at 1. EM: the E-step computes each task's posterior; each M-step maximises the expected log-likelihood over every α given β and then every β given α (exact one-dimensional Newton steps: generalised EM), until no parameter moves by more than tol, which is a fixed point of exact EM. The posteriors are recomputed from the final parameters. crowd-kit 1.4.2's GLAD truncates each M-step to 25 conjugate-gradient iterations at gradient tolerance 0.01 and stops on a non-monotone criterion, so its output is defined only to about 1e-2 (it moves that much when the same rows arrive in another order); prefdb solves the same model exactly and is checked against crowd-kit's own E-step and objective with the M-step solved to convergence (tests/oracle/crowd_labels.py). skill is α (higher is better; negative means adversarial); tasks.difficulty is β.",
        nulls: NULLS,
        degenerate: "NULL for no rows. With one label every posterior is 1.",
        example: "SELECT * FROM leaderboard('SELECT glad(item_id, annotator, label) FROM labels', 'tasks') ORDER BY difficulty LIMIT 20;",
    },
    state: StateSize::Rows,
    ..FunctionSpec::PLAIN
};

pub(crate) static MACE: FunctionSpec = FunctionSpec {
    name: "mace",
    section: Section::Crowd,
    args: ARGS,
    options: &[
        OptionSpec {
            key: "n_iter",
            ty: OptionType::Integer { min: 1, max: 100_000 },
            default: Some("50"),
            meaning: "Variational EM iterations (always all of them, as crowd-kit).",
        },
        OptionSpec {
            key: "seed",
            ty: OptionType::Integer { min: 0, max: 4_294_967_295 },
            default: Some("0"),
            meaning: "The seed of the starting values: numpy's RandomState(seed) draws, as crowd-kit's random_state.",
        },
    ],
    output: Output::Struct(CONSENSUS_FIELDS),
    doc: Doc {
        summary: "MACE: posterior labels and each worker's probability of answering knowingly rather than spamming.",
        method: "Hovy et al. (2013), as crowd-kit's MACE(method='vb'): an annotation is the true label when the worker knows it, otherwise a draw from the worker's own spamming strategy; Beta(0.5, 0.5) priors on knowing, Dirichlet(10) on strategies, variational Bayes for n_iter iterations from starting values drawn, as crowd-kit, from MT19937 seeded like numpy's RandomState(seed) (crowd-kit's 10 restarts all start from the same draws, so one run is the same). Workers and labels are taken in value order. crowd-kit reads its strategy matrix with workers and labels in first-appearance order but writes it in sorted order, a defect that moves its posteriors by up to 0.9 whenever the two orders differ; prefdb uses one order throughout, and is checked against crowd-kit's MACE with that order made consistent. skill is the probability that the worker knows the answer (crowd-kit's spamming_[:, 1]).",
        nulls: NULLS,
        degenerate: "NULL for no rows.",
        example: "SELECT * FROM leaderboard('SELECT mace(item_id, annotator, label) FROM labels', 'workers') ORDER BY skill LIMIT 10;",
    },
    state: StateSize::Rows,
    ..FunctionSpec::PLAIN
};

pub(crate) static ONE_COIN: FunctionSpec = FunctionSpec {
    name: "one_coin",
    section: Section::Crowd,
    args: ARGS,
    options: &[MAX_ITER, TOL],
    output: Output::Struct(CONSENSUS_FIELDS),
    doc: Doc {
        summary: "One-coin Dawid–Skene: posterior labels and one accuracy per worker, by EM.",
        method: concat!(
            "Each worker gives the true label with probability s (its skill) and each other label with probability (1 - s) / (K - 1), clipped to [1e-10, 1 - 1e-10]. ",
            em_method!(),
            " M-step: s = the mean posterior probability of the labels the worker gave. This is crowd-kit's OneCoinDawidSkene; checked against crowd-kit 1.4.2."
        ),
        nulls: NULLS,
        degenerate: "NULL for no rows.",
        example: "SELECT * FROM leaderboard('SELECT one_coin(item_id, annotator, label) FROM labels', 'workers') ORDER BY skill;",
    },
    state: StateSize::Rows,
    ..FunctionSpec::PLAIN
};

/// The consensus methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConsensusFunction {
    MajorityVote,
    Wawa,
    ZeroBasedSkill,
    DawidSkene,
    OneCoin,
    Glad,
    Mace,
}

pub(crate) static SPECS: [&FunctionSpec; 7] = [
    &MAJORITY_VOTE,
    &WAWA,
    &ZERO_BASED_SKILL,
    &DAWID_SKENE,
    &ONE_COIN,
    &GLAD,
    &MACE,
];

pub fn consensus_udafs(budget: &MemoryBudget) -> Vec<AggregateUDF> {
    [
        ConsensusFunction::MajorityVote,
        ConsensusFunction::Wawa,
        ConsensusFunction::ZeroBasedSkill,
        ConsensusFunction::DawidSkene,
        ConsensusFunction::OneCoin,
        ConsensusFunction::Glad,
        ConsensusFunction::Mace,
    ]
    .into_iter()
    .map(|f| PrefdbAggregate::udaf(f, budget))
    .collect()
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConsensusConfig {
    em: EmOptions,
    zbs: ZbsOptions,
    glad: GladOptions,
    mace: MaceOptions,
}

impl Family for ConsensusFunction {
    type Config = ConsensusConfig;

    fn spec(&self) -> &'static FunctionSpec {
        SPECS[*self as usize]
    }

    fn configure(&self, o: &Options) -> Result<ConsensusConfig> {
        let em = EmOptions::default();
        let zbs = ZbsOptions::default();
        let glad = GladOptions::default();
        Ok(ConsensusConfig {
            mace: MaceOptions {
                iterations: o.count("n_iter").unwrap_or(50),
                seed: o.integer("seed").unwrap_or(0) as u32,
                ..MaceOptions::default()
            },
            glad: GladOptions {
                max_iter: o.count("max_iter").unwrap_or(glad.max_iter),
                tol: o.number("tol").unwrap_or(glad.tol),
            },
            em: EmOptions {
                max_iter: o.count("max_iter").unwrap_or(em.max_iter),
                tol: o.number("tol").unwrap_or(em.tol),
            },
            zbs: ZbsOptions {
                iterations: o.count("n_iter").unwrap_or(zbs.iterations),
                lr_init: o.number("lr_init").unwrap_or(zbs.lr_init),
                lr_steps_to_reduce: o
                    .count("lr_steps_to_reduce")
                    .unwrap_or(zbs.lr_steps_to_reduce),
                lr_reduce_factor: o.number("lr_reduce_factor").unwrap_or(zbs.lr_reduce_factor),
            },
        })
    }

    fn item_type(&self, data: &[DataType]) -> Result<DataType> {
        Ok(ItemKind::of(self.spec().name, "task", &data[0])?.output_type())
    }

    fn state_fields(&self, name: &str, args: &[FieldRef]) -> Result<Vec<FieldRef>> {
        let types: Vec<DataType> = args.iter().map(|f| f.data_type().clone()).collect();
        let kinds = AnnotationRows::kinds(self.spec().name, &types, COLUMNS)?;
        Ok(AnnotationRows::state_fields(name, kinds))
    }

    fn accumulator(&self, call: &Call<'_, ConsensusConfig>) -> Result<Box<dyn Accumulator>> {
        let name = self.spec().name;
        let types: Vec<DataType> = (0..3).map(|i| call.data_type(i).clone()).collect();
        let kinds = AnnotationRows::kinds(name, &types, COLUMNS)?;
        Ok(Box::new(ConsensusAccumulator {
            function: *self,
            config: *call.config,
            rows: AnnotationRows::new(name, call, kinds),
            return_type: call.return_type(),
        }))
    }
}

#[derive(Debug)]
struct ConsensusAccumulator {
    function: ConsensusFunction,
    config: ConsensusConfig,
    rows: AnnotationRows,
    return_type: DataType,
}

impl ConsensusAccumulator {
    fn name(&self) -> &'static str {
        self.function.spec().name
    }

    /// The consensus, and GLAD's task difficulties.
    fn fit(&self, a: &Annotations) -> Result<(Consensus, Option<Vec<f64>>)> {
        let name = self.name();
        let k = a.labels;
        if k > MAX_LABELS {
            return exec_err!("{name}: supports up to {MAX_LABELS} distinct labels, got {k}");
        }
        let stopped =
            |_| DataFusionError::Execution(format!("{name}: the statement was cancelled"));
        Ok(match self.function {
            ConsensusFunction::MajorityVote => (majority_vote(a), None),
            ConsensusFunction::Wawa => (wawa(a), None),
            ConsensusFunction::ZeroBasedSkill => (
                zero_based_skill(a, &self.config.zbs).map_err(stopped)?,
                None,
            ),
            ConsensusFunction::Glad => {
                let fit = glad(a, &self.config.glad).map_err(stopped)?;
                (fit.consensus, Some(fit.beta))
            }
            ConsensusFunction::Mace => {
                (mace(a, &self.config.mace).map_err(stopped)?.consensus, None)
            }
            ConsensusFunction::DawidSkene | ConsensusFunction::OneCoin => {
                let entries = a.workers.saturating_mul(k).saturating_mul(k);
                if entries > MAX_CONFUSION {
                    return exec_err!(
                        "{name}: {} workers × {k}² labels is {entries} confusion entries, and at most {MAX_CONFUSION} are kept; use fewer labels or group the workers",
                        a.workers
                    );
                }
                let c = if self.function == ConsensusFunction::DawidSkene {
                    dawid_skene(a, &self.config.em).map_err(stopped)?
                } else {
                    one_coin(a, &self.config.em).map_err(stopped)?
                };
                (c, None)
            }
        })
    }

    fn result(&self) -> Result<ScalarValue> {
        let DataType::Struct(fields) = &self.return_type else {
            return exec_err!(
                "{}: unexpected return type {}",
                self.name(),
                self.return_type
            );
        };
        if self.rows.is_empty() {
            return Ok(ScalarValue::try_from(self.return_type.clone())?);
        }
        let a = self.rows.canonical();
        let (c, difficulty) = self.fit(&a)?;
        let k = a.labels;
        let types = ItemTypes {
            item: self.rows.tasks.kind().output_type(),
            args: vec![
                ("task", self.rows.tasks.kind().output_type()),
                ("worker", self.rows.workers.kind().output_type()),
                ("label", self.rows.labels.kind().output_type()),
            ],
        };
        let (task_order, worker_order, label_order) = (
            self.rows.tasks.value_order(),
            self.rows.workers.value_order(),
            self.rows.labels.value_order(),
        );
        let mut per_task = vec![0i64; a.tasks];
        let mut per_worker = vec![0i64; a.workers];
        for r in 0..a.task.len() {
            per_task[a.task[r] as usize] += 1;
            per_worker[a.worker[r] as usize] += 1;
        }
        let labels_of = |ids: &mut dyn Iterator<Item = usize>| {
            self.rows.labels.take(ids.map(|l| label_order[l]))
        };
        // Each task's distribution: K entries in label order.
        let distribution_fields = fields_for(DISTRIBUTION_FIELDS, &types);
        let distribution = StructArray::try_new(
            distribution_fields.clone(),
            vec![
                labels_of(&mut (0..a.tasks).flat_map(|_| 0..k)),
                Arc::new(Float64Array::from(c.probas.clone())),
            ],
            None,
        )?;
        let distributions = ListArray::try_new(
            Arc::new(Field::new_list_field(
                DataType::Struct(distribution_fields),
                true,
            )),
            OffsetBuffer::from_lengths(std::iter::repeat_n(k, a.tasks)),
            Arc::new(distribution),
            None,
        )?;
        let tasks = StructArray::try_new(
            fields_for(TASK_FIELDS, &types),
            vec![
                self.rows.tasks.take(task_order.iter().copied()),
                labels_of(&mut c.label.iter().copied()),
                Arc::new(Float64Array::from_iter_values(
                    (0..a.tasks).map(|t| c.probas[t * k + c.label[t]]),
                )),
                Arc::new(Int64Array::from(per_task)),
                Arc::new(distributions),
                Arc::new(match difficulty {
                    Some(beta) => Float64Array::from(beta),
                    None => Float64Array::from(vec![None; a.tasks]),
                }),
            ],
            None,
        )?;
        // Dawid–Skene's confusion entries: for each worker, each label it gave, each true
        // label.
        let confusion_fields = fields_for(CONFUSION_FIELDS, &types);
        let confusion: ArrayRef = match &c.errors {
            Some(errors) => {
                let mut truth = Vec::new();
                let mut given = Vec::new();
                let mut probability = Vec::new();
                let mut lengths = Vec::new();
                for w in 0..a.workers {
                    let before = truth.len();
                    for l in 0..k {
                        for j in 0..k {
                            let e = errors[(w * k + l) * k + j];
                            if !e.is_nan() {
                                truth.push(j);
                                given.push(l);
                                probability.push(e);
                            }
                        }
                    }
                    lengths.push(truth.len() - before);
                }
                let entries = StructArray::try_new(
                    confusion_fields.clone(),
                    vec![
                        labels_of(&mut truth.into_iter()),
                        labels_of(&mut given.into_iter()),
                        Arc::new(Float64Array::from(probability)),
                    ],
                    None,
                )?;
                Arc::new(ListArray::try_new(
                    Arc::new(Field::new_list_field(
                        DataType::Struct(confusion_fields),
                        true,
                    )),
                    OffsetBuffer::from_lengths(lengths),
                    Arc::new(entries),
                    None,
                )?)
            }
            None => datafusion::arrow::array::new_null_array(
                &DataType::new_list(DataType::Struct(confusion_fields), true),
                a.workers,
            ),
        };
        let workers = StructArray::try_new(
            fields_for(WORKER_FIELDS, &types),
            vec![
                self.rows.workers.take(worker_order.iter().copied()),
                Arc::new(Float64Array::from(c.skill.clone())),
                Arc::new(Int64Array::from(per_worker)),
                confusion,
            ],
            None,
        )?;
        let list = |entries: StructArray| -> ArrayRef {
            Arc::new(SingleRowListArrayBuilder::new(Arc::new(entries)).build_list_array())
        };
        Ok(ScalarValue::Struct(Arc::new(StructArray::try_new(
            fields.clone(),
            vec![list(tasks), list(workers)],
            None,
        )?)))
    }
}

impl Accumulator for ConsensusAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.rows.update(values)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.result()
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.rows.heap_size()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(self.rows.state())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.rows.merge(states)
    }
}
