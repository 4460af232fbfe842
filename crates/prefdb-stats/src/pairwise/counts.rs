//! [`PairCounts`]: the mergeable state every pairwise function keeps.
//!
//! Per unordered pair of item ids, the weighted wins of each side and the weighted ties.
//! Two partial states over disjoint rows merge by adding counts, so a fit on the merged state
//! equals a fit on all rows, whatever the partitioning.

use super::PairOutcomes;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Weighted outcome counts per unordered pair of items, stored with `a < b`.
#[derive(Debug, Clone, Default)]
pub struct PairCounts {
    index: HashMap<u64, usize, BuildHasherDefault<PairKeyHasher>>,
    pairs: Vec<PairOutcomes>,
}

impl PairCounts {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add `a_wins` wins of `a` over `b`, `b_wins` the other way, and `ties`.
    /// A self-comparison (`a == b`) says nothing about differences and is ignored.
    pub fn add(&mut self, a: u32, b: u32, a_wins: f64, b_wins: f64, ties: f64) {
        if a == b {
            return;
        }
        let (lo, hi, lo_wins, hi_wins) = if a < b {
            (a, b, a_wins, b_wins)
        } else {
            (b, a, b_wins, a_wins)
        };
        let key = (u64::from(lo) << 32) | u64::from(hi);
        let slot = *self.index.entry(key).or_insert_with(|| {
            self.pairs.push(PairOutcomes {
                a: lo,
                b: hi,
                a_wins: 0.0,
                b_wins: 0.0,
                ties: 0.0,
            });
            self.pairs.len() - 1
        });
        let p = &mut self.pairs[slot];
        p.a_wins += lo_wins;
        p.b_wins += hi_wins;
        p.ties += ties;
    }

    /// Add every pair of `other`, renaming its item ids through `id_map`.
    pub fn merge(&mut self, other: &[PairOutcomes], id_map: &[u32]) {
        for p in other {
            self.add(
                id_map[p.a as usize],
                id_map[p.b as usize],
                p.a_wins,
                p.b_wins,
                p.ties,
            );
        }
    }

    /// One entry per pair with `a < b`, in order of first appearance.
    pub fn pairs(&self) -> &[PairOutcomes] {
        &self.pairs
    }

    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Approximate heap size in bytes.
    pub fn heap_size(&self) -> usize {
        self.pairs.capacity() * std::mem::size_of::<PairOutcomes>()
            + self.index.capacity() * (std::mem::size_of::<(u64, usize)>() + 1)
    }
}

/// A fast hasher for the packed `u64` pair keys (a multiply-xorshift mix); the keys come
/// from our own dense ids, so no protection against adversarial collisions is needed.
#[derive(Default)]
pub struct PairKeyHasher(u64);

impl Hasher for PairKeyHasher {
    fn finish(&self) -> u64 {
        let mut x = self.0;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orientation_is_canonical() {
        let mut c = PairCounts::new();
        c.add(3, 1, 2.0, 1.0, 0.5);
        c.add(1, 3, 1.0, 0.0, 0.0);
        c.add(2, 2, 9.0, 9.0, 9.0);
        assert_eq!(
            c.pairs(),
            &[PairOutcomes {
                a: 1,
                b: 3,
                a_wins: 2.0,
                b_wins: 2.0,
                ties: 0.5
            }]
        );
    }

    #[test]
    fn merge_renames_ids() {
        let mut left = PairCounts::new();
        left.add(0, 1, 1.0, 0.0, 0.0);
        let mut right = PairCounts::new();
        right.add(0, 1, 0.0, 3.0, 1.0); // right's 0 is left's 1 and vice versa
        left.merge(right.pairs(), &[1, 0]);
        assert_eq!(
            left.pairs(),
            &[PairOutcomes {
                a: 0,
                b: 1,
                a_wins: 4.0,
                b_wins: 0.0,
                ties: 1.0
            }]
        );
    }
}
