//! prefdb-stats: the mathematics behind prefdb's SQL functions.
//!
//! Pure Rust with no Arrow or DataFusion: inputs are slices and dense integer ids, outputs
//! are plain structs. Each model lives in its own module so that a reader checking a formula
//! opens one file.

pub mod agreement;
pub mod calibration;
pub mod crowd;
pub mod interrupt;
pub mod judge;
pub mod label_issues;
pub mod length_control;
pub mod noisy_bt;
pub mod optimize;
pub mod pairwise;
pub mod rasch;
pub mod rng;
pub mod selection;
pub mod significance;
pub mod special;
