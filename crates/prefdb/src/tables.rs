//! Registering tables from `name=location` specs: a file, a directory of files or a glob,
//! in Parquet, CSV, JSON (newline-delimited) or Arrow IPC.

use crate::parquet_nan::NanSafeParquet;
use datafusion::common::{plan_err, DataFusionError, Result};
use datafusion::datasource::file_format::options::ReadOptions;
use datafusion::datasource::listing::{ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::prelude::{CsvReadOptions, JsonReadOptions, ParquetReadOptions, SessionContext};
use futures::TryStreamExt;
use std::path::Path;
use std::sync::Arc;

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
                "table '{s}' must be name=path (for example votes=data/votes.parquet)"
            ));
        };
        let name = name.trim();
        let valid_name = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if !valid_name {
            return Err(format!(
                "table name '{name}' must be letters, digits and underscores, not starting with a digit"
            ));
        }
        if location.trim().is_empty() {
            return Err(format!("table '{name}' has an empty path"));
        }
        Ok(TableSpec {
            name: name.to_string(),
            location: location.trim().to_string(),
        })
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

/// The format and the file extension that selects files, for a file, directory or glob.
fn detect_format(location: &str) -> Result<(TableFormat, String)> {
    let path = Path::new(location);
    let from_path = |p: &Path| {
        p.extension()
            .and_then(|e| e.to_str())
            .and_then(|e| TableFormat::from_extension(e).map(|f| (f, format!(".{e}"))))
    };
    if path.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| DataFusionError::Plan(format!("cannot read directory '{location}': {e}")))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        entries.sort();
        let mut found = entries.iter().filter_map(|p| from_path(p).map(|f| (p, f)));
        let Some((first_path, first)) = found.next() else {
            return plan_err!(
                "directory '{location}' holds no .parquet, .csv, .json or .arrow files"
            );
        };
        // A table reads one format; files of another would be silently left out.
        if let Some((other_path, _)) = found.find(|(_, f)| f.1 != first.1) {
            return plan_err!(
                "directory '{location}' mixes file types ('{}' and '{}'): a table reads one format; \
                 name the files with a glob such as '{}/*{}', or separate them",
                file_name(first_path),
                file_name(other_path),
                location.trim_end_matches('/'),
                first.1
            );
        }
        return Ok(first);
    }
    if !is_glob(location) && !location.contains("://") && !path.exists() {
        return plan_err!("no such file or directory: '{location}'");
    }
    match from_path(path) {
        Some(found) => Ok(found),
        None => plan_err!(
            "cannot tell the format of '{location}': use a .parquet, .csv, .json/.ndjson or .arrow extension"
        ),
    }
}

/// The format of a URL location: from its extension, or, for a prefix ("directory") URL,
/// from the first data file listed under it.
async fn detect_remote_format(
    ctx: &SessionContext,
    location: &str,
) -> Result<(TableFormat, String)> {
    let from_name = |name: &str| {
        let ext = name.rsplit_once('.').map(|(_, e)| e)?;
        TableFormat::from_extension(ext).map(|f| (f, format!(".{ext}")))
    };
    let url = ListingTableUrl::parse(location)?;
    if let Some(found) = url.as_str().rsplit('/').next().and_then(from_name) {
        return Ok(found);
    }
    if is_glob(location) {
        return plan_err!(
            "cannot tell the format of '{location}': end the pattern with .parquet, .csv, .json or .arrow"
        );
    }
    let store = ctx.runtime_env().object_store(url.object_store())?;
    let mut listing = store.list(Some(url.prefix()));
    let mut seen = 0usize;
    while let Some(meta) = listing.try_next().await? {
        if let Some(found) = meta.location.filename().and_then(from_name) {
            return Ok(found);
        }
        seen += 1;
        if seen >= 1000 {
            break;
        }
    }
    plan_err!("'{location}' holds no .parquet, .csv, .json or .arrow files")
}

/// Register `location` (a file, a directory of files, a glob, or an object-store or HTTP
/// URL of any of these) as table `name`.
pub async fn register_table(ctx: &SessionContext, name: &str, location: &str) -> Result<()> {
    let remote = location.contains("://") && !location.starts_with("file://");
    let (format, extension) = if remote {
        detect_remote_format(ctx, location).await?
    } else {
        detect_format(location)?
    };
    let ext = extension.as_str();
    let config = ctx.copied_config();
    let table_options = ctx.copied_table_options();
    let options = match format {
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
    };
    let open = async {
        let url = table_url(location, remote)?;
        let schema = options.infer_schema(&ctx.state(), &url).await?;
        let table = ListingTable::try_new(
            ListingTableConfig::new(url)
                .with_listing_options(options)
                .with_schema(schema),
        )?;
        ctx.register_table(name, Arc::new(table)).map(|_| ())
    };
    open.await.map_err(|e| match e {
        DataFusionError::Plan(_) | DataFusionError::Configuration(_) => e,
        other => DataFusionError::Plan(format!(
            "cannot open table '{name}' at '{location}': {other}"
        )),
    })
}

/// DataFusion reads globs in local paths but takes a URL literally, so a URL glob
/// (`s3://bucket/votes/*.parquet`) is split here into the prefix it lists and the pattern
/// the listed names must match.
fn table_url(location: &str, remote: bool) -> Result<ListingTableUrl> {
    if !(remote && is_glob(location)) {
        return ListingTableUrl::parse(location);
    }
    let first_glob = location.find(['*', '?', '[']).unwrap_or(location.len());
    let cut = location[..first_glob].rfind('/').map_or(0, |i| i + 1);
    ListingTableUrl::parse(&location[..cut])?.with_glob(&location[cut..])
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn format_detection_errors() {
        let err = detect_format("/definitely/not/here.parquet").unwrap_err();
        assert!(err.to_string().contains("no such file or directory"));
        assert_eq!(
            TableFormat::from_extension("PARQUET"),
            Some(TableFormat::Parquet)
        );
    }
}
