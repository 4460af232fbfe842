//! `COPY (query) TO STDOUT`, in text, CSV and binary formats.
//!
//! connectorx (polars' `read_database_uri`) and ADBC (`adbc-driver-postgresql`, polars'
//! `engine="adbc"`) fetch every result this way, and psycopg's `cursor.copy()` too.
//! datafusion-postgres 0.19 has no COPY out: its parser hands `COPY ... TO STDOUT` to
//! DataFusion, whose own `COPY ... TO 'file'` syntax does not read it. It is a read, so a
//! read-only server serves it; `COPY ... TO 'file'` (a write on the server's disk) stays
//! refused. Values are encoded by arrow-pg's encoders, the ones query results use.

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::common::ParamValues;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{
    CopyLegacyCsvOption, CopyLegacyOption, CopyOption, CopySource, CopyTarget, Query, Statement,
};
use datafusion_postgres::arrow_pg::datatypes::arrow_schema_to_pg_fields;
use datafusion_postgres::arrow_pg::encoder::encode_value;
use datafusion_postgres::hooks::HookClient;
use datafusion_postgres::pgwire::api::portal::Format;
use datafusion_postgres::pgwire::api::results::{
    CopyCsvOptions, CopyEncoder, CopyResponse, CopyTextOptions, FieldInfo, Response,
};
use datafusion_postgres::pgwire::api::ClientInfo;
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::copy::CopyData;
use datafusion_postgres::QueryHook;
use futures::StreamExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Whether `statement` is a `COPY (query) TO STDOUT`, which the read-only policy allows.
pub fn is_copy_to_stdout(statement: &Statement) -> bool {
    matches!(
        statement,
        Statement::Copy {
            source: CopySource::Query(_),
            to: true,
            target: CopyTarget::Stdout,
            ..
        }
    )
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Text,
    Csv,
    Binary,
}

/// What a `COPY (query) TO STDOUT` asks for.
struct CopyRequest {
    query: Query,
    kind: Kind,
    header: bool,
    delimiter: Option<char>,
    null: Option<String>,
    quote: Option<char>,
    escape: Option<char>,
}

fn not_supported(what: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".to_string(),
        "0A000".to_string(),
        what,
    )))
}

fn request(statement: &Statement) -> Option<PgWireResult<CopyRequest>> {
    let Statement::Copy {
        source: CopySource::Query(query),
        to: true,
        target: CopyTarget::Stdout,
        options,
        legacy_options,
        ..
    } = statement
    else {
        return None;
    };
    let mut r = CopyRequest {
        query: query.as_ref().clone(),
        kind: Kind::Text,
        header: false,
        delimiter: None,
        null: None,
        quote: None,
        escape: None,
    };
    for option in options {
        match option {
            CopyOption::Format(name) => {
                r.kind = match name.value.to_ascii_lowercase().as_str() {
                    "text" => Kind::Text,
                    "csv" => Kind::Csv,
                    "binary" => Kind::Binary,
                    other => {
                        return Some(Err(not_supported(format!(
                            "COPY format \"{other}\" not recognized"
                        ))))
                    }
                }
            }
            CopyOption::Header(h) => r.header = *h,
            CopyOption::Delimiter(c) => r.delimiter = Some(*c),
            CopyOption::Null(s) => r.null = Some(s.clone()),
            CopyOption::Quote(c) => r.quote = Some(*c),
            CopyOption::Escape(c) => r.escape = Some(*c),
            CopyOption::Encoding(e)
                if e.eq_ignore_ascii_case("utf8") || e.eq_ignore_ascii_case("utf-8") => {}
            other => {
                return Some(Err(not_supported(format!(
                    "COPY TO STDOUT option {other} is not supported"
                ))))
            }
        }
    }
    for option in legacy_options {
        match option {
            CopyLegacyOption::Binary => r.kind = Kind::Binary,
            CopyLegacyOption::Delimiter(c) => r.delimiter = Some(*c),
            CopyLegacyOption::Null(s) => r.null = Some(s.clone()),
            CopyLegacyOption::Csv(csv) => {
                r.kind = Kind::Csv;
                for o in csv {
                    match o {
                        CopyLegacyCsvOption::Header => r.header = true,
                        CopyLegacyCsvOption::Quote(c) => r.quote = Some(*c),
                        CopyLegacyCsvOption::Escape(c) => r.escape = Some(*c),
                        other => {
                            return Some(Err(not_supported(format!(
                                "COPY TO STDOUT option {other} is not supported"
                            ))))
                        }
                    }
                }
            }
            other => {
                return Some(Err(not_supported(format!(
                    "COPY TO STDOUT option {other} is not supported"
                ))))
            }
        }
    }
    if r.header && r.kind != Kind::Csv {
        return Some(Err(not_supported(
            "COPY HEADER available only in CSV mode".to_string(),
        )));
    }
    Some(Ok(r))
}

impl CopyRequest {
    fn encoder(&self, fields: Arc<Vec<FieldInfo>>) -> CopyEncoder {
        match self.kind {
            Kind::Binary => CopyEncoder::new_binary(fields),
            Kind::Text => {
                let mut o = CopyTextOptions::default();
                if let Some(d) = self.delimiter {
                    o.delimiter = d.to_string().into();
                }
                if let Some(n) = &self.null {
                    o.null_string = n.as_str().into();
                }
                CopyEncoder::new_text(fields, o)
            }
            Kind::Csv => {
                let mut o = CopyCsvOptions::default();
                if let Some(d) = self.delimiter {
                    o.delimiter = d.to_string().into();
                }
                if let Some(n) = &self.null {
                    o.null_string = n.as_str().into();
                }
                if let Some(q) = self.quote {
                    o.quote = q.to_string().into();
                    o.escape = q.to_string().into();
                }
                if let Some(e) = self.escape {
                    o.escape = e.to_string().into();
                }
                CopyEncoder::new_csv(fields, o)
            }
        }
    }

    /// The CSV header line: the column names, quoted where they hold the delimiter, a
    /// quote or a line break.
    fn header_line(&self, fields: &[FieldInfo]) -> Vec<u8> {
        let delimiter = self.delimiter.unwrap_or(',');
        let quote = self.quote.unwrap_or('"');
        let names: Vec<String> = fields
            .iter()
            .map(|f| {
                let name = f.name();
                if name.contains([delimiter, quote, '\n', '\r']) {
                    let doubled = name.replace(quote, &format!("{quote}{quote}"));
                    format!("{quote}{doubled}{quote}")
                } else {
                    name.to_string()
                }
            })
            .collect();
        format!("{}\n", names.join(&delimiter.to_string())).into_bytes()
    }
}

fn api_error(e: datafusion::error::DataFusionError) -> PgWireError {
    PgWireError::ApiError(Box::new(e))
}

/// The rows of one batch, each as its COPY data.
fn encode_batch(
    encoder: &mut CopyEncoder,
    fields: &[FieldInfo],
    batch: &RecordBatch,
) -> Vec<PgWireResult<CopyData>> {
    let schema = batch.schema();
    (0..batch.num_rows())
        .map(|row| {
            for (c, column) in batch.columns().iter().enumerate() {
                encode_value(encoder, column, row, schema.field(c), &fields[c])?;
            }
            Ok(encoder.take_copy())
        })
        .collect()
}

async fn copy_out(ctx: &SessionContext, request: CopyRequest) -> PgWireResult<Response> {
    let frame = ctx
        .sql(&request.query.to_string())
        .await
        .map_err(api_error)?;
    let format = match request.kind {
        Kind::Binary => Format::UnifiedBinary,
        _ => Format::UnifiedText,
    };
    let fields = Arc::new(arrow_schema_to_pg_fields(
        frame.schema().as_arrow(),
        &format,
        None,
    )?);
    let batches = frame.execute_stream().await.map_err(api_error)?;
    let mut encoder = request.encoder(Arc::clone(&fields));
    // The CSV header goes in front of the first row, so it is not counted as one; in
    // binary, the encoder puts the file header in front of the first row, and an empty
    // result gets the header on its own.
    let mut prefix = match request.header {
        true => request.header_line(&fields),
        false => Vec::new(),
    };
    let binary = request.kind == Kind::Binary;
    let row_fields = Arc::clone(&fields);
    let rows = batches
        .map(move |batch| {
            let mut out = match batch {
                Ok(batch) => encode_batch(&mut encoder, &row_fields, &batch),
                Err(e) => vec![Err(api_error(e))],
            };
            if let Some(Ok(first)) = out.first_mut() {
                if !prefix.is_empty() {
                    let mut joined = std::mem::take(&mut prefix);
                    joined.extend_from_slice(&first.data);
                    *first = CopyData::new(joined.into());
                }
            }
            futures::stream::iter(out)
        })
        .flatten();
    let columns = fields.len();
    let seen = Arc::new(AtomicBool::new(false));
    let seen_row = Arc::clone(&seen);
    let rows = rows.inspect(move |_| seen_row.store(true, Ordering::Relaxed));
    // An empty binary result still needs the file header before the trailer.
    let header_if_empty = futures::stream::once(async move {
        (binary && !seen.load(Ordering::Relaxed)).then(|| {
            let mut header = b"PGCOPY\n\xFF\r\n\x00".to_vec();
            header.extend_from_slice(&[0; 8]);
            Ok(CopyData::new(header.into()))
        })
    })
    .filter_map(futures::future::ready);
    Ok(Response::CopyOut(CopyResponse::new(
        if binary { 1 } else { 0 },
        columns,
        rows.chain(header_if_empty),
    )))
}

/// The response to `statement` if it is a `COPY (query) TO STDOUT`.
async fn answer(statement: &Statement, ctx: &SessionContext) -> Option<PgWireResult<Response>> {
    Some(match request(statement)? {
        Ok(r) => copy_out(ctx, r).await,
        Err(e) => Err(e),
    })
}

/// Serves `COPY (query) TO STDOUT` on both protocols.
#[derive(Debug, Default)]
pub struct CopyOut;

#[async_trait]
impl QueryHook for CopyOut {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        answer(statement, ctx).await
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        if let Err(e) = request(statement)? {
            return Some(Err(e));
        }
        Some(super::answered_by_hook(vec![]))
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _plan: &LogicalPlan,
        _params: &ParamValues,
        ctx: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        answer(statement, ctx).await
    }
}
