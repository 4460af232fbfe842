//! The README's function reference, generated from the documentation attached to each
//! function, so the two cannot drift (`tests/readme.rs` checks the README against it).

use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::AggregateUDF;
use std::fmt::Write;

fn output_fields(f: &AggregateUDF) -> Option<String> {
    let DataType::List(item) = f.return_type(&[DataType::Utf8, DataType::Utf8]).ok()? else {
        return None;
    };
    let DataType::Struct(fields) = item.data_type() else {
        return None;
    };
    let names: Vec<String> = fields
        .iter()
        .map(|f| {
            let t = match f.data_type() {
                DataType::Utf8 => "item type".to_string(),
                other => other.to_string(),
            };
            format!("`{}` {t}", f.name())
        })
        .collect();
    Some(names.join(", "))
}

/// Markdown for every prefdb function, in registration order.
pub fn reference_markdown() -> String {
    let mut out = String::new();
    for f in crate::aggregate_functions() {
        let Some(doc) = f.documentation() else {
            continue;
        };
        let _ = writeln!(out, "### `{}` ({})\n", f.name(), doc.doc_section.label);
        let _ = writeln!(out, "```sql\n{}\n```\n", doc.syntax_example);
        let _ = writeln!(out, "{}\n", doc.description);
        if let Some(fields) = output_fields(&f) {
            let _ = writeln!(out, "Output: a list of structs with fields {fields}.\n");
        }
        if let Some(args) = &doc.arguments {
            let _ = writeln!(out, "| argument | meaning |\n|---|---|");
            for (name, text) in args {
                let _ = writeln!(out, "| `{name}` | {} |", text.replace('|', "\\|"));
            }
            out.push('\n');
        }
        if let Some(example) = &doc.sql_example {
            let _ = writeln!(out, "```sql\n{example}\n```\n");
        }
    }
    for f in crate::scalar::scalar_udfs() {
        let Some(doc) = f.documentation() else {
            continue;
        };
        let _ = writeln!(
            out,
            "### `{}` (scalar, {})\n",
            f.name(),
            doc.doc_section.label
        );
        let _ = writeln!(out, "```sql\n{}\n```\n", doc.syntax_example);
        let _ = writeln!(out, "{}\n", doc.description);
        if let Some(example) = &doc.sql_example {
            let _ = writeln!(out, "```sql\n{example}\n```\n");
        }
    }
    let _ = writeln!(out, "### `leaderboard` (table function)\n");
    let _ = writeln!(out, "```sql\nSELECT * FROM leaderboard('<query>')\n```\n");
    let _ = writeln!(out, "{}\n", crate::flat::DESCRIPTION);
    out
}
