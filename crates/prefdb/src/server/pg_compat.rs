//! The few Postgres functions that clients call on connect and that neither DataFusion nor
//! datafusion-postgres's `pg_catalog` provide: `version()` in the form drivers parse
//! (SQLAlchemy reads "PostgreSQL X.Y"), `current_setting(name)` (Grafana asks for
//! `server_version_num`), and `pg_function_is_visible(oid)` (psql's `\df`).

use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::{create_udf, ColumnarValue, Volatility};
use datafusion::prelude::SessionContext;
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

/// Register the functions on the session the server serves.
pub fn register(ctx: &SessionContext) {
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
    // psql's \df prints these beside each pg_proc row; pg_proc's rows come from
    // datafusion-postgres's emulation, which keeps no signatures, so they are empty text.
    for name in ["pg_get_function_result", "pg_get_function_arguments"] {
        ctx.register_udf(create_udf(
            name,
            vec![DataType::Int64],
            DataType::Utf8,
            Volatility::Stable,
            Arc::new(|args: &[ColumnarValue]| match &args[0] {
                ColumnarValue::Scalar(_) => Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(
                    String::new(),
                )))),
                ColumnarValue::Array(a) => Ok(ColumnarValue::Array(Arc::new(StringArray::from(
                    vec![""; a.len()],
                )))),
            }),
        ));
    }
    // SQLAlchemy's psycopg dialect looks up optional types (hstore) by name on connect;
    // prefdb has none of them, so the answer is NULL, as Postgres gives for a missing type.
    ctx.register_udf(create_udf(
        "to_regtype",
        vec![DataType::Utf8],
        DataType::Int64,
        Volatility::Stable,
        Arc::new(|args: &[ColumnarValue]| match &args[0] {
            ColumnarValue::Scalar(_) => Ok(ColumnarValue::Scalar(ScalarValue::Int64(None))),
            ColumnarValue::Array(a) => Ok(ColumnarValue::Array(
                datafusion::arrow::array::new_null_array(&DataType::Int64, a.len()),
            )),
        }),
    ));
    ctx.register_udf(create_udf(
        "pg_function_is_visible",
        vec![DataType::Int64],
        DataType::Boolean,
        Volatility::Stable,
        Arc::new(|args: &[ColumnarValue]| match &args[0] {
            ColumnarValue::Scalar(_) => Ok(ColumnarValue::Scalar(ScalarValue::Boolean(Some(true)))),
            ColumnarValue::Array(a) => Ok(ColumnarValue::Array(Arc::new(BooleanArray::from(
                vec![true; a.len()],
            )))),
        }),
    ));
}
