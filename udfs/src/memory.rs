//! Memory a function needs while it evaluates, beyond its accumulator's state: dense
//! Hessians and covariances, bootstrap replicates, coincidence matrices. DataFusion accounts
//! an accumulator's state through [`Accumulator::size`]; what `evaluate` builds it never
//! sees. So `evaluate` reserves that memory from the session's pool before allocating it,
//! and the session's memory limit (`--memory-limit`) bounds it as it bounds DataFusion's own
//! operators.
//!
//! [`Accumulator::size`]: datafusion::logical_expr::Accumulator::size

use datafusion::common::{DataFusionError, Result};
use datafusion::execution::memory_pool::{
    MemoryConsumer, MemoryLimit, MemoryPool, MemoryReservation,
};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// The memory pool of the session the functions were registered with; none for functions
/// made without a session (documentation, tests), which then reserve nothing.
#[derive(Clone, Default)]
pub struct MemoryBudget(Option<Arc<dyn MemoryPool>>);

impl MemoryBudget {
    pub fn new(pool: Arc<dyn MemoryPool>) -> Self {
        MemoryBudget(Some(pool))
    }

    /// Reserves `bytes` for `what` in `function`, released when the returned guard is
    /// dropped; an error naming both when the pool cannot spare them.
    pub fn reserve(&self, function: &str, what: &str, bytes: usize) -> Result<Workspace> {
        let Some(pool) = &self.0 else {
            return Ok(Workspace(None));
        };
        let reservation = MemoryConsumer::new(format!("{function} ({what})")).register(pool);
        match reservation.try_grow(bytes) {
            Ok(()) => Ok(Workspace(Some(reservation))),
            Err(_) => Err(DataFusionError::ResourcesExhausted(format!(
                "{function}: {what} needs {} and the memory limit leaves {} (of {}); raise the memory limit or reduce the input",
                megabytes(bytes),
                megabytes(limit_bytes(pool).saturating_sub(pool.reserved())),
                megabytes(limit_bytes(pool)),
            ))),
        }
    }
}

/// Memory reserved for an evaluation, given back when dropped.
#[derive(Debug)]
#[must_use = "the memory is released when the workspace is dropped"]
pub struct Workspace(Option<MemoryReservation>);

impl Workspace {
    /// Reserve `bytes` more for the same evaluation.
    pub fn grow(&mut self, function: &str, what: &str, bytes: usize) -> Result<()> {
        let Some(reservation) = &mut self.0 else {
            return Ok(());
        };
        reservation.try_grow(bytes).map_err(|_| {
            DataFusionError::ResourcesExhausted(format!(
                "{function}: {what} needs {} more and the memory limit does not allow it; raise the memory limit or reduce the input",
                megabytes(bytes)
            ))
        })
    }
}

fn limit_bytes(pool: &Arc<dyn MemoryPool>) -> usize {
    match pool.memory_limit() {
        MemoryLimit::Finite(n) => n,
        _ => usize::MAX,
    }
}

fn megabytes(bytes: usize) -> String {
    if bytes == usize::MAX {
        return "no limit".to_string();
    }
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// Bytes of `count` values of `T`, saturating.
pub(crate) fn bytes_of<T>(count: usize) -> usize {
    count.saturating_mul(std::mem::size_of::<T>())
}

impl fmt::Debug for MemoryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Some(_) => "MemoryBudget(pool)",
            None => "MemoryBudget(none)",
        })
    }
}

/// Two budgets are equal when they draw on the same pool: functions registered with one
/// session are the same functions.
impl PartialEq for MemoryBudget {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        }
    }
}

impl Eq for MemoryBudget {}

impl Hash for MemoryBudget {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.is_some().hash(state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::execution::memory_pool::GreedyMemoryPool;

    #[test]
    fn reservations_count_against_the_pool_until_dropped() {
        let pool: Arc<dyn MemoryPool> = Arc::new(GreedyMemoryPool::new(1_000_000));
        let budget = MemoryBudget::new(Arc::clone(&pool));
        let mut held = budget.reserve("f", "a matrix", 600_000).unwrap();
        assert_eq!(pool.reserved(), 600_000);
        let refused = budget.reserve("f", "another matrix", 600_000).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "Resources exhausted: f: another matrix needs 0.6 MB and the memory limit leaves 0.4 MB (of 1.0 MB); raise the memory limit or reduce the input"
        );
        assert!(held.grow("f", "more", 500_000).is_err());
        held.grow("f", "more", 300_000).unwrap();
        drop(held);
        assert_eq!(pool.reserved(), 0);
        assert!(MemoryBudget::default()
            .reserve("f", "x", usize::MAX)
            .is_ok());
    }
}
