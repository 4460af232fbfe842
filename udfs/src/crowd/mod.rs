//! Crowd labels and label quality: consensus labels and worker skills (`consensus`), and
//! which labels are probably wrong (`label_issues`).

pub mod consensus;
pub mod label_issues;

/// The declarations of this section, in documentation order.
pub(crate) static SPECS: [&crate::spec::FunctionSpec; 8] = [
    &consensus::MAJORITY_VOTE,
    &consensus::WAWA,
    &consensus::ZERO_BASED_SKILL,
    &consensus::DAWID_SKENE,
    &consensus::ONE_COIN,
    &consensus::GLAD,
    &consensus::MACE,
    &label_issues::LABEL_ISSUES,
];
