//! A prefdb SQL function is a declaration: a [`FunctionSpec`] states its arguments, options,
//! output fields and documentation parts as data, next to the family that implements it.
//!
//! Everything a user sees about a call comes from that one declaration:
//! - the argument count and the options literal's place ([`FunctionSpec::split`]), and the
//!   coercion of each argument ([`ArgType::coerce`]);
//! - option parsing with defaults, ranges and every error text ([`Options::parse`]), done
//!   once when a query is planned;
//! - the return type ([`Output::data_type`]);
//! - the syntax line (`\df`, `pg_proc`), DataFusion's [`Documentation`]
//!   (`information_schema`) and the reference in `docs/functions.md` ([`reference`]).
//!
//! One generic type, [`aggregate::PrefdbAggregate`], implements DataFusion's
//! `AggregateUDFImpl` for every aggregate; a family supplies only its accumulators.

pub mod aggregate;
mod options;
pub mod reference;

pub use options::Options;

use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::{plan_err, Result};
use datafusion::logical_expr::{DocSection, Documentation};

/// Where a function is filed in the documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Ranking,
    Agreement,
    Calibration,
    Judge,
    Significance,
    Selection,
    Crowd,
}

impl Section {
    pub const ALL: [Section; 7] = [
        Section::Ranking,
        Section::Agreement,
        Section::Crowd,
        Section::Calibration,
        Section::Judge,
        Section::Significance,
        Section::Selection,
    ];

    pub fn doc_section(self) -> DocSection {
        let (label, description) = match self {
            Section::Ranking => (
                "Pairwise ranking",
                "Leaderboards from pairwise comparisons (A/B votes, arena battles) and rankings.",
            ),
            Section::Agreement => (
                "Inter-rater agreement",
                "How much annotators or judges agree beyond chance.",
            ),
            Section::Calibration => (
                "Calibration and scorer quality",
                "How good a probability, score or ranking is.",
            ),
            Section::Judge => (
                "Judge diagnostics",
                "Position bias, self-consistency and reward of LLM judges.",
            ),
            Section::Significance => (
                "Significance tests",
                "Is a difference between two systems real? Paired tests on the same items.",
            ),
            Section::Crowd => (
                "Crowd labels and label quality",
                "The true label of each item, each annotator's reliability, and which labels are probably wrong.",
            ),
            Section::Selection => (
                "Test-time selection",
                "Expected accuracy of majority voting and best-of-n selection among k samples.",
            ),
        };
        DocSection {
            include: true,
            label,
            description: Some(description),
        }
    }
}

/// What an argument accepts, which decides its coercion and its documented type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgType {
    /// Item or rater identifiers: any string type (kept as it is) or integer type.
    Item,
    /// Any number, read as Float64.
    Number,
    /// A number that matters only through its order: integer types stay exact integers.
    Ordered,
    /// A probability in [0, 1], read as Float64.
    Probability,
    /// A binary outcome: boolean, or a number that must be 0 or 1.
    Label,
    /// A rating or label: text, or a number (integers kept exact until checked).
    Value,
    /// A pairwise outcome: text ('a', 'b', 'tie', ...) or the score of the first item in
    /// [0, 1].
    Outcome,
    /// A non-negative row weight, read as Float64.
    Weight,
    /// A count: integers as Int64; other numbers as Float64, each value checked to be whole.
    Whole,
    /// Any type the family reads itself.
    Any,
}

/// Whether `t` is one of Arrow's string types.
pub(crate) fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

impl ArgType {
    /// The type names in the documentation and `\df`.
    pub fn describe(self) -> &'static str {
        match self {
            ArgType::Item => "string or integer",
            ArgType::Number | ArgType::Ordered => "numeric",
            ArgType::Probability => "numeric in [0, 1]",
            ArgType::Label => "boolean or 0/1",
            ArgType::Value => "numeric or text",
            ArgType::Outcome => "text or numeric in [0, 1]",
            ArgType::Weight => "numeric >= 0",
            ArgType::Whole => "whole number",
            ArgType::Any => "any",
        }
    }

    /// Whether a text column is a valid value of this argument (so a trailing text argument
    /// in its place is data, not the options literal).
    pub fn accepts_text(self) -> bool {
        matches!(
            self,
            ArgType::Item | ArgType::Value | ArgType::Outcome | ArgType::Any
        )
    }

    /// The type an argument of type `t` is read as, or the error naming it.
    pub fn coerce(self, function: &str, arg: &str, t: &DataType) -> Result<DataType> {
        use DataType::*;
        let text = |t: &DataType| -> Option<DataType> {
            match t {
                t if is_text(t) => Some(t.clone()),
                Dictionary(_, v) if is_text(v) => Some(v.as_ref().clone()),
                _ => None,
            }
        };
        Ok(match self {
            ArgType::Any => t.clone(),
            ArgType::Item => crate::items::ItemKind::of(function, arg, t)?.coerced_type(t),
            ArgType::Number | ArgType::Probability | ArgType::Weight => match t {
                Null => Float64,
                t if t.is_numeric() => Float64,
                t => return plan_err!("{function}: {arg} must be numeric, got {t}"),
            },
            ArgType::Whole => match t {
                Null => Int64,
                t if t.is_integer() => Int64,
                t if t.is_numeric() => Float64,
                t => return plan_err!("{function}: {arg} must be a whole number, got {t}"),
            },
            ArgType::Ordered => match t {
                Null => Float64,
                t if t.is_numeric() => crate::numbers::order_coerced(t),
                t => return plan_err!("{function}: {arg} must be numeric, got {t}"),
            },
            ArgType::Label => match t {
                Boolean => Boolean,
                Null => Float64,
                t if t.is_numeric() => Float64,
                t => return plan_err!("{function}: {arg} must be boolean or 0/1, got {t}"),
            },
            ArgType::Value => match t {
                Null => Float64,
                t if t.is_signed_integer() => Int64,
                t if t.is_unsigned_integer() => UInt64,
                t if t.is_numeric() => Float64,
                t => match text(t) {
                    Some(t) => t,
                    None => {
                        return plan_err!("{function}: {arg} must be a number or text label, got {t}")
                    }
                },
            },
            ArgType::Outcome => match t {
                Null => Float64,
                t if t.is_numeric() => Float64,
                t => match text(t) {
                    Some(t) => t,
                    None => {
                        return plan_err!(
                            "{function}: {arg} must be text ('a', 'b', 'tie', ...) or a number in [0, 1], got {t}"
                        )
                    }
                },
            },
        })
    }
}

/// One argument of a call.
#[derive(Debug, Clone, Copy)]
pub struct Arg {
    pub name: &'static str,
    pub ty: ArgType,
    /// Optional arguments come after the required ones; each needs the ones before it.
    pub optional: bool,
    pub meaning: &'static str,
}

impl Arg {
    pub const fn required(name: &'static str, ty: ArgType, meaning: &'static str) -> Self {
        Self {
            name,
            ty,
            optional: false,
            meaning,
        }
    }

    pub const fn optional(name: &'static str, ty: ArgType, meaning: &'static str) -> Self {
        Self {
            name,
            ty,
            optional: true,
            meaning,
        }
    }
}

/// The values an option takes.
#[derive(Debug, Clone, Copy)]
pub enum OptionType {
    /// A number for which `valid` holds; `what` says which in errors and docs ("a number > 0").
    Number {
        valid: fn(f64) -> bool,
        what: &'static str,
    },
    /// An integer in `min..=max`. Every option that sizes work or state has a cap.
    Integer { min: u64, max: u64 },
    /// One of these words, case-insensitive.
    Choice(&'static [&'static str]),
    /// Text for which `valid` holds; `what` says which ("ITEM:RATING").
    Text {
        valid: fn(&str) -> bool,
        what: &'static str,
    },
}

/// One key of a function's options literal (`'key=value, key=value'`).
#[derive(Debug, Clone, Copy)]
pub struct OptionSpec {
    pub key: &'static str,
    pub ty: OptionType,
    /// The value when the key is absent, as it would be written; `None` for an option that
    /// is simply off when absent.
    pub default: Option<&'static str>,
    pub meaning: &'static str,
}

/// The type of one output field.
#[derive(Debug, Clone, Copy)]
pub enum FieldType {
    Int,
    Float,
    Bool,
    Text,
    /// The type of the call's items (a string type or Int64).
    Item,
    /// The type of the named data argument, read as an item (a string type or Int64): for
    /// results that hold values of several item arguments (tasks, workers and labels).
    ItemOf(&'static str),
    List(&'static [OutField]),
    Struct(&'static [OutField]),
}

/// One field of a function's result.
#[derive(Debug, Clone, Copy)]
pub struct OutField {
    pub name: &'static str,
    pub ty: FieldType,
    pub meaning: &'static str,
}

impl OutField {
    pub const fn new(name: &'static str, ty: FieldType, meaning: &'static str) -> Self {
        Self { name, ty, meaning }
    }
}

/// What a function returns.
#[derive(Debug, Clone, Copy)]
pub enum Output {
    /// One Float64.
    Number,
    /// One struct.
    Struct(&'static [OutField]),
    /// A list of structs, one per item, pair or bin.
    List(&'static [OutField]),
}

/// The output types of a call's item arguments: `item` for [`FieldType::Item`], and each
/// item argument's by name for [`FieldType::ItemOf`].
#[derive(Debug, Clone, PartialEq)]
pub struct ItemTypes {
    pub item: DataType,
    pub args: Vec<(&'static str, DataType)>,
}

impl ItemTypes {
    /// Only the call's item type; an [`FieldType::ItemOf`] field takes it too.
    pub fn plain(item: &DataType) -> Self {
        Self {
            item: item.clone(),
            args: Vec::new(),
        }
    }

    /// The output type of every `Item` argument of `spec` among the coerced `data` types.
    pub fn of(spec: &FunctionSpec, item: DataType, data: &[DataType]) -> Result<Self> {
        let mut args = Vec::new();
        for (arg, t) in spec.args.iter().zip(data) {
            if arg.ty == ArgType::Item {
                let kind = crate::items::ItemKind::of(spec.name, arg.name, t)?;
                args.push((arg.name, kind.output_type()));
            }
        }
        Ok(Self { item, args })
    }

    fn arg(&self, name: &str) -> &DataType {
        self.args
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(&self.item, |(_, t)| t)
    }
}

impl FieldType {
    fn data_type(self, types: &ItemTypes) -> DataType {
        match self {
            FieldType::Int => DataType::Int64,
            FieldType::Float => DataType::Float64,
            FieldType::Bool => DataType::Boolean,
            FieldType::Text => DataType::Utf8,
            FieldType::Item => types.item.clone(),
            FieldType::ItemOf(arg) => types.arg(arg).clone(),
            FieldType::List(fields) => {
                DataType::new_list(DataType::Struct(fields_for(fields, types)), true)
            }
            FieldType::Struct(fields) => DataType::Struct(fields_for(fields, types)),
        }
    }

    fn describe(self) -> String {
        match self {
            FieldType::Int => "Int64".into(),
            FieldType::Float => "Float64".into(),
            FieldType::Bool => "Boolean".into(),
            FieldType::Text => "Utf8".into(),
            FieldType::Item => "item type".into(),
            FieldType::ItemOf(arg) => format!("{arg}'s type"),
            FieldType::List(fields) => format!("list of structs ({})", field_names(fields)),
            FieldType::Struct(fields) => format!("struct ({})", field_names(fields)),
        }
    }
}

fn field_names(fields: &[OutField]) -> String {
    fields.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
}

/// Arrow fields for `fields`, with `item` as the item type; every field is nullable.
pub fn struct_fields(fields: &[OutField], item: &DataType) -> Fields {
    fields_for(fields, &ItemTypes::plain(item))
}

/// Arrow fields for `fields` with the item types of a call; every field is nullable.
pub fn fields_for(fields: &[OutField], types: &ItemTypes) -> Fields {
    fields
        .iter()
        .map(|f| Field::new(f.name, f.ty.data_type(types), true))
        .collect()
}

impl Output {
    /// The Arrow return type, with `item` as the type of the call's items.
    pub fn data_type(self, item: &DataType) -> DataType {
        self.data_type_for(&ItemTypes::plain(item))
    }

    /// The Arrow return type with the item types of a call.
    pub fn data_type_for(self, types: &ItemTypes) -> DataType {
        match self {
            Output::Number => DataType::Float64,
            Output::Struct(fields) => DataType::Struct(fields_for(fields, types)),
            Output::List(fields) => {
                DataType::new_list(DataType::Struct(fields_for(fields, types)), true)
            }
        }
    }

    pub fn fields(self) -> &'static [OutField] {
        match self {
            Output::Number => &[],
            Output::Struct(f) | Output::List(f) => f,
        }
    }
}

/// The parts of a function's documentation.
#[derive(Debug, Clone, Copy)]
pub struct Doc {
    /// One sentence: what the function computes.
    pub summary: &'static str,
    /// The formula or method, and its source (paper or reference implementation).
    pub method: &'static str,
    /// Which rows are skipped and which values are errors.
    pub nulls: &'static str,
    /// The result for degenerate data: no rows, one item, constant columns.
    pub degenerate: &'static str,
    /// A query that runs.
    pub example: &'static str,
}

/// Whether a function's result depends on the order of its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowOrder {
    /// The result is the same for any order: `ORDER BY` in the call is refused.
    Ignored,
    /// The rows are a sequence (online ratings): the call must have `ORDER BY`, which the
    /// function reads itself. `model` and `example` complete the error for a call without.
    Sequence {
        model: &'static str,
        example: &'static str,
    },
}

/// What a function's partial state holds, which decides how a grouped query is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateSize {
    /// A summary that stops growing with the rows (pair counts, running sums, bins).
    Summary,
    /// The rows themselves, up to interning (long-form ratings, crowd labels, predicted
    /// probabilities): a partial aggregate then reduces nothing, and under `GROUP BY` the
    /// rows are sent to their group's partition instead (`crate::single_phase`).
    Rows,
}

/// The declaration of one SQL function.
#[derive(Debug)]
pub struct FunctionSpec {
    pub name: &'static str,
    pub section: Section,
    pub args: &'static [Arg],
    pub options: &'static [OptionSpec],
    /// Keys a user may reach for that belong elsewhere, each with the hint given instead of
    /// "unknown option".
    pub misplaced: &'static [(&'static str, &'static str)],
    /// Whether a call keeps a place for the options literal although the function declares
    /// no options, because the other functions of its family take them in that place
    /// (`win_matrix` shares `bt_rank`'s arguments): a trailing string literal is then the
    /// options, and any key in it is an error, not an outcome.
    pub options_slot: bool,
    pub output: Output,
    pub row_order: RowOrder,
    pub state: StateSize,
    pub doc: Doc,
    /// How a reference implementation's parameters map to this function's options, shown as
    /// a table in the function reference.
    pub mapping: Option<Mapping>,
}

/// A reference implementation's parameters and the options that reproduce them.
#[derive(Debug, Clone, Copy)]
pub struct Mapping {
    /// The reference, with its version ("arena-rank 0.1.1, ContextualBradleyTerry").
    pub reference: &'static str,
    /// `(its parameter or call, the prefdb option or argument)`.
    pub rows: &'static [(&'static str, &'static str)],
}

impl FunctionSpec {
    /// What most declarations share: no options, no misplaced keys, rows in any order.
    /// A declaration states what differs and ends with `..FunctionSpec::PLAIN`.
    pub const PLAIN: FunctionSpec = FunctionSpec {
        name: "",
        section: Section::Ranking,
        args: &[],
        options: &[],
        misplaced: &[],
        options_slot: false,
        output: Output::Number,
        row_order: RowOrder::Ignored,
        state: StateSize::Summary,
        doc: Doc {
            summary: "",
            method: "",
            nulls: "",
            degenerate: "",
            example: "",
        },
        mapping: None,
    };

    pub fn required_args(&self) -> usize {
        self.args.iter().filter(|a| !a.optional).count()
    }

    pub fn takes_options(&self) -> bool {
        self.options_slot || !self.options.is_empty()
    }

    /// The most arguments a call may have, counting the options literal.
    pub fn max_args(&self) -> usize {
        self.args.len() + usize::from(self.takes_options())
    }

    /// The call syntax, `bt_rank(item_a, item_b [, outcome [, weight]] [, options])`.
    pub fn syntax(&self) -> String {
        format!("{}({})", self.name, self.argument_list())
    }

    /// The argument list of [`FunctionSpec::syntax`], as `\df` shows it.
    pub fn argument_list(&self) -> String {
        let mut text = String::new();
        let mut open = 0;
        for (i, arg) in self.args.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            if arg.optional {
                text.push_str(&format!(" [{sep}{}", arg.name));
                open += 1;
            } else {
                text.push_str(&format!("{sep}{}", arg.name));
            }
        }
        text.push_str(&"]".repeat(open));
        if !self.options.is_empty() {
            text.push_str(" [, options]");
        }
        if let RowOrder::Sequence { .. } = self.row_order {
            text.push_str(" ORDER BY key");
        }
        text
    }

    /// The error for a call with `n` arguments, unless `n` is a valid count.
    pub fn check_arg_count(&self, n: usize) -> Result<()> {
        let (min, max) = (self.required_args(), self.max_args());
        if (min..=max).contains(&n) {
            return Ok(());
        }
        let count = match max - min {
            0 => min.to_string(),
            1 => format!("{min} or {max}"),
            _ => format!("{min} to {max}"),
        };
        let plural = if max == 1 { "" } else { "s" };
        plan_err!(
            "{} takes {count} argument{plural}, got {n}: {}",
            self.name,
            self.syntax()
        )
    }

    /// How many of a call's `n` arguments are data, given whether the last one is a string
    /// literal: a string literal in the last place, after the required arguments, is the
    /// options of a function that takes them.
    pub fn split(&self, n: usize, last_is_string_literal: bool) -> Result<usize> {
        self.check_arg_count(n)?;
        let options = self.takes_options() && n > self.required_args() && last_is_string_literal;
        let data = n - usize::from(options);
        if data > self.args.len() {
            return plan_err!(
                "{}: the last argument must be {}",
                self.name,
                self.options_example()
            );
        }
        Ok(data)
    }

    /// The coerced types of a call's arguments: each data argument by its [`ArgType`]; a
    /// last argument beyond the data arguments, or a text one where a data argument takes
    /// no text, is the options literal and stays text.
    pub fn coerce(&self, types: &[DataType]) -> Result<Vec<DataType>> {
        self.check_arg_count(types.len())?;
        self.coerce_rest(types, Vec::with_capacity(types.len()))
    }

    /// As [`FunctionSpec::coerce`], for the arguments after the `coerced` ones a family
    /// coerced itself.
    pub fn coerce_rest(
        &self,
        types: &[DataType],
        mut coerced: Vec<DataType>,
    ) -> Result<Vec<DataType>> {
        for (i, t) in types.iter().enumerate().skip(coerced.len()) {
            let is_last = i + 1 == types.len();
            let could_be_options =
                self.takes_options() && is_last && i >= self.required_args() && is_text(t);
            let arg = self.args.get(i);
            let accepts_text = arg.is_some_and(|a| a.ty.accepts_text());
            coerced.push(match arg {
                Some(_) if could_be_options && !accepts_text => t.clone(),
                Some(a) => a.ty.coerce(self.name, a.name, t)?,
                None if is_text(t) => t.clone(),
                None => {
                    return plan_err!(
                        "{}: the last argument must be {}",
                        self.name,
                        self.options_example()
                    )
                }
            });
        }
        Ok(coerced)
    }

    /// "the options string literal, e.g. 'key=...'", for errors about its place.
    fn options_example(&self) -> String {
        match self.options.first() {
            Some(o) => format!("the options string literal, e.g. '{}=...'", o.key),
            None => "the options string literal".to_string(),
        }
    }

    /// DataFusion's documentation of the function, from the declaration.
    pub fn documentation(&self) -> Documentation {
        let d = &self.doc;
        let mapping = self.mapping.map(|m| {
            let rows: Vec<String> = m.rows.iter().map(|(r, p)| format!("{r} = {p}")).collect();
            format!("{}: {}.", m.reference, rows.join("; "))
        });
        let description = [d.summary, d.method, d.nulls, d.degenerate]
            .into_iter()
            .chain(mapping.as_deref())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let mut builder =
            Documentation::builder(self.section.doc_section(), description, self.syntax());
        for arg in self.args {
            builder =
                builder.with_argument(arg.name, format!("{} ({})", arg.meaning, arg.ty.describe()));
        }
        if self.takes_options() {
            let keys: Vec<String> = self.options.iter().map(option_summary).collect();
            builder = builder.with_argument(
                "options",
                format!(
                    "String literal 'key=value, ...' with keys: {}.",
                    keys.join("; ")
                ),
            );
        }
        builder.with_sql_example(d.example).build()
    }
}

/// `prior` (a number >= 0, default 0.01): meaning.
fn option_summary(o: &OptionSpec) -> String {
    let default = o
        .default
        .map(|d| format!(", default {d}"))
        .unwrap_or_default();
    format!("{} ({}{default}): {}", o.key, o.ty.describe(), o.meaning)
}

impl OptionType {
    pub fn describe(self) -> String {
        match self {
            OptionType::Number { what, .. } => what.to_string(),
            OptionType::Integer { min, max } => format!("an integer from {min} to {max}"),
            OptionType::Choice(words) => format!("one of {}", words.join(", ")),
            OptionType::Text { what, .. } => what.to_string(),
        }
    }
}

/// The declarations of every prefdb function, aggregates then scalars, in documentation
/// order.
pub fn all() -> Vec<&'static FunctionSpec> {
    let mut specs = crate::specs();
    specs.extend(crate::scalar::SPECS);
    specs
}

/// Whether `spec` declares a scalar function (rather than an aggregate).
pub fn is_scalar(spec: &FunctionSpec) -> bool {
    crate::scalar::SPECS.iter().any(|s| std::ptr::eq(*s, spec))
}

/// The declaration of the function called `name`.
pub fn find(name: &str) -> Option<&'static FunctionSpec> {
    all().into_iter().find(|s| s.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_declared_default_parses() {
        for spec in all() {
            Options::parse(spec, None).unwrap_or_else(|e| panic!("{}: {e}", spec.name));
        }
    }
}

/// Validity tests for number options, named for the range they accept.
pub mod valid {
    pub fn finite(v: f64) -> bool {
        v.is_finite()
    }
    pub fn positive(v: f64) -> bool {
        v.is_finite() && v > 0.0
    }
    pub fn non_negative(v: f64) -> bool {
        v.is_finite() && v >= 0.0
    }
    /// Strictly between 0 and 1 (a confidence level).
    pub fn open_unit(v: f64) -> bool {
        v > 0.0 && v < 1.0
    }
}

/// `confidence`, shared by every function with intervals.
pub const CONFIDENCE: OptionSpec = OptionSpec {
    key: "confidence",
    ty: OptionType::Number {
        valid: valid::open_unit,
        what: "a number between 0 and 1",
    },
    default: Some("0.95"),
    meaning: "Coverage of the intervals.",
};

/// `seed`, shared by every function with bootstrap intervals.
pub const SEED: OptionSpec = OptionSpec {
    key: "seed",
    ty: OptionType::Integer {
        min: 0,
        max: u64::MAX,
    },
    default: Some("42"),
    meaning: "Seed of the bootstrap's random draws; the intervals are the same for a seed whatever the partitioning.",
};
