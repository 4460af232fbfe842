//! Scorer quality: calibration of probabilities (Brier, log loss, ECE and reliability bins),
//! discrimination (AUROC), rank correlation (Spearman, Kendall's τ-b), reward-model pairwise
//! accuracy, pass@k and binomial proportion intervals.
//!
//! Inputs are plain slices; the SQL layer keeps whatever it needs as mergeable state (sums for
//! Brier and log loss, the values themselves for the rank-based statistics).

pub mod bins;
pub mod correlation;
pub mod fixed;
pub mod scores;

pub use bins::{
    calibration_error, expected_calibration_error, reliability_bins, uniform_bin, BinStrategy,
    BinSums, CalibrationNorm, ReliabilityBin,
};
pub use correlation::{kendall_tau_b, spearman, Correlation};
pub use fixed::{fixed, unfixed, FIXED_ONE};
pub use scores::{
    auroc, brier_score, brier_term, log_loss, log_loss_term, mean_of_sums, pairwise_accuracy,
    pairwise_credit, pass_at_k, proportion_ci, ProportionMethod,
};
