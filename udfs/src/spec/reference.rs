//! `docs/functions.md`, the function reference, generated from the declarations
//! (`tests/readme.rs` fails when the committed file is stale).

use super::{FunctionSpec, OptionSpec, Output, Section};
use std::fmt::Write;

/// The whole reference, in documentation order.
pub fn markdown() -> String {
    let specs = super::all();
    let mut out = String::from(
        "# prefdb function reference\n\n\
         Generated from each function's declaration in `udfs/src/` by \
         `UPDATE_DOCS=1 cargo test --test readme`; do not edit by hand. The same declarations \
         give `information_schema.routines`, psql's `\\df` and the error messages.\n\n\
         Options are one trailing string literal, `'key=value, key=value'`: keys are \
         case-insensitive, an unknown key or a value out of range is an error when the query \
         is planned, and an absent key takes its default.\n\n",
    );
    for section in Section::ALL {
        let label = section.doc_section().label;
        let names: Vec<String> = specs
            .iter()
            .filter(|s| s.section == section)
            .map(|s| format!("[`{0}`](#{0})", s.name))
            .collect();
        let scalars: Vec<String> = crate::scalar::scalar_udfs()
            .iter()
            .filter(|f| {
                f.documentation()
                    .is_some_and(|d| d.doc_section.label == label)
            })
            .map(|f| format!("[`{0}`](#{0})", f.name()))
            .collect();
        let all: Vec<String> = names.into_iter().chain(scalars).collect();
        if !all.is_empty() {
            let _ = writeln!(out, "- **{label}**: {}", all.join(", "));
        }
    }
    let _ = writeln!(out, "- **Table function**: [`leaderboard`](#leaderboard)\n");
    for section in Section::ALL {
        let doc_section = section.doc_section();
        let _ = writeln!(out, "## {}\n", doc_section.label);
        if let Some(d) = doc_section.description {
            let _ = writeln!(out, "{d}\n");
        }
        for spec in specs.iter().filter(|s| s.section == section) {
            function(&mut out, spec);
        }
        for f in crate::scalar::scalar_udfs() {
            let Some(doc) = f.documentation() else {
                continue;
            };
            if doc.doc_section.label != doc_section.label {
                continue;
            }
            let _ = writeln!(out, "### `{}`\n", f.name());
            let _ = writeln!(out, "Scalar function.\n");
            let _ = writeln!(out, "```sql\n{}\n```\n", doc.syntax_example);
            let _ = writeln!(out, "{}\n", doc.description);
            if let Some(example) = &doc.sql_example {
                let _ = writeln!(out, "```sql\n{example}\n```\n");
            }
        }
    }
    let _ = writeln!(out, "## Table function\n\n### `leaderboard`\n");
    let _ = writeln!(out, "```sql\nSELECT * FROM leaderboard('<query>')\n```\n");
    let _ = writeln!(out, "{}", crate::flat::DESCRIPTION);
    out
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn function(out: &mut String, spec: &FunctionSpec) {
    let d = &spec.doc;
    let _ = writeln!(out, "### `{}`\n", spec.name);
    let _ = writeln!(out, "```sql\n{}\n```\n", spec.syntax());
    let _ = writeln!(out, "{}\n", d.summary);
    if !d.method.is_empty() {
        let _ = writeln!(out, "{}\n", d.method);
    }
    let _ = writeln!(out, "| argument | type | meaning |\n|---|---|---|");
    for arg in spec.args {
        let optional = if arg.optional { " (optional)" } else { "" };
        let _ = writeln!(
            out,
            "| `{}`{optional} | {} | {} |",
            arg.name,
            arg.ty.describe(),
            cell(arg.meaning)
        );
    }
    out.push('\n');
    if spec.takes_options() {
        let _ = writeln!(out, "| option | values | default | meaning |\n|---|---|---|---|");
        for o in spec.options {
            option_row(out, o);
        }
        out.push('\n');
    }
    match spec.output {
        Output::Number => {
            let _ = writeln!(out, "**Returns** a Float64.\n");
        }
        Output::Struct(fields) | Output::List(fields) => {
            let what = if matches!(spec.output, Output::List(_)) {
                "a list of structs, one per entry"
            } else {
                "a struct"
            };
            let _ = writeln!(
                out,
                "**Returns** {what} (flat rows: `SELECT * FROM leaderboard('SELECT {}(...) FROM t')`):\n",
                spec.name
            );
            let _ = writeln!(out, "| field | type | meaning |\n|---|---|---|");
            for f in fields {
                let ty = f.ty.describe();
                let _ = writeln!(out, "| `{}` | {} | {} |", f.name, cell(&ty), cell(f.meaning));
            }
            out.push('\n');
        }
    }
    if !d.nulls.is_empty() {
        let _ = writeln!(out, "**NULLs and bad values.** {}\n", d.nulls);
    }
    if !d.degenerate.is_empty() {
        let _ = writeln!(out, "**Degenerate data.** {}\n", d.degenerate);
    }
    let _ = writeln!(out, "```sql\n{}\n```\n", d.example);
}

fn option_row(out: &mut String, o: &OptionSpec) {
    let default = o.default.map(|d| format!("`{d}`")).unwrap_or_else(|| "none".into());
    let _ = writeln!(
        out,
        "| `{}` | {} | {default} | {} |",
        o.key,
        cell(&o.ty.describe()),
        cell(o.meaning)
    );
}
