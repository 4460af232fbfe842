//! The README and the function reference cannot drift from the code:
//! - `docs/functions.md` is exactly `prefdb_udfs::spec::reference::markdown()`, generated
//!   from the functions' declarations, and the README's function index is
//!   `prefdb_udfs::spec::reference::index()`;
//! - each example block holds a query of `sql/examples/*.slt` and the table that query prints
//!   on the README's arena (`prefdb gen arena --votes 100000 --models 8 --seed 42`).
//!
//! `UPDATE_README=1 cargo test --test readme` rewrites them from a fresh run.

use prefdb::arena::ArenaSpec;
use std::path::Path;

const ARENA: ArenaSpec = ArenaSpec {
    votes: 100_000,
    models: 8,
    seed: 42,
    tie_rate: 0.2,
};

struct Example {
    name: String,
    /// Statements to run first (CREATE EXTERNAL TABLE ...), with $ARENA substituted.
    setup: Vec<String>,
    /// The query, with $ARENA standing for the file.
    query: String,
}

/// The statements of an example .slt file: `statement ok` setups and the one `query`.
fn parse_example(path: &Path) -> Example {
    let text = std::fs::read_to_string(path).unwrap();
    let mut setup = Vec::new();
    let mut query = None;
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let is_statement = line.starts_with("statement ok");
        let is_query = line.starts_with("query ");
        if !(is_statement || is_query) {
            continue;
        }
        let mut sql = Vec::new();
        while let Some(l) = lines.peek() {
            if l.trim().is_empty() || *l == "----" {
                break;
            }
            sql.push(lines.next().unwrap());
        }
        let sql = sql.join("\n");
        if is_statement {
            setup.push(sql);
        } else {
            assert!(query.is_none(), "{}: one query per example", path.display());
            query = Some(sql);
        }
    }
    Example {
        name: path.file_stem().unwrap().to_string_lossy().into_owned(),
        setup,
        query: query.unwrap_or_else(|| panic!("{}: no query", path.display())),
    }
}

fn examples() -> Vec<Example> {
    let mut paths: Vec<_> = std::fs::read_dir("sql/examples")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    paths.sort();
    paths.iter().map(|p| parse_example(p)).collect()
}

async fn render(example: &Example, arena: &str) -> String {
    let ctx = prefdb::new_context();
    for s in &example.setup {
        ctx.sql(&s.replace("$ARENA", arena))
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
    }
    let batches = ctx
        .sql(&example.query.replace("$ARENA", arena))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let table = datafusion::arrow::util::pretty::pretty_format_batches_with_options(
        &batches,
        &prefdb::display_options(),
    )
    .unwrap();
    let shown_query = example.query.replace("$ARENA", "votes.parquet");
    let table_flag = if example.setup.is_empty() {
        ""
    } else {
        " --table votes=votes.parquet"
    };
    format!(
        "<!-- example: {name} -->\n```text\n$ prefdb sql \"{shown_query}\"{table_flag}\n{table}\n```\n<!-- /example -->",
        name = example.name
    )
}

/// Replace the text from the `start` marker through the `end` marker that follows it.
fn replace_section(readme: &str, start: &str, end: &str, body: &str) -> String {
    let at = readme
        .find(start)
        .unwrap_or_else(|| panic!("README lacks {start}"));
    let stop = at
        + readme[at..]
            .find(end)
            .unwrap_or_else(|| panic!("README lacks {end} after {start}"))
        + end.len();
    format!("{}{}{}", &readme[..at], body, &readme[stop..])
}

#[tokio::test]
async fn readme_matches_code_and_examples() {
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let arena = dir.path().join("votes.parquet");
    prefdb::arena::write_parquet(ARENA, &arena, |_| {}).unwrap();
    let arena = arena.to_string_lossy().into_owned();

    let readme = std::fs::read_to_string("README.md").unwrap();
    let mut expected = readme.clone();
    for example in examples() {
        let block = render(&example, &arena).await;
        let start = format!("<!-- example: {} -->", example.name);
        expected = replace_section(&expected, &start, "<!-- /example -->", &block);
    }
    let index = format!(
        "<!-- function index -->\n{}<!-- /function index -->",
        prefdb_udfs::spec::reference::index()
    );
    expected = replace_section(
        &expected,
        "<!-- function index -->",
        "<!-- /function index -->",
        &index,
    );
    check_or_update(
        "docs/functions.md",
        &prefdb_udfs::spec::reference::markdown(),
    );
    check_or_update("README.md", &expected);
}

/// Fail unless the committed `path` is `expected`; with `UPDATE_README` set, write it.
fn check_or_update(path: &str, expected: &str) {
    if std::env::var_os("UPDATE_README").is_some() {
        std::fs::write(path, expected).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    if committed != expected {
        let first = committed
            .lines()
            .zip(expected.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(committed.lines().count().min(expected.lines().count()));
        panic!(
            "{path} is out of date from line {}: run UPDATE_README=1 cargo test --test readme\n{path}: {:?}\nexpected: {:?}",
            first + 1,
            committed.lines().nth(first),
            expected.lines().nth(first)
        );
    }
}

/// The README's sample prefdb.toml is a valid config file, and covers every [server] key.
#[test]
fn sample_config_parses() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let section = readme
        .split("## Sample prefdb.toml")
        .nth(1)
        .expect("README has a Sample prefdb.toml section");
    let body = section
        .split("```toml\n")
        .nth(1)
        .and_then(|b| b.split("\n```").next())
        .expect("a toml block");
    let config = prefdb::Config::parse(body).expect("the sample parses");
    assert_eq!(config.tables["votes"], "s3://my-arena/votes/*.parquet");
    assert_eq!(config.users.len(), 2);
    assert_eq!(config.server.max_connections, Some(64));
    for key in [
        "listen",
        "allow_ddl",
        "max_connections",
        "query_timeout_secs",
        "memory_limit",
        "shutdown_grace_secs",
        "tls_cert",
        "tls_key",
    ] {
        assert!(body.contains(&format!("{key} =")), "sample lacks {key}");
    }
    let options = prefdb::server::ServeOptions::from_config(&config);
    assert_eq!(
        options.query_timeout,
        Some(std::time::Duration::from_secs(300))
    );
    prefdb::stores::PrefdbStores::new(prefdb::stores::settings_from_config(&config.stores))
        .expect("store settings are valid");
}
