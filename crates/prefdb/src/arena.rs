//! Synthetic Chatbot-Arena-like vote tables, for the demo, the tests and the benchmarks.
//!
//! Each model has a true log-strength `s ~ N(0, 0.9²)` (a spread of roughly ±150 rating
//! points, as on public arenas) plus a per-category offset `N(0, 0.25²)`; its overall truth is the mean of its
//! per-category strengths. A battle picks two
//! distinct models uniformly and a category, and samples its outcome so that the expected
//! half-credit score of `model_a` is exactly the Bradley–Terry probability
//! `p = σ(s_a − s_b)`: a tie happens with probability `τ = min(tie_rate, 2p, 2(1 − p))`, a
//! win of `model_a` with `p − τ/2`. Under this design `bt_rank` with its default
//! `ties=half` is a consistent estimator of the true ratings, which the demo prints beside
//! the fitted ones.
//!
//! Rows are generated and written in fixed-size batches, so memory does not grow with the
//! number of votes, and the output depends only on the seed.

use arrow::array::{
    ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, StringBuilder,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, LogNormal, Normal};
use std::path::Path;
use std::sync::Arc;

pub const CATEGORIES: [&str; 5] = [
    "coding",
    "math",
    "creative_writing",
    "hard_prompts",
    "instruction_following",
];

const BATCH_ROWS: usize = 65_536;
const ROW_GROUP_ROWS: usize = 1 << 20;
/// 2024-01-01T00:00:00Z in microseconds.
const START_TS_MICROS: i64 = 1_704_067_200_000_000;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArenaSpec {
    pub votes: u64,
    pub models: usize,
    pub seed: u64,
    /// Largest probability of a tie, reached between equally strong models.
    pub tie_rate: f64,
}

impl Default for ArenaSpec {
    fn default() -> Self {
        Self {
            votes: 100_000,
            models: 20,
            seed: 42,
            tie_rate: 0.2,
        }
    }
}

/// The generating truth: per-model overall and per-category log-strengths.
#[derive(Debug, Clone, PartialEq)]
pub struct ArenaTruth {
    pub names: Vec<String>,
    /// Overall log-strengths: the mean over categories of `category_strengths`.
    pub strengths: Vec<f64>,
    /// `category_strengths[c][m]`: overall strength plus the model's offset in category c.
    pub category_strengths: Vec<Vec<f64>>,
}

impl ArenaTruth {
    /// A strength on the Elo-like scale `1000 + 400 s / ln 10`, centred like `bt_rank`.
    pub fn rating(strengths: &[f64], i: usize) -> f64 {
        let mean = strengths.iter().sum::<f64>() / strengths.len() as f64;
        1000.0 + 400.0 * (strengths[i] - mean) / std::f64::consts::LN_10
    }
}

pub fn model_name(i: usize) -> String {
    format!("model-{i:03}")
}

pub fn schema() -> SchemaRef {
    let text = |name: &str| Field::new(name, DataType::Utf8, false);
    Arc::new(Schema::new(vec![
        text("model_a"),
        text("model_b"),
        text("winner"),
        text("category"),
        Field::new("turn_len_a", DataType::Int64, false),
        Field::new("turn_len_b", DataType::Int64, false),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
    ]))
}

/// Generates the arena batch by batch.
pub struct ArenaGenerator {
    spec: ArenaSpec,
    truth: ArenaTruth,
    rng: StdRng,
    produced: u64,
    ts: i64,
    lengths: LogNormal<f64>,
}

impl ArenaGenerator {
    pub fn new(spec: ArenaSpec) -> Result<Self> {
        if spec.models < 2 {
            return Err(DataFusionError::Plan(format!(
                "an arena needs at least 2 models, got {}",
                spec.models
            )));
        }
        if !(0.0..=1.0).contains(&spec.tie_rate) {
            return Err(DataFusionError::Plan(format!(
                "tie rate must be in [0, 1], got {}",
                spec.tie_rate
            )));
        }
        let mut rng = StdRng::seed_from_u64(spec.seed);
        let overall = Normal::new(0.0, 0.9).expect("valid normal");
        let offset = Normal::new(0.0, 0.25).expect("valid normal");
        let strengths: Vec<f64> = (0..spec.models).map(|_| overall.sample(&mut rng)).collect();
        let category_strengths = CATEGORIES
            .iter()
            .map(|_| {
                strengths
                    .iter()
                    .map(|s| s + offset.sample(&mut rng))
                    .collect()
            })
            .collect();
        let category_strengths: Vec<Vec<f64>> = category_strengths;
        // Battles are drawn per category, so the overall truth is each model's mean strength
        // over the (equally likely) categories.
        let strengths = (0..spec.models)
            .map(|m| category_strengths.iter().map(|c| c[m]).sum::<f64>() / CATEGORIES.len() as f64)
            .collect();
        let truth = ArenaTruth {
            names: (0..spec.models).map(model_name).collect(),
            strengths,
            category_strengths,
        };
        Ok(Self {
            spec,
            truth,
            rng,
            produced: 0,
            ts: START_TS_MICROS,
            lengths: LogNormal::new(6.5, 0.6).expect("valid lognormal"),
        })
    }

    pub fn truth(&self) -> &ArenaTruth {
        &self.truth
    }

    /// The next batch, or `None` when all votes are out.
    pub fn next_batch(&mut self) -> Option<RecordBatch> {
        let remaining = self.spec.votes - self.produced;
        if remaining == 0 {
            return None;
        }
        let rows = remaining.min(BATCH_ROWS as u64) as usize;
        let mut model_a = StringBuilder::with_capacity(rows, rows * 9);
        let mut model_b = StringBuilder::with_capacity(rows, rows * 9);
        let mut winner = StringBuilder::with_capacity(rows, rows * 8);
        let mut category = StringBuilder::with_capacity(rows, rows * 12);
        let mut len_a = Vec::with_capacity(rows);
        let mut len_b = Vec::with_capacity(rows);
        let mut ts = Vec::with_capacity(rows);
        let m = self.spec.models;
        for _ in 0..rows {
            let a = self.rng.random_range(0..m);
            let b = (a + self.rng.random_range(1..m)) % m;
            let c = self.rng.random_range(0..CATEGORIES.len());
            let s = &self.truth.category_strengths[c];
            let p = 1.0 / (1.0 + (-(s[a] - s[b])).exp());
            let tau = self.spec.tie_rate.min(2.0 * p).min(2.0 * (1.0 - p));
            let u: f64 = self.rng.random();
            let outcome = if u < p - tau / 2.0 {
                "model_a"
            } else if u < p + tau / 2.0 {
                if self.rng.random_bool(0.5) {
                    "tie"
                } else {
                    "tie (bothbad)"
                }
            } else {
                "model_b"
            };
            model_a.append_value(&self.truth.names[a]);
            model_b.append_value(&self.truth.names[b]);
            winner.append_value(outcome);
            category.append_value(CATEGORIES[c]);
            len_a.push(self.lengths.sample(&mut self.rng).round() as i64);
            len_b.push(self.lengths.sample(&mut self.rng).round() as i64);
            self.ts += self.rng.random_range(1_000_000..60_000_000);
            ts.push(self.ts);
        }
        self.produced += rows as u64;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(model_a.finish()),
            Arc::new(model_b.finish()),
            Arc::new(winner.finish()),
            Arc::new(category.finish()),
            Arc::new(Int64Array::from(len_a)),
            Arc::new(Int64Array::from(len_b)),
            Arc::new(TimestampMicrosecondArray::from(ts).with_timezone("UTC")),
        ];
        Some(RecordBatch::try_new(schema(), columns).expect("arena batch matches its schema"))
    }
}

/// Write an arena to a Parquet file, calling `progress(rows_written)` after each batch.
/// Returns the generating truth.
pub fn write_parquet(
    spec: ArenaSpec,
    path: &Path,
    mut progress: impl FnMut(u64),
) -> Result<ArenaTruth> {
    let mut generator = ArenaGenerator::new(spec)?;
    let file = std::fs::File::create(path).map_err(|e| {
        DataFusionError::Execution(format!("cannot create '{}': {e}", path.display()))
    })?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .build();
    let mut writer = ArrowWriter::try_new(file, schema(), Some(props))?;
    let mut written = 0;
    while let Some(batch) = generator.next_batch() {
        written += batch.num_rows() as u64;
        // The writer closes a row group every ROW_GROUP_ROWS rows, so it never holds
        // more than one row group's encoded pages.
        writer.write(&batch)?;
        progress(written);
    }
    writer.close()?;
    Ok(generator.truth().clone())
}

/// Register `truth` (overall true ratings per model) and `truth_by_category`.
pub fn register_truth_tables(ctx: &SessionContext, truth: &ArenaTruth) -> Result<()> {
    let n = truth.names.len();
    let overall = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("model", DataType::Utf8, false),
            Field::new("true_rating", DataType::Float64, false),
        ])),
        vec![
            Arc::new(StringArray::from(truth.names.clone())) as ArrayRef,
            Arc::new(Float64Array::from_iter_values(
                (0..n).map(|i| ArenaTruth::rating(&truth.strengths, i)),
            )),
        ],
    )?;
    ctx.register_table(
        "truth",
        Arc::new(MemTable::try_new(overall.schema(), vec![vec![overall]])?),
    )?;
    let (mut cats, mut models, mut ratings) = (Vec::new(), Vec::new(), Vec::new());
    for (c, strengths) in truth.category_strengths.iter().enumerate() {
        for i in 0..n {
            cats.push(CATEGORIES[c]);
            models.push(truth.names[i].clone());
            ratings.push(ArenaTruth::rating(strengths, i));
        }
    }
    let by_category = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("category", DataType::Utf8, false),
            Field::new("model", DataType::Utf8, false),
            Field::new("true_rating", DataType::Float64, false),
        ])),
        vec![
            Arc::new(StringArray::from(cats)) as ArrayRef,
            Arc::new(StringArray::from(models)),
            Arc::new(Float64Array::from(ratings)),
        ],
    )?;
    ctx.register_table(
        "truth_by_category",
        Arc::new(MemTable::try_new(
            by_category.schema(),
            vec![vec![by_category]],
        )?),
    )?;
    Ok(())
}

/// Generate the demo arena in memory and register it as `votes`, with its truth tables:
/// what `prefdb serve` serves when it is given no tables.
pub fn register_demo_tables(ctx: &SessionContext, spec: ArenaSpec) -> Result<ArenaTruth> {
    let mut generator = ArenaGenerator::new(spec)?;
    let mut batches = Vec::new();
    while let Some(batch) = generator.next_batch() {
        batches.push(batch);
    }
    let truth = generator.truth().clone();
    ctx.register_table(
        "votes",
        Arc::new(MemTable::try_new(schema(), vec![batches])?),
    )?;
    register_truth_tables(ctx, &truth)?;
    Ok(truth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_for_a_seed() {
        let spec = ArenaSpec {
            votes: 1000,
            models: 5,
            seed: 7,
            tie_rate: 0.2,
        };
        let a = ArenaGenerator::new(spec).unwrap().next_batch().unwrap();
        let b = ArenaGenerator::new(spec).unwrap().next_batch().unwrap();
        assert_eq!(a, b);
        assert_eq!(a.num_rows(), 1000);
        let c = ArenaGenerator::new(ArenaSpec { seed: 8, ..spec })
            .unwrap()
            .next_batch()
            .unwrap();
        assert_ne!(a, c);
    }

    #[test]
    fn rejects_bad_specs() {
        assert!(ArenaGenerator::new(ArenaSpec {
            models: 1,
            ..Default::default()
        })
        .is_err());
    }
}
