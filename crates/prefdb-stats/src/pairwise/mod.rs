//! Pairwise-comparison models: the shared input type, and one module per model.
//!
//! Every model here takes the same input: a list of [`PairOutcomes`], one per unordered pair
//! of dense item ids, holding the weighted number of times each side won and the weighted
//! number of ties. This is exactly the mergeable partial state the SQL aggregates keep, so a
//! fit never sees individual rows.

pub mod bootstrap;
pub mod bradley_terry;
pub mod controlled;
pub mod counts;
pub mod elo;
pub mod fisher;
pub mod intransitivity;
pub(crate) mod linalg;
mod newton;
pub mod plackett_luce;
pub mod ranking;
pub mod sandwich;
pub mod table;
pub mod tie_models;
pub mod weng_lin;
pub mod win_rate;

pub use bootstrap::{
    bootstrap_bradley_terry, bootstrap_plackett_luce, bootstrap_tie_model, BootstrapIntervals,
    BootstrapOptions,
};
pub use bradley_terry::{fit_bradley_terry, BtError, BtFit, BtOptions, TieHandling};
pub use controlled::{
    fit_controlled, fit_controlled_with, Battles, ControlledFit, ControlledOptions,
};
pub use counts::PairCounts;
pub use elo::{online_elo, EloBattle, EloOptions};
pub use fisher::fisher_covariance;
pub use intransitivity::{intransitivity, Intransitivity};
pub use plackett_luce::{fit_plackett_luce, implied_pairs, plackett_luce_covariance, Ranking};
pub use ranking::{competition_ranks, order_by_score_desc, STRENGTH_RANK_TOLERANCE};
pub use sandwich::{
    bt_covariance, pair_reweights, plackett_luce_sandwich, scale_pairs, tie_model_covariance_with,
    Meat,
};
pub use table::PairTable;
pub use tie_models::{fit_tie_model, tie_model_covariance, TieFit, TieModel};
pub use weng_lin::{weng_lin_update, Skill, WengLinOptions};
pub use win_rate::{average_win_rate, item_totals, pair_win_rate, ItemTotals};

/// Weighted outcomes of every comparison between items `a` and `b` (dense ids).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairOutcomes {
    pub a: u32,
    pub b: u32,
    /// Weighted wins of `a` over `b`.
    pub a_wins: f64,
    /// Weighted wins of `b` over `a`.
    pub b_wins: f64,
    /// Weighted ties between `a` and `b`.
    pub ties: f64,
}

impl PairOutcomes {
    pub fn total(&self) -> f64 {
        self.a_wins + self.b_wins + self.ties
    }

    /// Add the counts of `vote` (of the same pair, the same way round).
    #[inline]
    pub fn count(&mut self, vote: &PairOutcomes) {
        self.a_wins += vote.a_wins;
        self.b_wins += vote.b_wins;
        self.ties += vote.ties;
    }

    /// One vote as the pair tables store it: `a_wins` wins of `a` over `b`, `b_wins` the
    /// other way and `ties`, turned so that `a < b`; `None` for a self-comparison, which
    /// says nothing about differences.
    #[inline]
    pub fn vote(a: u32, b: u32, a_wins: f64, b_wins: f64, ties: f64) -> Option<Self> {
        let (a, b, a_wins, b_wins) = match a.cmp(&b) {
            std::cmp::Ordering::Less => (a, b, a_wins, b_wins),
            std::cmp::Ordering::Greater => (b, a, b_wins, a_wins),
            std::cmp::Ordering::Equal => return None,
        };
        Some(Self {
            a,
            b,
            a_wins,
            b_wins,
            ties,
        })
    }
}

/// Shorthands for the pairwise tests.
#[cfg(test)]
pub(crate) mod test_support {
    use super::{BtOptions, PairOutcomes};

    pub fn pair(a: u32, b: u32, a_wins: f64, b_wins: f64, ties: f64) -> PairOutcomes {
        PairOutcomes {
            a,
            b,
            a_wins,
            b_wins,
            ties,
        }
    }

    /// The default options with prior `prior`.
    pub fn opts(prior: f64) -> BtOptions {
        BtOptions {
            prior,
            ..BtOptions::default()
        }
    }
}
