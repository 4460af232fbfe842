//! Crowd labels and label quality: which labels are probably wrong (`label_issues`).

pub mod label_issues;

/// The declarations of this section, in documentation order.
pub(crate) static SPECS: [&crate::spec::FunctionSpec; 1] = [&label_issues::LABEL_ISSUES];
