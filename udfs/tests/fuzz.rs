//! Fuzzing every prefdb aggregate, on stable Rust: a seeded, time-bounded loop per target.
//!
//! - **Inputs**: random batches of every argument kind, with the awkward values mixed in
//!   (signed zeros, NaN, ±inf, NULLs, huge and tiny weights, bad labels), fed through
//!   `update_batch`, `state`, `merge_batch` and `evaluate` as DataFusion would call them.
//! - **States**: merging corrupt partial states (valid states with columns replaced,
//!   shortened or filled with arbitrary values of the right type) must return an error or a
//!   value, never panic. A state row only ever comes from another prefdb partition, but a
//!   bug there must not become a crash here.
//! - **Options**: random option strings, from each function's keys and hostile values,
//!   planned and run: an error or a value, never a panic.
//!
//! Each target runs `PREFDB_FUZZ_CASES` cases (default 40) from `PREFDB_FUZZ_SEED`
//! (default 1), so a failure names the seed that reproduces it. To run longer:
//! `PREFDB_FUZZ_CASES=5000 PREFDB_FUZZ_SEED=$RANDOM cargo test --workspace --test fuzz`.

use datafusion::arrow::array::{
    new_null_array, Array, ArrayRef, BinaryArray, BooleanArray, Decimal128Array, Float32Array,
    Float64Array, Float64Builder, GenericListArray, Int16Array, Int32Array, Int64Array, Int8Array,
    LargeStringArray, ListArray, ListBuilder, OffsetSizeTrait, StringArray, StringViewArray,
    StructArray, UInt16Array, UInt32Array, UInt64Array, UInt8Array,
};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::compute::{cast_with_options, CastOptions};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::logical_expr::Accumulator;
use datafusion::physical_expr::aggregate::AggregateFunctionExpr;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::{ExecutionPlan, PhysicalExpr};
use datafusion::prelude::SessionContext;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// SplitMix64: a few lines, seedable, good enough to pick test values.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<T: Copy>(&mut self, values: &[T]) -> T {
        values[self.below(values.len())]
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn cases() -> usize {
    std::env::var("PREFDB_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40)
}

fn seed() -> u64 {
    std::env::var("PREFDB_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

const AWKWARD_FLOATS: [f64; 10] = [
    0.0,
    -0.0,
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    1e308,
    -1e308,
    1e-300,
    f64::MIN_POSITIVE,
    -1.0,
];

/// The input columns every call below reads.
fn input_schema() -> SchemaRef {
    let utf8 = |name: &str| Field::new(name, DataType::Utf8, true);
    let f64 = |name: &str| Field::new(name, DataType::Float64, true);
    let i64 = |name: &str| Field::new(name, DataType::Int64, true);
    Arc::new(Schema::new(vec![
        utf8("a"),
        utf8("b"),
        utf8("t"),
        f64("o"),
        f64("w"),
        i64("g"),
        i64("r"),
        i64("pos"),
        f64("p"),
        i64("y"),
        f64("x"),
        utf8("l1"),
        utf8("l2"),
        utf8("ord"),
        utf8("v5"),
        i64("la"),
        i64("lb"),
        Field::new("f", DataType::new_list(DataType::Float64, true), true),
        i64("ts"),
    ]))
}

/// A random batch of `n` rows: mostly valid values, with awkward ones mixed in.
fn input_batch(rng: &mut Rng, n: usize) -> RecordBatch {
    let schema = input_schema();
    let text = |rng: &mut Rng, values: &[&str], bad: &str| -> ArrayRef {
        Arc::new(StringArray::from_iter((0..n).map(
            |_| match rng.below(100) {
                0..=3 => None,
                4..=5 => Some(bad.to_string()),
                _ => Some(rng.pick(values).to_string()),
            },
        )))
    };
    let float = |rng: &mut Rng, values: &[f64]| -> ArrayRef {
        Arc::new(Float64Array::from_iter((0..n).map(
            |_| match rng.below(100) {
                0..=3 => None,
                4..=7 => Some(rng.pick(&AWKWARD_FLOATS)),
                8..=20 => Some(rng.unit()),
                _ => Some(rng.pick(values)),
            },
        )))
    };
    let int = |rng: &mut Rng, range: i64| -> ArrayRef {
        Arc::new(Int64Array::from_iter((0..n).map(
            |_| match rng.below(100) {
                0..=3 => None,
                4 => Some(rng.pick(&[i64::MAX, i64::MIN, -1, 1 << 53, (1 << 53) + 1])),
                _ => Some(rng.below(range as usize) as i64),
            },
        )))
    };
    let items = ["m0", "m1", "m2", "m3", "m4"];
    let mut features = ListBuilder::new(Float64Builder::new());
    for _ in 0..n {
        match rng.below(100) {
            0..=2 => features.append_null(),
            3..=4 => features.append(true),
            5..=6 => {
                features.values().append_value(rng.unit());
                features.values().append_value(rng.pick(&AWKWARD_FLOATS));
                features.append(true);
            }
            _ => {
                features.values().append_value(rng.unit() * 2.0 - 1.0);
                features.append(true);
            }
        }
    }
    let columns: Vec<ArrayRef> = vec![
        text(rng, &items, ""),
        text(rng, &items, "m0"),
        text(
            rng,
            &["a", "b", "tie", "model_a", "Right", "tie (bothbad)"],
            "x",
        ),
        float(rng, &[0.0, 0.5, 1.0, 0.25]),
        float(rng, &[1.0, 0.5, 2.0, 1e300, 1e-300]),
        int(rng, 6),
        int(rng, 4),
        int(rng, 4),
        float(rng, &[0.0, 1.0, 0.5, 0.1, 0.9]),
        int(rng, 2),
        float(rng, &[0.0, -0.0, 1.5, -2.0, 3.0]),
        text(rng, &["yes", "no", "maybe"], ""),
        text(rng, &["yes", "no", "maybe"], "YES"),
        text(rng, &["ab", "ba"], "ab"),
        text(rng, &["A++", "A+", "A=B", "B+", "B++", "a+"], "Z"),
        int(rng, 1000),
        int(rng, 1000),
        Arc::new(features.finish()),
        int(rng, 50),
    ];
    RecordBatch::try_new(schema, columns).expect("the input batch matches its schema")
}

/// One call per function and the option sets that take it down different paths.
const CALLS: &[&str] = &[
    "bt_rank(a, b, t)",
    "bt_rank(a, b, o, w, 'ties=davidson, se=fisher')",
    "bt_rank(a, b, t, 'ties=rao_kupper, bootstrap=5')",
    "bt_rank(a, b, 'ties=ignore, prior=0, bootstrap=5')",
    "bt_rank(a, b, o, w, 'se=fisher, prior=0')",
    "newman_rank(a, b, t, w)",
    "win_matrix(a, b, t, w)",
    "avg_win_rate(a, b, o)",
    "intransitivity(a, b, t)",
    "elo_rank(a, b, t ORDER BY ts)",
    "pl_rank(g, a, pos, w, 'se=fisher')",
    "pl_rank(g, a, pos, 'bootstrap=5')",
    "bt_rank_controlled(a, b, t, f, w)",
    "openskill_rank(g, a, pos ORDER BY ts)",
    "percent_agreement(g, r, l1)",
    "cohen_kappa(l1, l2)",
    "cohen_kappa(pos, r, 'weights=quadratic')",
    "scott_pi(l1, l2)",
    "fleiss_kappa(g, l1)",
    "krippendorff_alpha(g, r, l1)",
    "krippendorff_alpha(g, r, x, 'level=interval')",
    "krippendorff_alpha(g, r, pos, 'level=ordinal')",
    "krippendorff_alpha(g, r, x, 'level=ratio')",
    "gwet_ac1(g, r, l1)",
    "gwet_ac2(g, r, pos, 'weights=linear')",
    "icc(g, r, x, 'form=ICC3k')",
    "icc(g, r, x)",
    "krippendorff_alpha_ci(g, r, l1, 'bootstrap=20')",
    "cohen_kappa_ci(l1, l2, 'bootstrap=20')",
    "brier_score(p, y)",
    "log_loss(p, y, 'eps=1e-15')",
    "ece(p, y, 'bins=5, strategy=quantile')",
    "ece(p, y)",
    "reliability_bins(p, y)",
    "auroc(x, y)",
    "spearman(x, p)",
    "spearman_test(x, p)",
    "kendall_tau(x, p)",
    "kendall_tau_test(x, g)",
    "pairwise_accuracy(x, p)",
    "position_consistency(g, ord, t)",
    "score_comparison_inconsistency(x, p, t)",
    "wb_reward(v5, la, lb)",
    "rank_aggregate(a, g, x)",
    "rank_aggregate(a, g, x, 'method=borda')",
    "rank_aggregate(a, g, x, 'method=copeland')",
];

/// The tables every call is planned over: `t` with the input columns as generated, and
/// `t1`..`t3` with the same columns in the other types the functions accept (large, view and
/// dictionary strings; Float32 and Decimal; narrow, wide and unsigned integers). Values are
/// cast from the generated batch; what a type cannot hold becomes NULL.
const TABLES: [&str; 4] = ["t", "t1", "t2", "t3"];

fn table_schema(table: &str) -> SchemaRef {
    let dictionary = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    let (items, text, float, int) = match table {
        "t1" => (
            DataType::LargeUtf8,
            DataType::LargeUtf8,
            DataType::Float32,
            DataType::Int32,
        ),
        "t2" => (
            DataType::Utf8View,
            dictionary,
            DataType::Decimal128(20, 6),
            DataType::UInt64,
        ),
        "t3" => (
            dictionary.clone(),
            DataType::Utf8View,
            DataType::Float64,
            DataType::Int8,
        ),
        _ => return input_schema(),
    };
    let fields = input_schema()
        .fields()
        .iter()
        .map(|f| {
            let t = match (f.name().as_str(), f.data_type()) {
                ("a" | "b", _) => items.clone(),
                (_, DataType::Utf8) => text.clone(),
                (_, DataType::Float64) => float.clone(),
                (_, DataType::Int64) => int.clone(),
                (_, other) => other.clone(),
            };
            Field::new(f.name(), t, true)
        })
        .collect::<Vec<_>>();
    Arc::new(Schema::new(fields))
}

/// The session with prefdb's functions and an empty table of each input layout.
fn session() -> SessionContext {
    let ctx = SessionContext::new();
    prefdb_udfs::register_all(&ctx);
    for name in TABLES {
        let table = MemTable::try_new(table_schema(name), vec![vec![]]).expect("an empty table");
        ctx.register_table(name, Arc::new(table))
            .expect("registering the table");
    }
    ctx
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// The aggregate of `SELECT call FROM t` as the planner builds it, with the expressions
/// that feed its accumulator (arguments, then ORDER BY keys).
struct Target {
    aggregate: Arc<AggregateFunctionExpr>,
    inputs: Vec<Arc<dyn PhysicalExpr>>,
    /// The aggregate's input columns (the scan projects the table's columns).
    input_schema: SchemaRef,
}

fn raw_aggregate(plan: &Arc<dyn ExecutionPlan>) -> Option<(Arc<AggregateFunctionExpr>, SchemaRef)> {
    if let Some(exec) = plan.downcast_ref::<AggregateExec>() {
        if matches!(exec.mode(), AggregateMode::Partial | AggregateMode::Single) {
            let aggregate = exec.aggr_expr().first().cloned()?;
            return Some((aggregate, exec.input_schema()));
        }
    }
    plan.children().into_iter().find_map(raw_aggregate)
}

fn target(ctx: &SessionContext, call: &str) -> Target {
    target_over(ctx, call, "t")
}

fn target_over(ctx: &SessionContext, call: &str, table: &str) -> Target {
    let plan = runtime().block_on(async {
        ctx.sql(&format!("SELECT {call} FROM {table}"))
            .await
            .unwrap_or_else(|e| panic!("{call}: {e}"))
            .create_physical_plan()
            .await
            .unwrap_or_else(|e| panic!("{call}: {e}"))
    });
    let (aggregate, input_schema) =
        raw_aggregate(&plan).unwrap_or_else(|| panic!("{call}: no aggregate"));
    let mut inputs = aggregate.expressions();
    inputs.extend(aggregate.order_bys().iter().map(|s| Arc::clone(&s.expr)));
    Target {
        aggregate,
        inputs,
        input_schema,
    }
}

impl Target {
    fn accumulator(&self) -> Box<dyn Accumulator> {
        self.aggregate
            .create_accumulator()
            .expect("an accumulator for a call that planned")
    }

    fn arguments(&self, batch: &RecordBatch) -> Vec<ArrayRef> {
        let columns = self
            .input_schema
            .fields()
            .iter()
            .map(|f| {
                let column = batch
                    .column_by_name(f.name())
                    .expect("the aggregate reads table columns");
                cast_with_options(column, f.data_type(), &CastOptions::default())
                    .expect("generated values cast, NULL where they do not fit")
            })
            .collect();
        let batch = RecordBatch::try_new(Arc::clone(&self.input_schema), columns)
            .expect("the projected batch matches the aggregate's input");
        self.inputs
            .iter()
            .map(|e| {
                e.evaluate(&batch)
                    .and_then(|v| v.into_array(batch.num_rows()))
                    .expect("argument expressions evaluate")
            })
            .collect()
    }

    /// The partial state after one random batch, as state columns of one row; `None` when
    /// the batch itself was refused.
    fn partial_state(&self, batch: &RecordBatch) -> Option<Vec<ArrayRef>> {
        let mut acc = self.accumulator();
        acc.update_batch(&self.arguments(batch)).ok()?;
        let state = acc.state().ok()?;
        Some(
            state
                .into_iter()
                .map(|s| s.to_array().expect("a state scalar becomes an array"))
                .collect(),
        )
    }
}

/// Stack state rows (each a list of one-row columns) into state columns.
fn stack(rows: &[Vec<ArrayRef>]) -> Vec<ArrayRef> {
    (0..rows[0].len())
        .map(|c| {
            let parts: Vec<&dyn Array> = rows.iter().map(|r| r[c].as_ref()).collect();
            datafusion::arrow::compute::concat(&parts).expect("state columns concatenate")
        })
        .collect()
}

/// Runs `work`, failing the test with `what` if it panics.
fn no_panic<R>(what: &str, work: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(work)) {
        Ok(r) => r,
        Err(e) => {
            let message = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("{what} panicked: {message}")
        }
    }
}

#[test]
fn random_inputs_update_merge_and_evaluate_without_panicking() {
    let ctx = session();
    for (call, table) in CALLS.iter().flat_map(|c| TABLES.map(|t| (c, t))) {
        let target = target_over(&ctx, call, table);
        let mut rng = Rng(seed());
        for case in 0..cases() {
            let what = format!("{call} FROM {table} (seed {}, case {case})", seed());
            no_panic(&what, || {
                let mut whole = target.accumulator();
                let mut parts = Vec::new();
                for _ in 0..3 {
                    let n = rng.pick(&[0, 1, 2, 7, 30]);
                    let batch = input_batch(&mut rng, n);
                    let _ = whole.update_batch(&target.arguments(&batch));
                    parts.extend(target.partial_state(&batch));
                }
                let _ = whole.evaluate();
                if !parts.is_empty() {
                    let mut merged = target.accumulator();
                    if merged.merge_batch(&stack(&parts)).is_ok() {
                        let _ = merged.evaluate();
                    }
                }
            });
        }
    }
}

/// An arbitrary array of `data_type`, recursively for lists and structs.
fn arbitrary(rng: &mut Rng, data_type: &DataType, n: usize) -> ArrayRef {
    let nulls = |rng: &mut Rng| -> Option<NullBuffer> {
        rng.chance(30)
            .then(|| NullBuffer::from_iter((0..n).map(|_| !rng.chance(20))))
    };
    let int = |rng: &mut Rng| -> i64 {
        match rng.below(10) {
            0 => rng.pick(&[i64::MAX, i64::MIN, -1, u32::MAX as i64, 1 << 40]),
            1 => rng.next() as i64,
            _ => rng.below(8) as i64,
        }
    };
    let float = |rng: &mut Rng| -> f64 {
        match rng.below(10) {
            0..=2 => rng.pick(&AWKWARD_FLOATS),
            3 => f64::from_bits(rng.next()),
            _ => rng.unit() * 4.0,
        }
    };
    macro_rules! primitive {
        ($array:ty, $value:expr) => {{
            let values: Vec<_> = (0..n).map(|_| $value).collect();
            Arc::new(<$array>::new(values.into(), nulls(rng))) as ArrayRef
        }};
    }
    let lists = |rng: &mut Rng| -> Vec<usize> {
        (0..n)
            .map(|_| match rng.below(10) {
                0 => 0,
                1 => rng.below(40),
                _ => rng.below(6),
            })
            .collect()
    };
    match data_type {
        DataType::Boolean => Arc::new(BooleanArray::from_iter(
            (0..n).map(|_| (!rng.chance(10)).then(|| rng.chance(50))),
        )),
        DataType::Int8 => primitive!(Int8Array, int(rng) as i8),
        DataType::Int16 => primitive!(Int16Array, int(rng) as i16),
        DataType::Int32 => primitive!(Int32Array, int(rng) as i32),
        DataType::Int64 => primitive!(Int64Array, int(rng)),
        DataType::UInt8 => primitive!(UInt8Array, int(rng) as u8),
        DataType::UInt16 => primitive!(UInt16Array, int(rng) as u16),
        DataType::UInt32 => primitive!(UInt32Array, int(rng) as u32),
        DataType::UInt64 => primitive!(UInt64Array, int(rng) as u64),
        DataType::Float32 => primitive!(Float32Array, float(rng) as f32),
        DataType::Float64 => primitive!(Float64Array, float(rng)),
        DataType::Decimal128(p, s) => {
            let values: Vec<i128> = (0..n)
                .map(|_| match rng.below(4) {
                    0 => i128::MAX,
                    1 => -(int(rng) as i128) << 64,
                    _ => int(rng) as i128,
                })
                .collect();
            Arc::new(
                Decimal128Array::new(values.into(), nulls(rng))
                    .with_precision_and_scale(*p, *s)
                    .expect("a valid decimal type"),
            )
        }
        DataType::Utf8 => {
            Arc::new(StringArray::from_iter((0..n).map(|_| {
                (!rng.chance(10)).then(|| format!("v{}", rng.below(6)))
            })))
        }
        DataType::LargeUtf8 => {
            Arc::new(LargeStringArray::from_iter((0..n).map(|_| {
                (!rng.chance(10)).then(|| format!("v{}", rng.below(6)))
            })))
        }
        DataType::Utf8View => {
            Arc::new(StringViewArray::from_iter((0..n).map(|_| {
                (!rng.chance(10)).then(|| format!("v{}", rng.below(6)))
            })))
        }
        DataType::Binary => {
            let values: Vec<Vec<u8>> = (0..n)
                .map(|_| (0..rng.below(24)).map(|_| rng.next() as u8).collect())
                .collect();
            Arc::new(BinaryArray::from_iter_values(values))
        }
        DataType::List(field) => {
            let (lengths, nulls) = (lists(rng), nulls(rng));
            arbitrary_list::<i32>(rng, field, lengths, nulls)
        }
        DataType::LargeList(field) => {
            let (lengths, nulls) = (lists(rng), nulls(rng));
            arbitrary_list::<i64>(rng, field, lengths, nulls)
        }
        DataType::Struct(fields) => {
            let columns = fields
                .iter()
                .map(|f| arbitrary(rng, f.data_type(), n))
                .collect();
            Arc::new(StructArray::new(fields.clone(), columns, None))
        }
        other => new_null_array(other, n),
    }
}

/// A list array of `lengths` with arbitrary values of `field`'s type.
fn arbitrary_list<O: OffsetSizeTrait>(
    rng: &mut Rng,
    field: &FieldRef,
    lengths: Vec<usize>,
    nulls: Option<NullBuffer>,
) -> ArrayRef {
    let values = arbitrary(rng, field.data_type(), lengths.iter().sum());
    Arc::new(GenericListArray::<O>::new(
        Arc::clone(field),
        OffsetBuffer::from_lengths(lengths),
        values,
        nulls,
    ))
}

/// A valid list column of one row whose values are replaced by arbitrary ones of the same
/// type and a random length: ids out of range, counts that disagree with dictionaries.
fn scrambled(rng: &mut Rng, column: &ArrayRef) -> ArrayRef {
    arbitrary(rng, column.data_type(), column.len())
}

#[test]
fn corrupt_states_are_refused_without_panicking() {
    let ctx = session();
    for call in CALLS {
        let target = target(&ctx, call);
        let fields = target
            .aggregate
            .state_fields()
            .expect("state fields of a planned call");
        let mut rng = Rng(seed() ^ 0xC0FFEE);
        for case in 0..cases() {
            let what = format!("{call} state merge (seed {}, case {case})", seed());
            let mut rows = Vec::new();
            while rows.len() < 2 {
                let n = rng.pick(&[1, 5, 20]);
                rows.extend(target.partial_state(&input_batch(&mut rng, n)));
            }
            let mut columns = stack(&rows);
            match rng.below(3) {
                // One column scrambled, the others valid: deep decoding paths.
                0 | 1 => {
                    let c = rng.below(columns.len());
                    columns[c] = scrambled(&mut rng, &columns[c]);
                }
                // Everything arbitrary.
                _ => {
                    for (column, field) in columns.iter_mut().zip(&fields) {
                        *column = arbitrary(&mut rng, field.data_type(), 2);
                    }
                }
            }
            no_panic(&what, || {
                let mut merged = target.accumulator();
                if merged.merge_batch(&columns).is_ok() {
                    let _ = merged.evaluate();
                    let _ = merged.state();
                }
            });
        }
    }
}

/// Each function's option keys, and values that probe the parser's edges.
const OPTION_TARGETS: &[(&str, &[&str])] = &[
    (
        "bt_rank(a, b, t, '{}')",
        &[
            "scale",
            "base",
            "ties",
            "prior",
            "max_iter",
            "tol",
            "se",
            "bootstrap",
            "seed",
            "confidence",
        ],
    ),
    (
        "newman_rank(a, b, t, '{}')",
        &["scale", "base", "prior", "max_iter", "tol", "se"],
    ),
    (
        "elo_rank(a, b, t, '{}' ORDER BY ts)",
        &["k", "scale", "base", "init"],
    ),
    (
        "pl_rank(g, a, pos, '{}')",
        &[
            "scale",
            "prior",
            "max_iter",
            "tol",
            "se",
            "bootstrap",
            "seed",
            "confidence",
        ],
    ),
    (
        "bt_rank_controlled(a, b, t, f, '{}')",
        &[
            "scale",
            "base",
            "ties",
            "prior",
            "max_iter",
            "tol",
            "confidence",
        ],
    ),
    (
        "openskill_rank(g, a, pos, '{}' ORDER BY ts)",
        &["mu", "sigma", "beta", "kappa", "tau", "z"],
    ),
    ("cohen_kappa(l1, l2, '{}')", &["weights"]),
    ("krippendorff_alpha(g, r, x, '{}')", &["level"]),
    ("gwet_ac2(g, r, pos, '{}')", &["weights"]),
    ("icc(g, r, x, '{}')", &["form", "confidence"]),
    (
        "cohen_kappa_ci(l1, l2, '{}')",
        &["weights", "bootstrap", "seed", "confidence"],
    ),
    ("log_loss(p, y, '{}')", &["eps"]),
    ("ece(p, y, '{}')", &["bins", "strategy", "norm"]),
    (
        "reliability_bins(p, y, '{}')",
        &["bins", "strategy", "norm"],
    ),
    ("wb_reward(v5, la, lb, '{}')", &["k"]),
    ("rank_aggregate(a, g, x, '{}')", &["method"]),
];

const OPTION_VALUES: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "0.5",
    "-0",
    "1e308",
    "-1e308",
    "1e-300",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "abc",
    "",
    " ",
    "1e400",
    "4294967296",
    "18446744073709551616",
    "99999",
    "100001",
    "0x10",
    "1_000",
    "davidson",
    "rao_kupper",
    "ignore",
    "fisher",
    "none",
    "quadratic",
    "linear",
    "ordinal",
    "ratio",
    "interval",
    "quantile",
    "uniform",
    "l2",
    "max",
    "ICC1",
    "ICC2k",
    "borda",
    "copeland",
    "é",
    "'",
    "''",
    ",",
    "=",
    "\"",
];

fn random_options(rng: &mut Rng, keys: &[&str]) -> String {
    let mut parts = Vec::new();
    for _ in 0..rng.below(4) {
        let key = match rng.below(10) {
            0 => "unknown".to_string(),
            1 => rng.pick(keys).to_uppercase(),
            _ => rng.pick(keys).to_string(),
        };
        let value = rng.pick(OPTION_VALUES);
        parts.push(match rng.below(12) {
            0 => key,
            1 => format!("{key}=={value}"),
            2 => format!(" {key} = {value} "),
            _ => format!("{key}={value}"),
        });
    }
    let separator = rng.pick(&[",", ", ", ";", ",,", " "]);
    parts.join(separator).replace('\'', "''")
}

#[test]
fn random_option_strings_plan_or_error_without_panicking() {
    let ctx = session();
    let rt = runtime();
    let rows = MemTable::try_new(input_schema(), vec![vec![input_batch(&mut Rng(7), 30)]])
        .expect("a table of random rows");
    ctx.register_table("rows", Arc::new(rows))
        .expect("registering the table");
    let mut rng = Rng(seed() ^ 0x0B7);
    for (template, keys) in OPTION_TARGETS {
        for case in 0..cases() {
            let options = random_options(&mut rng, keys);
            let call = template.replace("{}", &options);
            let what = format!("{call} (seed {}, case {case})", seed());
            no_panic(&what, || {
                rt.block_on(async {
                    if let Ok(frame) = ctx.sql(&format!("SELECT {call} FROM rows")).await {
                        let _ = frame.collect().await;
                    }
                })
            });
        }
    }
}

#[test]
fn a_state_id_beyond_its_dictionary_is_a_named_error() {
    let ctx = session();
    let target = target(&ctx, "bt_rank(a, b, t)");
    let mut rng = Rng(3);
    let mut state = loop {
        if let Some(state) = target.partial_state(&input_batch(&mut rng, 20)) {
            break state;
        }
    };
    // Column 1 holds item_a's ids into the item dictionary of column 0.
    let items = state[0]
        .as_any()
        .downcast_ref::<ListArray>()
        .unwrap()
        .value(0)
        .len();
    state[1] = Arc::new(ListArray::new(
        Arc::new(Field::new_list_field(DataType::UInt32, true)),
        OffsetBuffer::from_lengths([1]),
        Arc::new(UInt32Array::from(vec![items as u32])),
        None,
    ));
    let err = target.accumulator().merge_batch(&state).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "Execution error: bt_rank: corrupt partial state (id {items} of {items} in column 1); \
             partial states come from prefdb itself, so please report this as a bug"
        )
    );
}

/// Calls whose grouped form (a `GroupsAccumulator`) must equal one accumulator per group:
/// the pairwise family, the running-sum scorers and the long-form agreement family.
const GROUPED_CALLS: &[&str] = &[
    "bt_rank(a, b, t, w)",
    "bt_rank(a, b, t, w, 'ties=davidson, se=fisher')",
    "bt_rank(la, lb, t)",
    "bt_rank(a, b, t, 'bootstrap=20, seed=3')",
    "bt_rank(a, b, o, 'ties=ignore, prior=0')",
    "newman_rank(a, b, t)",
    "win_matrix(a, b, t, w)",
    "avg_win_rate(a, b)",
    "intransitivity(la, lb, t)",
    "brier_score(p, y)",
    "log_loss(p, y, 'eps=1e-7')",
    "ece(p, y)",
    "ece(p, y, 'bins=4, norm=max')",
    "reliability_bins(p, y, 'bins=5')",
    "pairwise_accuracy(x, p)",
    "wb_reward(v5, la, lb, 'k=10')",
    "percent_agreement(la, r, l1)",
    "fleiss_kappa(la, l1)",
    "fleiss_kappa(la, y)",
    "krippendorff_alpha(la, r, l1)",
    "krippendorff_alpha(la, r, x, 'level=interval')",
    "krippendorff_alpha(la, r, y, 'level=ordinal')",
    "gwet_ac1(la, r, l1)",
    "gwet_ac2(la, r, y, 'weights=linear')",
    "icc(la, r, x)",
    "krippendorff_alpha_ci(la, r, l1, 'bootstrap=20')",
];

/// A batch of `n` valid rows in the input layout: votes (items from a few names or ids,
/// outcomes, whole weights), probabilities with 0/1 labels, scores, five-level verdicts;
/// group numbers below `groups` in `g`.
fn clean_batch(rng: &mut Rng, n: usize, groups: usize) -> RecordBatch {
    let schema = input_schema();
    let names = ["m0", "m1", "m2", "m3", "m4", "m5"];
    let text = |rng: &mut Rng, values: &[&str]| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(
            (0..n).map(|_| rng.pick(values).to_string()),
        ))
    };
    let columns = schema
        .fields()
        .iter()
        .map(|f| -> ArrayRef {
            match f.name().as_str() {
                "a" | "b" => text(rng, &names),
                "t" => text(rng, &["a", "b", "tie", "a", "b"]),
                "o" => Arc::new(Float64Array::from_iter_values(
                    (0..n).map(|_| rng.pick(&[0.0, 1.0, 0.5, 0.25])),
                )),
                "w" => Arc::new(Float64Array::from_iter_values(
                    (0..n).map(|_| rng.pick(&[1.0, 2.0, 3.0])),
                )),
                "la" | "lb" => Arc::new(Int64Array::from_iter_values(
                    (0..n).map(|_| rng.below(6) as i64 * 7),
                )),
                "g" => Arc::new(Int64Array::from_iter_values(
                    (0..n).map(|_| rng.below(groups) as i64),
                )),
                "p" => Arc::new(Float64Array::from_iter_values((0..n).map(
                    |_| match rng.below(4) {
                        0 => rng.pick(&[0.0, 1.0, 0.5]),
                        _ => rng.unit(),
                    },
                ))),
                "y" => Arc::new(Int64Array::from_iter_values(
                    (0..n).map(|_| rng.below(2) as i64),
                )),
                "x" => Arc::new(Float64Array::from_iter_values(
                    (0..n).map(|_| (rng.unit() * 4.0 - 2.0).round() / 2.0),
                )),
                "v5" => text(rng, &["A++", "A+", "A=B", "B+", "B++"]),
                "r" => Arc::new(Int64Array::from_iter_values(
                    (0..n).map(|_| rng.below(4) as i64),
                )),
                "l1" => text(rng, &["yes", "no", "maybe"]),
                _ => new_null_array(f.data_type(), n),
            }
        })
        .collect();
    RecordBatch::try_new(schema, columns).expect("the clean batch matches the schema")
}

/// The group number of each row of a clean batch.
fn group_column(batch: &RecordBatch) -> Vec<usize> {
    let g = batch.column_by_name("g").expect("a g column");
    let g = g.as_any().downcast_ref::<Int64Array>().expect("g is Int64");
    g.values().iter().map(|&v| v as usize).collect()
}

/// A grouped aggregation (`GROUP BY`) through the family's `GroupsAccumulator` gives each
/// group exactly, bit for bit, what one accumulator fed only that group's rows gives: after
/// updates, after a partial state is merged in, and when groups are emitted in two parts.
#[test]
fn grouped_accumulators_equal_one_accumulator_per_group() {
    use datafusion::arrow::compute::filter_record_batch;
    use datafusion::common::ScalarValue;
    use datafusion::logical_expr::EmitTo;
    let ctx = session();
    let mut rng = Rng(seed());
    for call in GROUPED_CALLS {
        let target = target(&ctx, call);
        assert!(
            target.aggregate.groups_accumulator_supported(),
            "{call} has no GroupsAccumulator"
        );
        for case in 0..cases() {
            let what = format!("{call} (seed {}, case {case})", seed());
            let groups = 1 + rng.below(5);
            let batches: Vec<RecordBatch> = (0..3)
                .map(|_| {
                    let n = rng.pick(&[0, 5, 40, 150]);
                    clean_batch(&mut rng, n, groups)
                })
                .collect();
            // One accumulator per group, fed that group's rows: all batches into one, and
            // (as below) the last batch as a partial state merged into the first two. Float
            // sums depend on the order of additions, so each grouped path is compared with
            // the per-group path that adds in the same order.
            let rows_of = |batch: &RecordBatch, g: usize| {
                let keep =
                    BooleanArray::from_iter(group_column(batch).iter().map(|&x| Some(x == g)));
                target.arguments(&filter_record_batch(batch, &keep).expect("filtering"))
            };
            let expected_whole: Vec<datafusion::common::Result<ScalarValue>> = (0..groups)
                .map(|g| {
                    let mut acc = target.accumulator();
                    for batch in &batches {
                        acc.update_batch(&rows_of(batch, g))?;
                    }
                    acc.evaluate()
                })
                .collect();
            let expected_split: Vec<datafusion::common::Result<ScalarValue>> = (0..groups)
                .map(|g| {
                    let (mut head, mut tail) = (target.accumulator(), target.accumulator());
                    head.update_batch(&rows_of(&batches[0], g))?;
                    head.update_batch(&rows_of(&batches[1], g))?;
                    tail.update_batch(&rows_of(&batches[2], g))?;
                    let state: Vec<ArrayRef> = tail
                        .state()?
                        .into_iter()
                        .map(|s| s.to_array())
                        .collect::<datafusion::common::Result<_>>()?;
                    head.merge_batch(&state)?;
                    head.evaluate()
                })
                .collect();
            let grouped = || {
                target
                    .aggregate
                    .create_groups_accumulator()
                    .expect("a groups accumulator")
            };
            // All batches into one; and the last batch as a partial state merged in, with
            // the groups emitted in two parts.
            let mut whole = grouped();
            let (mut first, mut last) = (grouped(), grouped());
            for (k, batch) in batches.iter().enumerate() {
                let args = target.arguments(batch);
                let ids = group_column(batch);
                whole.update_batch(&args, &ids, None, groups).expect(&what);
                let part = if k < 2 { &mut first } else { &mut last };
                part.update_batch(&args, &ids, None, groups).expect(&what);
            }
            let state = last.state(EmitTo::All).expect(&what);
            let all: Vec<usize> = (0..groups).collect();
            first.merge_batch(&state, &all, groups).expect(&what);
            let split = rng.below(groups + 1);
            let results = [
                (
                    whole.evaluate(EmitTo::All).map(|a| vec![a]),
                    &expected_whole,
                ),
                (
                    first
                        .evaluate(EmitTo::First(split))
                        .and_then(|head| Ok(vec![head, first.evaluate(EmitTo::All)?])),
                    &expected_split,
                ),
            ];
            for (result, expected) in results {
                match result {
                    Ok(parts) => {
                        let got: Vec<ScalarValue> = parts
                            .iter()
                            .flat_map(|a| {
                                (0..a.len()).map(|i| ScalarValue::try_from_array(a, i).unwrap())
                            })
                            .collect();
                        assert_eq!(got.len(), groups, "{what}");
                        for (g, (got, expected)) in got.iter().zip(expected).enumerate() {
                            let expected = expected.as_ref().unwrap_or_else(|e| {
                                panic!("{what}: group {g} failed alone ({e}) but not grouped")
                            });
                            assert_eq!(
                                format!("{got:?}"),
                                format!("{expected:?}"),
                                "{what}: group {g}"
                            );
                        }
                    }
                    // A group's evaluation failed: it fails alone too, with the same error.
                    Err(e) => assert!(
                        expected
                            .iter()
                            .any(|r| r.as_ref().is_err_and(|x| x.to_string() == e.to_string())),
                        "{what}: grouped evaluation failed ({e}) but no group does alone"
                    ),
                }
            }
        }
    }
}
