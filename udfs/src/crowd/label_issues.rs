//! `label_issues(row_id, given_label, probs [, options])`: confident learning over every row
//! of the group, as cleanlab's `find_label_issues`; the kernel is
//! `prefdb_stats::label_issues`.

use crate::items::{ItemColumn, ItemKind, ItemRef};
use crate::memory::MemoryBudget;
use crate::spec::aggregate::{Call, Family, PrefdbAggregate};
use crate::spec::ArgType::{Any, Item, Whole};
use crate::spec::FieldType::{self, Bool, Float, Int};
use crate::spec::StateSize;
use crate::spec::{
    fields_for, Arg, Doc, FunctionSpec, ItemTypes, Mapping, OptionSpec, OptionType, Options,
    OutField, Output, Section,
};
use crate::state::{list_fields, wrap, StateRows};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, StringBuilder, StructArray,
};
use datafusion::arrow::buffer::ScalarBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, FieldRef, Float64Type, Int64Type};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{exec_err, internal_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::{Accumulator, AggregateUDF};
use prefdb_stats::label_issues::{find_label_issues_in, FilterBy, IssueOptions};
use std::sync::Arc;

const NAME: &str = "label_issues";

/// The most classes: the joint has classes² entries.
const MAX_CLASSES: usize = 1000;

pub(crate) static ROW_FIELDS: &[OutField] = &[
    OutField::new("row_id", FieldType::ItemOf("row_id"), "The row."),
    OutField::new("given_label", Int, "Its given label."),
    OutField::new("is_label_issue", Bool, "Whether the given label is probably wrong (cleanlab's find_label_issues with the chosen filter_by)."),
    OutField::new("label_quality", Float, "cleanlab's get_label_quality_scores with the chosen quality method: self_confidence p[given], or normalized_margin (p[given] - max of the other classes + 1) / 2. Lower is more suspect."),
    OutField::new("suggested_label", Int, "The class with the highest probability (the lowest index on ties): cleanlab's predicted_label."),
];

pub(crate) static JOINT_FIELDS: &[OutField] = &[
    OutField::new("given_label", Int, "The given label."),
    OutField::new("true_label", Int, "The latent true label."),
    OutField::new("count", Int, "The calibrated confident joint: rows estimated to have this given and this true label (cleanlab's compute_confident_joint)."),
    OutField::new("joint", Float, "count / rows: the estimated joint distribution of given and true labels (estimate_joint)."),
    OutField::new("noise_rate", Float, "P(given_label | true_label), cleanlab's noise_matrix from estimate_latent."),
    OutField::new("inverse_noise_rate", Float, "P(true_label | given_label), its inverse_noise_matrix."),
];

pub(crate) static LABEL_ISSUES_FIELDS: &[OutField] = &[
    OutField::new(
        "rows",
        FieldType::List(ROW_FIELDS),
        "One entry per row, by row_id.",
    ),
    OutField::new(
        "joint",
        FieldType::List(JOINT_FIELDS),
        "One entry per (given_label, true_label), K² in all.",
    ),
];

pub(crate) static LABEL_ISSUES: FunctionSpec = FunctionSpec {
    name: NAME,
    section: Section::Crowd,
    args: &[
        Arg::required("row_id", Item, "The row's identifier (text or integer), unique in the group; rows are processed in row_id order."),
        Arg::required("given_label", Whole, "The row's label: a class index from 0 to K - 1."),
        Arg::required("probs", Any, "An array of the K predicted class probabilities for the row from a model that did not train on it (out-of-sample, e.g. cross-validated); class k at position k + 1. Every row has the same K >= 2."),
    ],
    options: &[
        OptionSpec {
            key: "filter_by",
            ty: OptionType::Choice(&["prune_by_noise_rate", "prune_by_class", "both", "confident_learning", "predicted_neq_given", "low_normalized_margin", "low_self_confidence"]),
            default: Some("prune_by_noise_rate"),
            meaning: "cleanlab's filter_by: prune_by_noise_rate flags, for each (given, true) cell of the calibrated confident joint, that many rows of the given label with the largest p[true] - p[given]; prune_by_class flags each label's off-diagonal count of rows with the lowest p[given]; both flags rows both flag; confident_learning flags the rows the confident joint counts off its diagonal; predicted_neq_given flags rows whose argmax is not the given label; low_normalized_margin and low_self_confidence flag as many rows as confident_learning, lowest score first.",
        },
        OptionSpec {
            key: "quality",
            ty: OptionType::Choice(&["self_confidence", "normalized_margin"]),
            default: Some("self_confidence"),
            meaning: "The label_quality score (cleanlab's get_label_quality_scores method).",
        },
        OptionSpec {
            key: "frac_noise",
            ty: OptionType::Number {
                valid: |v| v > 0.0 && v <= 1.0,
                what: "a number in (0, 1]",
            },
            default: Some("1"),
            meaning: "The share of each estimated count of label errors to flag (the pruning filters).",
        },
        OptionSpec {
            key: "min_examples_per_class",
            ty: OptionType::Integer { min: 0, max: 1_000_000_000 },
            default: Some("1"),
            meaning: "The pruning filters flag nothing in a label with at most this many rows, and leave each label at least this many rows.",
        },
    ],
    output: Output::Struct(LABEL_ISSUES_FIELDS),
    doc: Doc {
        summary: "Which labels are probably wrong? Confident learning over a model's predicted probabilities, as cleanlab's find_label_issues, with the estimated joint of given and true labels.",
        method: "Confident learning (Northcutt, Jiang and Chuang 2021), step for step as cleanlab 2.9.0. Each class's threshold is the mean predicted probability of that class over the rows labelled with it (2 for a label no row has, at least 2e-6). A row is confident in the classes whose probability reaches their threshold (less 1e-6); its guessed true label is that class, or the argmax when several are confident; rows confident in none are not counted. The counts (diagonal at least 1) are calibrated so that each given label's row sums to its number of rows and the whole to N, then rounded preserving row totals; filter_by selects the flagged rows, and finally a row whose given label is within 1e-6 of its highest probability is never flagged (except for the low_* filters). Sums are numpy's pairwise sums in row_id order, so the results equal cleanlab's to the last bit on data without exact ties; where cleanlab selects among exact ties its answer depends on the CPU (numpy's SIMD argsort is unstable), and prefdb takes the lower row_id or class first (the higher class when rounding raises a count). Checked against cleanlab on six generated cases (2 to 9 classes, unbalanced, empty and one-row labels) for every filter_by, the scores, the confident joint, the joint and both noise matrices. The state keeps every row (its id, label and K probabilities, 8 (K + 2) bytes) because the thresholds depend on all rows; up to 1000 classes.",
        nulls: "A row with a NULL row_id, given_label or probs is skipped. A NULL or NaN probability inside probs, a probability outside [0, 1], a given_label outside 0 to K - 1, arrays of different lengths and a row_id that appears twice are errors.",
        degenerate: "NULL for no rows. Labels that no row has are allowed (their threshold is 2: no row is confident in them). Unlike cleanlab, rows that all share one label are not an error.",
        example: "SELECT * FROM leaderboard('SELECT label_issues(id, label, probs) FROM predictions', 'rows') WHERE is_label_issue ORDER BY label_quality;",
    },
    mapping: Some(Mapping {
        reference: "cleanlab 2.9.0",
        rows: &[
            ("filter.find_label_issues(labels, pred_probs, filter_by=F, frac_noise=X, min_examples_per_class=M)", "rows.is_label_issue with 'filter_by=F, frac_noise=X, min_examples_per_class=M'"),
            ("rank.get_label_quality_scores(labels, pred_probs, method=Q)", "rows.label_quality with 'quality=Q'"),
            ("count.compute_confident_joint(labels, pred_probs)", "joint.count"),
            ("count.estimate_joint(labels, pred_probs)", "joint.joint"),
            ("count.estimate_latent(cj, labels): noise_matrix, inverse_noise_matrix", "joint.noise_rate, joint.inverse_noise_rate"),
            ("pred_probs.argmax(axis=1)", "rows.suggested_label"),
        ],
    }),
    state: StateSize::Rows,
    ..FunctionSpec::PLAIN
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LabelIssuesFunction;

pub fn label_issues_udaf(budget: &MemoryBudget) -> AggregateUDF {
    PrefdbAggregate::udaf(LabelIssuesFunction, budget)
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LabelIssuesConfig {
    options: IssueOptions,
    margin: bool,
}

impl Family for LabelIssuesFunction {
    type Config = LabelIssuesConfig;

    fn spec(&self) -> &'static FunctionSpec {
        &LABEL_ISSUES
    }

    fn configure(&self, o: &Options) -> Result<LabelIssuesConfig> {
        Ok(LabelIssuesConfig {
            options: IssueOptions {
                filter_by: match o.choice("filter_by") {
                    Some("prune_by_class") => FilterBy::PruneByClass,
                    Some("both") => FilterBy::Both,
                    Some("confident_learning") => FilterBy::ConfidentLearning,
                    Some("predicted_neq_given") => FilterBy::PredictedNeqGiven,
                    Some("low_normalized_margin") => FilterBy::LowNormalizedMargin,
                    Some("low_self_confidence") => FilterBy::LowSelfConfidence,
                    _ => FilterBy::PruneByNoiseRate,
                },
                frac_noise: o.number("frac_noise").unwrap_or(1.0),
                min_examples_per_class: o.count("min_examples_per_class").unwrap_or(1),
            },
            margin: o.choice("quality") == Some("normalized_margin"),
        })
    }

    fn coerce(&self, types: &[DataType]) -> Result<Vec<DataType>> {
        let spec = self.spec();
        spec.check_arg_count(types.len())?;
        let mut coerced = vec![
            Item.coerce(NAME, "row_id", &types[0])?,
            Whole.coerce(NAME, "given_label", &types[1])?,
        ];
        coerced.push(match &types[2] {
            DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _)
                if f.data_type().is_numeric() || f.data_type() == &DataType::Null =>
            {
                DataType::new_list(DataType::Float64, true)
            }
            t => {
                return plan_err!(
                    "{NAME}: probs must be an array of numbers, e.g. [0.7, 0.2, 0.1], got {t}"
                )
            }
        });
        spec.coerce_rest(types, coerced)
    }

    fn item_type(&self, data: &[DataType]) -> Result<DataType> {
        Ok(ItemKind::of(NAME, "row_id", &data[0])?.output_type())
    }

    fn state_fields(&self, name: &str, args: &[FieldRef]) -> Result<Vec<FieldRef>> {
        let ids = ItemKind::of(NAME, "row_id", args[0].data_type())?.output_type();
        Ok(list_fields(
            name,
            vec![
                ("row_ids", ids),
                ("labels", DataType::Int64),
                ("probs", DataType::Float64),
            ],
        ))
    }

    fn accumulator(&self, call: &Call<'_, LabelIssuesConfig>) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(LabelIssuesAccumulator {
            config: *call.config,
            kind: ItemKind::of(NAME, "row_id", call.data_type(0))?,
            id_arrays: Vec::new(),
            ids: Vec::new(),
            id_bytes: 0,
            labels: Vec::new(),
            segments: Vec::new(),
            held: 0,
            rows: Vec::new(),
            k: None,
            return_type: call.return_type(),
        }))
    }
}

/// Whether a row's probabilities still need their range check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arrived {
    /// From an input batch not checked as a whole.
    Fresh,
    /// From a partial state (checked when the row first arrived), or from an input batch
    /// whose values were all checked at once.
    Checked,
}

/// Every row as it arrived. Nothing is interned or copied on arrival: row ids stay in the
/// arrays they came in and probabilities in their buffers. Row ids are sorted once, when
/// the rows are evaluated (which gives the row_id order and finds an id given twice), and
/// a partial state is written once, in arrival order.
#[derive(Debug)]
struct LabelIssuesAccumulator {
    config: LabelIssuesConfig,
    kind: ItemKind,
    /// The arrays the rows' ids are in (input batches' row_id columns, partial states' id
    /// lists), held as they arrived.
    id_arrays: Vec<ArrayRef>,
    /// Per row: its id's array in `id_arrays` and position there.
    ids: Vec<(u32, u32)>,
    /// An estimate of the ids' memory: 8 bytes per integer, a text's bytes and 16.
    id_bytes: usize,
    labels: Vec<i64>,
    /// The probability buffers the rows' probabilities are in, held as they arrived (input
    /// batches' list values, partial states' value arrays): nothing is copied until
    /// `state` writes them once, in arrival order.
    segments: Vec<ScalarBuffer<f64>>,
    /// The values the segments hold, NULL rows' included: what the memory limit is charged.
    held: usize,
    /// Per row: its segment and the position of its first probability there (`k` follow).
    rows: Vec<(u32, usize)>,
    k: Option<usize>,
    return_type: DataType,
}

/// Row ids by value with each row's position, the order the kernel wants.
enum Sorted<'a> {
    Integer(Vec<(i64, u32)>),
    Text(Vec<(&'a str, u32)>),
}

impl LabelIssuesAccumulator {
    fn set_k(&mut self, k: usize) -> Result<()> {
        match self.k {
            Some(old) if old != k => {
                exec_err!("{NAME}: every probs array must have the same length; got {old} and {k}")
            }
            _ if k < 2 => exec_err!("{NAME}: probs must hold at least 2 classes, got {k}"),
            _ if k > MAX_CLASSES => {
                exec_err!("{NAME}: supports up to {MAX_CLASSES} classes, got probs of length {k}")
            }
            _ => {
                self.k = Some(k);
                Ok(())
            }
        }
    }

    /// Adds one row of an input batch, checked: its id is at `row` of the last id array,
    /// and its probabilities are `probs`, which start at `start` in the last segment.
    /// [`Arrived::Fresh`] probabilities are checked to be in [0, 1].
    fn push(
        &mut self,
        row: usize,
        label: i64,
        probs: &[f64],
        start: usize,
        probs_are: Arrived,
    ) -> Result<()> {
        self.set_k(probs.len())?;
        let k = probs.len() as i64;
        if !(0..k).contains(&label) {
            return exec_err!(
                "{NAME}: given_label must be a class index from 0 to {} (K = {k}, the length of probs), got {label}",
                k - 1
            );
        }
        if probs_are == Arrived::Fresh {
            if let Some(p) = probs.iter().find(|p| !(0.0..=1.0).contains(*p)) {
                return exec_err!("{NAME}: probabilities must be in [0, 1], got {p}");
            }
        }
        self.ids
            .push(((self.id_arrays.len() - 1) as u32, row as u32));
        self.labels.push(label);
        self.rows.push(((self.segments.len() - 1) as u32, start));
        Ok(())
    }

    /// Keeps a buffer that rows are about to be pushed from.
    fn hold(&mut self, values: &ScalarBuffer<f64>) {
        self.held += values.len();
        self.segments.push(values.clone());
    }

    /// Row `r`'s probabilities.
    fn probs(&self, r: usize) -> &[f64] {
        let (segment, start) = self.rows[r];
        &self.segments[segment as usize][start..start + self.k.unwrap_or(0)]
    }

    /// Every row's probabilities, row-major in `order`, written once into a buffer of
    /// exactly that size.
    fn gather(&self, order: impl Iterator<Item = usize>) -> Vec<f64> {
        let mut out = Vec::with_capacity(self.rows.len() * self.k.unwrap_or(0));
        for r in order {
            out.extend_from_slice(self.probs(r));
        }
        out
    }

    /// The id arrays, to be read by row.
    fn id_columns(&self) -> Result<Vec<ItemColumn<'_>>> {
        self.id_arrays.iter().map(ItemColumn::new).collect()
    }

    /// Row `r`'s id.
    fn id<'a>(&self, columns: &[ItemColumn<'a>], r: usize) -> Result<ItemRef<'a>> {
        let (array, row) = self.ids[r];
        match columns[array as usize].get(row as usize) {
            Some(id) => Ok(id),
            None => internal_err!("{NAME}: a held row_id is NULL"),
        }
    }

    /// Every row's integer id (the kind is [`ItemKind::Integer`], whose ids arrive as
    /// Int64), in arrival order: read straight from the arrays' values.
    fn integer_ids(&self) -> Result<Vec<i64>> {
        let arrays = self
            .id_arrays
            .iter()
            .map(|a| match a.as_primitive_opt::<Int64Type>() {
                Some(a) => Ok(&a.values()[..]),
                None => internal_err!("{NAME}: integer row ids held as {}", a.data_type()),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(self
            .ids
            .iter()
            .map(|&(a, r)| arrays[a as usize][r as usize])
            .collect())
    }

    /// Every row's id in arrival order, as the state's id list.
    fn ids_array(&self) -> Result<ArrayRef> {
        Ok(match self.kind {
            ItemKind::Integer => Arc::new(Int64Array::from(self.integer_ids()?)),
            ItemKind::Text => {
                let columns = self.id_columns()?;
                let ids = (0..self.ids.len()).map(|r| self.id(&columns, r));
                let mut b = StringBuilder::with_capacity(self.ids.len(), self.id_bytes);
                for id in ids {
                    match id? {
                        ItemRef::Text(s) => b.append_value(s),
                        ItemRef::Integer(_) => {
                            return internal_err!("{NAME}: an integer id among text")
                        }
                    }
                }
                Arc::new(b.finish())
            }
        })
    }

    /// The rows sorted by id (by a sort that finds the runs partitions' rows arrive in),
    /// or the error for an id given twice (neighbours once sorted).
    fn sorted<'a>(&self, columns: &[ItemColumn<'a>]) -> Result<Sorted<'a>> {
        let twice = |shown: String| {
            exec_err!("{NAME}: row_id {shown} appears twice; give each row its own id")
        };
        let rows = 0..self.ids.len();
        match self.kind {
            ItemKind::Integer => {
                let mut keyed: Vec<(i64, u32)> = self.integer_ids()?.into_iter().zip(0..).collect();
                keyed.sort();
                if let Some(w) = keyed.windows(2).find(|w| w[0].0 == w[1].0) {
                    return twice(w[0].0.to_string());
                }
                Ok(Sorted::Integer(keyed))
            }
            ItemKind::Text => {
                let mut keyed = rows
                    .map(|r| match self.id(columns, r)? {
                        ItemRef::Text(s) => Ok((s, r as u32)),
                        ItemRef::Integer(_) => internal_err!("{NAME}: an integer id among text"),
                    })
                    .collect::<Result<Vec<_>>>()?;
                keyed.sort();
                if let Some(w) = keyed.windows(2).find(|w| w[0].0 == w[1].0) {
                    return twice(format!("'{}'", w[0].0));
                }
                Ok(Sorted::Text(keyed))
            }
        }
    }

    fn result(&self) -> Result<ScalarValue> {
        let DataType::Struct(fields) = &self.return_type else {
            return exec_err!("{NAME}: unexpected return type {}", self.return_type);
        };
        let (Some(k), false) = (self.k, self.labels.is_empty()) else {
            return Ok(ScalarValue::try_from(self.return_type.clone())?);
        };
        // Rows in row_id order: cleanlab's sums and tie-breaks follow row order. Each row's
        // probabilities are read where they are held, not copied.
        let columns = self.id_columns()?;
        let (order, ids): (Vec<usize>, ArrayRef) = match self.sorted(&columns)? {
            Sorted::Integer(keyed) => (
                keyed.iter().map(|&(_, r)| r as usize).collect(),
                Arc::new(Int64Array::from_iter_values(keyed.iter().map(|&(v, _)| v))),
            ),
            Sorted::Text(keyed) => {
                let mut b = StringBuilder::with_capacity(keyed.len(), self.id_bytes);
                for &(s, _) in &keyed {
                    b.append_value(s);
                }
                let order = keyed.iter().map(|&(_, r)| r as usize).collect();
                (order, Arc::new(b.finish()))
            }
        };
        let labels: Vec<usize> = order.iter().map(|&r| self.labels[r] as usize).collect();
        let rows: Vec<&[f64]> = order.iter().map(|&r| self.probs(r)).collect();
        let found = find_label_issues_in(&labels, &rows, k, &self.config.options);
        drop(rows);
        let quality: ArrayRef = match (self.config.margin, found.normalized_margin) {
            (false, _) => Arc::new(Float64Array::from(found.self_confidence)),
            (true, Some(margins)) => Arc::new(Float64Array::from(margins)),
            (true, None) => Arc::new(Float64Array::new_null(labels.len())),
        };
        let types = ItemTypes::of(
            &LABEL_ISSUES,
            self.kind.output_type(),
            &[self.kind.output_type()],
        )?;
        let rows = StructArray::try_new(
            fields_for(ROW_FIELDS, &types),
            vec![
                ids,
                Arc::new(Int64Array::from_iter_values(
                    labels.iter().map(|&l| l as i64),
                )),
                Arc::new(BooleanArray::from(found.is_issue)),
                quality,
                Arc::new(Int64Array::from_iter_values(
                    found.suggested.iter().map(|&l| l as i64),
                )),
            ],
            None,
        )?;
        let cells = || (0..k).flat_map(|g| (0..k).map(move |t| (g, t)));
        let joint = StructArray::try_new(
            fields_for(JOINT_FIELDS, &types),
            vec![
                Arc::new(Int64Array::from_iter_values(cells().map(|(g, _)| g as i64))),
                Arc::new(Int64Array::from_iter_values(cells().map(|(_, t)| t as i64))),
                Arc::new(Int64Array::from_iter_values(
                    cells().map(|(g, t)| found.confident_joint[g][t] as i64),
                )),
                Arc::new(Float64Array::from_iter_values(
                    cells().map(|(g, t)| found.joint[g][t]),
                )),
                Arc::new(Float64Array::from_iter_values(
                    cells().map(|(g, t)| found.noise_matrix[g][t]),
                )),
                Arc::new(Float64Array::from_iter_values(
                    cells().map(|(g, t)| found.inverse_noise_matrix[t][g]),
                )),
            ],
            None,
        )?;
        let list = |entries: StructArray| -> ArrayRef {
            Arc::new(SingleRowListArrayBuilder::new(Arc::new(entries)).build_list_array())
                as ArrayRef
        };
        Ok(ScalarValue::Struct(Arc::new(StructArray::try_new(
            fields.clone(),
            vec![list(rows), list(joint)],
            None,
        )?)))
    }
}

impl Accumulator for LabelIssuesAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let labels = cast(&values[1], &DataType::Float64)?;
        let labels = labels.as_primitive::<Float64Type>();
        let probs = values[2].as_list::<i32>();
        // The probabilities by the list's offsets into its one values buffer, not a sliced
        // array per row.
        let offsets = probs.value_offsets();
        let flat = probs.values().as_primitive::<Float64Type>();
        let (flat_values, flat_nulls) = (flat.values(), flat.nulls());
        let ids = ItemColumn::new(&values[0])?;
        // The batch's ids and probabilities are kept where they are (an Arc on each).
        self.id_arrays.push(Arc::clone(&values[0]));
        self.hold(flat_values);
        // All of the batch's values in [0, 1] (no branch per value), or each row checked
        // on its own, NULL rows' values aside, to name the first one outside.
        let span = &flat_values[offsets[0] as usize..offsets[values[0].len()] as usize];
        let probs_are = match span
            .iter()
            .fold(true, |ok, &p| ok & (p >= 0.0) & (p <= 1.0))
        {
            true => Arrived::Checked,
            false => Arrived::Fresh,
        };
        for row in 0..values[0].len() {
            if !ids.is_valid(row) || labels.is_null(row) || probs.is_null(row) {
                continue;
            }
            let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
            if flat_nulls.is_some_and(|n| (start..end).any(|i| n.is_null(i))) {
                return exec_err!("{NAME}: probs must not contain NULL");
            }
            let p = &flat_values[start..end];
            let label = labels.value(row);
            if label.fract() != 0.0 || !label.is_finite() {
                return exec_err!("{NAME}: given_label must be a class index, got {label}");
            }
            self.id_bytes += match ids.get(row) {
                Some(ItemRef::Text(s)) => s.len() + 16,
                _ => 8,
            };
            self.push(row, label as i64, p, start, probs_are)?;
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.result()
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self.id_arrays.capacity() * std::mem::size_of::<ArrayRef>()
            + self.ids.capacity() * std::mem::size_of::<(u32, u32)>()
            + self.id_bytes
            + self.labels.capacity() * 8
            + self.rows.capacity() * std::mem::size_of::<(u32, usize)>()
            + self.held * 8
    }

    /// DataFusion takes a partial state once ("consuming the intermediate state"), so the
    /// rows move into it and the accumulator is left empty. The ids and probabilities are
    /// written here for the first time, in arrival order.
    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let ids = self.ids_array()?;
        let probs = self.gather(0..self.rows.len());
        let labels = std::mem::take(&mut self.labels);
        self.id_arrays.clear();
        self.ids = Vec::new();
        self.id_bytes = 0;
        self.segments.clear();
        self.held = 0;
        self.rows = Vec::new();
        Ok(vec![
            wrap(ids),
            wrap(Arc::new(Int64Array::from(labels))),
            wrap(Arc::new(Float64Array::from(probs))),
        ])
    }

    /// A partial state's rows are held as they are: its id list and probabilities stay in
    /// the state's arrays. Their values were checked when the rows first arrived; the
    /// labels are checked again, as the kernel indexes by them.
    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        for row in StateRows::new(NAME, states, 3)?.rows() {
            let ids = row.list(0)?;
            let labels = row.values::<Int64Type>(1)?;
            let probs = row.values::<Float64Type>(2)?;
            let n = row.same_length(&[ids.len(), labels.len()])?;
            if n == 0 {
                continue;
            }
            if probs.len() % n != 0 || ids.null_count() > 0 {
                return Err(row.corrupt("probs do not fit the rows"));
            }
            let k = probs.len() / n;
            self.set_k(k)?;
            if labels.values().iter().any(|&l| !(0..k as i64).contains(&l)) {
                return Err(row.corrupt("a label outside the classes"));
            }
            let (array, segment) = (self.id_arrays.len() as u32, self.segments.len() as u32);
            let columns = ItemColumn::new(&ids)?;
            self.id_bytes += match self.kind {
                ItemKind::Integer => 8 * n,
                ItemKind::Text => (0..n)
                    .map(|r| match columns.get(r) {
                        Some(ItemRef::Text(s)) => s.len() + 16,
                        _ => 8,
                    })
                    .sum(),
            };
            drop(columns);
            self.id_arrays.push(ids);
            self.hold(probs.values());
            self.ids.extend((0..n as u32).map(|r| (array, r)));
            self.labels.extend_from_slice(labels.values());
            self.rows.extend((0..n).map(|r| (segment, r * k)));
        }
        Ok(())
    }
}
