//! Intransitivity of a majority-preference tournament.
//!
//! Each compared pair gets its majority relation: `i ≻ j` when i's weighted wins over j
//! exceed j's over i, `i ~ j` when they are equal (ties count for neither side). Only triads
//! whose three pairs were all compared are judged:
//!
//! - a **3-cycle** is a triad with `i ≻ j ≻ k ≻ i` (all three pairs decisive);
//! - a triad **violates weak transitivity** when its relations are not a weak order, that
//!   is, no ranking of the three items with ties reproduces them. With no tie that is a
//!   3-cycle (TrustJudge's *circular chain*); with one tie `i ~ j`, it is `i ≻ k ≻ j` (k
//!   sits strictly between two "equal" items); with two ties `i ~ j ~ k` but `i ≻ k`, it is
//!   TrustJudge's *equivalence contradiction*. Three ties, or one tie with the third item
//!   above or below both, are consistent.
//!
//! Counting uses one bitset per item and relation (wins over, loses to, ties with), so the
//! cost is O(K² · K/64) for K items, once, from the merged win matrix.

use super::PairOutcomes;

/// Triad counts; shares are `None` when no triad was fully compared.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Intransitivity {
    /// Item triples whose three pairs were all compared.
    pub triads: u64,
    /// Strict 3-cycles among them.
    pub cycles: u64,
    /// Triads with one tie and the third item strictly between the two tied items.
    pub tie_between: u64,
    /// Triads with two ties whose third pair is decisive (equivalence contradictions).
    pub equivalence_contradictions: u64,
}

impl Intransitivity {
    /// Triads that are not a weak order: cycles, plus the two tie patterns.
    pub fn weak_violations(&self) -> u64 {
        self.cycles + self.tie_between + self.equivalence_contradictions
    }

    pub fn cycle_share(&self) -> Option<f64> {
        (self.triads > 0).then(|| self.cycles as f64 / self.triads as f64)
    }

    pub fn weak_violation_share(&self) -> Option<f64> {
        (self.triads > 0).then(|| self.weak_violations() as f64 / self.triads as f64)
    }
}

struct Bits {
    words: usize,
    data: Vec<u64>,
}

impl Bits {
    fn new(rows: usize, cols: usize) -> Self {
        let words = cols.div_ceil(64);
        Self {
            words,
            data: vec![0; rows * words],
        }
    }

    fn set(&mut self, row: usize, col: usize) {
        self.data[row * self.words + col / 64] |= 1 << (col % 64);
    }

    fn row(&self, row: usize) -> &[u64] {
        &self.data[row * self.words..(row + 1) * self.words]
    }
}

fn and_count(x: &[u64], y: &[u64]) -> u64 {
    x.iter()
        .zip(y)
        .map(|(a, b)| (a & b).count_ones() as u64)
        .sum()
}

/// Triad counts of the majority tournament over items `0..n_items`. Pairs with no weight,
/// and pairs of an item with itself, are not comparisons.
pub fn intransitivity(n_items: usize, pairs: &[PairOutcomes]) -> Intransitivity {
    let n = n_items;
    // beats[i] ∋ j when i ≻ j; ties[i] ∋ j when i ~ j; compared = beats ∪ beaten ∪ ties.
    let mut beats = Bits::new(n, n);
    let mut beaten = Bits::new(n, n);
    let mut ties = Bits::new(n, n);
    let mut compared = Bits::new(n, n);
    let mut decisive_edges = Vec::new();
    let mut tie_edges = Vec::new();
    let mut all_edges = Vec::new();
    for p in pairs {
        let (a, b) = (p.a as usize, p.b as usize);
        if a == b || p.total() <= 0.0 {
            continue;
        }
        compared.set(a, b);
        compared.set(b, a);
        all_edges.push((a, b));
        if p.a_wins > p.b_wins {
            beats.set(a, b);
            beaten.set(b, a);
            decisive_edges.push((a, b));
        } else if p.b_wins > p.a_wins {
            beats.set(b, a);
            beaten.set(a, b);
            decisive_edges.push((b, a));
        } else {
            ties.set(a, b);
            ties.set(b, a);
            tie_edges.push((a, b));
        }
    }
    // Each complete triad has three edges, each of which sees its third item once.
    let triads = all_edges
        .iter()
        .map(|&(a, b)| and_count(compared.row(a), compared.row(b)))
        .sum::<u64>()
        / 3;
    // w ≻ l, l ≻ k, k ≻ w: k ∈ beats[l] ∩ beaten[w]; each cycle is seen from its 3 edges.
    let cycles = decisive_edges
        .iter()
        .map(|&(w, l)| and_count(beats.row(l), beaten.row(w)))
        .sum::<u64>()
        / 3;
    let mut tie_between = 0;
    let mut two_ties_seen = 0;
    for &(a, b) in &tie_edges {
        // a ~ b with a ≻ k ≻ b or b ≻ k ≻ a; a triad has one tie edge here, so once each.
        tie_between += and_count(beats.row(a), beaten.row(b));
        tie_between += and_count(beats.row(b), beaten.row(a));
        // A second tie at b or at a, and a decisive third pair: seen from both tie edges.
        for (x, y) in [(a, b), (b, a)] {
            // k ~ y, and x vs k decisive.
            let decisive_x: Vec<u64> = beats
                .row(x)
                .iter()
                .zip(beaten.row(x))
                .map(|(p, q)| p | q)
                .collect();
            two_ties_seen += and_count(ties.row(y), &decisive_x);
        }
    }
    Intransitivity {
        triads,
        cycles,
        tie_between,
        equivalence_contradictions: two_ties_seen / 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(a: u32, b: u32, a_wins: f64, b_wins: f64) -> PairOutcomes {
        PairOutcomes {
            a,
            b,
            a_wins,
            b_wins,
            ties: 0.0,
        }
    }

    /// Brute force over triads, straight from the definition of a weak order.
    fn brute(n: usize, pairs: &[PairOutcomes]) -> Intransitivity {
        let mut rel = vec![vec![None; n]; n];
        for p in pairs {
            let s = (p.a_wins - p.b_wins).signum() as i8;
            let s = if p.a_wins == p.b_wins { 0 } else { s };
            rel[p.a as usize][p.b as usize] = Some(s);
            rel[p.b as usize][p.a as usize] = Some(-s);
        }
        let mut out = Intransitivity {
            triads: 0,
            cycles: 0,
            tie_between: 0,
            equivalence_contradictions: 0,
        };
        for i in 0..n {
            for j in i + 1..n {
                for k in j + 1..n {
                    let (Some(ij), Some(jk), Some(ik)) = (rel[i][j], rel[j][k], rel[i][k]) else {
                        continue;
                    };
                    out.triads += 1;
                    let levels = [0i8, 1, 2];
                    let weak_order = levels.iter().any(|&li| {
                        levels.iter().any(|&lj| {
                            levels.iter().any(|&lk| {
                                (li - lj).signum() == ij
                                    && (lj - lk).signum() == jk
                                    && (li - lk).signum() == ik
                            })
                        })
                    });
                    let n_ties = [ij, jk, ik].iter().filter(|&&r| r == 0).count();
                    if !weak_order {
                        match n_ties {
                            0 => out.cycles += 1,
                            1 => out.tie_between += 1,
                            _ => out.equivalence_contradictions += 1,
                        }
                    }
                }
            }
        }
        out
    }

    #[test]
    fn one_cycle() {
        let p = [
            pair(0, 1, 2.0, 1.0),
            pair(1, 2, 2.0, 1.0),
            pair(0, 2, 1.0, 2.0),
        ];
        let r = intransitivity(3, &p);
        assert_eq!((r.triads, r.cycles, r.weak_violations()), (1, 1, 1));
        assert_eq!(r.cycle_share(), Some(1.0));
    }

    #[test]
    fn transitive_and_incomplete() {
        let p = [
            pair(0, 1, 2.0, 1.0),
            pair(1, 2, 2.0, 1.0),
            pair(0, 2, 2.0, 1.0),
        ];
        assert_eq!(intransitivity(3, &p).weak_violations(), 0);
        let r = intransitivity(3, &p[..2]);
        assert_eq!((r.triads, r.cycle_share()), (0, None));
    }

    #[test]
    fn tie_patterns() {
        // 0 ~ 1, 1 ~ 2, 0 ≻ 2: an equivalence contradiction.
        let p = [
            pair(0, 1, 1.0, 1.0),
            pair(1, 2, 0.0, 0.0),
            pair(0, 2, 3.0, 1.0),
        ];
        let r = intransitivity(3, &[p[0], PairOutcomes { ties: 1.0, ..p[1] }, p[2]]);
        assert_eq!((r.equivalence_contradictions, r.weak_violations()), (1, 1));
        // 0 ~ 1, 0 ≻ 2 ≻ 1: 2 sits between two tied items.
        let q = [
            pair(0, 1, 1.0, 1.0),
            pair(2, 1, 1.0, 0.0),
            pair(0, 2, 1.0, 0.0),
        ];
        let r = intransitivity(3, &q);
        assert_eq!((r.tie_between, r.weak_violations()), (1, 1));
        // 0 ~ 1, both ≻ 2: consistent.
        let ok = [
            pair(0, 1, 1.0, 1.0),
            pair(0, 2, 1.0, 0.0),
            pair(1, 2, 1.0, 0.0),
        ];
        assert_eq!(intransitivity(3, &ok).weak_violations(), 0);
    }

    #[test]
    fn matches_brute_force_on_random_tournaments() {
        let mut rng = crate::rng::Xoshiro256::seed_from_u64(9);
        for trial in 0..40 {
            let n = 3 + trial % 70;
            let mut pairs = Vec::new();
            for a in 0..n as u32 {
                for b in a + 1..n as u32 {
                    let r = rng.unit();
                    if r < 0.2 {
                        continue;
                    }
                    let (x, y) = if r < 0.4 {
                        (1.0, 1.0)
                    } else {
                        ((rng.unit() * 3.0).floor(), (rng.unit() * 3.0).floor())
                    };
                    pairs.push(PairOutcomes {
                        a,
                        b,
                        a_wins: x,
                        b_wins: y,
                        ties: 1.0,
                    });
                }
            }
            assert_eq!(intransitivity(n, &pairs), brute(n, &pairs), "n = {n}");
        }
    }
}
