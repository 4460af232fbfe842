//! Errors as users read them: one line, the innermost cause, no DataFusion scaffolding.

use datafusion::common::DataFusionError;

/// One line for a person: the innermost DataFusion error without the layers of context
/// DataFusion adds ("Optimizer rule ... failed", "Error during planning: ").
pub fn user_message(e: &DataFusionError) -> String {
    let text = match e.find_root() {
        DataFusionError::Plan(m)
        | DataFusionError::Execution(m)
        | DataFusionError::NotImplemented(m)
        | DataFusionError::Configuration(m) => m.clone(),
        DataFusionError::SQL(e, _) => format!("SQL syntax error: {e}"),
        DataFusionError::SchemaError(e, _) => e.to_string(),
        DataFusionError::ResourcesExhausted(m) => format!("resources exhausted: {m}"),
        DataFusionError::ObjectStore(e) => format!("object store: {e}"),
        DataFusionError::IoError(e) => format!("I/O error: {e}"),
        other => other.to_string(),
    };
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
