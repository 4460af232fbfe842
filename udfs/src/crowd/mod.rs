//! Crowd labels and label quality: consensus labels and worker skills (`consensus`),
//! Bradley–Terry from a crowd (`noisy_bt`), which labels are probably wrong
//! (`label_issues`), and rater severity with item difficulty (`rasch`).

mod annotations;
pub mod consensus;
pub mod label_issues;
pub mod noisy_bt;
pub mod rasch;

/// The declarations of this section, in documentation order.
pub(crate) static SPECS: [&crate::spec::FunctionSpec; 10] = [
    &consensus::MAJORITY_VOTE,
    &consensus::WAWA,
    &consensus::ZERO_BASED_SKILL,
    &consensus::DAWID_SKENE,
    &consensus::ONE_COIN,
    &consensus::GLAD,
    &consensus::MACE,
    &noisy_bt::NOISY_BT,
    &label_issues::LABEL_ISSUES,
    &rasch::RASCH,
];
