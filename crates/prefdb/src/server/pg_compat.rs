//! The few Postgres functions that clients call on connect and that neither DataFusion nor
//! datafusion-postgres's `pg_catalog` provide: `version()` in the form drivers parse
//! (SQLAlchemy reads "PostgreSQL X.Y"), `current_setting(name)` (Grafana asks for
//! `server_version_num`), `pg_function_is_visible(oid)` (psql's `\df`), and prefdb's own
//! functions in `pg_proc`; and the session statements upstream lacks ([`SessionStatements`]).

use async_trait::async_trait;
use datafusion::arrow::array::{
    new_null_array, Array, ArrayRef, Int64Array, ListArray, ListBuilder, RecordBatch, StringArray,
    StringBuilder,
};
use datafusion::arrow::datatypes::Int16Type;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::common::{exec_err, ParamValues, Result, ScalarValue};
use datafusion::datasource::MemTable;
use datafusion::logical_expr::LogicalPlan;
use datafusion::logical_expr::{
    create_udf, ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    TypeSignature, Volatility,
};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{Reset, Statement};
use datafusion_postgres::hooks::HookClient;
use datafusion_postgres::pgwire::api::results::{
    DataRowEncoder, FieldFormat, FieldInfo, QueryResponse, Response, Tag,
};
use datafusion_postgres::pgwire::api::{ClientInfo, Type};
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use datafusion_postgres::QueryHook;
use std::collections::HashMap;
use std::sync::Arc;

/// The Postgres version the server reports (pgwire's `server_version` parameter).
pub const SERVER_VERSION: &str = "16.6";
const SERVER_VERSION_NUM: &str = "160006";

fn version_string() -> String {
    format!(
        "PostgreSQL {SERVER_VERSION} on x86_64-pc-linux-gnu, compatible; prefdb {} on Apache DataFusion 55",
        env!("CARGO_PKG_VERSION")
    )
}

fn setting(name: &str) -> Result<&'static str> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "server_version" => SERVER_VERSION,
        "server_version_num" => SERVER_VERSION_NUM,
        "search_path" => "\"$user\", public",
        "standard_conforming_strings" => "on",
        "server_encoding" | "client_encoding" => "UTF8",
        "datestyle" => "ISO, MDY",
        "intervalstyle" => "postgres",
        "timezone" => "UTC",
        "integer_datetimes" => "on",
        "max_identifier_length" => "63",
        "transaction_isolation" | "default_transaction_isolation" => "read committed",
        "transaction_read_only" | "default_transaction_read_only" => "off",
        "lc_collate" | "lc_ctype" => "C.UTF-8",
        "application_name" => "",
        other => return exec_err!("unrecognized configuration parameter \"{other}\""),
    })
}

/// A catalog function whose answer is the same for every argument, taking any arguments
/// of the given counts: what a Postgres database with no indexes, sequences, comments or
/// private types answers.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Constant {
    name: &'static str,
    signature: Signature,
    value: ScalarValue,
}

impl ScalarUDFImpl for Constant {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(self.value.data_type())
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Ok(ColumnarValue::Scalar(self.value.clone()))
    }
}

fn constant_of(name: &'static str, arities: &[usize], value: ScalarValue) -> ScalarUDF {
    let signature = Signature::one_of(
        arities
            .iter()
            .map(|&n| match n {
                0 => TypeSignature::Nullary,
                n => TypeSignature::Any(n),
            })
            .collect(),
        Volatility::Stable,
    );
    ScalarUDF::new_from_impl(Constant {
        name,
        signature,
        value,
    })
}

/// `pg_size_pretty(bytes)`: Postgres's rounding to bytes, kB, MB, GB, TB, PB.
fn size_pretty(bytes: i64) -> String {
    let mut size = bytes;
    for unit in ["bytes", "kB", "MB", "GB", "TB"] {
        if size.unsigned_abs() < 10 * 1024 {
            return format!("{size} {unit}");
        }
        size = (size + size.signum() * 512) / 1024;
    }
    format!("{size} PB")
}

/// `pg_int_array(text)`: an `int2vector` (`1 3`) or `int2[]` (`{1,3}`) catalog column as
/// datafusion-pg-catalog serves it, text, read as the array Postgres has
/// ([`super::sql_compat`] routes such columns through it).
fn int_array(text: &str) -> Option<Vec<Option<i16>>> {
    text.trim_matches(|c| matches!(c, '{' | '}' | '[' | ']'))
        .split([',', ' '])
        .filter(|part| !part.is_empty())
        .map(|part| part.trim().parse().ok().map(Some))
        .collect()
}

/// The oids of an `oidvector` or `oid[]` catalog column as datafusion-pg-catalog serves it
/// (`25 1043`, `{25,1043}` or `[25, 1043]`); `None` if one is not a number.
fn oids(text: &str) -> Option<Vec<u32>> {
    text.trim_matches(|c| matches!(c, '{' | '}' | '[' | ']'))
        .split([',', ' '])
        .filter(|part| !part.is_empty())
        .map(|part| part.trim().parse().ok())
        .collect()
}

/// How Postgres prints a type's oid as `regtype`, for the types functions take and return;
/// others print as their number, as Postgres prints an oid it does not know.
fn regtype_name(oid: u32) -> String {
    let name = match oid {
        16 => "boolean",
        17 => "bytea",
        18 => "\"char\"",
        19 => "name",
        20 => "bigint",
        21 => "smallint",
        23 => "integer",
        25 => "text",
        26 => "oid",
        114 => "json",
        650 => "cidr",
        700 => "real",
        701 => "double precision",
        869 => "inet",
        1042 => "character",
        1043 => "character varying",
        1082 => "date",
        1083 => "time without time zone",
        1114 => "timestamp without time zone",
        1184 => "timestamp with time zone",
        1186 => "interval",
        1700 => "numeric",
        2249 => "record",
        2276 => "\"any\"",
        2277 => "anyarray",
        2278 => "void",
        2283 => "anyelement",
        2950 => "uuid",
        3802 => "jsonb",
        _ => return oid.to_string(),
    };
    name.to_string()
}

/// A text-array catalog column as datafusion-pg-catalog serves it (`['acl', 'grantor']`,
/// or Postgres's `{acl,grantor}`), read as its elements.
fn text_array(text: &str) -> Vec<String> {
    text.trim_matches(|c| matches!(c, '{' | '}' | '[' | ']'))
        .split(',')
        .map(|part| {
            part.trim()
                .trim_matches(|c| c == '\'' || c == '"')
                .to_string()
        })
        .filter(|part| !part.is_empty())
        .collect()
}

/// `regexp_split_to_array(text, pattern)`: the pieces of `text` between matches of
/// `pattern`, as Postgres splits them.
fn regexp_split(text: &str, pattern: &regex::Regex) -> Vec<String> {
    pattern.split(text).map(str::to_string).collect()
}

/// `json_build_object(key, value, ...)` as text (SQLAlchemy's column reflection builds its
/// identity options with it).
#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonBuildObject {
    signature: Signature,
}

fn json_value(value: &ScalarValue) -> String {
    if value.is_null() {
        return "null".to_string();
    }
    match value {
        ScalarValue::Boolean(Some(b)) => b.to_string(),
        v if v.data_type().is_numeric() => v.to_string(),
        v => {
            let text = v.to_string();
            let mut out = String::with_capacity(text.len() + 2);
            out.push('"');
            for c in text.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
    }
}

impl ScalarUDFImpl for JsonBuildObject {
    fn name(&self) -> &str {
        "json_build_object"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if args.args.len() % 2 != 0 {
            return exec_err!("json_build_object: the arguments must be key, value pairs");
        }
        let n = args.number_rows;
        let columns = args
            .args
            .iter()
            .map(|a| a.to_array(n))
            .collect::<Result<Vec<_>>>()?;
        let rows = (0..n)
            .map(|row| {
                let mut parts = Vec::with_capacity(columns.len() / 2);
                for pair in columns.chunks(2) {
                    let key = ScalarValue::try_from_array(&pair[0], row)?;
                    let value = ScalarValue::try_from_array(&pair[1], row)?;
                    let key = match key.is_null() {
                        true => return exec_err!("json_build_object: a key is NULL"),
                        false => json_value(&ScalarValue::Utf8(Some(key.to_string()))),
                    };
                    parts.push(format!("{key} : {}", json_value(&value)));
                }
                Ok(Some(format!("{{{}}}", parts.join(", "))))
            })
            .collect::<Result<StringArray>>()?;
        Ok(ColumnarValue::Array(Arc::new(rows)))
    }
}

/// The Postgres name of a column type, from the Arrow type name DataFusion's
/// `information_schema.columns.data_type` holds ([`super::sql_compat`] reads it through
/// this): the names `information_schema` gives in Postgres.
fn postgres_type_name(arrow: &str) -> String {
    let head = arrow.split('(').next().unwrap_or(arrow);
    match head {
        "Utf8" | "LargeUtf8" | "Utf8View" | "Null" => "text",
        "Int8" | "Int16" | "UInt8" => "smallint",
        "Int32" | "UInt16" => "integer",
        "Int64" | "UInt32" => "bigint",
        "UInt64" | "Decimal32" | "Decimal64" | "Decimal128" | "Decimal256" => "numeric",
        "Float16" | "Float32" => "real",
        "Float64" => "double precision",
        "Boolean" => "boolean",
        "Timestamp" if arrow.contains(',') => "timestamp with time zone",
        "Timestamp" => "timestamp without time zone",
        "Date32" | "Date64" => "date",
        "Time32" | "Time64" => "time without time zone",
        "Interval" | "Duration" => "interval",
        "Binary" | "LargeBinary" | "BinaryView" | "FixedSizeBinary" => "bytea",
        "List" | "LargeList" | "FixedSizeList" | "ListView" | "LargeListView" => "ARRAY",
        "Struct" | "Map" | "Union" | "Dictionary" => "USER-DEFINED",
        other => return other.to_ascii_lowercase(),
    }
    .to_string()
}

/// A one-argument function's result for `input`: a scalar for a scalar, else the array.
fn like_input(input: &ColumnarValue, result: ArrayRef) -> Result<ColumnarValue> {
    Ok(match input {
        ColumnarValue::Scalar(_) => ColumnarValue::Scalar(ScalarValue::try_from_array(&result, 0)?),
        ColumnarValue::Array(_) => ColumnarValue::Array(result),
    })
}

/// A function of one text column: `f` maps the column's values, and the result is a scalar
/// for a scalar argument.
fn string_column(
    arg: &ColumnarValue,
    f: impl Fn(&StringArray) -> ArrayRef,
) -> Result<ColumnarValue> {
    let texts = arg.to_array(1)?;
    let texts = texts
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("coerced to Utf8");
    like_input(arg, f(texts))
}

/// A list of text per value of `texts`: `elements` of it, NULL where it gives none.
fn text_lists(texts: &StringArray, elements: impl Fn(&str) -> Option<Vec<String>>) -> ArrayRef {
    let mut lists = ListBuilder::new(StringBuilder::new());
    for text in texts.iter() {
        match text.and_then(&elements) {
            Some(elements) => {
                for element in elements {
                    lists.values().append_value(element);
                }
                lists.append(true);
            }
            None => lists.append(false),
        }
    }
    Arc::new(lists.finish())
}

/// Register the functions on the session the server serves.
pub fn register(ctx: &SessionContext) {
    ctx.register_udf(create_udf(
        "pg_type_name",
        vec![DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            string_column(&args[0], |names| {
                Arc::new(
                    names
                        .iter()
                        .map(|n| n.map(postgres_type_name))
                        .collect::<StringArray>(),
                )
            })
        }),
    ));
    ctx.register_udf(ScalarUDF::new_from_impl(JsonBuildObject {
        signature: Signature::one_of(
            vec![TypeSignature::VariadicAny, TypeSignature::Nullary],
            Volatility::Immutable,
        ),
    }));
    ctx.register_udf(create_udf(
        "pg_int_array",
        vec![DataType::Utf8],
        DataType::new_list(DataType::Int16, true),
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            string_column(&args[0], |texts| {
                Arc::new(ListArray::from_iter_primitive::<Int16Type, _, _>(
                    texts.iter().map(|t| t.and_then(int_array)),
                ))
            })
        }),
    ));
    // pgcli's function completion reads `proargtypes::regtype[]` (rewritten to this).
    ctx.register_udf(create_udf(
        "pg_regtype_array",
        vec![DataType::Utf8],
        DataType::new_list(DataType::Utf8, true),
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            string_column(&args[0], |texts| {
                text_lists(texts, |t| {
                    oids(t).map(|oids| oids.into_iter().map(regtype_name).collect())
                })
            })
        }),
    ));
    ctx.register_udf(create_udf(
        "pg_regtype_name",
        vec![DataType::Int64],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let oids = args[0].to_array(1)?;
            let oids = oids
                .as_any()
                .downcast_ref::<Int64Array>()
                .expect("coerced to Int64");
            let out: StringArray = oids
                .iter()
                .map(|o| {
                    o.map(|o| match u32::try_from(o) {
                        Ok(0) => "-".to_string(),
                        Ok(o) => regtype_name(o),
                        Err(_) => o.to_string(),
                    })
                })
                .collect();
            like_input(&args[0], Arc::new(out))
        }),
    ));
    ctx.register_udf(create_udf(
        "pg_text_array",
        vec![DataType::Utf8],
        DataType::new_list(DataType::Utf8, true),
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            string_column(&args[0], |texts| text_lists(texts, |t| Some(text_array(t))))
        }),
    ));
    // `regexp_split_to_table(t, p)` is rewritten to `unnest(regexp_split_to_array(t, p))`.
    ctx.register_udf(create_udf(
        "regexp_split_to_array",
        vec![DataType::Utf8, DataType::Utf8],
        DataType::new_list(DataType::Utf8, true),
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let rows = args
                .iter()
                .find_map(|a| match a {
                    ColumnarValue::Array(a) => Some(a.len()),
                    ColumnarValue::Scalar(_) => None,
                })
                .unwrap_or(1);
            let texts = args[0].to_array(rows)?;
            let patterns = args[1].to_array(rows)?;
            let texts = texts.as_any().downcast_ref::<StringArray>().expect("Utf8");
            let patterns = patterns
                .as_any()
                .downcast_ref::<StringArray>()
                .expect("Utf8");
            let mut lists = ListBuilder::new(StringBuilder::new());
            let mut compiled: Option<(String, regex::Regex)> = None;
            for (text, pattern) in texts.iter().zip(patterns.iter()) {
                let (Some(text), Some(pattern)) = (text, pattern) else {
                    lists.append(false);
                    continue;
                };
                if compiled.as_ref().is_none_or(|(p, _)| p != pattern) {
                    let re = regex::Regex::new(pattern).map_err(|e| {
                        datafusion::common::DataFusionError::Execution(format!(
                            "invalid regular expression {pattern:?}: {e}"
                        ))
                    })?;
                    compiled = Some((pattern.to_string(), re));
                }
                let (_, re) = compiled.as_ref().expect("compiled above");
                for piece in regexp_split(text, re) {
                    lists.values().append_value(piece);
                }
                lists.append(true);
            }
            let result: ArrayRef = Arc::new(lists.finish());
            match args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_))) {
                true => Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                    &result, 0,
                )?)),
                false => Ok(ColumnarValue::Array(result)),
            }
        }),
    ));
    let text_null = ScalarValue::Utf8(None);
    for f in [
        // psql's \dT, SQLAlchemy's column reflection.
        constant_of("pg_type_is_visible", &[1], ScalarValue::Boolean(Some(true))),
        constant_of(
            "pg_collation_is_visible",
            &[1],
            ScalarValue::Boolean(Some(true)),
        ),
        // No advisory locks to release (asyncpg's pool reset).
        constant_of("pg_advisory_unlock_all", &[0], ScalarValue::Null),
        // No sequences, indexes or comments.
        constant_of("pg_get_serial_sequence", &[2], text_null.clone()),
        constant_of("pg_get_indexdef", &[1, 3], text_null.clone()),
        constant_of("obj_description", &[1, 2], text_null.clone()),
        constant_of("col_description", &[2], text_null.clone()),
        constant_of("shobj_description", &[2], text_null),
        // psql's \dt+ and \d+: tables live in files, not in the database's storage.
        constant_of("pg_table_size", &[1], ScalarValue::Int64(None)),
        constant_of("pg_total_relation_size", &[1], ScalarValue::Int64(None)),
        constant_of("pg_relation_size", &[1, 2], ScalarValue::Int64(None)),
    ] {
        ctx.register_udf(f);
    }
    ctx.register_udf(create_udf(
        "pg_size_pretty",
        vec![DataType::Int64],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let sizes = args[0].to_array(1)?;
            let sizes = sizes
                .as_any()
                .downcast_ref::<Int64Array>()
                .expect("coerced to Int64");
            let out: StringArray = sizes.iter().map(|s| s.map(size_pretty)).collect();
            like_input(&args[0], Arc::new(out))
        }),
    ));
    ctx.register_udf(create_udf(
        "version",
        vec![],
        DataType::Utf8,
        Volatility::Stable,
        Arc::new(|_args: &[ColumnarValue]| {
            Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(
                version_string(),
            ))))
        }),
    ));
    ctx.register_udf(create_udf(
        "current_setting",
        vec![DataType::Utf8],
        DataType::Utf8,
        Volatility::Stable,
        Arc::new(|args: &[ColumnarValue]| match &args[0] {
            ColumnarValue::Scalar(ScalarValue::Utf8(name)) => {
                Ok(ColumnarValue::Scalar(ScalarValue::Utf8(match name {
                    Some(n) => Some(setting(n)?.to_string()),
                    None => None,
                })))
            }
            ColumnarValue::Scalar(other) => exec_err!("current_setting takes text, got {other}"),
            ColumnarValue::Array(names) => {
                let names = names.as_any().downcast_ref::<StringArray>().unwrap();
                let values = (0..names.len())
                    .map(|i| {
                        if names.is_null(i) {
                            Ok(None)
                        } else {
                            setting(names.value(i)).map(Some)
                        }
                    })
                    .collect::<Result<StringArray>>()?;
                Ok(ColumnarValue::Array(Arc::new(values) as ArrayRef))
            }
        }),
    ));
    // SQLAlchemy's psycopg dialect looks up optional types (hstore) by name on connect;
    // prefdb has none of them, so the answer is NULL, as Postgres gives for a missing type.
    ctx.register_udf(constant_of("to_regtype", &[1], ScalarValue::Int64(None)));
    ctx.register_udf(constant_of(
        "pg_function_is_visible",
        &[1],
        ScalarValue::Boolean(Some(true)),
    ));
}

/// `pg_catalog` whose `pg_proc` also lists prefdb's functions, so that psql's `\df` (and a
/// BI tool's function browser) shows them, with their call syntax as the argument list.
#[derive(Debug)]
struct CatalogWithFunctions {
    inner: Arc<dyn SchemaProvider>,
    pg_proc: Arc<dyn TableProvider>,
    pg_settings: Arc<dyn TableProvider>,
}

#[async_trait]
impl SchemaProvider for CatalogWithFunctions {
    fn table_names(&self) -> Vec<String> {
        self.inner.table_names()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        match name {
            "pg_proc" => return Ok(Some(Arc::clone(&self.pg_proc))),
            "pg_settings" => return Ok(Some(Arc::clone(&self.pg_settings))),
            _ => {}
        }
        self.inner.table(name).await
    }

    fn table_exist(&self, name: &str) -> bool {
        self.inner.table_exist(name)
    }
}

/// Settings clients read from `pg_settings` that datafusion-pg-catalog's table lacks, as
/// PostgreSQL 16 reports them (pgjdbc reads `max_index_keys` for its key metadata).
const MISSING_SETTINGS: &[(&str, &str)] = &[
    ("max_index_keys", "32"),
    ("max_identifier_length", "63"),
    ("block_size", "8192"),
    ("integer_datetimes", "on"),
    ("server_encoding", "UTF8"),
];

/// `pg_settings` with the [`MISSING_SETTINGS`] it lacks added.
async fn settings_with_additions(ctx: &SessionContext) -> Result<Arc<dyn TableProvider>> {
    let rows = ctx
        .sql("SELECT * FROM pg_catalog.pg_settings")
        .await?
        .collect()
        .await?;
    let schema = ctx
        .table("pg_catalog.pg_settings")
        .await?
        .schema()
        .inner()
        .clone();
    let present: Vec<String> = ctx
        .sql("SELECT name FROM pg_catalog.pg_settings")
        .await?
        .collect()
        .await?
        .iter()
        .flat_map(|b| {
            let names = b.column(0).as_any().downcast_ref::<StringArray>().cloned();
            names
                .into_iter()
                .flat_map(|a| a.iter().flatten().map(str::to_string).collect::<Vec<_>>())
        })
        .collect();
    let missing: Vec<&(&str, &str)> = MISSING_SETTINGS
        .iter()
        .filter(|(name, _)| !present.iter().any(|p| p == name))
        .collect();
    let n = missing.len();
    let columns = schema
        .fields()
        .iter()
        .map(|f| -> Result<ArrayRef> {
            let text = |values: Vec<&str>| {
                datafusion::arrow::compute::cast(&StringArray::from(values), f.data_type())
            };
            Ok(match f.name().as_str() {
                "name" => text(missing.iter().map(|(k, _)| *k).collect())?,
                "setting" | "reset_val" | "boot_val" => {
                    text(missing.iter().map(|(_, v)| *v).collect())?
                }
                _ if f.is_nullable() => new_null_array(f.data_type(), n),
                _ => ScalarValue::new_default(f.data_type())?.to_array_of_size(n)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut batches = rows;
    batches.push(RecordBatch::try_new(Arc::clone(&schema), columns)?);
    Ok(Arc::new(MemTable::try_new(schema, vec![batches])?))
}

/// First oid given to a prefdb function; Postgres's built-ins and the emulation's dynamic
/// oids stay far below it.
const FIRST_FUNCTION_OID: i64 = 900_000;

/// Add prefdb's functions to `pg_proc` and register `pg_get_function_arguments` /
/// `pg_get_function_result` that describe them. Call after `setup_pg_catalog`.
pub async fn register_function_catalog(ctx: &SessionContext, catalog: &str) -> Result<()> {
    let Some(catalog_provider) = ctx.catalog(catalog) else {
        return exec_err!("no catalog {catalog}");
    };
    let Some(inner) = catalog_provider.schema("pg_catalog") else {
        return exec_err!("pg_catalog is not set up");
    };
    let public_oid = ctx
        .sql("SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'public'")
        .await?
        .collect()
        .await?
        .first()
        .filter(|b| b.num_rows() > 0)
        .map(|b| ScalarValue::try_from_array(b.column(0), 0))
        .transpose()?;
    let Some(public_oid) = public_oid else {
        return exec_err!("pg_namespace has no public schema");
    };
    let static_rows = ctx
        .sql("SELECT * FROM pg_catalog.pg_proc")
        .await?
        .collect()
        .await?;
    let schema = match static_rows.first() {
        Some(b) => b.schema(),
        None => return exec_err!("pg_proc is empty"),
    };

    // (oid, name, kind, arguments, result) for every prefdb function.
    let mut functions = Vec::new();
    let state = ctx.state();
    for (i, name) in prefdb_udfs::function_names().into_iter().enumerate() {
        let oid = FIRST_FUNCTION_OID + i as i64;
        let (kind, doc) = if let Some(f) = state.aggregate_functions().get(&name) {
            ("a", f.documentation().cloned())
        } else if let Some(f) = state.scalar_functions().get(&name) {
            ("f", f.documentation().cloned())
        } else {
            continue;
        };
        // The argument list as the declaration states it; a function without one (the
        // scalars) shows its documented syntax's.
        let arguments = match prefdb_udfs::spec::find(&name) {
            Some(spec) => spec.argument_list(),
            None => doc
                .as_ref()
                .and_then(|d| {
                    let syntax = &d.syntax_example;
                    let (_, rest) = syntax.split_once('(')?;
                    Some(rest.rsplit_once(')')?.0.to_string())
                })
                .unwrap_or_default(),
        };
        let result = if kind == "a" { "aggregate" } else { "scalar" }.to_string();
        functions.push((oid, name, kind, arguments, result));
    }

    let n = functions.len();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let values: Option<Vec<ScalarValue>> = match field.name().as_str() {
            "oid" => Some(
                functions
                    .iter()
                    .map(|f| ScalarValue::Int64(Some(f.0)))
                    .collect(),
            ),
            "proname" => Some(
                functions
                    .iter()
                    .map(|f| ScalarValue::Utf8(Some(f.1.clone())))
                    .collect(),
            ),
            "pronamespace" => Some(vec![public_oid.clone(); n]),
            "prokind" => Some(
                functions
                    .iter()
                    .map(|f| ScalarValue::Utf8(Some(f.2.to_string())))
                    .collect(),
            ),
            _ => None,
        };
        let array = match values {
            Some(values) => {
                let mut cast = Vec::with_capacity(n);
                for v in values {
                    cast.push(v.cast_to(field.data_type())?);
                }
                ScalarValue::iter_to_array(cast)?
            }
            None if field.is_nullable() => new_null_array(field.data_type(), n),
            None => ScalarValue::new_default(field.data_type())?.to_array_of_size(n)?,
        };
        columns.push(array);
    }
    let ours = RecordBatch::try_new(Arc::clone(&schema), columns)?;
    let mut batches = static_rows;
    batches.push(ours);
    let pg_proc: Arc<dyn TableProvider> = Arc::new(MemTable::try_new(schema, vec![batches])?);
    let pg_settings = settings_with_additions(ctx).await?;
    catalog_provider.register_schema(
        "pg_catalog",
        Arc::new(CatalogWithFunctions {
            inner,
            pg_proc,
            pg_settings,
        }),
    )?;

    let describe: Arc<HashMap<i64, (String, String)>> = Arc::new(
        functions
            .into_iter()
            .map(|(oid, _, _, args, result)| (oid, (args, result)))
            .collect(),
    );
    for (name, pick_result) in [
        ("pg_get_function_arguments", false),
        ("pg_get_function_result", true),
    ] {
        let describe = Arc::clone(&describe);
        let text = move |oid: Option<i64>| -> String {
            oid.and_then(|o| describe.get(&o))
                .map(|(args, result)| {
                    if pick_result {
                        result.clone()
                    } else {
                        args.clone()
                    }
                })
                .unwrap_or_default()
        };
        ctx.register_udf(create_udf(
            name,
            vec![DataType::Int64],
            DataType::Utf8,
            Volatility::Stable,
            Arc::new(move |args: &[ColumnarValue]| match &args[0] {
                ColumnarValue::Scalar(v) => {
                    let oid = match v {
                        ScalarValue::Int64(o) => *o,
                        other => other.cast_to(&DataType::Int64).ok().and_then(|s| match s {
                            ScalarValue::Int64(o) => o,
                            _ => None,
                        }),
                    };
                    Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(text(oid)))))
                }
                ColumnarValue::Array(a) => {
                    let a = datafusion::arrow::compute::cast(a, &DataType::Int64)?;
                    let a = a.as_any().downcast_ref::<Int64Array>().unwrap();
                    let out: StringArray = (0..a.len())
                        .map(|i| Some(text((!a.is_null(i)).then(|| a.value(i)))))
                        .collect();
                    Ok(ColumnarValue::Array(Arc::new(out)))
                }
            }),
        ));
    }
    Ok(())
}

/// Session statements datafusion-postgres 0.19 lacks: `DISCARD` (every connection pool
/// resets a connection with `DISCARD ALL`; upstream rejects it), and `SHOW` of the settings
/// in [`setting`] (drivers read `standard_conforming_strings`, `client_encoding`,
/// `server_version_num`, `integer_datetimes`; upstream answers them with an empty
/// `unsupported_show_statement`, and an unknown name the same way where Postgres says
/// `unrecognized configuration parameter`). The settings upstream keeps per connection
/// (`statement_timeout`, `search_path`, `DateStyle`, ...) are left to it.
#[derive(Debug, Default)]
pub struct SessionStatements;

/// Settings datafusion-postgres answers itself, from the connection's own values.
const UPSTREAM_SHOWS: &[&str] = &[
    "time zone",
    "server_version",
    "transaction_isolation",
    "transaction isolation level",
    "catalogs",
    "statement_timeout",
    "bytea_output",
    "datestyle",
    "intervalstyle",
    "extra_float_digits",
    "application_name",
    "search_path",
    "all",
];

enum SessionAnswer {
    /// A command tag.
    Done(String),
    /// A setting's name and value, as one text column.
    Show(String, &'static str),
}

/// The client settings datafusion-postgres 0.19 keeps per connection, under these
/// metadata keys (its `client.rs`): `SET statement_timeout` and `SET TIME ZONE`.
const UPSTREAM_SESSION_KEYS: &[(&str, &str)] = &[
    ("statement_timeout", "statement_timeout_ms"),
    ("timezone", "timezone"),
    ("time zone", "timezone"),
];

/// `RESET ALL` or `RESET name`: the connection's settings back to the server's defaults.
/// Others have no per-connection state in prefdb, so there is nothing to reset.
fn reset_session(statement: &Statement, client: &mut dyn HookClient) {
    let Statement::Reset(reset) = statement else {
        return;
    };
    let names: Vec<String> = match &reset.reset {
        Reset::ALL => UPSTREAM_SESSION_KEYS
            .iter()
            .map(|(n, _)| n.to_string())
            .collect(),
        Reset::ConfigurationParameter(name) => vec![name.to_string().to_ascii_lowercase()],
    };
    for name in names {
        if let Some((_, key)) = UPSTREAM_SESSION_KEYS.iter().find(|(n, _)| *n == name) {
            client.metadata_mut().remove(*key);
        }
    }
}

fn session_answer(statement: &Statement) -> Option<PgWireResult<SessionAnswer>> {
    match statement {
        // Pool resets (asyncpg's is `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
        // RESET ALL`): prefdb has no LISTEN, so UNLISTEN has nothing to stop.
        Statement::Reset(_) => Some(Ok(SessionAnswer::Done("RESET".to_string()))),
        Statement::UNLISTEN { .. } => Some(Ok(SessionAnswer::Done("UNLISTEN".to_string()))),
        Statement::Discard { object_type } => {
            Some(Ok(SessionAnswer::Done(format!("DISCARD {object_type}"))))
        }
        Statement::ShowVariable { variable } => {
            let name = variable
                .iter()
                .map(|part| part.value.to_ascii_lowercase())
                .collect::<Vec<_>>()
                .join(" ");
            if UPSTREAM_SHOWS.contains(&name.as_str()) {
                return None;
            }
            Some(match setting(&name) {
                Ok(value) => Ok(SessionAnswer::Show(name, value)),
                Err(_) => Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                    "ERROR".to_string(),
                    "42704".to_string(),
                    format!("unrecognized configuration parameter \"{name}\""),
                )))),
            })
        }
        _ => None,
    }
}

fn session_response(answer: SessionAnswer) -> PgWireResult<Response> {
    match answer {
        SessionAnswer::Done(tag) => Ok(Response::Execution(Tag::new(&tag))),
        SessionAnswer::Show(name, value) => {
            let fields = Arc::new(vec![FieldInfo::new(
                name,
                None,
                None,
                Type::TEXT,
                FieldFormat::Text,
            )]);
            let mut encoder = DataRowEncoder::new(Arc::clone(&fields));
            encoder.encode_field(&Some(value))?;
            let row = encoder.take_row();
            Ok(Response::Query(QueryResponse::new(
                fields,
                futures::stream::once(async move { Ok(row) }),
            )))
        }
    }
}

#[async_trait]
impl QueryHook for SessionStatements {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        reset_session(statement, client);
        session_answer(statement).map(|a| a.and_then(session_response))
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        let answer = session_answer(statement)?;
        Some(answer.and_then(|answer| {
            let fields = match answer {
                SessionAnswer::Done(_) => vec![],
                SessionAnswer::Show(name, _) => vec![Field::new(name, DataType::Utf8, false)],
            };
            super::answered_by_hook(fields)
        }))
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _plan: &LogicalPlan,
        _params: &ParamValues,
        _ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        reset_session(statement, client);
        session_answer(statement).map(|a| a.and_then(session_response))
    }
}

#[cfg(test)]
mod tests {
    use super::size_pretty;

    #[test]
    fn catalog_int_vectors_read_as_arrays() {
        use super::int_array;
        assert_eq!(int_array("1 3"), Some(vec![Some(1), Some(3)]));
        assert_eq!(int_array("{2,5}"), Some(vec![Some(2), Some(5)]));
        assert_eq!(int_array(""), Some(vec![]));
        assert_eq!(int_array("x"), None);
    }

    #[test]
    fn arrow_types_get_postgres_names() {
        use super::postgres_type_name as name;
        assert_eq!(name("Utf8"), "text");
        assert_eq!(name("Int64"), "bigint");
        assert_eq!(name("Float64"), "double precision");
        assert_eq!(name("Timestamp(µs, \"UTC\")"), "timestamp with time zone");
        assert_eq!(name("Timestamp(ms)"), "timestamp without time zone");
        assert_eq!(name("List(Utf8)"), "ARRAY");
        assert_eq!(name("Decimal128(38, 0)"), "numeric");
    }

    #[test]
    fn sizes_print_as_postgres_prints_them() {
        assert_eq!(size_pretty(10_239), "10239 bytes");
        assert_eq!(size_pretty(10_240), "10 kB");
        assert_eq!(size_pretty(1_000_000), "977 kB");
        assert_eq!(size_pretty(1_000_000_000), "954 MB");
        assert_eq!(size_pretty(-1_000_000), "-977 kB");
    }
}
