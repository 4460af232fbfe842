//! `docs/functions.md`, the function reference, generated from the declarations
//! (`tests/readme.rs` fails when the committed file is stale).

use super::{FunctionSpec, OptionSpec, Output, Section};
use std::fmt::Write;

/// The README's index: one row per documentation section, linking each function to
/// `docs/functions.md`.
pub fn index() -> String {
    let mut out = String::from("| family | functions |\n|---|---|\n");
    for (label, names) in sections() {
        let links: Vec<String> = names
            .iter()
            .map(|n| format!("[`{n}`](docs/functions.md#{n})"))
            .collect();
        let _ = writeln!(out, "| {label} | {} |", links.join(", "));
    }
    let _ = writeln!(
        out,
        "| Table function | [`leaderboard`](docs/functions.md#leaderboard) |"
    );
    out
}

/// Each documentation section's label and function names, aggregates then scalars.
fn sections() -> Vec<(&'static str, Vec<&'static str>)> {
    let specs = super::all();
    Section::ALL
        .iter()
        .map(|section| {
            let names = specs
                .iter()
                .filter(|s| s.section == *section)
                .map(|s| s.name)
                .collect::<Vec<_>>();
            (section.doc_section().label, names)
        })
        .filter(|(_, names)| !names.is_empty())
        .collect()
}

/// The whole reference, in documentation order.
pub fn markdown() -> String {
    let specs = super::all();
    let mut out = String::from(
        "# prefdb function reference\n\n\
         Generated from each function's declaration in `udfs/src/` by \
         `UPDATE_README=1 cargo test --test readme`; do not edit by hand. The same declarations \
         give `information_schema.routines`, psql's `\\df` and the error messages.\n\n\
         Options are one trailing string literal, `'key=value, key=value'`: keys are \
         case-insensitive, an unknown key or a value out of range is an error when the query \
         is planned, and an absent key takes its default.\n\n",
    );
    for (label, names) in sections() {
        let links: Vec<String> = names.iter().map(|n| format!("[`{n}`](#{n})")).collect();
        let _ = writeln!(out, "- **{label}**: {}", links.join(", "));
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
    if super::is_scalar(spec) {
        let _ = writeln!(out, "Scalar function: one value per row.\n");
    }
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
    if !spec.options.is_empty() {
        let _ = writeln!(
            out,
            "| option | values | default | meaning |\n|---|---|---|---|"
        );
        for o in spec.options {
            option_row(out, o);
        }
        out.push('\n');
    }
    if let Some(m) = spec.mapping {
        let _ = writeln!(out, "| {} | prefdb |\n|---|---|", cell(m.reference));
        for (theirs, ours) in m.rows {
            let _ = writeln!(out, "| {} | {} |", cell(theirs), cell(ours));
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
            let flat = if super::is_scalar(spec) {
                String::new()
            } else {
                format!(
                    " (flat rows: `SELECT * FROM leaderboard('SELECT {}(...) FROM t')`)",
                    spec.name
                )
            };
            let _ = writeln!(out, "**Returns** {what}{flat}:\n");
            let _ = writeln!(out, "| field | type | meaning |\n|---|---|---|");
            for f in fields {
                let ty = f.ty.describe();
                let _ = writeln!(
                    out,
                    "| `{}` | {} | {} |",
                    f.name,
                    cell(&ty),
                    cell(f.meaning)
                );
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
    let default = o
        .default
        .map(|d| format!("`{d}`"))
        .unwrap_or_else(|| "none".into());
    let _ = writeln!(
        out,
        "| `{}` | {} | {default} | {} |",
        o.key,
        cell(&o.ty.describe()),
        cell(o.meaning)
    );
}
