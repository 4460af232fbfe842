//! Test-time selection: the expected correctness of majority voting and of best-of-n
//! selection among `k` of a problem's `n` samples, exactly, over all `C(n, k)` subsets.

/// `C(a, k) / C(n, k)`: the probability that a uniformly random `k`-subset of `n` samples
/// falls within a given `a` of them. A product of ratios, so it never overflows.
fn subset_within(a: usize, n: usize, k: usize) -> f64 {
    if a < k {
        return 0.0;
    }
    (0..k).map(|i| (a - i) as f64 / (n - i) as f64).product()
}

/// best-of-n@k: the expected correctness of the highest-reward sample among `k` drawn without
/// replacement from `samples` (reward, correct); when rewards tie at the top, the share of the
/// tied samples that are correct (a uniform pick among them). `None` unless `1 ≤ k ≤ n`.
///
/// With the distinct rewards in descending order, level `L` holding `m_L` samples of which
/// `c_L` are correct and `N_L` samples above it, the subset's best level is `L` with
/// probability `[C(n − N_L, k) − C(n − N_L − m_L, k)] / C(n, k)`, and given that, by symmetry,
/// the expected share of correct samples among the chosen ones of `L` is `c_L / m_L`.
pub fn best_of_n_at_k(samples: &[(f64, bool)], k: usize) -> Option<f64> {
    let n = samples.len();
    if k == 0 || k > n {
        return None;
    }
    let mut sorted: Vec<(f64, bool)> = samples.to_vec();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut expected, mut above, mut i) = (0.0, 0, 0);
    while i < n {
        let level = sorted[i..]
            .iter()
            .take_while(|s| s.0 == sorted[i].0)
            .count();
        let correct = sorted[i..i + level].iter().filter(|s| s.1).count();
        let top_here = subset_within(n - above, n, k) - subset_within(n - above - level, n, k);
        expected += top_here * correct as f64 / level as f64;
        above += level;
        i += level;
    }
    Some(expected)
}

/// The binomial coefficient as a float.
fn choose(n: usize, k: usize) -> f64 {
    if k > n {
        return 0.0;
    }
    let k = k.min(n - k);
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

/// maj@k: the expected correctness of a majority vote among `k` samples drawn without
/// replacement, given each distinct answer's sample count and whether it is correct. In a
/// subset the top answers are those drawn most often; the subset scores the share of them
/// that are correct. `None` unless `1 ≤ k ≤ n`.
///
/// By linearity, the expectation is `Σ_j correct_j Σ_a Σ_t P(j drawn a times, t answers tied
/// at a, none above) / t`. For each answer `j` and count `a`, a dynamic programme over the
/// other answers counts the ways to draw the other `k − a` samples with no answer above `a`,
/// by how many are at `a`. Answers of the same count and correctness share that work. Counts
/// are scaled by `C(n, k)` as they go, so they stay within floating-point range.
pub fn maj_at_k(answers: &[(usize, bool)], k: usize) -> Option<f64> {
    let n: usize = answers.iter().map(|a| a.0).sum();
    if k == 0 || k > n {
        return None;
    }
    let total = choose(n, k);
    let mut classes: Vec<((usize, bool), usize)> = Vec::new();
    for &a in answers {
        match classes.iter_mut().find(|(c, _)| *c == a) {
            Some((_, r)) => *r += 1,
            None => classes.push((a, 1)),
        }
    }
    let mut expected = 0.0;
    for (ci, &((count, correct), size)) in classes.iter().enumerate() {
        if !correct {
            continue;
        }
        // The other answers: every answer but one member of this class.
        let others: Vec<usize> = classes
            .iter()
            .enumerate()
            .flat_map(|(cj, &((c, _), r))| std::iter::repeat_n(c, if cj == ci { r - 1 } else { r }))
            .collect();
        for a in 1..=count.min(k) {
            let rest = k - a;
            let at_most = others.iter().filter(|&&c| c >= a).count();
            // ways[s][e]: draws of s samples from the answers so far, none above a, e at a.
            let mut ways = vec![vec![0.0f64; at_most + 1]; rest + 1];
            ways[0][0] = choose(count, a) / total;
            let mut seen_at = 0;
            for &c in &others {
                let mut next = vec![vec![0.0f64; at_most + 1]; rest + 1];
                let reach = usize::from(c >= a);
                for s in 0..=rest {
                    for e in 0..=seen_at {
                        let w = ways[s][e];
                        if w == 0.0 {
                            continue;
                        }
                        for b in 0..=c.min(a).min(rest - s) {
                            let e2 = e + usize::from(b == a);
                            next[s + b][e2] += w * choose(c, b);
                        }
                    }
                }
                seen_at += reach;
                ways = next;
            }
            let share: f64 = (0..=at_most).map(|e| ways[rest][e] / (e + 1) as f64).sum();
            expected += size as f64 * share;
        }
    }
    Some(expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Both estimators by enumerating every k-subset of the samples.
    fn by_enumeration(samples: &[(usize, f64, bool)], k: usize) -> (f64, f64) {
        let n = samples.len();
        let (mut maj, mut best, mut subsets) = (0.0, 0.0, 0.0);
        for mask in 0u32..1 << n {
            if mask.count_ones() as usize != k {
                continue;
            }
            let chosen: Vec<&(usize, f64, bool)> = (0..n)
                .filter(|i| mask >> i & 1 == 1)
                .map(|i| &samples[i])
                .collect();
            let mut counts = std::collections::BTreeMap::new();
            for s in &chosen {
                *counts.entry(s.0).or_insert(0) += 1;
            }
            let top = *counts.values().max().unwrap();
            let tops: Vec<usize> = counts
                .iter()
                .filter(|(_, &c)| c == top)
                .map(|(&a, _)| a)
                .collect();
            let correct_answer = |a: usize| samples.iter().any(|s| s.0 == a && s.2);
            maj += tops.iter().filter(|&&a| correct_answer(a)).count() as f64 / tops.len() as f64;
            let high = chosen.iter().map(|s| s.1).fold(f64::NEG_INFINITY, f64::max);
            let at_top: Vec<&&(usize, f64, bool)> = chosen.iter().filter(|s| s.1 == high).collect();
            best += at_top.iter().filter(|s| s.2).count() as f64 / at_top.len() as f64;
            subsets += 1.0;
        }
        (maj / subsets, best / subsets)
    }

    proptest! {
        #[test]
        fn both_match_enumeration(
            raw in prop::collection::vec((0usize..4, 0u8..4), 1..11),
            right in 0usize..5,
            k_pick in 0usize..100,
        ) {
            // Answer 'right' is the correct one; rewards on a coarse grid, so ties are common.
            let samples: Vec<(usize, f64, bool)> = raw
                .iter()
                .map(|&(a, r)| (a, f64::from(r) / 2.0, a == right))
                .collect();
            let n = samples.len();
            let k = 1 + k_pick % n;
            let mut answers: Vec<(usize, bool)> = Vec::new();
            for a in 0..4 {
                let c = samples.iter().filter(|s| s.0 == a).count();
                if c > 0 {
                    answers.push((c, a == right));
                }
            }
            let (maj, best) = by_enumeration(&samples, k);
            let rewards: Vec<(f64, bool)> = samples.iter().map(|s| (s.1, s.2)).collect();
            prop_assert!((maj_at_k(&answers, k).unwrap() - maj).abs() < 1e-12);
            prop_assert!((best_of_n_at_k(&rewards, k).unwrap() - best).abs() < 1e-12);
        }
    }

    #[test]
    fn edges() {
        assert_eq!(maj_at_k(&[(3, true)], 0), None);
        assert_eq!(maj_at_k(&[(3, true)], 4), None);
        assert_eq!(maj_at_k(&[(3, true)], 2), Some(1.0));
        // k = n: the whole sample; a two-way tie for the top scores one half.
        assert_eq!(maj_at_k(&[(2, true), (2, false)], 4), Some(0.5));
        assert_eq!(best_of_n_at_k(&[(1.0, true), (1.0, false)], 2), Some(0.5));
        // k = 1: the share of correct samples.
        let s = [(0.3, true), (0.9, false), (0.5, true), (0.1, false)];
        assert!((best_of_n_at_k(&s, 1).unwrap() - 0.5).abs() < 1e-15);
    }
}
