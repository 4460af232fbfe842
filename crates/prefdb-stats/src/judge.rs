//! Diagnostics of LLM judges and judge-based rewards.
//!
//! - [`position_consistency`]: does a verdict survive swapping the two responses
//!   (Wang et al. 2023, *Large Language Models are not Fair Evaluators*)?
//! - [`score_comparison`]: does a pairwise verdict agree with the judge's own single-answer
//!   scores (TrustJudge's score-comparison inconsistency)?
//! - [`wildbench_reward`]: WildBench's five-level pairwise reward with its length rule.
//! - [`verdict_flips`]: how often, and which way, verdicts change under a perturbation of
//!   the prompt or the responses (a generalisation of position consistency).
//! - [`aggregate_ranks`]: one ranking from per-task scores by a social-choice rule
//!   (Colombo et al. 2022, *What are the best systems?*).

/// A verdict on two responses as they were shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verdict {
    First,
    Second,
    Tie,
}

impl Verdict {
    /// The same judgement after swapping the two responses.
    pub fn swapped(self) -> Self {
        match self {
            Verdict::First => Verdict::Second,
            Verdict::Second => Verdict::First,
            Verdict::Tie => Verdict::Tie,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PositionConsistency {
    /// Share of pairs seen in both orders whose verdicts name the same response (or tie
    /// both times).
    pub consistency: Option<f64>,
    /// Share of decisive verdicts, over all rows, that chose the response shown first.
    pub first_position_rate: Option<f64>,
    /// Pairs seen in both orders.
    pub pairs: u64,
    /// Verdicts counted.
    pub verdicts: u64,
}

/// Why the input is not a set of pairs judged in (at most) two orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PositionError {
    /// Item `item` appears with a third distinct order value.
    ThreeOrders { item: u32 },
    /// Item `item` has two verdicts in order `order`.
    Repeated { item: u32, order: u32 },
}

/// The flips of one perturbed condition against the baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Flips {
    pub condition: u32,
    /// Pairs judged under both the baseline and this condition.
    pub pairs: u64,
    /// Those whose verdict differs.
    pub flips: u64,
    /// The Wilson interval of `flips / pairs`.
    pub ci: (f64, f64),
    /// Flips whose new verdict is the first response, the second, or a tie.
    pub to_first: u64,
    pub to_second: u64,
    pub to_tie: u64,
    /// Exact two-sided binomial test of `to_first` against `to_second` (McNemar's exact test
    /// on the flips between the two sides); `None` without such flips.
    pub p_value: Option<f64>,
}

/// `rows` are (pair id, condition id, verdict), verdicts naming the same responses under
/// every condition. For every condition but `baseline` (in id order), the pairs judged under
/// both, and how their verdicts changed. Two verdicts of one pair under one condition are an
/// error ([`PositionError::Repeated`], `order` the condition); a pair without a baseline
/// verdict counts nowhere. `z`: the normal quantile of the Wilson intervals.
pub fn verdict_flips(
    rows: &mut [(u32, u32, Verdict)],
    baseline: u32,
    z: f64,
) -> Result<Vec<Flips>, PositionError> {
    rows.sort_unstable();
    let mut by_condition: std::collections::BTreeMap<u32, [u64; 5]> = Default::default();
    let mut start = 0;
    while start < rows.len() {
        let pair = rows[start].0;
        let end = start + rows[start..].iter().take_while(|r| r.0 == pair).count();
        let group = &rows[start..end];
        if let Some(w) = group.windows(2).find(|w| w[0].1 == w[1].1) {
            return Err(PositionError::Repeated {
                item: pair,
                order: w[0].1,
            });
        }
        if let Some(base) = group.iter().find(|r| r.1 == baseline).map(|r| r.2) {
            for &(_, condition, v) in group.iter().filter(|r| r.1 != baseline) {
                let c = by_condition.entry(condition).or_default();
                c[0] += 1;
                if v != base {
                    c[1] += 1;
                    c[2 + v as usize] += 1;
                }
            }
        }
        start = end;
    }
    Ok(by_condition
        .into_iter()
        .map(
            |(condition, [pairs, flips, to_first, to_second, to_tie])| Flips {
                condition,
                pairs,
                flips,
                ci: crate::calibration::scores::wilson_interval(flips as f64, pairs as f64, z),
                to_first,
                to_second,
                to_tie,
                p_value: crate::significance::mcnemar(to_first, to_second, true, true).1,
            },
        )
        .collect())
}

/// `rows` are (pair id, order id, verdict). Order ids only need to tell the two
/// presentations of a pair apart; which one came first in time does not matter.
pub fn position_consistency(
    rows: &mut [(u32, u32, Verdict)],
) -> Result<PositionConsistency, PositionError> {
    rows.sort_unstable();
    let (mut pairs, mut consistent) = (0u64, 0u64);
    let mut start = 0;
    while start < rows.len() {
        let item = rows[start].0;
        let mut end = start;
        while end < rows.len() && rows[end].0 == item {
            end += 1;
        }
        let group = &rows[start..end];
        if let Some(w) = group.windows(2).find(|w| w[0].1 == w[1].1) {
            return Err(PositionError::Repeated {
                item,
                order: w[0].1,
            });
        }
        match group {
            [_] => {}
            [x, y] => {
                pairs += 1;
                if x.2 == y.2.swapped() {
                    consistent += 1;
                }
            }
            _ => return Err(PositionError::ThreeOrders { item }),
        }
        start = end;
    }
    let first = rows.iter().filter(|r| r.2 == Verdict::First).count();
    let decisive = rows.iter().filter(|r| r.2 != Verdict::Tie).count();
    Ok(PositionConsistency {
        consistency: (pairs > 0).then(|| consistent as f64 / pairs as f64),
        first_position_rate: (decisive > 0).then(|| first as f64 / decisive as f64),
        pairs,
        verdicts: rows.len() as u64,
    })
}

/// Running counts of [`score_comparison`] outcomes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ScoreComparison {
    pub pairs: u64,
    /// The verdict prefers the response with the strictly lower score.
    pub conflicts: u64,
    /// The verdict's direction differs from the sign of the score difference in any way:
    /// conflicts, plus a tie on one side only.
    pub mismatches: u64,
}

impl ScoreComparison {
    /// Add one pair: `score_a - score_b` and the verdict's score for a (1, 0.5 or 0).
    pub fn add(&mut self, score_diff: f64, verdict_a: f64) {
        let by_score = score_diff
            .partial_cmp(&0.0)
            .unwrap_or(std::cmp::Ordering::Equal);
        let by_verdict = verdict_a
            .partial_cmp(&0.5)
            .unwrap_or(std::cmp::Ordering::Equal);
        self.pairs += 1;
        if by_score != by_verdict {
            self.mismatches += 1;
            if by_score.reverse() == by_verdict && by_score != std::cmp::Ordering::Equal {
                self.conflicts += 1;
            }
        }
    }

    pub fn merge(&mut self, other: &ScoreComparison) {
        self.pairs += other.pairs;
        self.conflicts += other.conflicts;
        self.mismatches += other.mismatches;
    }
}

/// WildBench's five verdict levels, from A's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FiveLevel {
    MuchBetterA,
    SlightlyBetterA,
    Tie,
    SlightlyBetterB,
    MuchBetterB,
}

/// WildBench's reward for A: +1, +0.5, 0, −0.5, −1, except that a "slightly better" win by
/// a response more than `k` characters longer than the loser counts as a tie.
pub fn wildbench_reward(level: FiveLevel, len_a: f64, len_b: f64, k: f64) -> f64 {
    match level {
        FiveLevel::MuchBetterA => 1.0,
        FiveLevel::SlightlyBetterA if len_a - len_b > k => 0.0,
        FiveLevel::SlightlyBetterA => 0.5,
        FiveLevel::Tie => 0.0,
        FiveLevel::SlightlyBetterB if len_b - len_a > k => 0.0,
        FiveLevel::SlightlyBetterB => -0.5,
        FiveLevel::MuchBetterB => -1.0,
    }
}

/// How [`aggregate_ranks`] turns per-task scores into one score per system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RankRule {
    /// Mean score over the tasks a system has.
    Mean,
    /// Sum over tasks of the number of systems with a lower score on the task, plus half
    /// the number with an equal score.
    Borda,
    /// Pairwise majority over shared tasks: 1 for each system beaten on more shared tasks
    /// than it wins, a half for each even split.
    Copeland,
}

/// `scores` are (system, task, score) with each (system, task) at most once; higher is
/// better. Returns one aggregate score per system `0..n_systems`.
pub fn aggregate_ranks(
    n_systems: usize,
    n_tasks: usize,
    scores: &[(u32, u32, f64)],
    rule: RankRule,
) -> Vec<f64> {
    let mut table = vec![None; n_systems * n_tasks];
    for &(s, t, x) in scores {
        table[s as usize * n_tasks + t as usize] = Some(x);
    }
    let cell = |s: usize, t: usize| table[s * n_tasks + t];
    match rule {
        RankRule::Mean => (0..n_systems)
            .map(|s| {
                let xs: Vec<f64> = (0..n_tasks).filter_map(|t| cell(s, t)).collect();
                xs.iter().sum::<f64>() / xs.len() as f64
            })
            .collect(),
        RankRule::Borda => {
            let mut points = vec![0.0; n_systems];
            for t in 0..n_tasks {
                let mut present: Vec<(f64, usize)> = (0..n_systems)
                    .filter_map(|s| cell(s, t).map(|x| (x, s)))
                    .collect();
                present.sort_by(|a, b| a.0.total_cmp(&b.0));
                // Runs of equal scores: each member beats everything below the run and
                // ties with the rest of the run.
                let mut i = 0;
                while i < present.len() {
                    let mut j = i;
                    while j < present.len() && present[j].0 == present[i].0 {
                        j += 1;
                    }
                    let p = i as f64 + 0.5 * (j - i - 1) as f64;
                    for &(_, s) in &present[i..j] {
                        points[s] += p;
                    }
                    i = j;
                }
            }
            points
        }
        RankRule::Copeland => {
            let mut points = vec![0.0; n_systems];
            for a in 0..n_systems {
                for b in a + 1..n_systems {
                    let (mut wins_a, mut wins_b, mut shared) = (0, 0, 0);
                    for t in 0..n_tasks {
                        if let (Some(x), Some(y)) = (cell(a, t), cell(b, t)) {
                            shared += 1;
                            if x > y {
                                wins_a += 1;
                            } else if y > x {
                                wins_b += 1;
                            }
                        }
                    }
                    if shared == 0 {
                        continue;
                    }
                    match wins_a.cmp(&wins_b) {
                        std::cmp::Ordering::Greater => points[a] += 1.0,
                        std::cmp::Ordering::Less => points[b] += 1.0,
                        std::cmp::Ordering::Equal => {
                            points[a] += 0.5;
                            points[b] += 0.5;
                        }
                    }
                }
            }
            points
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Verdict::*;

    #[test]
    fn position_consistency_counts() {
        // Pair 0: first in order 0, second in order 1: the same response both times.
        // Pair 1: first both times: position bias. Pair 2: seen once.
        let mut rows = vec![
            (0, 0, First),
            (0, 1, Second),
            (1, 0, First),
            (1, 1, First),
            (2, 0, Tie),
        ];
        let r = position_consistency(&mut rows).unwrap();
        assert_eq!(r.consistency, Some(0.5));
        assert_eq!(r.first_position_rate, Some(0.75));
        assert_eq!((r.pairs, r.verdicts), (2, 5));
        let mut bad = vec![(0, 0, First), (0, 0, Tie)];
        assert_eq!(
            position_consistency(&mut bad),
            Err(PositionError::Repeated { item: 0, order: 0 })
        );
        let mut three = vec![(4, 0, First), (4, 1, First), (4, 2, Tie)];
        assert_eq!(
            position_consistency(&mut three),
            Err(PositionError::ThreeOrders { item: 4 })
        );
    }

    #[test]
    fn score_comparison_conflicts_and_mismatches() {
        let mut c = ScoreComparison::default();
        c.add(2.0, 1.0); // agree
        c.add(2.0, 0.0); // conflict
        c.add(0.0, 1.0); // mismatch: equal scores, decisive verdict
        c.add(-1.0, 0.5); // mismatch: tie verdict, different scores
        c.add(0.0, 0.5); // agree
        assert_eq!((c.pairs, c.conflicts, c.mismatches), (5, 1, 3));
    }

    #[test]
    fn wildbench_length_rule() {
        use FiveLevel::*;
        assert_eq!(
            wildbench_reward(SlightlyBetterA, 1600.0, 1000.0, 500.0),
            0.0
        );
        assert_eq!(
            wildbench_reward(SlightlyBetterA, 1500.0, 1000.0, 500.0),
            0.5
        );
        assert_eq!(wildbench_reward(SlightlyBetterB, 100.0, 700.0, 500.0), 0.0);
        assert_eq!(wildbench_reward(MuchBetterB, 100.0, 7000.0, 500.0), -1.0);
    }

    #[test]
    fn rank_rules() {
        // Three systems, two tasks; system 2 lacks task 1.
        let scores = [
            (0, 0, 0.9),
            (1, 0, 0.8),
            (2, 0, 0.8),
            (0, 1, 0.1),
            (1, 1, 0.7),
        ];
        let mean = aggregate_ranks(3, 2, &scores, RankRule::Mean);
        assert!((mean[0] - 0.5).abs() < 1e-12 && (mean[1] - 0.75).abs() < 1e-12);
        assert_eq!(mean[2], 0.8);
        assert_eq!(
            aggregate_ranks(3, 2, &scores, RankRule::Borda),
            vec![2.0, 1.5, 0.5]
        );
        // 0 vs 1: one task each, a half each; 0 beats 2; 1 ties 2 on their one task.
        assert_eq!(
            aggregate_ranks(3, 2, &scores, RankRule::Copeland),
            vec![1.5, 1.0, 0.5]
        );
    }
}
