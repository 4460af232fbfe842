//! Per-item totals and evalica-style average win rates from pair outcomes.

use super::PairOutcomes;

/// Weighted wins, losses and ties of one item over all its comparisons.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ItemTotals {
    pub wins: f64,
    pub losses: f64,
    pub ties: f64,
}

impl ItemTotals {
    pub fn battles(&self) -> f64 {
        self.wins + self.losses + self.ties
    }

    /// Count one battle of weight `weight` in which `a` scored `score_a` against `b`: a tie
    /// at exactly 0.5, otherwise a win split by the score (fractional scores count partly
    /// as a win and partly as a loss).
    pub fn add_battle(totals: &mut [ItemTotals], a: usize, b: usize, score_a: f64, weight: f64) {
        if score_a == 0.5 {
            totals[a].ties += weight;
            totals[b].ties += weight;
        } else {
            totals[a].wins += weight * score_a;
            totals[a].losses += weight * (1.0 - score_a);
            totals[b].wins += weight * (1.0 - score_a);
            totals[b].losses += weight * score_a;
        }
    }
}

pub fn item_totals(n_items: usize, pairs: &[PairOutcomes]) -> Vec<ItemTotals> {
    let mut totals = vec![ItemTotals::default(); n_items];
    for p in pairs.iter().filter(|p| p.a != p.b) {
        let (a, b) = (p.a as usize, p.b as usize);
        totals[a].wins += p.a_wins;
        totals[a].losses += p.b_wins;
        totals[a].ties += p.ties;
        totals[b].wins += p.b_wins;
        totals[b].losses += p.a_wins;
        totals[b].ties += p.ties;
    }
    totals
}

/// Win rate of `a` against `b` in one pair, counting a tie as half a win; `None` when the
/// pair has no weight.
pub fn pair_win_rate(p: &PairOutcomes) -> Option<f64> {
    let total = p.total();
    (total > 0.0).then(|| (p.a_wins + 0.5 * p.ties) / total)
}

/// Each item's mean win rate over the opponents it met (evalica's `average_win_rate` with
/// `win_weight = 1`, `tie_weight = 0.5`). An item that met no one scores 0, as in evalica.
/// Pairs must be unique per unordered pair of items.
pub fn average_win_rate(n_items: usize, pairs: &[PairOutcomes]) -> Vec<f64> {
    let mut sum = vec![0.0; n_items];
    let mut opponents = vec![0usize; n_items];
    for p in pairs.iter().filter(|p| p.a != p.b) {
        if let Some(rate) = pair_win_rate(p) {
            sum[p.a as usize] += rate;
            sum[p.b as usize] += 1.0 - rate;
            opponents[p.a as usize] += 1;
            opponents[p.b as usize] += 1;
        }
    }
    sum.iter()
        .zip(&opponents)
        .map(|(s, &k)| if k == 0 { 0.0 } else { s / k as f64 })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_and_average_win_rate() {
        let pairs = [
            PairOutcomes {
                a: 0,
                b: 1,
                a_wins: 2.0,
                b_wins: 1.0,
                ties: 1.0,
            },
            PairOutcomes {
                a: 0,
                b: 2,
                a_wins: 0.0,
                b_wins: 1.0,
                ties: 0.0,
            },
        ];
        let t = item_totals(3, &pairs);
        assert_eq!(
            t[0],
            ItemTotals {
                wins: 2.0,
                losses: 2.0,
                ties: 1.0
            }
        );
        assert_eq!(t[1].battles(), 4.0);
        let awr = average_win_rate(3, &pairs);
        assert!((awr[0] - (2.5 / 4.0 + 0.0) / 2.0).abs() < 1e-15);
        assert!((awr[1] - 1.5 / 4.0).abs() < 1e-15);
        assert_eq!(awr[2], 1.0);
    }
}
