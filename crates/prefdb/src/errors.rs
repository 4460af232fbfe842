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
    let text = unwrap_coercion_failure(&text);
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What a panic says: its message, or "unknown panic" for a payload that is not text.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
}

/// DataFusion reports an error raised while coercing a function's argument types inside a
/// longer message ("Function 'f' user-defined coercion failed with: Error during planning:
/// <ours>. No function matches ... Candidate functions: ..."); keep only our part.
fn unwrap_coercion_failure(text: &str) -> String {
    const MARKER: &str = "user-defined coercion failed with: ";
    let Some(at) = text.find(MARKER) else {
        return text.to_string();
    };
    let inner = &text[at + MARKER.len()..];
    let inner = inner
        .strip_prefix("Error during planning: ")
        .unwrap_or(inner);
    inner
        .split(" No function matches the given name")
        .next()
        .unwrap_or(inner)
        .trim_end()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coercion_failures_show_only_the_function_message() {
        let e = DataFusionError::Execution(
            "Function 'bt_rank' user-defined coercion failed with: Error during planning: bt_rank: \
             both item arguments must be strings or both integers, got Utf8 and Int64. No function \
             matches the given name and argument types 'bt_rank(Utf8, Int64)'. You might need to \
             add explicit type casts. Candidate functions: bt_rank(UserDefined)"
                .into(),
        );
        assert_eq!(
            user_message(&e),
            "bt_rank: both item arguments must be strings or both integers, got Utf8 and Int64."
        );
    }
}
