//! Tables in object storage, against real servers on loopback: a range-capable HTTP server
//! written here (it counts the bytes it sends, to show Parquet pruning), moto's S3 server,
//! and Azurite. Each test starts its server on a free port and stops it when done.

use datafusion::arrow::array::{Float64Array, StringArray};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;
use object_store::path::Path as StorePath;
use object_store::ObjectStoreExt;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use prefdb::arena::{ArenaGenerator, ArenaSpec};
use prefdb::stores::StoreSettings;
use prefdb::ContextOptions;
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

const SPEC: ArenaSpec = ArenaSpec {
    votes: 400_000,
    models: 30,
    seed: 11,
    tie_rate: 0.2,
};
const ROW_GROUP: usize = 50_000;
const LEADERBOARD: &str =
    "SELECT item, rating FROM leaderboard('SELECT bt_rank(model_a, model_b, winner) FROM votes') ORDER BY item";

/// The arena as Parquet bytes with small row groups, so statistics can prune.
fn arena_parquet() -> Vec<u8> {
    let mut generator = ArenaGenerator::new(SPEC).unwrap();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(ROW_GROUP))
        .build();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, prefdb::arena::schema(), Some(props)).unwrap();
    while let Some(batch) = generator.next_batch() {
        writer.write(&batch).unwrap();
    }
    writer.close().unwrap();
    out
}

async fn ratings(ctx: &SessionContext) -> Vec<(String, f64)> {
    let batches: Vec<RecordBatch> = ctx.sql(LEADERBOARD).await.unwrap().collect().await.unwrap();
    let mut out = Vec::new();
    for b in &batches {
        let items = b.column(0).as_any().downcast_ref::<StringArray>().unwrap();
        let r = b.column(1).as_any().downcast_ref::<Float64Array>().unwrap();
        for i in 0..b.num_rows() {
            out.push((items.value(i).to_string(), r.value(i)));
        }
    }
    out
}

/// The leaderboard computed from a local copy, to compare remote results with.
async fn local_ratings(bytes: &[u8]) -> Vec<(String, f64)> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("votes.parquet");
    std::fs::write(&path, bytes).unwrap();
    let ctx = prefdb::new_context();
    prefdb::register_table(&ctx, "votes", path.to_str().unwrap())
        .await
        .unwrap();
    ratings(&ctx).await
}

fn assert_same(remote: &[(String, f64)], local: &[(String, f64)]) {
    assert_eq!(remote.len(), SPEC.models);
    assert_eq!(remote.len(), local.len());
    for ((ri, rr), (li, lr)) in remote.iter().zip(local) {
        assert_eq!(ri, li);
        assert!((rr - lr).abs() < 1e-9, "{ri}: {rr} vs {lr}");
    }
}

fn context(stores: StoreSettings) -> SessionContext {
    prefdb::new_context_with(&ContextOptions {
        url_tables: false,
        memory_limit: None,
        stores,
    })
    .unwrap()
}

fn settings(family: &str, pairs: &[(&str, &str)]) -> StoreSettings {
    let mut s = StoreSettings::new();
    s.insert(
        family.to_string(),
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
    );
    s
}

// ---------------------------------------------------------------------------------------
// A static file server with HTTP range requests, counting what it sends.

#[derive(Default)]
struct Traffic {
    requests: AtomicU64,
    body_bytes: AtomicU64,
}

async fn serve_file(
    listener: TcpListener,
    name: String,
    body: Arc<Vec<u8>>,
    traffic: Arc<Traffic>,
) {
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            return;
        };
        let (body, traffic, name) = (Arc::clone(&body), Arc::clone(&traffic), name.clone());
        tokio::spawn(async move {
            let (read, mut write) = socket.into_split();
            let mut reader = BufReader::new(read);
            loop {
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).await.unwrap_or(0) == 0 {
                    return;
                }
                let mut range = None;
                let mut content_length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("range: bytes=") {
                        range = Some(v.to_string());
                    } else if let Some(v) = lower.strip_prefix("content-length: ") {
                        content_length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut discard = vec![0u8; content_length];
                let _ = reader.read_exact(&mut discard).await;
                traffic.requests.fetch_add(1, Ordering::SeqCst);
                let mut parts = request_line.split_whitespace();
                let method = parts.next().unwrap_or("").to_string();
                let path = parts.next().unwrap_or("").to_string();
                let len = body.len();
                let response = if path.trim_start_matches('/') != name {
                    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
                        .to_string()
                        .into_bytes()
                } else {
                    let (status, start, end) = match range.as_deref() {
                        None => ("200 OK", 0, len),
                        Some(r) => {
                            let (a, b) = r.split_once('-').unwrap();
                            if a.is_empty() {
                                let n: usize = b.parse().unwrap();
                                ("206 Partial Content", len.saturating_sub(n), len)
                            } else {
                                let start: usize = a.parse().unwrap();
                                let end = if b.is_empty() {
                                    len
                                } else {
                                    (b.parse::<usize>().unwrap() + 1).min(len)
                                };
                                ("206 Partial Content", start, end)
                            }
                        }
                    };
                    let mut head = format!(
                        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nAccept-Ranges: bytes\r\nLast-Modified: Sun, 22 Nov 2026 10:00:00 GMT\r\nETag: \"prefdb-test\"\r\n",
                        end - start
                    );
                    if status.starts_with("206") {
                        head.push_str(&format!(
                            "Content-Range: bytes {start}-{}/{len}\r\n",
                            end - 1
                        ));
                    }
                    head.push_str("\r\n");
                    let mut bytes = head.into_bytes();
                    if method != "HEAD" {
                        bytes.extend_from_slice(&body[start..end]);
                        traffic
                            .body_bytes
                            .fetch_add((end - start) as u64, Ordering::SeqCst);
                    }
                    bytes
                };
                if write.write_all(&response).await.is_err() {
                    return;
                }
            }
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_parquet_reads_only_the_columns_and_row_groups_it_needs() {
    let bytes = arena_parquet();
    let size = bytes.len() as u64;
    let traffic = Arc::new(Traffic::default());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(serve_file(
        listener,
        "votes.parquet".into(),
        Arc::new(bytes.clone()),
        Arc::clone(&traffic),
    ));
    let url = format!("http://127.0.0.1:{port}/votes.parquet");
    let ctx = context(settings("http", &[("allow_http", "true")]));
    prefdb::register_table(&ctx, "votes", &url).await.unwrap();

    // The leaderboard is right...
    let remote = ratings(&ctx).await;
    assert_same(&remote, &local_ratings(&bytes).await);

    // ...one column does not download the file...
    let before = traffic.body_bytes.load(Ordering::SeqCst);
    let n = ctx
        .sql("SELECT count(DISTINCT category) AS n FROM votes")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(n[0].num_rows(), 1);
    let one_column = traffic.body_bytes.load(Ordering::SeqCst) - before;
    assert!(
        one_column * 4 < size,
        "one column of {size} bytes took {one_column} bytes"
    );

    // ...and a predicate on the (increasing) timestamp skips row groups by statistics:
    // the first hour of votes sits in the first of eight row groups.
    let ts_all = {
        let before = traffic.body_bytes.load(Ordering::SeqCst);
        ctx.sql("SELECT sum(turn_len_a) FROM votes WHERE ts >= TIMESTAMP '2000-01-01T00:00:00Z'")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        traffic.body_bytes.load(Ordering::SeqCst) - before
    };
    let before = traffic.body_bytes.load(Ordering::SeqCst);
    ctx.sql("SELECT sum(turn_len_a) FROM votes WHERE ts < TIMESTAMP '2024-01-01T06:00:00Z'")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let literal_filtered = traffic.body_bytes.load(Ordering::SeqCst) - before;
    assert!(
        literal_filtered * 3 < ts_all,
        "a selective ts predicate read {literal_filtered} bytes, a predicate that keeps every row group {ts_all}"
    );
    eprintln!(
        "http: file {size} B; leaderboard+all {} requests; one column {one_column} B; ts and turn_len_a, all row groups {ts_all} B; first hour only {literal_filtered} B",
        traffic.requests.load(Ordering::SeqCst)
    );

    // Through `prefdb serve --allow-ddl`: a client creates a table at the URL itself.
    let served = prefdb::server::Server::bind(
        context(StoreSettings::new()),
        &prefdb::server::ServeOptions {
            listen: "127.0.0.1:0".into(),
            allow_ddl: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let pg_port = served.local_addr().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(served.run(async move {
        let _ = stopped.await;
    }));
    let (client, conn) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={pg_port} user=prefdb dbname=prefdb"),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    client
        .simple_query(&format!(
            "CREATE EXTERNAL TABLE remote STORED AS PARQUET LOCATION '{url}'"
        ))
        .await
        .unwrap();
    let n: i64 = client
        .query_one("SELECT count(*) FROM remote", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, SPEC.votes as i64);
    let _ = stop.send(());
    serving.await.unwrap().unwrap();
    server.abort();
}

// ---------------------------------------------------------------------------------------
// Real S3 (moto) and Azure (Azurite) servers.

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed on drop.
struct Component(Child);

impl Drop for Component {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for_port(port: u16, what: &str) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{what} did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn missing(what: &str) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{what} is missing; .ci/run must install it");
    }
    eprintln!("SKIPPED: {what} is not installed; run .ci/run's install steps to test it");
}

fn venv_bin(name: &str) -> Option<String> {
    let home = std::env::var("HOME").unwrap_or_default();
    let dir = std::env::var("PREFDB_VENV").unwrap_or_else(|_| format!("{home}/.cache/prefdb/venv"));
    let path = format!("{dir}/bin/{name}");
    std::path::Path::new(&path).exists().then_some(path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_tables_from_a_real_s3_server() {
    let Some(moto) = venv_bin("moto_server") else {
        return missing("moto_server (pip moto[server] in the test venv)");
    };
    let port = free_port();
    let _server = Component(
        Command::new(moto)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(port, "moto_server");
    let endpoint = format!("http://127.0.0.1:{port}");
    let s3 = [
        ("endpoint", endpoint.as_str()),
        ("allow_http", "true"),
        ("region", "us-east-1"),
        ("access_key_id", "prefdb-test"),
        ("secret_access_key", "prefdb-test"),
    ];
    // moto creates a bucket on an unsigned PUT.
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    s.write_all(
        b"PUT /arena HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).await.unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");

    let bytes = arena_parquet();
    let ctx = context(settings("s3", &s3));
    let url = url::Url::parse("s3://arena/").unwrap();
    let store = ctx
        .runtime_env()
        .object_store_registry
        .get_store(&url)
        .unwrap();
    store
        .put(
            &StorePath::from("votes/part-0.parquet"),
            bytes.clone().into(),
        )
        .await
        .unwrap();

    // By glob and by prefix.
    for location in ["s3://arena/votes/", "s3://arena/votes/*.parquet"] {
        let ctx = context(settings("s3", &s3));
        prefdb::register_table(&ctx, "votes", location)
            .await
            .unwrap();
        assert_same(&ratings(&ctx).await, &local_ratings(&bytes).await);
    }
    // A missing bucket is a clear error, not a panic.
    let ctx = context(settings("s3", &s3));
    let err = prefdb::register_table(&ctx, "v", "s3://no-such-bucket/v.parquet")
        .await
        .unwrap_err();
    let message = prefdb::user_message(&err);
    assert!(message.contains("no-such-bucket"), "{message}");
}

/// Azurite's documented development account and key.
const AZURITE_ACCOUNT: &str = "devstoreaccount1";
const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

fn azurite_bin() -> Option<String> {
    if let Ok(path) = std::env::var("PREFDB_AZURITE") {
        return Some(path);
    }
    let home = std::env::var("HOME").unwrap_or_default();
    let path = format!("{home}/.cache/prefdb/npm/node_modules/.bin/azurite-blob");
    std::path::Path::new(&path).exists().then_some(path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_tables_from_azurite() {
    let (Some(azurite), Some(python)) = (azurite_bin(), venv_bin("python")) else {
        return missing("azurite (npm) and the test venv's azure-storage-blob");
    };
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let _server = Component(
        Command::new(azurite)
            .args([
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                &port.to_string(),
                "--location",
            ])
            .arg(dir.path())
            .args(["--silent", "--skipApiVersionCheck"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(port, "azurite");
    let endpoint = format!("http://127.0.0.1:{port}/{AZURITE_ACCOUNT}");
    let made = Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/clients/azurite_container.py"
        ))
        .args([&endpoint, AZURITE_ACCOUNT, AZURITE_KEY, "arena"])
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );

    let az = [
        ("account_name", AZURITE_ACCOUNT),
        ("access_key", AZURITE_KEY),
        ("endpoint", endpoint.as_str()),
        ("allow_http", "true"),
    ];
    let bytes = arena_parquet();
    let ctx = context(settings("az", &az));
    let store = ctx
        .runtime_env()
        .object_store_registry
        .get_store(&url::Url::parse("az://arena/").unwrap())
        .unwrap();
    store
        .put(
            &StorePath::from("votes/votes.parquet"),
            bytes.clone().into(),
        )
        .await
        .unwrap();
    for location in ["az://arena/votes/votes.parquet", "abfs://arena/votes/"] {
        let ctx = context(settings("az", &az));
        prefdb::register_table(&ctx, "votes", location)
            .await
            .unwrap();
        assert_same(&ratings(&ctx).await, &local_ratings(&bytes).await);
    }
}

// gs:// shares the registry path above but has no test against an emulator: without a
// service-account key, object_store's GCS client asks the cloud metadata service
// (169.254.169.254) for a token when writing, and tests send traffic to
// loopback only. See the README's design notes.
