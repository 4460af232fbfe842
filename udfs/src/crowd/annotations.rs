//! Long-form annotations, `(task, worker, label [, weight])` rows as annotation tools export
//! them, collected for the crowd functions that fit a model to all of them (the consensus
//! methods, `rasch`).

use crate::items::{ItemInterner, ItemKind, ItemReader};
use crate::options::{row_weight, weight_column};
use crate::spec::aggregate::Call;
use crate::state::{list_fields, wrap, StateRows};
use datafusion::arrow::array::{Array, ArrayRef, Float64Array, UInt32Array};
use datafusion::arrow::datatypes::{DataType, FieldRef, UInt32Type};
use datafusion::common::{Result, ScalarValue};
use prefdb_stats::crowd::Annotations;
use std::sync::Arc;

/// The rows of one group: each of the three columns interned, and per row its three ids and
/// weight (1 without a weight argument). The partial state is the three dictionaries, the
/// ids and the weights.
#[derive(Debug)]
pub(crate) struct AnnotationRows {
    name: &'static str,
    pub tasks: ItemInterner,
    pub workers: ItemInterner,
    pub labels: ItemInterner,
    /// (task, worker, label) ids per row, flattened.
    ids: Vec<u32>,
    weights: Vec<f64>,
    weighted: bool,
}

impl AnnotationRows {
    /// For a call whose first three arguments, of `kinds`, are the columns, and whose
    /// fourth, if given, is the weight.
    pub fn new<C>(name: &'static str, call: &Call<'_, C>, kinds: [ItemKind; 3]) -> Self {
        Self {
            name,
            tasks: ItemInterner::new(kinds[0]),
            workers: ItemInterner::new(kinds[1]),
            labels: ItemInterner::new(kinds[2]),
            ids: Vec::new(),
            weights: Vec::new(),
            weighted: call.data == 4,
        }
    }

    /// The kinds of the first three argument types, named `args`.
    pub fn kinds(function: &str, types: &[DataType], args: [&str; 3]) -> Result<[ItemKind; 3]> {
        Ok([
            ItemKind::of(function, args[0], &types[0])?,
            ItemKind::of(function, args[1], &types[1])?,
            ItemKind::of(function, args[2], &types[2])?,
        ])
    }

    /// The state's fields for columns of `kinds`.
    pub fn state_fields(name: &str, kinds: [ItemKind; 3]) -> Vec<FieldRef> {
        list_fields(
            name,
            vec![
                ("tasks", kinds[0].output_type()),
                ("workers", kinds[1].output_type()),
                ("labels", kinds[2].output_type()),
                ("ids", DataType::UInt32),
                ("weights", DataType::Float64),
            ],
        )
    }

    pub fn is_empty(&self) -> bool {
        self.weights.is_empty()
    }

    /// Adds a batch's rows; a row with any NULL is skipped.
    pub fn update(&mut self, values: &[ArrayRef]) -> Result<()> {
        let name = self.name;
        let weights = weight_column(values.get(3).filter(|_| self.weighted))?;
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
            let Some(weight) = row_weight(name, weights, row)? else {
                continue;
            };
            let [t, w, l] = &mut readers;
            self.ids.push(t.id(&mut self.tasks, row)?);
            self.ids.push(w.id(&mut self.workers, row)?);
            self.ids.push(l.id(&mut self.labels, row)?);
            self.weights.push(weight);
        }
        Ok(())
    }

    pub fn heap_size(&self) -> usize {
        self.tasks.heap_size()
            + self.workers.heap_size()
            + self.labels.heap_size()
            + self.ids.capacity() * 4
            + self.weights.capacity() * 8
    }

    pub fn state(&self) -> Vec<ScalarValue> {
        vec![
            wrap(self.tasks.to_array()),
            wrap(self.workers.to_array()),
            wrap(self.labels.to_array()),
            wrap(Arc::new(UInt32Array::from(self.ids.clone()))),
            wrap(Arc::new(Float64Array::from(self.weights.clone()))),
        ]
    }

    pub fn merge(&mut self, states: &[ArrayRef]) -> Result<()> {
        for row in StateRows::new(self.name, states, 5)?.rows() {
            let maps = [
                self.tasks.intern_array(&row.list(0)?)?,
                self.workers.intern_array(&row.list(1)?)?,
                self.labels.intern_array(&row.list(2)?)?,
            ];
            let ids = row.values::<UInt32Type>(3)?;
            let weights = row.counts(4)?;
            if ids.len() != weights.len() * 3 {
                return Err(row.corrupt("ids do not fit the weights"));
            }
            for (i, &id) in ids.values().iter().enumerate() {
                let map = &maps[i % 3];
                match map.get(id as usize) {
                    Some(&mapped) => self.ids.push(mapped),
                    None => return Err(row.corrupt(format!("id {id} of {}", map.len()))),
                }
            }
            self.weights.extend_from_slice(weights.values());
        }
        Ok(())
    }

    /// The annotations in value order: ids renumbered so that each dictionary is sorted, and
    /// rows sorted by (task, worker, label, weight), so that a fit does not depend on the
    /// order rows arrived in.
    pub fn canonical(&self) -> Annotations {
        let (pt, pw, pl) = (
            self.tasks.value_positions(),
            self.workers.value_positions(),
            self.labels.value_positions(),
        );
        let mut rows: Vec<(u32, u32, u32, f64)> = self
            .ids
            .chunks_exact(3)
            .zip(&self.weights)
            .map(|(r, &w)| {
                (
                    pt[r[0] as usize] as u32,
                    pw[r[1] as usize] as u32,
                    pl[r[2] as usize] as u32,
                    w,
                )
            })
            .collect();
        rows.sort_by(|a, b| {
            (a.0, a.1, a.2)
                .cmp(&(b.0, b.1, b.2))
                .then(a.3.total_cmp(&b.3))
        });
        Annotations {
            tasks: self.tasks.len(),
            workers: self.workers.len(),
            labels: self.labels.len(),
            task: rows.iter().map(|r| r.0).collect(),
            worker: rows.iter().map(|r| r.1).collect(),
            label: rows.iter().map(|r| r.2).collect(),
            weight: rows.iter().map(|r| r.3).collect(),
        }
    }
}
