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
    index: PairIndex,
    pairs: Vec<PairOutcomes>,
    /// The largest item id in a pair.
    max_id: u32,
}

/// Where each pair's entry is: a hash map while the pairs are few or the ids sparse, a
/// dense `side × side` table once the pairs fill enough of it. A row of a leaderboard over
/// a hundred items then costs one array read instead of a hash lookup. The order of the
/// pairs (first appearance) is the same either way, so results do not depend on it.
#[derive(Debug, Clone)]
enum PairIndex {
    Hashed(HashMap<u64, usize, BuildHasherDefault<PairKeyHasher>>),
    /// `slots[lo * side + hi]` is the pair's index + 1, or 0 for a pair not seen.
    Dense {
        side: usize,
        slots: Vec<u32>,
    },
}

impl Default for PairIndex {
    fn default() -> Self {
        PairIndex::Hashed(HashMap::default())
    }
}

/// Pairs before a dense table is considered: below this a small hash map is cheaper.
const DENSE_MIN_PAIRS: usize = 256;
/// A dense table is used while it has at most this many slots per pair (4 bytes each, so
/// it never takes much more memory than the hash map it replaces).
const DENSE_SLOTS_PER_PAIR: usize = 16;

impl PairIndex {
    /// A dense table over ids below `side` holding `pairs`, if it is small enough for them.
    fn dense(side: usize, pairs: &[PairOutcomes]) -> Option<Self> {
        let cells = side.checked_mul(side)?;
        if cells > DENSE_SLOTS_PER_PAIR * pairs.len().max(DENSE_MIN_PAIRS) {
            return None;
        }
        let mut slots = vec![0u32; cells];
        for (k, p) in pairs.iter().enumerate() {
            slots[p.a as usize * side + p.b as usize] = k as u32 + 1;
        }
        Some(PairIndex::Dense { side, slots })
    }

    fn hashed(pairs: &[PairOutcomes]) -> Self {
        let mut index = HashMap::with_capacity_and_hasher(pairs.len(), Default::default());
        for (k, p) in pairs.iter().enumerate() {
            index.insert(key(p.a, p.b), k);
        }
        PairIndex::Hashed(index)
    }
}

fn key(lo: u32, hi: u32) -> u64 {
    (u64::from(lo) << 32) | u64::from(hi)
}

impl PairCounts {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add `a_wins` wins of `a` over `b`, `b_wins` the other way, and `ties`.
    /// A self-comparison (`a == b`) says nothing about differences and is ignored.
    #[inline]
    pub fn add(&mut self, a: u32, b: u32, a_wins: f64, b_wins: f64, ties: f64) {
        if let Some(vote) = PairOutcomes::vote(a, b, a_wins, b_wins, ties) {
            let slot = self.slot(vote.a, vote.b);
            self.pairs[slot].count(&vote);
        }
    }

    /// The index of pair `(lo, hi)` in `pairs`, added with zero counts if new.
    #[inline]
    fn slot(&mut self, lo: u32, hi: u32) -> usize {
        if let PairIndex::Dense { side, slots } = &mut self.index {
            if (hi as usize) < *side {
                let cell = &mut slots[lo as usize * *side + hi as usize];
                if *cell != 0 {
                    return *cell as usize - 1;
                }
                *cell = self.pairs.len() as u32 + 1;
                self.max_id = self.max_id.max(hi);
                return self.push(lo, hi);
            }
        }
        self.slot_slow(lo, hi)
    }

    /// [`PairCounts::slot`] through the hash map, or for an id beyond the dense table;
    /// then the index is rebuilt in the form that now fits.
    fn slot_slow(&mut self, lo: u32, hi: u32) -> usize {
        let slot = match &mut self.index {
            PairIndex::Hashed(index) => {
                let next = self.pairs.len();
                let slot = *index.entry(key(lo, hi)).or_insert(next);
                if slot != next {
                    return slot;
                }
                self.push(lo, hi)
            }
            PairIndex::Dense { .. } => self.push(lo, hi),
        };
        self.max_id = self.max_id.max(hi);
        let side = self.max_id as usize + 1;
        // Room to grow, so that a new item does not rebuild the table every time.
        let wanted = side.next_power_of_two().max(side + side / 4);
        let dense = || {
            PairIndex::dense(wanted, &self.pairs).or_else(|| PairIndex::dense(side, &self.pairs))
        };
        match &self.index {
            // A dense table is tried (in O(1) when it would be too sparse) once there are
            // enough pairs.
            PairIndex::Hashed(_) if self.pairs.len() >= DENSE_MIN_PAIRS => {
                if let Some(index) = dense() {
                    self.index = index;
                }
            }
            PairIndex::Hashed(_) => {}
            // An id beyond the table: a larger table, or back to hashing.
            PairIndex::Dense { .. } => {
                self.index = dense().unwrap_or_else(|| PairIndex::hashed(&self.pairs));
            }
        }
        slot
    }

    fn push(&mut self, lo: u32, hi: u32) -> usize {
        self.pairs.push(PairOutcomes {
            a: lo,
            b: hi,
            a_wins: 0.0,
            b_wins: 0.0,
            ties: 0.0,
        });
        self.pairs.len() - 1
    }

    /// Room for `additional` more pairs without growing the entries or a hashed index.
    pub fn reserve(&mut self, additional: usize) {
        self.pairs.reserve(additional);
        if let PairIndex::Hashed(index) = &mut self.index {
            index.reserve(additional);
        }
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

    /// The largest item id in a pair (0 when there are none).
    pub fn max_id(&self) -> u32 {
        self.max_id
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Approximate heap size in bytes.
    pub fn heap_size(&self) -> usize {
        let index = match &self.index {
            PairIndex::Hashed(index) => {
                index.capacity() * (std::mem::size_of::<(u64, usize)>() + 1)
            }
            PairIndex::Dense { slots, .. } => slots.capacity() * 4,
        };
        self.pairs.capacity() * std::mem::size_of::<PairOutcomes>() + index
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

    /// The dense table and the hash map give the same pairs in the same order, with the
    /// same sums, whatever ids arrive: a slow reference keeps a plain list.
    #[test]
    fn every_index_form_counts_as_a_plain_list() {
        let mut rng = crate::rng::Xoshiro256::seed_from_u64(5);
        for case in 0..60 {
            // Few items (dense soon), many (hashed), and ids that grow as rows arrive.
            let items = [4u32, 30, 100, 3000][case % 4];
            let rows = [10usize, 300, 5000][case % 3];
            let mut counts = PairCounts::new();
            let mut reference: Vec<PairOutcomes> = Vec::new();
            for r in 0..rows {
                let limit = if case % 5 == 0 {
                    1 + (r as u32 * items) / rows as u32
                } else {
                    items
                };
                let a = (rng.next_u64() % u64::from(limit.max(1))) as u32;
                let b = (rng.next_u64() % u64::from(limit.max(1))) as u32;
                // Sums that depend on their order, so that the order is checked too.
                let w = (rng.next_u64() % 1000) as f64 / 7.0;
                counts.add(a, b, w, 1.0 - w, 0.5);
                if a == b {
                    continue;
                }
                let (lo, hi, lw, hw) = if a < b {
                    (a, b, w, 1.0 - w)
                } else {
                    (b, a, 1.0 - w, w)
                };
                match reference.iter_mut().find(|p| p.a == lo && p.b == hi) {
                    Some(p) => {
                        p.a_wins += lw;
                        p.b_wins += hw;
                        p.ties += 0.5;
                    }
                    None => reference.push(PairOutcomes {
                        a: lo,
                        b: hi,
                        a_wins: lw,
                        b_wins: hw,
                        ties: 0.5,
                    }),
                }
            }
            assert_eq!(counts.pairs(), &reference[..], "case {case}");
        }
    }

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
