//! Shared by the reference tests: the committed fixtures written by `tests/oracle/`.

/// The text of `tests/fixtures/<name>` at the repository root.
pub fn fixture(name: &str) -> String {
    let path = format!("{}/../../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}
