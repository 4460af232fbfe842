//! Leaderboard ordering and competition ("1224") ranking.

/// Item ids ordered by score descending; equal scores keep id order, so the output is
/// deterministic.
pub fn order_by_score_desc(scores: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&i, &j| scores[j].total_cmp(&scores[i]).then(i.cmp(&j)));
    order
}

/// Log-strengths closer than this share a rank. The fits' default tolerance (1e-10) leaves
/// far less noise than this. It does not follow a query's `tol` option: ranks come from the
/// ratings a query reports, and a loose `tol` must not merge items whose ratings differ.
pub const STRENGTH_RANK_TOLERANCE: f64 = 1e-8;

/// Competition ranks ("1224") for scores already sorted in descending order: an item's rank
/// is 1 plus the number of items with a strictly higher score. Scores within `tolerance` of
/// the first score of a run of equals share its rank, so that rounding noise in a fit does
/// not split items that the data cannot tell apart.
pub fn competition_ranks(sorted_desc: &[f64], tolerance: f64) -> Vec<i64> {
    let mut ranks = Vec::with_capacity(sorted_desc.len());
    let mut run_start = 0;
    for (i, &score) in sorted_desc.iter().enumerate() {
        if i > 0 && (sorted_desc[run_start] - score).abs() > tolerance {
            run_start = i;
        }
        ranks.push(run_start as i64 + 1);
    }
    ranks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn competition_ranking_shares_ranks_and_skips() {
        assert_eq!(
            competition_ranks(&[3.0, 2.0, 2.0, 1.0], 1e-9),
            vec![1, 2, 2, 4]
        );
        assert_eq!(competition_ranks(&[1.0, 1.0, 1.0], 1e-9), vec![1, 1, 1]);
        assert_eq!(competition_ranks(&[], 1e-9), Vec::<i64>::new());
        assert_eq!(competition_ranks(&[2.0, 2.0 - 1e-12], 1e-9), vec![1, 1]);
    }

    #[test]
    fn order_is_descending_and_stable() {
        assert_eq!(order_by_score_desc(&[1.0, 3.0, 1.0, 2.0]), vec![1, 3, 0, 2]);
    }
}
