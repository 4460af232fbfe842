//! Registering tables from `name=location` specs: a file, a directory of files or a glob,
//! in Parquet, CSV, JSON (newline-delimited) or Arrow IPC.

use crate::parquet_nan::NanSafeParquet;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::file_format::options::ReadOptions;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::MemTable;
use datafusion::prelude::{CsvReadOptions, JsonReadOptions, ParquetReadOptions, SessionContext};
use futures::TryStreamExt;
use std::path::Path;
use std::sync::Arc;
use url::Url;

/// Rows per batch of an in-memory table: larger batches are sliced (without copying) to
/// this size so that a scan spreads over the session's partitions.
pub const MEMORY_BATCH_ROWS: usize = 64 * 1024;

/// An in-memory table of `batches` (data already held: a Python frame, a collected query),
/// spread over `partitions` round robin in slices of at most [`MEMORY_BATCH_ROWS`] rows that
/// share the batches' buffers, so that queries on it run on every core.
pub fn memory_table(
    schema: SchemaRef,
    batches: &[RecordBatch],
    partitions: usize,
) -> Result<MemTable> {
    MemTable::try_new(schema, spread(batches, partitions))
}

/// `batches` over `n` partitions, round robin, in slices of at most [`MEMORY_BATCH_ROWS`].
/// An empty table still has one (empty) partition.
fn spread(batches: &[RecordBatch], n: usize) -> Vec<Vec<RecordBatch>> {
    let n = n.max(1);
    let mut partitions: Vec<Vec<RecordBatch>> = vec![Vec::new(); n];
    let slices = batches.iter().flat_map(|batch| {
        (0..batch.num_rows())
            .step_by(MEMORY_BATCH_ROWS)
            .map(|offset| batch.slice(offset, MEMORY_BATCH_ROWS.min(batch.num_rows() - offset)))
    });
    for (i, slice) in slices.enumerate() {
        partitions[i % n].push(slice);
    }
    partitions.retain(|p| !p.is_empty());
    if partitions.is_empty() {
        partitions.push(Vec::new());
    }
    partitions
}

/// File formats prefdb reads, told apart by file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    Parquet,
    Csv,
    Json,
    Arrow,
}

impl TableFormat {
    pub fn from_extension(ext: &str) -> Option<Self> {
        match ext.to_ascii_lowercase().as_str() {
            "parquet" | "pq" => Some(TableFormat::Parquet),
            "csv" => Some(TableFormat::Csv),
            "json" | "ndjson" | "jsonl" => Some(TableFormat::Json),
            "arrow" | "ipc" | "feather" => Some(TableFormat::Arrow),
            _ => None,
        }
    }

    /// The format's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            TableFormat::Parquet => "Parquet",
            TableFormat::Csv => "CSV",
            TableFormat::Json => "JSON",
            TableFormat::Arrow => "Arrow IPC",
        }
    }
}

/// A `--table name=location` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    pub name: String,
    pub location: String,
}

impl std::str::FromStr for TableSpec {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let Some((name, location)) = s.split_once('=') else {
            return Err(format!(
                "table '{}' must be name=path (for example votes=data/votes.parquet)",
                shown(s)
            ));
        };
        let name = name.trim();
        check_table_name(name)?;
        if location.trim().is_empty() {
            return Err(format!("table '{name}' has an empty path"));
        }
        Ok(TableSpec {
            name: name.to_string(),
            location: location.trim().to_string(),
        })
    }
}

/// Why `name` cannot name a table, if it cannot: it must be a plain SQL identifier that
/// queries can use unquoted, in the CLI's dialect and the server's (Postgres).
pub fn check_table_name(name: &str) -> std::result::Result<(), String> {
    let plain = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if !plain {
        return Err(format!(
            "table name '{}' must be letters, digits and underscores, not starting with a digit",
            shown(name)
        ));
    }
    use datafusion::sql::sqlparser::dialect::{Dialect, GenericDialect, PostgreSqlDialect};
    use datafusion::sql::sqlparser::parser::Parser;
    let query = format!("SELECT * FROM {name}");
    let dialects: [&dyn Dialect; 2] = [&GenericDialect {}, &PostgreSqlDialect {}];
    if dialects
        .iter()
        .any(|d| Parser::parse_sql(*d, &query).is_err())
    {
        return Err(format!(
            "table name '{name}' is an SQL keyword, so every query would have to quote it (\"{name}\"): choose another name"
        ));
    }
    Ok(())
}

/// A location as an error message shows it: as given, unless it holds control characters
/// (a newline would break the one-line message), which are escaped.
fn shown(location: &str) -> String {
    if location.chars().any(char::is_control) {
        location.escape_debug().to_string()
    } else {
        location.to_string()
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn is_glob(location: &str) -> bool {
    location.contains(['*', '?', '['])
}

/// The format a file name's extension selects, and that extension (with its dot).
fn format_of_name(name: &str) -> Option<(TableFormat, String)> {
    let ext = Path::new(name).extension()?.to_str()?;
    TableFormat::from_extension(ext).map(|f| (f, format!(".{ext}")))
}

/// Where a table's files are: a local path (a `file://` URL becomes one), or a URL that an
/// object store serves.
enum Source {
    Local(String),
    Remote,
}

/// Check a location's URL syntax, if it is a URL, before any store sees it: unknown schemes
/// and URLs without a bucket or host are refused here rather than deep in a store.
fn source_of(location: &str) -> std::result::Result<Source, String> {
    let Some((scheme, rest)) = location.split_once("://") else {
        return Ok(Source::Local(location.to_string()));
    };
    if scheme.is_empty() {
        return Err(format!(
            "'{}' is not a valid URL: it has no scheme (such as s3:// or https://)",
            shown(location)
        ));
    }
    // "data/a://b" is a (strange) path, not a URL.
    let url_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !url_scheme {
        return Ok(Source::Local(location.to_string()));
    }
    let scheme = scheme.to_ascii_lowercase();
    if scheme == "file" {
        return file_url_path(location, rest).map(Source::Local);
    }
    if !crate::stores::is_supported_scheme(&scheme) {
        return Err(format!(
            "unsupported URL scheme '{scheme}://' in '{}': prefdb reads {}",
            shown(location),
            crate::stores::SUPPORTED_SCHEMES
        ));
    }
    if rest.is_empty() || rest.starts_with('/') {
        let what = match scheme.as_str() {
            "http" | "https" => "host",
            "az" | "azure" | "abfs" | "abfss" | "adl" => "container",
            _ => "bucket",
        };
        return Err(format!(
            "'{}' names no {what}: write {scheme}://{}/path",
            shown(location),
            what.to_ascii_uppercase()
        ));
    }
    Url::parse(location).map_err(|e| format!("'{}' is not a valid URL: {e}", shown(location)))?;
    Ok(Source::Remote)
}

/// The local path of a `file://` URL: `file:///abs/path` or `file://localhost/abs/path`,
/// percent-decoded unless it is a glob.
fn file_url_path(location: &str, rest: &str) -> std::result::Result<String, String> {
    let path = rest.strip_prefix("localhost").unwrap_or(rest);
    if !path.starts_with('/') {
        return Err(format!(
            "file URL '{}' must hold an absolute path, as in file:///data/votes.parquet (or give the path itself)",
            shown(location)
        ));
    }
    if is_glob(path) {
        return Ok(path.to_string());
    }
    Ok(Url::parse(location)
        .ok()
        .and_then(|u| u.to_file_path().ok())
        .map_or_else(|| path.to_string(), |p| p.to_string_lossy().into_owned()))
}

/// The format and the file extension that selects files, for a local file, directory or
/// glob; checks that the file or directory is there and can be read.
fn detect_format(location: &str) -> std::result::Result<(TableFormat, String), String> {
    let shown = shown(location);
    if is_glob(location) {
        return format_of_name(location).ok_or_else(|| {
            format!(
                "cannot tell the format of '{shown}': end the pattern with .parquet, .csv, .json/.ndjson or .arrow"
            )
        });
    }
    let path = Path::new(location);
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if std::fs::symlink_metadata(path).is_ok() {
                return Err(format!(
                    "'{shown}' is a symbolic link to a file that does not exist"
                ));
            }
            return Err(format!("no such file or directory: '{shown}'"));
        }
        Err(e) => return Err(format!("cannot read '{shown}': {e}")),
    };
    if meta.is_dir() {
        return detect_directory_format(location);
    }
    if !meta.is_file() {
        return Err(format!(
            "'{shown}' is not a regular file or a directory (a pipe or a device cannot be read as a table)"
        ));
    }
    format_of_name(location).ok_or_else(|| {
        format!(
            "cannot tell the format of '{shown}': use a .parquet, .csv, .json/.ndjson or .arrow extension"
        )
    })
}

/// The format of a directory's data files: one format, or an error naming two that differ.
fn detect_directory_format(location: &str) -> std::result::Result<(TableFormat, String), String> {
    let shown = shown(location);
    let mut entries: Vec<_> = std::fs::read_dir(location)
        .map_err(|e| format!("cannot read directory '{shown}': {e}"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    entries.sort();
    let mut found = entries.iter().filter_map(|p| {
        let name = p.file_name()?.to_str()?;
        format_of_name(name).map(|f| (p, f))
    });
    let Some((first_path, first)) = found.next() else {
        return Err(format!(
            "directory '{shown}' holds no .parquet, .csv, .json or .arrow files"
        ));
    };
    // A table reads one format; files of another would be silently left out.
    if let Some((other_path, _)) = found.find(|(_, f)| f.1 != first.1) {
        return Err(format!(
            "directory '{shown}' mixes file types ('{}' and '{}'): a table reads one format; \
             name the files with a glob such as '{}/*{}', or separate them",
            file_name(first_path),
            file_name(other_path),
            shown.trim_end_matches('/'),
            first.1
        ));
    }
    Ok(first)
}

/// The format of a URL location: from its extension, or, for a prefix ("directory") URL,
/// from the first data file listed under it.
async fn detect_remote_format(
    ctx: &SessionContext,
    location: &str,
) -> std::result::Result<(TableFormat, String), String> {
    let shown = shown(location);
    let from_name = |name: &str| {
        let ext = name.rsplit_once('.').map(|(_, e)| e)?;
        TableFormat::from_extension(ext).map(|f| (f, format!(".{ext}")))
    };
    let url = ListingTableUrl::parse(location).map_err(|e| detail(&e))?;
    if let Some(found) = url.as_str().rsplit('/').next().and_then(from_name) {
        return Ok(found);
    }
    if is_glob(location) {
        return Err(format!(
            "cannot tell the format of '{shown}': end the pattern with .parquet, .csv, .json or .arrow"
        ));
    }
    let store = ctx
        .runtime_env()
        .object_store(url.object_store())
        .map_err(|e| detail(&e))?;
    let listed = async {
        let mut listing = store.list(Some(url.prefix()));
        let mut seen = 0usize;
        while let Some(meta) = listing.try_next().await? {
            if let Some(found) = meta.location.filename().and_then(from_name) {
                return Ok(Some(found));
            }
            seen += 1;
            if seen >= 1000 {
                break;
            }
        }
        Ok::<_, object_store::Error>(None)
    };
    match listed.await {
        Ok(Some(found)) => Ok(found),
        Ok(None) => Err(format!(
            "'{shown}' holds no .parquet, .csv, .json or .arrow files"
        )),
        Err(e) => Err(format!(
            "cannot list '{shown}': {}",
            detail(&DataFusionError::ObjectStore(Box::new(e)))
        )),
    }
}

/// Register `location` (a file, a directory of files, a glob, or an object-store or HTTP
/// URL of any of these) as table `name`. Every error names the table and says what is
/// wrong with the location, in one line.
pub async fn register_table(ctx: &SessionContext, name: &str, location: &str) -> Result<()> {
    let table = open_table(ctx, location)
        .await
        .map_err(|why| DataFusionError::Plan(format!("table '{name}': {why}")))?;
    ctx.register_table(name, Arc::new(table)).map(|_| ())
}

/// Why `location` cannot be read as a table, or `None` if it can. For a query's
/// `FROM 'file.parquet'`, which DataFusion reports only as "table not found".
pub async fn location_error(ctx: &SessionContext, location: &str) -> Option<String> {
    open_table(ctx, location).await.err()
}

async fn open_table(
    ctx: &SessionContext,
    location: &str,
) -> std::result::Result<ListingTable, String> {
    let shown = shown(location);
    if location.trim().is_empty() {
        return Err("the path is empty".into());
    }
    let (format, extension, url) = match source_of(location)? {
        Source::Local(path) => {
            let (format, extension) = detect_format(&path)?;
            (
                format,
                extension,
                table_url(&local_absolute(&path), false, &shown)?,
            )
        }
        Source::Remote => {
            let (format, extension) = detect_remote_format(ctx, location).await?;
            (format, extension, table_url(location, true, &shown)?)
        }
    };
    let options = listing_options(ctx, format, &extension);
    let files = list_files(ctx, &url, &extension)
        .await
        .map_err(|e| format!("cannot list '{shown}': {}", detail(&e)))?;
    if files.is_empty() {
        return Err(if is_glob(location) {
            format!("no files match '{shown}'")
        } else if url.is_collection() {
            format!("no {extension} files under '{shown}'")
        } else {
            format!("no such file: '{shown}'")
        });
    }
    if files.iter().all(|f| f.size == 0) {
        let single_file = !is_glob(location) && !url.is_collection();
        return Err(match files.len() {
            1 if single_file => format!("'{shown}' is empty (0 bytes)"),
            1 => format!(
                "'{shown}' holds one file, '{}', and it is empty (0 bytes)",
                files[0].location.filename().unwrap_or_default()
            ),
            n => format!("all {n} files at '{shown}' are empty (0 bytes)"),
        });
    }
    let schema = options
        .infer_schema(&ctx.state(), &url)
        .await
        .map_err(|e| read_error(format, &shown, &e))?;
    if schema.fields().is_empty() {
        return Err(format!("'{shown}' holds no columns"));
    }
    ListingTable::try_new(
        ListingTableConfig::new(url)
            .with_listing_options(options)
            .with_schema(schema),
    )
    .map_err(|e| detail(&e))
}

fn listing_options(ctx: &SessionContext, format: TableFormat, ext: &str) -> ListingOptions {
    let config = ctx.copied_config();
    let table_options = ctx.copied_table_options();
    match format {
        TableFormat::Parquet => {
            let mut options = ParquetReadOptions::default()
                .file_extension(ext)
                .to_listing_options(&config, table_options);
            options.format = Arc::new(NanSafeParquet::new(options.format));
            options
        }
        TableFormat::Csv => CsvReadOptions::new()
            .file_extension(ext)
            .to_listing_options(&config, table_options),
        TableFormat::Json => JsonReadOptions::default()
            .file_extension(ext)
            .to_listing_options(&config, table_options),
        TableFormat::Arrow => datafusion::execution::options::ArrowReadOptions {
            file_extension: ext,
            ..Default::default()
        }
        .to_listing_options(&config, table_options),
    }
}

/// The files a table would read, as DataFusion lists them.
async fn list_files(
    ctx: &SessionContext,
    url: &ListingTableUrl,
    extension: &str,
) -> Result<Vec<object_store::ObjectMeta>> {
    let state = ctx.state();
    let store = ctx.runtime_env().object_store(url)?;
    let files = url
        .list_all_files(&state, store.as_ref(), extension)
        .await?
        .try_collect()
        .await;
    files
}

/// A local path made absolute, so that DataFusion never mistakes one for a URL
/// (`c:data.csv`, `mailto:x.csv`).
fn local_absolute(path: &str) -> String {
    std::path::absolute(path)
        .map_or_else(|_| path.to_string(), |p| p.to_string_lossy().into_owned())
}

/// What went wrong reading a table's files, for a format chosen by extension.
fn read_error(format: TableFormat, shown: &str, e: &DataFusionError) -> String {
    let why = detail(e);
    match format {
        TableFormat::Json if why.contains("Expected JSON record to be an object, found Array") => {
            format!(
                "'{shown}' holds a JSON array, but prefdb reads newline-delimited JSON, one object per line (convert with: jq -c '.[]')"
            )
        }
        TableFormat::Json => format!(
            "cannot read '{shown}' as newline-delimited JSON (one object per line): {why}"
        ),
        TableFormat::Arrow if why.contains("Failed to parse Arrow file") => format!(
            "cannot read '{shown}' as Arrow IPC: it is neither an Arrow file nor an Arrow stream (prefdb takes the format from the file extension)"
        ),
        TableFormat::Parquet | TableFormat::Arrow => format!(
            "cannot read '{shown}' as {}: {why} (prefdb takes the format from the file extension)",
            format.name()
        ),
        TableFormat::Csv => format!("cannot read '{shown}' as CSV: {why}"),
    }
}

/// The longest cause a message quotes from a library error; longer ones (a JSON parser
/// quoting the whole document) are cut.
const MAX_DETAIL_CHARS: usize = 300;

/// A library error as one short line: the innermost DataFusion error without the layers of
/// wrapping ("External error: ", "Arrow error: Csv error: "), plus the innermost cause when
/// the message leaves it out (an HTTP client's "connection refused").
fn detail(e: &DataFusionError) -> String {
    const WRAPPERS: [&str; 18] = [
        "Error during planning: ",
        "Execution error: ",
        "Internal error: ",
        "External error: ",
        "Arrow error: ",
        "Parquet error: ",
        "Json error: ",
        "Csv error: ",
        "Parser error: ",
        "Object Store error: ",
        "object store: ",
        "I/O error: ",
        "IO error: ",
        "Generic LocalFileSystem error: ",
        "Generic S3 error: ",
        "Generic GCS error: ",
        "Generic HTTP error: ",
        "Generic MicrosoftAzure error: ",
    ];
    let mut text = crate::user_message(e);
    loop {
        if let Some(rest) = text
            .strip_prefix("Error when processing CSV file ")
            .and_then(|r| r.split_once(" caused by ").map(|(_, cause)| cause))
        {
            text = rest.to_string();
        } else if let Some(w) = WRAPPERS.iter().find(|w| text.starts_with(**w)) {
            text = text[w.len()..].to_string();
        } else {
            break;
        }
    }
    if let Some(at) = text.find(". This issue was likely caused by a bug in DataFusion") {
        text.truncate(at);
    }
    let mut cause: &dyn std::error::Error = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    let cause = cause.to_string();
    if !cause.is_empty() && !text.contains(cause.as_str()) && !cause.contains(text.as_str()) {
        text = format!("{text} ({cause})");
    }
    if text.chars().count() > MAX_DETAIL_CHARS {
        text = text.chars().take(MAX_DETAIL_CHARS).collect::<String>() + "...";
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// DataFusion reads globs in local paths but takes a URL literally, so a URL glob
/// (`s3://bucket/votes/*.parquet`) is split here into the prefix it lists and the pattern
/// the listed names must match.
///
/// `shown` is the location as the user wrote it, for errors.
fn table_url(
    location: &str,
    remote: bool,
    shown: &str,
) -> std::result::Result<ListingTableUrl, String> {
    let glob_error = |e: DataFusionError| {
        let why = detail(&e);
        match why.split_once("Pattern syntax error near position ") {
            Some((_, reason)) => format!(
                "'{shown}' is not a valid glob: {} (a literal '[' is written [[])",
                reason.split_once(": ").map_or(reason, |(_, r)| r)
            ),
            None => format!("'{shown}': {why}"),
        }
    };
    if !(remote && is_glob(location)) {
        return ListingTableUrl::parse(location).map_err(glob_error);
    }
    let first_glob = location.find(['*', '?', '[']).unwrap_or(location.len());
    let cut = location[..first_glob].rfind('/').map_or(0, |i| i + 1);
    ListingTableUrl::parse(&location[..cut])
        .and_then(|url| url.with_glob(&location[cut..]))
        .map_err(glob_error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{AsArray, Int64Array};
    use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};

    /// Slices of at most `MEMORY_BATCH_ROWS` go round robin to the partitions; reading the
    /// partitions' slices back in turn gives every row once, in order.
    #[test]
    fn memory_tables_spread_every_row_over_the_partitions() {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
        let batch = |from: i64, n: i64| {
            let column = Arc::new(Int64Array::from_iter_values(from..from + n));
            RecordBatch::try_new(schema.clone(), vec![column]).unwrap()
        };
        let big = MEMORY_BATCH_ROWS as i64 * 2 + 5;
        let batches = [batch(0, big), batch(big, 10)];
        for n in [1, 2, 3, 8] {
            let parts = spread(&batches, n);
            // Four slices: two full, one of 5 rows, the second batch.
            assert_eq!(parts.len(), n.min(4), "{n} partitions");
            let sizes: Vec<Vec<usize>> = parts
                .iter()
                .map(|p| p.iter().map(|b| b.num_rows()).collect())
                .collect();
            assert!(sizes.iter().flatten().all(|&r| r <= MEMORY_BATCH_ROWS));
            let mut rows = Vec::new();
            for turn in 0..4 {
                if let Some(b) = parts[turn % parts.len()].get(turn / parts.len()) {
                    let values = b.column(0).as_primitive::<Int64Type>();
                    rows.extend(values.values().iter().copied());
                }
            }
            assert_eq!(rows, (0..big + 10).collect::<Vec<_>>(), "{n} partitions");
        }
        let empty = spread(&[], 4);
        assert_eq!(empty.len(), 1);
        assert!(empty[0].is_empty());
        assert!(memory_table(schema.clone(), &batches, 2).is_ok());
    }

    #[test]
    fn table_spec_parsing() {
        let spec: TableSpec = "votes=data/v.parquet".parse().unwrap();
        assert_eq!(spec.name, "votes");
        assert_eq!(spec.location, "data/v.parquet");
        assert!("votes"
            .parse::<TableSpec>()
            .unwrap_err()
            .contains("name=path"));
        assert!("1x=a.csv".parse::<TableSpec>().is_err());
        assert!("v=".parse::<TableSpec>().is_err());
    }

    #[test]
    fn table_names_must_be_usable_unquoted() {
        for ok in [
            "votes",
            "Votes",
            "ratings",
            "scores",
            "judge",
            "t_2",
            "user_votes",
        ] {
            assert_eq!(check_table_name(ok), Ok(()), "{ok}");
        }
        assert_eq!(
            check_table_name("table").unwrap_err(),
            "table name 'table' is an SQL keyword, so every query would have to quote it (\"table\"): choose another name"
        );
        assert!(check_table_name("lateral").is_err());
        // Keywords the parser accepts as a table name are fine: FROM select works.
        for keyword in ["select", "from", "where", "user"] {
            assert_eq!(check_table_name(keyword), Ok(()), "{keyword}");
        }
        assert!(check_table_name("a.b")
            .unwrap_err()
            .contains("letters, digits"));
    }

    #[test]
    fn urls_are_checked_before_any_store_sees_them() {
        let err = |l: &str| source_of(l).err().unwrap();
        assert_eq!(
            err("ftp://host/x.parquet"),
            "unsupported URL scheme 'ftp://' in 'ftp://host/x.parquet': prefdb reads s3://, gs://, az://, abfs(s)://, http(s):// and file:// URLs"
        );
        assert_eq!(
            err("s3:///x.parquet"),
            "'s3:///x.parquet' names no bucket: write s3://BUCKET/path"
        );
        assert_eq!(
            err("https://"),
            "'https://' names no host: write https://HOST/path"
        );
        assert_eq!(
            err("http://[::1/x.csv"),
            "'http://[::1/x.csv' is not a valid URL: invalid IPv6 address"
        );
        assert!(err("://x.csv").contains("has no scheme"));
        assert!(err("file://data/x.csv").contains("must hold an absolute path"));
        assert!(
            matches!(source_of("file:///d/my%20votes.csv"), Ok(Source::Local(p)) if p == "/d/my votes.csv")
        );
        assert!(matches!(source_of("data/x.csv"), Ok(Source::Local(_))));
        assert!(matches!(
            source_of("s3://bucket/v/*.parquet"),
            Ok(Source::Remote)
        ));
    }

    #[test]
    fn format_detection_errors() {
        let err = detect_format("/definitely/not/here.parquet").unwrap_err();
        assert!(err.to_string().contains("no such file or directory"));
        assert_eq!(
            TableFormat::from_extension("PARQUET"),
            Some(TableFormat::Parquet)
        );
    }
}
