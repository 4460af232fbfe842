//! `lc_win_rate`: AlpacaEval 2.0's length-controlled win rate of every model against one
//! baseline, one entry per model. The GLM and its fit are `prefdb_stats::length_control`'s.

use crate::items::{ItemInterner, ItemKind, ItemReader};
use crate::memory::MemoryBudget;
use crate::spec::aggregate::{Call, Family, PrefdbAggregate};
use crate::spec::ArgType::{Item, Number};
use crate::spec::FieldType::{self, Float, Int};
use crate::spec::{
    struct_fields, Arg, Doc, FunctionSpec, Mapping, OptionSpec, OptionType, Options, OutField,
    Output, Section,
};
use crate::state::{list_fields, wrap, StateRows};
use datafusion::arrow::array::UInt32Array;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, StructArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, FieldRef, Float64Type};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{exec_err, plan_err, DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::{Accumulator, AggregateUDF};
use prefdb_stats::length_control::{
    length_controlled, win_rate, Annotation, LcFit, LcOptions, Penalty,
};
use std::sync::Arc;

const NAME: &str = "lc_win_rate";

pub(crate) static LC_WIN_RATE_FIELDS: &[OutField] = &[
    OutField::new("model", FieldType::Item, "The model."),
    OutField::new("lc_win_rate", Float, "Length-controlled win rate against the baseline, in percent: the GLM's predicted win rate with no length difference, averaged over the model's instructions. NULL when the model has no annotation, or, with c=cv, fewer annotated rows to fit than folds."),
    OutField::new("lc_standard_error", Float, "alpaca_eval's lc_standard_error: 100 × the standard error of the mean of those per-instruction predictions (their spread over instructions, not the uncertainty of the fit)."),
    OutField::new("win_rate", Float, "The raw win rate in percent: 100 × the mean preference for the model over its annotated rows."),
    OutField::new("standard_error", Float, "100 × the standard error of that mean."),
    OutField::new("discrete_win_rate", Float, "The win rate with each preference rounded to a win, a loss or (exactly even) a draw."),
    OutField::new("n_wins", Int, "Annotations preferring the model."),
    OutField::new("n_wins_base", Int, "Annotations preferring the baseline."),
    OutField::new("n_draws", Int, "Annotations exactly even."),
    OutField::new("n_total", Int, "Annotated rows."),
    OutField::new("coef_model", Float, "θ, the model's strength against the baseline on the logit scale."),
    OutField::new("coef_length", Float, "φ, the effect of tanh(length_diff / sd): positive when the judge favours the longer output. alpaca_eval's coefficient of np.tanh(std_delta_len) is -φ, its length difference being baseline minus model."),
    OutField::new("coef_difficulty", Float, "ψ, the effect of the instruction's difficulty (0 without the difficulty argument)."),
    OutField::new("c", Float, "The inverse penalty C the coefficients were fitted with (chosen by cross-validation with c=cv)."),
];

fn valid_c(text: &str) -> bool {
    text.eq_ignore_ascii_case("cv") || text.parse::<f64>().is_ok_and(|c| c.is_finite() && c > 0.0)
}

pub(crate) static LC_WIN_RATE: FunctionSpec = FunctionSpec {
    name: NAME,
    section: Section::Significance,
    args: &[
        Arg::required("model", Item, "The model compared with the baseline (text or integer); one entry per model."),
        Arg::required("preference", Number, "The judge's preference, alpaca_eval's coding by default: 1 the baseline wins, 2 the model wins, values between are soft preferences, 0 or 1.5 a draw; NULL for an instruction without an annotation. With preference=probability, the probability that the model wins, in [0, 1]."),
        Arg::required("length_diff", Number, "The model's output length minus the baseline's on this instruction (alpaca_eval counts characters)."),
        Arg::required("instruction", Item, "The instruction's identifier (alpaca_eval's index). Rows are fitted in instruction order, which fixes the cross-validation folds."),
        Arg::optional("difficulty", Number, "The instruction's difficulty (alpaca_eval's instruction_difficulty). Without it the GLM has no difficulty term (alpaca_eval's length_controlled_minimal)."),
    ],
    options: &[
        OptionSpec {
            key: "c",
            ty: OptionType::Text {
                valid: valid_c,
                what: "cv or a number > 0",
            },
            default: Some("cv"),
            meaning: "The inverse L1 penalty C. cv: alpaca_eval's choice among the 10 values 10^-4 .. 10^4 (logspace) by grouped cross-validation; a number: that C.",
        },
        OptionSpec {
            key: "folds",
            ty: OptionType::Integer { min: 2, max: 100 },
            default: Some("5"),
            meaning: "Cross-validation folds with c=cv.",
        },
        OptionSpec {
            key: "gamed",
            ty: OptionType::Text {
                valid: |text| text.split('|').all(|m| !m.trim().is_empty()),
                what: "model names separated by |",
            },
            default: None,
            meaning: "Models that are the baseline prompted to game the judge (alpaca_eval's verbose and concise gpt4_1106_preview), separated by |. Their rows join every model's fit with the model term at 0, regularising the length and difficulty effects toward theirs (alpaca_eval's leaderboard default, length_controlled_v1). They get no entry of their own.",
        },
        OptionSpec {
            key: "gamed_weight",
            ty: OptionType::Number {
                valid: crate::spec::valid::positive,
                what: "a number > 0",
            },
            default: Some("0.2"),
            meaning: "The total weight of a gamed row, shared equally among the gamed models (alpaca_eval's regularize_to_baseline_lambda); a model's own rows weigh 1.",
        },
        OptionSpec {
            key: "preference",
            ty: OptionType::Choice(&["alpaca", "probability"]),
            default: Some("alpaca"),
            meaning: "alpaca: preferences in [1, 2] with 0 a draw, as alpaca_eval's annotations; probability: the probability that the model wins, in [0, 1].",
        },
    ],
    output: Output::List(LC_WIN_RATE_FIELDS),
    doc: Doc {
        summary: "AlpacaEval 2.0's length-controlled win rate of every model against a baseline: the win rate the judge would give with no difference in output length.",
        method: "For each model separately, over its rows (one per instruction): P(model beats the baseline) = sigmoid(θ + φ tanh(length_diff / sd) + ψ difficulty), with sd the sample standard deviation of the model's length differences (scaled, not centred) and no intercept, fitted to the soft preferences by L1-penalised logistic regression (C × the weighted cross-entropy + |θ| + |φ| + |ψ|, as liblinear). The result is 100 × the mean over the model's instructions of sigmoid(θ + ψ difficulty). With c=cv (the default), C is alpaca_eval's: among logspace(-4, 4, 10), the first with the highest sum of fold scores in grouped k-fold cross-validation, where, with n rows to fit in instruction order (the gamed models' first), row r is in fold (n - 1 - r) mod k and a fold scores the mean weighted log-likelihood of its rows (predictions clipped to [1e-15, 1 - 1e-15]). prefdb solves each penalised fit to convergence (proximal Newton), where liblinear stops at its default tolerance 1e-4: checked against alpaca_eval 0.6.6's get_length_controlled_winrate (its three GLMs, on generated data with gamed baselines), prefdb equals the same fit at liblinear tolerance 1e-12 to 1e-8 and alpaca_eval's own output within 0.005 points. Rows with the same model and instruction keep their order by value. Work is linear in the rows (10 × folds fits with c=cv); memory is about 48 bytes per row.",
        nulls: "A row with a NULL model, length_diff or instruction, or a NULL difficulty when the argument is given, is skipped. A NULL preference is an instruction without an annotation: as in alpaca_eval it counts toward sd and the average of predictions, not toward the fit or the raw win rate. A preference outside its coding, and a length_diff or difficulty that is NaN or infinite, are errors.",
        degenerate: "NULL for no rows. A model without annotations has NULL win rates; with c=cv, one with fewer rows to fit than folds has NULL lc_win_rate and coefficients. With one row, or all length differences equal, the length term is 0. With every preference 1.5, the coefficients are 0 and lc_win_rate is 50. A gamed model named in the options but absent from the rows is an error.",
        example: "SELECT * FROM leaderboard('SELECT lc_win_rate(generator, preference, len_output - len_baseline, instruction_id, difficulty) FROM annotations');",
    },
    mapping: Some(Mapping {
        reference: "alpaca_eval 0.6.6, metrics.glm_winrate.get_length_controlled_winrate",
        rows: &[
            ("glm_name='length_controlled_v1' (the leaderboard's)", "the difficulty argument and 'gamed=NAME|NAME' with df_gamed.csv's two gamed models' rows"),
            ("glm_name='length_controlled_noreg'", "the difficulty argument, no gamed option"),
            ("glm_name='length_controlled_minimal'", "no difficulty argument"),
            ("len(output_2) - len(output_1)", "length_diff"),
            ("instruction_difficulty from df_gamed.csv", "difficulty (join it on the instruction)"),
            ("index", "instruction"),
            ("n_splits=5", "folds=5"),
            ("regularize_to_baseline_lambda=0.2", "gamed_weight=0.2"),
            ("LogisticRegression(C=C) (n_splits=0)", "c=C"),
        ],
    }),
    ..FunctionSpec::PLAIN
};

pub(crate) static SPECS: [&FunctionSpec; 1] = [&LC_WIN_RATE];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LcWinRate;

pub fn length_control_udafs(budget: &MemoryBudget) -> Vec<AggregateUDF> {
    vec![PrefdbAggregate::udaf(LcWinRate, budget)]
}

#[derive(Debug, Clone, PartialEq)]
pub struct LcConfig {
    penalty: Penalty,
    gamed: Vec<String>,
    gamed_weight: f64,
    probability: bool,
}

impl Family for LcWinRate {
    type Config = LcConfig;

    fn spec(&self) -> &'static FunctionSpec {
        &LC_WIN_RATE
    }

    fn configure(&self, o: &Options) -> Result<LcConfig> {
        let folds = o.count("folds").unwrap_or(5);
        let penalty = match o.text("c") {
            Some(text) if !text.eq_ignore_ascii_case("cv") => {
                if o.given("folds") {
                    return plan_err!("{NAME}: folds applies only with c=cv, not with c={text}");
                }
                Penalty::Fixed(text.parse().map_err(|_| {
                    DataFusionError::Plan(format!("{NAME}: c must be cv or a number > 0"))
                })?)
            }
            _ => Penalty::CrossValidated { folds },
        };
        if o.given("gamed_weight") && !o.given("gamed") {
            return plan_err!("{NAME}: gamed_weight applies only with gamed=NAME|NAME");
        }
        let gamed: Vec<String> = o
            .text("gamed")
            .map(|t| t.split('|').map(|m| m.trim().to_string()).collect())
            .unwrap_or_default();
        if let Some(m) = gamed
            .iter()
            .enumerate()
            .find_map(|(i, m)| gamed[..i].contains(m).then_some(m))
        {
            return plan_err!("{NAME}: gamed names model {m} twice");
        }
        Ok(LcConfig {
            penalty,
            gamed,
            gamed_weight: o.number("gamed_weight").unwrap_or(0.2),
            probability: o.choice("preference") == Some("probability"),
        })
    }

    fn state_fields(&self, name: &str, args: &[FieldRef]) -> Result<Vec<FieldRef>> {
        let model = ItemKind::of(NAME, "model", args[0].data_type())?.output_type();
        let instruction = ItemKind::of(NAME, "instruction", args[3].data_type())?.output_type();
        Ok(list_fields(
            name,
            vec![
                ("models", model),
                ("instructions", instruction),
                ("model_ids", DataType::UInt32),
                ("instruction_ids", DataType::UInt32),
                ("values", DataType::Float64),
            ],
        ))
    }

    fn accumulator(&self, call: &Call<'_, LcConfig>) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(LcAccumulator {
            config: call.config.clone(),
            difficulty: call.data == 5,
            models: ItemInterner::new(ItemKind::of(NAME, "model", call.data_type(0))?),
            instructions: ItemInterner::new(ItemKind::of(NAME, "instruction", call.data_type(3))?),
            rows: Vec::new(),
            values: Vec::new(),
        }))
    }
}

/// Values kept per row: preference (NaN when missing) in [0, 1], length_diff, difficulty.
const WIDTH: usize = 3;

#[derive(Debug)]
struct LcAccumulator {
    config: LcConfig,
    /// Whether the call has the difficulty argument.
    difficulty: bool,
    models: ItemInterner,
    instructions: ItemInterner,
    /// (model id, instruction id) per row.
    rows: Vec<(u32, u32)>,
    /// [`WIDTH`] values per row.
    values: Vec<f64>,
}

impl LcAccumulator {
    /// A preference on the call's coding as the probability that the model wins.
    fn preference(&self, v: f64) -> Result<f64> {
        if self.config.probability {
            if (0.0..=1.0).contains(&v) {
                return Ok(v);
            }
            return exec_err!(
                "{NAME}: preference must be in [0, 1] with preference=probability, got {v}"
            );
        }
        if v == 0.0 {
            Ok(0.5)
        } else if (1.0..=2.0).contains(&v) {
            Ok(v - 1.0)
        } else {
            exec_err!("{NAME}: preference must be in [1, 2] (1: the baseline wins, 2: the model wins) or 0 for a draw, got {v}; use 'preference=probability' for probabilities in [0, 1]")
        }
    }

    fn entries(&self) -> Result<ScalarValue> {
        let item_type = self.models.kind().output_type();
        let fields = struct_fields(LC_WIN_RATE_FIELDS, &item_type);
        if self.rows.is_empty() {
            return Ok(ScalarValue::try_from(DataType::new_list(
                DataType::Struct(fields),
                true,
            ))?);
        }
        // Each model's rows in instruction order, ties by value: the fold rule depends on
        // the order, and it must not depend on how rows arrived.
        let position = self.instructions.value_positions();
        let mut by_model: Vec<Vec<usize>> = vec![Vec::new(); self.models.len()];
        for (r, &(m, _)) in self.rows.iter().enumerate() {
            by_model[m as usize].push(r);
        }
        let value = |r: usize| &self.values[r * WIDTH..(r + 1) * WIDTH];
        let annotations = |rows: &mut Vec<usize>| -> Vec<Annotation> {
            rows.sort_by(|&a, &b| {
                position[self.rows[a].1 as usize]
                    .cmp(&position[self.rows[b].1 as usize])
                    .then_with(|| {
                        value(a)
                            .iter()
                            .zip(value(b))
                            .map(|(x, y)| x.total_cmp(y))
                            .find(|o| o.is_ne())
                            .unwrap_or(std::cmp::Ordering::Equal)
                    })
            });
            rows.iter()
                .map(|&r| {
                    let v = value(r);
                    Annotation {
                        preference: (!v[0].is_nan()).then_some(v[0]),
                        length_diff: v[1],
                        difficulty: v[2],
                    }
                })
                .collect()
        };
        let mut gamed_ids = Vec::new();
        for name in &self.config.gamed {
            match self.models.find(name) {
                Some(id) => gamed_ids.push(id),
                None => {
                    return exec_err!(
                        "{NAME}: the gamed model {name} has no rows; gamed names models of the model column"
                    )
                }
            }
        }
        let gamed: Vec<Vec<Annotation>> = gamed_ids
            .iter()
            .map(|&id| annotations(&mut by_model[id].clone()))
            .collect();
        let gamed: Vec<&[Annotation]> = gamed.iter().map(Vec::as_slice).collect();
        let options = LcOptions {
            penalty: self.config.penalty,
            difficulty: self.difficulty,
            gamed_weight: self.config.gamed_weight,
        };
        let mut results = Vec::new();
        for (id, rows) in by_model.iter_mut().enumerate() {
            if gamed_ids.contains(&id) {
                continue;
            }
            let a = annotations(rows);
            let fit = length_controlled(&a, &gamed, &options).map_err(|_| {
                DataFusionError::Execution(format!("{NAME}: the statement was cancelled"))
            })?;
            results.push((id, win_rate(&a), fit));
        }
        // By length-controlled win rate, highest first (NULL last), ties by model value.
        let order = self.models.value_positions();
        results.sort_by(|a, b| {
            let key = |f: &Option<LcFit>| f.map(|f| f.lc_win_rate);
            match (key(&a.2), key(&b.2)) {
                (Some(x), Some(y)) => y.total_cmp(&x),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            }
            .then(order[a.0].cmp(&order[b.0]))
        });
        let float = |f: &dyn Fn(&(usize, _, Option<LcFit>)) -> Option<f64>| {
            Arc::new(Float64Array::from_iter(results.iter().map(f))) as ArrayRef
        };
        let int = |f: &dyn Fn(&(usize, prefdb_stats::length_control::WinRate, _)) -> usize| {
            Arc::new(Int64Array::from_iter_values(
                results.iter().map(|r| f(r) as i64),
            )) as ArrayRef
        };
        let columns = vec![
            self.models.take(results.iter().map(|r| r.0)),
            float(&|r| r.2.map(|f| f.lc_win_rate)),
            float(&|r| r.2.and_then(|f| f.lc_standard_error)),
            float(&|r| r.1.win_rate),
            float(&|r| r.1.standard_error),
            float(&|r| r.1.discrete_win_rate),
            int(&|r| r.1.n_wins),
            int(&|r| r.1.n_wins_base),
            int(&|r| r.1.n_draws),
            int(&|r| r.1.n_total),
            float(&|r| r.2.map(|f| f.coef_model)),
            float(&|r| r.2.map(|f| f.coef_length)),
            float(&|r| r.2.map(|f| f.coef_difficulty)),
            float(&|r| r.2.map(|f| f.c)),
        ];
        let entries = StructArray::try_new(fields, columns, None)?;
        Ok(SingleRowListArrayBuilder::new(Arc::new(entries)).build_list_scalar())
    }
}

impl Accumulator for LcAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let number = |i: usize| -> Result<Float64Array> {
            Ok(cast(&values[i], &DataType::Float64)?
                .as_primitive::<Float64Type>()
                .clone())
        };
        let (preference, length) = (number(1)?, number(2)?);
        let difficulty = if self.difficulty {
            Some(number(4)?)
        } else {
            None
        };
        let mut models = ItemReader::new(&values[0])?;
        let mut instructions = ItemReader::new(&values[3])?;
        for row in 0..values[0].len() {
            if !models.is_valid(row)
                || !instructions.is_valid(row)
                || length.is_null(row)
                || difficulty.as_ref().is_some_and(|d| d.is_null(row))
            {
                continue;
            }
            let l = length.value(row);
            if !l.is_finite() {
                return exec_err!("{NAME}: length_diff must be a finite number, got {l}");
            }
            let g = match &difficulty {
                Some(d) => d.value(row),
                None => 0.0,
            };
            if !g.is_finite() {
                return exec_err!("{NAME}: difficulty must be a finite number, got {g}");
            }
            let p = if preference.is_null(row) {
                f64::NAN
            } else {
                self.preference(preference.value(row))?
            };
            let m = models.id(&mut self.models, row)?;
            let i = instructions.id(&mut self.instructions, row)?;
            self.rows.push((m, i));
            self.values.extend_from_slice(&[p, l, g]);
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.entries()
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self.models.heap_size()
            + self.instructions.heap_size()
            + self.rows.capacity() * 8
            + self.values.capacity() * 8
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![
            wrap(self.models.to_array()),
            wrap(self.instructions.to_array()),
            wrap(Arc::new(UInt32Array::from_iter_values(
                self.rows.iter().map(|r| r.0),
            ))),
            wrap(Arc::new(UInt32Array::from_iter_values(
                self.rows.iter().map(|r| r.1),
            ))),
            wrap(Arc::new(Float64Array::from(self.values.clone()))),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        for row in StateRows::new(NAME, states, 5)?.rows() {
            let model_map = self.models.intern_array(&row.list(0)?)?;
            let instruction_map = self.instructions.intern_array(&row.list(1)?)?;
            let m = row.ids(2, &model_map)?;
            let i = row.ids(3, &instruction_map)?;
            let values = row.values::<Float64Type>(4)?;
            let n = row.same_length(&[m.len(), i.len(), values.len() / WIDTH])?;
            if values.len() != n * WIDTH {
                return Err(row.corrupt("values do not fit the rows"));
            }
            self.rows.extend(m.into_iter().zip(i));
            self.values.extend_from_slice(values.values());
        }
        Ok(())
    }
}
