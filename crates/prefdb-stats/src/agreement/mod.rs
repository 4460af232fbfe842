//! Inter-rater agreement kernels.
//!
//! Inputs are per-unit counts of each category, which is what the SQL aggregates can keep as
//! a mergeable state: ratings of one unit may arrive in different partitions, and counts add.

pub mod bootstrap;
pub mod icc;
pub mod kappa;
pub mod krippendorff;
pub mod tally;

pub use bootstrap::{alpha_interval, cohen_interval, BootstrapSpec, Interval};
pub use icc::{icc, IccForm, IccResult};
pub use kappa::{
    agreement_weights, cohen_kappa, fleiss_kappa, gwet_ac, percent_agreement, scott_pi,
    FleissError, Weighting,
};
pub use krippendorff::{alpha_from_coincidences, krippendorff_alpha, ExactCoincidences, Level};
