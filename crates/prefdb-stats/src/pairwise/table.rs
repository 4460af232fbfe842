//! [`PairTable`]: one group's pair counts when there are many groups.
//!
//! A group first keeps its votes as they arrive, in a plain list (a few hundred at most):
//! a vote then costs one append, where a count costs a hash lookup and, as the group
//! grows, the index's regrowth. With a hundred thousand groups of a hundred votes (a
//! leaderboard per prompt) most groups never leave this form, and their votes are summed
//! once, by one sort, when the group is read. Past that the group keeps a [`PairCounts`] (a list of its pairs, found through a hash map or a dense
//! table of slots) while its pairs are few against its items. Once they fill enough of the
//! `n (n − 1) / 2` possible pairs of its `n` item ids, it keeps the counts themselves in a
//! triangular table instead: a vote then costs one memory access where the list costs two
//! dependent ones (the slot, then the entry), and the table takes less room than the list
//! and its index. With twenty categories of a hundred models, every count update otherwise
//! waits on two cache misses.
//!
//! Each pair's counts are summed in the order the votes arrive in either form (the switch
//! copies them unchanged), so a fit sees the same numbers whichever form held them; only the
//! order in which [`PairTable::pairs`] lists the pairs differs, and every consumer puts the
//! pairs in a canonical order first.

use super::{PairCounts, PairOutcomes};
use std::borrow::Cow;

/// One group's weighted outcome counts per unordered pair of item ids.
#[derive(Debug, Clone)]
pub enum PairTable {
    /// The votes not yet summed, in arrival order, each with `a < b`; a pair may repeat.
    Arrived(Vec<PairOutcomes>),
    /// The pairs as a list, in order of first appearance.
    Listed(PairCounts),
    /// Every pair of ids below `side`, seen or not.
    Triangular(Triangle),
}

impl Default for PairTable {
    fn default() -> Self {
        PairTable::Arrived(Vec::new())
    }
}

/// Votes a table keeps unsummed: past them, summing by a sort costs more than an index.
const ARRIVED_MAX: usize = 512;

/// Pairs before the triangular form is considered.
const TRIANGLE_MIN_PAIRS: usize = 256;
/// The triangular form is used while it has at most this many cells per pair seen: a cell
/// is 24 bytes, so the table never takes more than 96 bytes per pair, about what a listed
/// pair costs with its index.
const TRIANGLE_CELLS_PER_PAIR: usize = 4;

/// Whether `pairs` pairs with ids below `side` fill enough of a triangle to keep one.
fn fills_triangle(pairs: usize, side: usize) -> bool {
    pairs >= TRIANGLE_MIN_PAIRS && cells(side) <= TRIANGLE_CELLS_PER_PAIR * pairs
}

/// The number of pairs of ids below `side`.
fn cells(side: usize) -> usize {
    side * side.saturating_sub(1) / 2
}

impl PairTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add `a_wins` wins of `a` over `b`, `b_wins` the other way, and `ties`, as
    /// [`PairCounts::add`] does (a self-comparison is ignored).
    #[inline]
    pub fn add(&mut self, a: u32, b: u32, a_wins: f64, b_wins: f64, ties: f64) {
        match self {
            PairTable::Arrived(votes) => {
                let Some(vote) = PairOutcomes::vote(a, b, a_wins, b_wins, ties) else {
                    return;
                };
                votes.push(vote);
                if votes.len() > ARRIVED_MAX {
                    self.count_arrived(0, 0);
                }
            }
            PairTable::Triangular(t) => {
                if !t.add(a, b, a_wins, b_wins, ties) {
                    self.grow(a.max(b));
                    self.add(a, b, a_wins, b_wins, ties);
                }
            }
            PairTable::Listed(counts) => {
                let before = counts.len();
                counts.add(a, b, a_wins, b_wins, ties);
                if counts.len() != before {
                    self.consider_triangle(0, 0);
                }
            }
        }
    }

    /// Start loading the memory a vote for `a` and `b` will be counted in, so that a loop
    /// over many groups' votes can ask for the next few while it counts this one. Only the
    /// triangular form is worth it: its cell is known from the ids alone, where a list's
    /// entry is known only after its slot has been read, and arrived votes are appended.
    /// It changes nothing but what the cache holds.
    #[inline]
    pub fn prefetch(&self, a: u32, b: u32) {
        if let PairTable::Triangular(t) = self {
            let (lo, hi) = (a.min(b) as usize, a.max(b) as usize);
            if lo != hi && hi < t.side {
                let cell = t.cells.as_ptr().wrapping_add(hi * (hi - 1) / 2 + lo);
                // A 24-byte cell may straddle two cache lines.
                prefetch(cell.cast::<u8>());
                prefetch(cell.cast::<u8>().wrapping_add(23));
            }
        }
    }

    /// Sum the arrived votes into a list of pairs, or a triangle when they fill enough of
    /// one (with `expected` more pairs to come, with ids below `side`).
    #[cold]
    fn count_arrived(&mut self, expected: usize, side: usize) {
        let PairTable::Arrived(votes) = self else {
            return;
        };
        let pairs = summed(votes);
        let mut counts = PairCounts::new();
        counts.reserve(pairs.len() + expected);
        for p in &pairs {
            counts.add(p.a, p.b, p.a_wins, p.b_wins, p.ties);
        }
        *self = PairTable::Listed(counts);
        self.consider_triangle(expected, side);
    }

    /// The triangular form, for a listed table whose pairs (with `expected` more, with
    /// ids below `side`) fill enough of it. Whether it switched.
    fn consider_triangle(&mut self, expected: usize, side: usize) -> bool {
        let PairTable::Listed(counts) = self else {
            return false;
        };
        let side = side.max(counts.max_id() as usize + 1);
        if !fills_triangle(counts.len() + expected, side) {
            return false;
        }
        *self = PairTable::Triangular(Triangle::from_pairs(side, counts.pairs()));
        true
    }

    /// Room for ids up to `id`: a larger triangle, or the list when the triangle would be
    /// too sparse.
    #[cold]
    fn grow(&mut self, id: u32) {
        let PairTable::Triangular(t) = self else {
            return;
        };
        let side = id as usize + 1;
        if fills_triangle(t.len + 1, side) {
            t.resize(side);
        } else {
            let mut counts = PairCounts::new();
            counts.reserve(t.len);
            for p in t.pairs() {
                counts.add(p.a, p.b, p.a_wins, p.b_wins, p.ties);
            }
            *self = PairTable::Listed(counts);
        }
    }

    /// About to add `additional` pairs (a partial state's) with ids below `side`: the
    /// triangular form at once when they would fill enough of it, else room in the list.
    pub fn reserve(&mut self, additional: usize, side: usize) {
        if let PairTable::Arrived(votes) = self {
            let total = votes.len() + additional;
            if total <= ARRIVED_MAX && !fills_triangle(total, side) {
                votes.reserve(additional);
                return;
            }
            self.count_arrived(additional, side);
        }
        if !self.consider_triangle(additional, side) {
            if let PairTable::Listed(counts) = self {
                counts.reserve(additional);
            }
        }
    }

    /// Pairs seen; for votes not yet summed, the votes (at least the pairs they name).
    pub fn len(&self) -> usize {
        match self {
            PairTable::Arrived(votes) => votes.len(),
            PairTable::Listed(counts) => counts.len(),
            PairTable::Triangular(t) => t.len,
        }
    }

    /// At most how many items the pairs name, when that is known without listing them
    /// (a triangle: its side, and two per pair); `None` for a list.
    pub fn item_bound(&self) -> Option<usize> {
        match self {
            PairTable::Arrived(_) | PairTable::Listed(_) => None,
            PairTable::Triangular(t) => Some(t.side.min(2 * t.len)),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every pair seen, with `a < b`: the list's order, or by `(b, a)` from a triangle or
    /// from votes summed now.
    pub fn pairs(&self) -> Cow<'_, [PairOutcomes]> {
        match self {
            PairTable::Arrived(votes) => Cow::Owned(summed(votes)),
            PairTable::Listed(counts) => Cow::Borrowed(counts.pairs()),
            PairTable::Triangular(t) => Cow::Owned(t.pairs()),
        }
    }

    /// Every pair seen at least once, without summing votes that have not been: a pair may
    /// repeat. For what depends only on which pairs were seen (their items, say).
    pub fn seen(&self) -> Cow<'_, [PairOutcomes]> {
        match self {
            PairTable::Arrived(votes) => Cow::Borrowed(votes),
            _ => self.pairs(),
        }
    }

    /// Approximate heap size in bytes.
    pub fn heap_size(&self) -> usize {
        match self {
            PairTable::Arrived(votes) => votes.capacity() * std::mem::size_of::<PairOutcomes>(),
            PairTable::Listed(counts) => counts.heap_size(),
            PairTable::Triangular(t) => t.cells.capacity() * 24 + t.seen.capacity() * 8,
        }
    }
}

/// A hint to the processor to load the cache line holding `p`; never a read, so any
/// address will do. A no-op where there is no such instruction in stable Rust.
#[inline(always)]
fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch does not access memory (it cannot fault), and SSE, which the
    // instruction belongs to, is part of every x86-64 processor.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// `votes` summed per pair, by `(b, a)`: each pair's counts added from zero in the order its
/// votes arrived, as [`PairCounts::add`] adds them, so equal bit for bit to its sums.
fn summed(votes: &[PairOutcomes]) -> Vec<PairOutcomes> {
    let mut sorted = votes.to_vec();
    // Stable: a pair's votes stay in arrival order.
    sorted.sort_by_key(|p| (u64::from(p.b) << 32) | u64::from(p.a));
    let mut out: Vec<PairOutcomes> = Vec::with_capacity(sorted.len());
    for v in sorted {
        match out.last_mut() {
            Some(p) if p.a == v.a && p.b == v.b => {
                p.a_wins += v.a_wins;
                p.b_wins += v.b_wins;
                p.ties += v.ties;
            }
            _ => out.push(PairOutcomes {
                a: v.a,
                b: v.b,
                a_wins: 0.0 + v.a_wins,
                b_wins: 0.0 + v.b_wins,
                ties: 0.0 + v.ties,
            }),
        }
    }
    out
}

/// The counts of every pair `lo < hi < side`, at `hi (hi − 1) / 2 + lo`, and one bit per
/// pair that says whether it was seen (a seen pair's counts may all be zero).
#[derive(Debug, Clone)]
pub struct Triangle {
    side: usize,
    cells: Vec<[f64; 3]>,
    seen: Vec<u64>,
    len: usize,
}

impl Triangle {
    fn from_pairs(side: usize, pairs: &[PairOutcomes]) -> Self {
        let mut t = Triangle {
            side: 0,
            cells: Vec::new(),
            seen: Vec::new(),
            len: 0,
        };
        t.resize(side);
        for p in pairs {
            let added = t.add(p.a, p.b, p.a_wins, p.b_wins, p.ties);
            debug_assert!(added);
        }
        t
    }

    fn resize(&mut self, side: usize) {
        let n = cells(side);
        self.cells.resize(n, [0.0; 3]);
        self.seen.resize(n.div_ceil(64), 0);
        self.side = side;
    }

    /// False, and nothing added, when an id is beyond the table.
    #[inline]
    fn add(&mut self, a: u32, b: u32, a_wins: f64, b_wins: f64, ties: f64) -> bool {
        let Some(vote) = PairOutcomes::vote(a, b, a_wins, b_wins, ties) else {
            return true;
        };
        let (lo, hi) = (vote.a as usize, vote.b as usize);
        if hi >= self.side {
            return false;
        }
        let k = hi * (hi - 1) / 2 + lo;
        let (word, bit) = (&mut self.seen[k / 64], 1u64 << (k % 64));
        if *word & bit == 0 {
            *word |= bit;
            self.len += 1;
        }
        let cell = &mut self.cells[k];
        cell[0] += vote.a_wins;
        cell[1] += vote.b_wins;
        cell[2] += vote.ties;
        true
    }

    fn pairs(&self) -> Vec<PairOutcomes> {
        let mut out = Vec::with_capacity(self.len);
        let mut k = 0;
        for hi in 1..self.side {
            for lo in 0..hi {
                if self.seen[k / 64] & (1u64 << (k % 64)) != 0 {
                    let [a_wins, b_wins, ties] = self.cells[k];
                    out.push(PairOutcomes {
                        a: lo as u32,
                        b: hi as u32,
                        a_wins,
                        b_wins,
                        ties,
                    });
                }
                k += 1;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(mut pairs: Vec<PairOutcomes>) -> Vec<PairOutcomes> {
        pairs.sort_by_key(|p| (p.a, p.b));
        pairs
    }

    /// Whatever form it takes (a list, a triangle, a triangle grown, a list again), a table
    /// holds exactly the pairs and sums a plain `PairCounts` holds: the same numbers added
    /// in the same order per pair, so equal bit for bit, with prefetches in between.
    #[test]
    fn every_form_counts_as_a_plain_list() {
        let mut rng = crate::rng::Xoshiro256::seed_from_u64(11);
        for case in 0..80 {
            let items = [3u32, 20, 60, 400][case % 4];
            let rows = [10usize, 2000, 20_000][case % 3];
            let mut table = PairTable::new();
            let mut plain = PairCounts::new();
            let mut forms = std::collections::HashSet::new();
            for r in 0..rows {
                // Ids that grow as rows arrive in some cases, and a late burst of new ids
                // (a sparse triangle turns back into a list) in others.
                let limit = match case % 5 {
                    0 => 1 + (r as u32 * items) / rows as u32,
                    1 if r > rows * 9 / 10 => items * 8,
                    _ => items,
                };
                let a = (rng.next_u64() % u64::from(limit)) as u32;
                let b = (rng.next_u64() % u64::from(limit)) as u32;
                let w = (rng.next_u64() % 7) as f64 * 0.3;
                let tie = if rng.next_u64() % 5 == 0 { 0.0 } else { 0.5 };
                // A prefetch, of this vote's cell or of ids the table does not hold (equal,
                // past its side, the largest), changes nothing the comparison below sees.
                table.prefetch(a, b);
                table.prefetch(b, b);
                table.prefetch(a, limit + 5);
                table.prefetch(u32::MAX, u32::MAX - 1);
                table.add(a, b, w, 1.0 - w / 3.0, tie);
                plain.add(a, b, w, 1.0 - w / 3.0, tie);
                if r % 500 == 0 {
                    table.reserve(3, items as usize);
                }
                forms.insert(matches!(table, PairTable::Triangular(_)));
            }
            assert!(table.len() >= plain.len(), "case {case}");
            assert_eq!(table.pairs().len(), plain.len(), "case {case}");
            assert_eq!(
                sorted(table.pairs().into_owned()),
                sorted(plain.pairs().to_vec()),
                "case {case}"
            );
            if let Some(bound) = table.item_bound() {
                let mut items: Vec<u32> = plain.pairs().iter().flat_map(|p| [p.a, p.b]).collect();
                items.sort_unstable();
                items.dedup();
                assert!(
                    bound >= items.len(),
                    "case {case}: bound {bound} < {}",
                    items.len()
                );
            }
            // Sixty items have 1,770 pairs, which a few thousand rows fill enough.
            if items == 60 && rows >= 2000 {
                assert!(forms.contains(&true), "case {case} never went triangular");
                if case % 5 == 1 {
                    assert!(matches!(table, PairTable::Listed(_)), "case {case}");
                }
            }
        }
    }

    /// A pair whose counts are all zero is still a pair the group has seen.
    #[test]
    fn a_seen_pair_with_zero_counts_is_kept() {
        let mut table = PairTable::new();
        table.reserve(300, 30);
        assert!(matches!(table, PairTable::Triangular(_)));
        table.add(4, 2, 0.0, 0.0, 0.0);
        table.add(7, 7, 1.0, 0.0, 0.0);
        assert_eq!(table.len(), 1);
        assert_eq!(
            table.pairs().into_owned(),
            vec![PairOutcomes {
                a: 2,
                b: 4,
                a_wins: 0.0,
                b_wins: 0.0,
                ties: 0.0
            }]
        );
    }

    /// The triangle's index and its inverse agree on every cell of a large table.
    #[test]
    fn triangle_index_round_trips() {
        let side = 3000;
        let mut t = Triangle::from_pairs(side, &[]);
        for hi in (1..side).step_by(7) {
            for lo in (0..hi).step_by(13) {
                assert!(t.add(lo as u32, hi as u32, lo as f64, hi as f64, 1.0));
            }
        }
        for p in t.pairs() {
            assert_eq!((p.a_wins, p.b_wins), (f64::from(p.a), f64::from(p.b)));
        }
    }
}
