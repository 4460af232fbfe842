//! `prefdb serve` end to end: a real server on loopback and real clients — tokio-postgres
//! here, the `psql` binary and Python's psycopg in `clients`. Every connection goes to
//! 127.0.0.1, every loop is bounded.

use datafusion::arrow::util::display::array_value_to_string;
use datafusion::prelude::SessionContext;
use prefdb::arena::{self, ArenaSpec};
use prefdb::server::{ServeOptions, Server};
use prefdb::ContextOptions;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

const SPEC: ArenaSpec = ArenaSpec {
    votes: 20_000,
    models: 8,
    seed: 7,
    tie_rate: 0.2,
};

const FLAT: &str = "SELECT rank, item, rating, wins, losses, ties, battles \
     FROM leaderboard('SELECT bt_rank(model_a, model_b, winner) FROM votes') ORDER BY rank, item";

pub struct Running {
    pub addr: SocketAddr,
    /// Statements the server is planning, computing or sending.
    pub in_flight: Arc<std::sync::atomic::AtomicUsize>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Running {
    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        let finished = tokio::time::timeout(Duration::from_secs(20), self.task.take().unwrap())
            .await
            .expect("server stops within its grace period");
        finished.unwrap().unwrap();
    }

    pub fn url(&self, user: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user={user} dbname=prefdb connect_timeout=10",
            self.addr.port()
        )
    }
}

pub fn demo_context(memory_limit: Option<usize>) -> SessionContext {
    let ctx = prefdb::new_context_with(&ContextOptions {
        url_tables: false,
        memory_limit,
        ..Default::default()
    })
    .unwrap();
    arena::register_demo_tables(&ctx, SPEC).unwrap();
    ctx
}

pub async fn start(ctx: SessionContext, options: ServeOptions) -> Running {
    let server = Server::bind(ctx, &options).await.expect("server binds");
    let addr = server.local_addr();
    let in_flight = server.in_flight();
    let (tx, rx) = oneshot::channel();
    let task = tokio::spawn(server.run(async move {
        let _ = rx.await;
    }));
    Running {
        addr,
        in_flight,
        stop: Some(tx),
        task: Some(task),
    }
}

fn loopback() -> ServeOptions {
    ServeOptions {
        listen: "127.0.0.1:0".into(),
        shutdown_grace: Duration::from_secs(2),
        ..Default::default()
    }
}

async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.expect("connects");
    tokio::spawn(connection);
    client
}

/// The embedded result of FLAT, as text rows.
async fn embedded_rows() -> Vec<Vec<String>> {
    let ctx = demo_context(None);
    let batches = ctx.sql(FLAT).await.unwrap().collect().await.unwrap();
    let mut rows = Vec::new();
    for b in &batches {
        for i in 0..b.num_rows() {
            rows.push(
                b.columns()
                    .iter()
                    .map(|c| array_value_to_string(c, i).unwrap())
                    .collect(),
            );
        }
    }
    rows
}

/// The connection (and the server) still answers correctly.
async fn assert_serves_votes(client: &Client) {
    let n: i64 = client
        .query_one("SELECT count(*) FROM votes", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, SPEC.votes as i64);
}

fn simple_rows(messages: &[SimpleQueryMessage]) -> Vec<Vec<String>> {
    messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(
                (0..r.len())
                    .map(|i| r.get(i).unwrap_or("NULL").to_string())
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

/// "SQLSTATE message" of a server error, for assertions that show what went wrong.
fn code(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.code().code().to_string(),
        None => format!("no SQLSTATE: {e:?}"),
    }
}

fn message(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map(|d| d.message().to_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flat_leaderboard_matches_embedded_over_both_protocols() {
    let server = start(demo_context(None), loopback()).await;
    let client = connect(&server.url("prefdb")).await;
    let expected = embedded_rows().await;
    assert_eq!(expected.len(), SPEC.models);

    // Simple protocol: text values.
    let rows = simple_rows(&client.simple_query(FLAT).await.unwrap());
    assert_eq!(rows.len(), expected.len());
    for (got, want) in rows.iter().zip(&expected) {
        assert_eq!(got[0], want[0]);
        assert_eq!(got[1], want[1]);
        let (g, w): (f64, f64) = (got[2].parse().unwrap(), want[2].parse().unwrap());
        assert!((g - w).abs() < 1e-9, "rating {g} vs {w}");
        assert_eq!(&got[3..], &want[3..]);
    }

    // Extended protocol with a bound parameter: typed binary values.
    let typed = client
        .query(
            "SELECT item, rating, battles FROM leaderboard('SELECT bt_rank(model_a, model_b, winner) FROM votes') WHERE rank <= $1 ORDER BY rank, item",
            &[&3i64],
        )
        .await
        .unwrap();
    assert!(!typed.is_empty() && typed.len() <= expected.len());
    for (row, want) in typed.iter().zip(&expected) {
        let item: &str = row.get(0);
        let rating: f64 = row.get(1);
        assert_eq!(item, want[1]);
        assert!((rating - want[2].parse::<f64>().unwrap()).abs() < 1e-9);
    }
    let n: i64 = client
        .query_one(
            "SELECT count(*) FROM votes WHERE category = $1",
            &[&"coding"],
        )
        .await
        .unwrap()
        .get(0);
    assert!(n > 0 && n < SPEC.votes as i64, "{n}");

    // The nested form arrives as text a client can parse: a Postgres array of composites.
    let nested = client
        .simple_query("SELECT bt_rank(model_a, model_b, winner) AS lb FROM votes")
        .await
        .unwrap();
    let text = simple_rows(&nested)[0][0].clone();
    assert!(text.starts_with('{') && text.contains("model-00"), "{text}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_by_default_with_sqlstate_42501() {
    let server = start(demo_context(None), loopback()).await;
    let client = connect(&server.url("prefdb")).await;
    for statement in [
        "CREATE EXTERNAL TABLE secrets STORED AS CSV LOCATION '/etc/passwd'",
        "CREATE TABLE t AS SELECT 1",
        "COPY votes TO '/tmp/prefdb-stolen.csv'",
        "INSERT INTO truth VALUES ('x', 1.0)",
        "DROP TABLE votes",
        "SET datafusion.execution.target_partitions = 1",
    ] {
        let e = client.simple_query(statement).await.unwrap_err();
        assert_eq!(code(&e), "42501", "{statement}: {}", message(&e));
        assert!(message(&e).contains("read-only"), "{}", message(&e));
        // Extended protocol too. DataFusion's own CREATE EXTERNAL TABLE syntax is not
        // Postgres syntax, so there it fails to parse instead (README design notes).
        let e = client.query(statement, &[]).await.unwrap_err();
        if statement.starts_with("CREATE EXTERNAL") {
            assert_eq!(code(&e), "42601", "{statement} (extended): {e}");
        } else {
            assert_eq!(code(&e), "42501", "{statement} (extended): {e}");
        }
        // The connection stays usable.
        let one: i64 = client
            .query_one("SELECT 1::bigint", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(one, 1);
    }
    // Files cannot be named in FROM either, and leaderboard() takes only a query.
    let e = client
        .simple_query("SELECT * FROM '/etc/passwd'")
        .await
        .unwrap_err();
    assert!(code(&e).starts_with("42"), "{}", message(&e));
    let e = client
        .simple_query("SELECT * FROM leaderboard('CREATE TABLE t AS SELECT 1')")
        .await
        .unwrap_err();
    assert!(
        message(&e).contains("leaderboard takes a query"),
        "{}",
        message(&e)
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ddl_when_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("extra.csv");
    std::fs::write(&csv, "a,b\n1,2\n3,4\n").unwrap();
    let server = start(
        demo_context(None),
        ServeOptions {
            allow_ddl: true,
            ..loopback()
        },
    )
    .await;
    let client = connect(&server.url("prefdb")).await;
    client
        .simple_query(&format!(
            "CREATE EXTERNAL TABLE extra STORED AS CSV LOCATION '{}' OPTIONS ('format.has_header' 'true')",
            csv.display()
        ))
        .await
        .unwrap();
    let n: i64 = client
        .query_one("SELECT sum(b) FROM extra", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 6);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_auth_and_refusals() {
    // No users: a non-loopback listener is refused at start-up.
    let err = Server::bind(
        demo_context(None),
        &ServeOptions {
            listen: "0.0.0.0:0".into(),
            ..Default::default()
        },
    )
    .await
    .err()
    .expect("refused");
    assert!(err.to_string().contains("without authentication"), "{err}");

    let users = prefdb::Config::parse("[[users]]\nname = 'analyst'\npassword = 'correct horse'\n")
        .unwrap()
        .users;
    let server = start(
        demo_context(None),
        ServeOptions {
            users,
            ..loopback()
        },
    )
    .await;
    let base = server.url("analyst");
    let e = tokio_postgres::connect(&format!("{base} password=wrong"), NoTls)
        .await
        .err()
        .expect("wrong password is refused");
    assert_eq!(code(&e), "28P01", "{e}");
    let e = tokio_postgres::connect(&format!("{} password=x", server.url("nobody")), NoTls)
        .await
        .err()
        .expect("unknown user is refused");
    assert_eq!(code(&e), "28P01", "{e}");
    let client = connect(&format!("{base} password='correct horse'")).await;
    assert_serves_votes(&client).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_limit_answers_53300_and_recovers() {
    let server = start(
        demo_context(None),
        ServeOptions {
            max_connections: 2,
            ..loopback()
        },
    )
    .await;
    let url = server.url("prefdb");
    let a = connect(&url).await;
    let b = connect(&url).await;
    let e = tokio_postgres::connect(&url, NoTls)
        .await
        .err()
        .expect("third refused");
    assert_eq!(code(&e), "53300", "{e}");
    drop(b);
    // The slot frees when the server sees the connection close.
    let started = Instant::now();
    let c = loop {
        match tokio_postgres::connect(&url, NoTls).await {
            Ok((client, conn)) => {
                tokio::spawn(conn);
                break client;
            }
            Err(_) if started.elapsed() < Duration::from_secs(10) => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("slot never freed: {e}"),
        }
    };
    for client in [&a, &c] {
        client.simple_query("SELECT 1").await.unwrap();
    }
    server.stop().await;
}

/// A statement that runs for minutes unless stopped, using no memory.
const ENDLESS: &str =
    "SELECT count(*) FROM generate_series(1, 100000000000) AS t(v) WHERE v % 7 = 3";

/// Both kinds of long statement: one that yields between batches (ENDLESS) and one that
/// computes inside a single poll (LONG_FIT, stopped by its flag).
// As many workers as `prefdb serve` has on 2 cores: a computing statement holds one.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn query_timeout_stops_the_statement_and_the_server_keeps_serving() {
    let server = start(
        demo_context(None),
        ServeOptions {
            query_timeout: Some(Duration::from_millis(1500)),
            ..loopback()
        },
    )
    .await;
    let client = connect(&server.url("prefdb")).await;
    for long in [ENDLESS, LONG_FIT] {
        let started = Instant::now();
        let e = client.simple_query(long).await.unwrap_err();
        assert_eq!(code(&e), "57014", "{e}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        let e = client.query(long, &[]).await.unwrap_err();
        assert_eq!(code(&e), "57014", "{e}");
    }
    assert_serves_votes(&client).await;
    // COPY TO STDOUT streams its rows after the statement has started: still bounded. The
    // client gets an error, though not 57014: pgwire 0.41 answers an error in a COPY OUT
    // stream with CopyFail, a message only a client may send, and tokio-postgres reports
    // that as a protocol error (see the README's design notes).
    let started = Instant::now();
    let copy = client
        .copy_out("COPY (SELECT v FROM generate_series(1, 100000000000) AS t(v)) TO STDOUT")
        .await
        .unwrap();
    futures::pin_mut!(copy);
    let mut bytes = 0usize;
    let e = loop {
        match futures::StreamExt::next(&mut copy).await {
            Some(Ok(chunk)) => bytes += chunk.len(),
            Some(Err(e)) => break e,
            None => panic!("an endless COPY ended after {bytes} bytes"),
        }
    };
    assert!(
        format!("{e:?}").contains("unknown message tag `102`"),
        "{e:?}"
    );
    assert!(bytes > 0);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_serves_votes(&connect(&server.url("prefdb")).await).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_request_stops_the_running_query() {
    let server = start(demo_context(None), loopback()).await;
    let client = connect(&server.url("prefdb")).await;
    let token = client.cancel_token();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(700)).await;
        token.cancel_query(NoTls).await.unwrap();
    });
    let started = Instant::now();
    let e = client.simple_query(ENDLESS).await.unwrap_err();
    assert_eq!(code(&e), "57014", "{e}");
    assert!(started.elapsed() < Duration::from_secs(10));
    canceller.await.unwrap();
    client.simple_query("SELECT 1").await.unwrap();
    server.stop().await;
}

/// A statement that computes for hours inside one poll: a tie model over 400 items (each
/// model split by answer length) with 50,000 bootstrap refits, about a second each, all in
/// the final aggregate's `evaluate`, where neither a dropped future nor pgwire's cancel
/// reaches it. Only its stop flag can end it early.
const LONG_FIT: &str = "SELECT bt_rank(model_a || CAST(turn_len_a % 50 AS VARCHAR), \
     model_b || CAST(turn_len_b % 50 AS VARCHAR), winner, 'ties=davidson, bootstrap=50000') \
     FROM votes";

// As many workers as `prefdb serve` has on 2 cores: a computing statement holds one.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn a_cancel_request_stops_a_long_fit() {
    let server = start(demo_context(None), loopback()).await;
    let client = connect(&server.url("prefdb")).await;
    let token = client.cancel_token();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        token.cancel_query(NoTls).await.unwrap();
    });
    let started = Instant::now();
    let e = client.simple_query(LONG_FIT).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(code(&e), "57014", "{e}");
    canceller.await.unwrap();
    assert_serves_votes(&client).await;
    server.stop().await;
}

/// A client that hangs up mid-statement does not leave the statement computing.
// As many workers as `prefdb serve` has on 2 cores: a computing statement holds one.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn a_client_that_hangs_up_stops_its_statement() {
    let server = start(demo_context(None), loopback()).await;
    let (client, connection) = tokio_postgres::connect(&server.url("prefdb"), NoTls)
        .await
        .unwrap();
    let connection = tokio::spawn(connection);
    let query = tokio::spawn(async move { client.simple_query(LONG_FIT).await });
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.in_flight.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the statement never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    query.abort();
    connection.abort();
    let hung_up = Instant::now();
    while server.in_flight.load(std::sync::atomic::Ordering::SeqCst) > 0 {
        assert!(
            hung_up.elapsed() < Duration::from_secs(10),
            "the statement of a client that hung up is still running"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop().await;
}

/// Shutdown stops a long computation after the grace period instead of waiting for it.
// As many workers as `prefdb serve` has on 2 cores: a computing statement holds one.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn shutdown_stops_a_long_fit_after_the_grace_period() {
    let server = start(
        demo_context(None),
        ServeOptions {
            shutdown_grace: Duration::from_secs(1),
            ..loopback()
        },
    )
    .await;
    let client = connect(&server.url("prefdb")).await;
    let running = tokio::spawn(async move { client.simple_query(LONG_FIT).await });
    tokio::time::sleep(Duration::from_millis(700)).await;
    let stopping = Instant::now();
    server.stop().await;
    assert!(
        stopping.elapsed() < Duration::from_secs(8),
        "{:?}",
        stopping.elapsed()
    );
    assert!(running.await.unwrap().is_err());
}

/// Sockets that connect and never speak hold no connection slot and are closed after a few
/// seconds; a real client connects meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_sockets_neither_lock_clients_out_nor_stay_open() {
    use tokio::io::AsyncReadExt;
    let server = start(
        demo_context(None),
        ServeOptions {
            max_connections: 4,
            ..loopback()
        },
    )
    .await;
    let mut silent = Vec::new();
    for _ in 0..20 {
        silent.push(tokio::net::TcpStream::connect(server.addr).await.unwrap());
    }
    let started = Instant::now();
    let client = connect(&server.url("prefdb")).await;
    client.simple_query("SELECT 1").await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    for socket in &mut silent {
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(10), socket.read(&mut byte))
            .await
            .expect("the server closes a silent socket within seconds");
        assert_eq!(read.unwrap_or(0), 0);
    }
    drop(client);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_limit_gives_resources_exhausted() {
    let server = start(demo_context(Some(64 << 20)), loopback()).await;
    let client = connect(&server.url("prefdb")).await;
    let e = client
        .simple_query("SELECT array_agg(v) FROM generate_series(1, 200000000) AS t(v)")
        .await
        .unwrap_err();
    assert_eq!(code(&e), "53200", "{}", message(&e));
    assert!(
        message(&e).contains("resources exhausted"),
        "{}",
        message(&e)
    );
    assert_serves_votes(&client).await;
    server.stop().await;
}

/// A panic anywhere in a query (here a function that panics while it is evaluated) is an
/// error for that client, on both protocols; the connection and the others go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_query_is_an_error_for_its_client_alone() {
    use datafusion::arrow::datatypes::DataType;
    use datafusion::logical_expr::{create_udf, ColumnarValue, Volatility};
    let ctx = demo_context(None);
    ctx.register_udf(create_udf(
        "explode",
        vec![DataType::Int64],
        DataType::Int64,
        Volatility::Volatile,
        std::sync::Arc::new(
            |_args: &[ColumnarValue]| -> datafusion::common::Result<ColumnarValue> {
                panic!("explode was called")
            },
        ),
    ));
    let server = start(ctx, loopback()).await;
    let url = server.url("prefdb");
    let victim = connect(&url).await;
    let bystander = connect(&url).await;
    let sql = "SELECT explode(count(*)) FROM votes";
    let simple = victim.simple_query(sql).await.unwrap_err();
    assert_eq!(code(&simple), "XX000", "{simple:?}");
    assert!(
        message(&simple).contains("explode was called"),
        "{simple:?}"
    );
    let extended = victim.query(sql, &[]).await.unwrap_err();
    assert!(
        message(&extended).contains("explode was called"),
        "{extended:?}"
    );
    // Inside an execution task that DataFusion spawns for a scan.
    let late = "SELECT CASE WHEN n > 5 THEN explode(n) ELSE n END FROM (SELECT CAST(value AS BIGINT) AS n FROM generate_series(1, 10))";
    assert!(victim.simple_query(late).await.is_err());
    assert_serves_votes(&victim).await;
    assert_serves_votes(&bystander).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_the_socket_does_not_take_the_server_down() {
    let server = start(demo_context(None), loopback()).await;
    let url = server.url("prefdb");
    let healthy = connect(&url).await;

    // Random bytes, a truncated startup packet, an absurd length, then hang-ups.
    let mut seed = 0x9e3779b97f4a7c15u64;
    let mut junk = Vec::new();
    for _ in 0..4096 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        junk.push(seed as u8);
    }
    let payloads: Vec<Vec<u8>> = vec![
        junk,
        vec![0, 0, 0, 40, 0, 3, 0, 0, b'u', b's'],
        vec![0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 0],
        vec![0, 0, 0, 8, 4, 210, 22, 47, 0, 0, 0, 8],
    ];
    for payload in &payloads {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        let _ = s.write_all(payload).await;
        let mut buf = [0u8; 256];
        let _ = tokio::time::timeout(Duration::from_millis(300), s.read(&mut buf)).await;
    }

    // A client that vanishes mid-query.
    let (victim, conn) = tokio_postgres::connect(&url, NoTls).await.unwrap();
    let conn_task = tokio::spawn(conn);
    let pending = tokio::spawn(async move { victim.simple_query(ENDLESS).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    pending.abort();
    conn_task.abort();

    // Everyone else is fine.
    let rows = simple_rows(&healthy.simple_query(FLAT).await.unwrap());
    assert_eq!(rows.len(), SPEC.models);
    let fresh = connect(&url).await;
    fresh.simple_query("SELECT 1").await.unwrap();
    server.stop().await;
}

/// Catalog queries that psql, DBeaver, Metabase and Grafana send when they connect or
/// browse. Each must run without error.
const INTROSPECTION: &[&str] = &[
    // psql \dt
    "SELECT n.nspname as \"Schema\", c.relname as \"Name\", CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as \"Type\", pg_catalog.pg_get_userbyid(c.relowner) as \"Owner\" FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r','p','') AND n.nspname <> 'pg_catalog' AND n.nspname !~ '^pg_toast' AND n.nspname <> 'information_schema' AND pg_catalog.pg_table_is_visible(c.oid) ORDER BY 1,2",
    // information_schema, as generic JDBC/ODBC tools read it
    "SELECT table_catalog, table_schema, table_name, table_type FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
    "SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_name = 'votes' ORDER BY ordinal_position",
    // Grafana's PostgreSQL data source
    "SELECT current_setting('server_version_num')::int/100 as version",
    "select quote_ident(table_name) as \"table\" from information_schema.tables where quote_ident(table_schema) not in ('information_schema', 'pg_catalog', '_timescaledb_cache', '_timescaledb_catalog', '_timescaledb_internal', '_timescaledb_config', 'timescaledb_information', 'timescaledb_experimental') and table_type = 'BASE TABLE' and quote_ident(table_schema) IN (SELECT CASE WHEN trim(s[i]) = '\"$user\"' THEN user ELSE trim(s[i]) END FROM generate_series(array_lower(string_to_array(current_setting('search_path'),','),1), array_upper(string_to_array(current_setting('search_path'),','),1)) as i, string_to_array(current_setting('search_path'),',') s)",
    // Metabase / pgjdbc on connect and sync
    "SELECT version()",
    "SELECT current_database(), current_schema(), current_user",
    "SELECT nspname AS TABLE_SCHEM, NULL AS TABLE_CATALOG FROM pg_catalog.pg_namespace WHERE nspname <> 'pg_toast' AND (nspname !~ '^pg_temp_' OR nspname = (pg_catalog.current_schemas(true))[1]) AND (nspname !~ '^pg_toast_temp_' OR nspname = replace((pg_catalog.current_schemas(true))[1], 'pg_temp_', 'pg_toast_temp_')) ORDER BY TABLE_SCHEM",
    "SELECT n.nspname, c.relname, a.attname, a.atttypid, a.attnotnull, a.attnum FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_class c ON (c.relnamespace = n.oid) JOIN pg_catalog.pg_attribute a ON (a.attrelid=c.oid) WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relname LIKE 'votes' ORDER BY n.nspname, c.relname, a.attnum",
    // DBeaver
    "SELECT n.oid, n.*, d.description FROM pg_catalog.pg_namespace n LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid = n.oid AND d.objsubid = 0 AND d.classoid = 'pg_namespace'::regclass ORDER BY nspname",
    "SELECT db.oid, db.* FROM pg_catalog.pg_database db WHERE datname = current_database()",
    "SHOW search_path",
    "SELECT t.oid, t.typname FROM pg_catalog.pg_type t LIMIT 5",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_introspection_replay() {
    let server = start(demo_context(None), loopback()).await;
    let client = connect(&server.url("prefdb")).await;
    let mut failures = Vec::new();
    for sql in INTROSPECTION {
        if let Err(e) = client.simple_query(sql).await {
            failures.push(format!("{}: {sql}", message(&e)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let tables = simple_rows(&client.simple_query(INTROSPECTION[1]).await.unwrap());
    let names: Vec<&str> = tables.iter().map(|r| r[2].as_str()).collect();
    assert!(
        names.contains(&"votes") && names.contains(&"truth"),
        "{names:?}"
    );
    let columns = simple_rows(&client.simple_query(INTROSPECTION[2]).await.unwrap());
    assert_eq!(columns[0][0], "model_a");
    // Postgres's type names and 1-based positions, by which tools find time columns.
    let types = simple_rows(
        &client
            .simple_query("SELECT ordinal_position, column_name, data_type FROM information_schema.columns WHERE table_name = 'votes' AND column_name IN ('model_a', 'turn_len_a', 'ts') ORDER BY ordinal_position")
            .await
            .unwrap(),
    );
    assert_eq!(
        types,
        [
            ["1", "model_a", "text"],
            ["5", "turn_len_a", "bigint"],
            ["7", "ts", "timestamp with time zone"]
        ]
        .map(|r| r.map(str::to_string).to_vec())
    );
    server.stop().await;
}

/// Session statements drivers and pools send: `SHOW` of the settings they read answers as
/// Postgres does (an unknown name is 42704), and `DISCARD ALL` (every pool's reset) is
/// accepted; on both protocols.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_settings_and_discard_all_answer_as_postgres() {
    let server = start(demo_context(None), loopback()).await;
    let client = connect(&server.url("prefdb")).await;
    for (name, value) in [
        ("standard_conforming_strings", "on"),
        ("client_encoding", "UTF8"),
        ("server_version_num", "160006"),
        ("integer_datetimes", "on"),
        ("server_encoding", "UTF8"),
    ] {
        let sql = format!("SHOW {name}");
        let messages = client.simple_query(&sql).await.unwrap();
        assert_eq!(
            simple_rows(&messages),
            vec![vec![value.to_string()]],
            "{sql}"
        );
        let row = client.query_one(sql.as_str(), &[]).await.unwrap();
        assert_eq!(row.columns()[0].name(), name);
        assert_eq!(row.get::<_, String>(0), value, "{sql} (extended)");
    }
    let e = client
        .simple_query("SHOW no_such_setting")
        .await
        .unwrap_err();
    assert_eq!(e.code().map(|c| c.code()), Some("42704"), "{e:?}");
    assert!(message(&e).contains("unrecognized configuration parameter \"no_such_setting\""));
    // Settings datafusion-postgres keeps per connection still come from it.
    let path = simple_rows(&client.simple_query("SHOW search_path").await.unwrap());
    assert!(!path[0][0].is_empty(), "{path:?}");
    // Result columns carry Postgres's names, on both protocols.
    let names = |row: &tokio_postgres::Row| -> Vec<String> {
        row.columns().iter().map(|c| c.name().to_string()).collect()
    };
    let sql =
        "SELECT 1, count(*), current_user, session_user, 2::int, max(model_a) AS top FROM votes";
    let row = client.query_one(sql, &[]).await.unwrap();
    assert_eq!(
        names(&row),
        [
            "?column?",
            "count",
            "current_user",
            "session_user",
            "int4",
            "top"
        ]
    );
    let messages = client.simple_query(sql).await.unwrap();
    let described = messages.iter().find_map(|m| match m {
        tokio_postgres::SimpleQueryMessage::Row(r) => Some(
            r.columns()
                .iter()
                .map(|c| c.name().to_string())
                .collect::<Vec<_>>(),
        ),
        _ => None,
    });
    assert_eq!(described.unwrap(), names(&row));
    // A column of untyped NULLs is text, as Postgres describes it, not `unknown` (705).
    let row = client
        .query_one("SELECT NULL AS x, 1 AS y", &[])
        .await
        .unwrap();
    assert_eq!(row.columns()[0].type_(), &tokio_postgres::types::Type::TEXT);
    assert_eq!(row.get::<_, Option<String>>(0), None);
    // A correlated scalar subquery in a select list is computed, not replaced by NULL
    // (datafusion-pg-catalog's RemoveSubqueryFromProjection did that).
    let sql = "SELECT v.model_a, (SELECT count(*) FROM votes w WHERE w.model_b = v.model_a) AS n \
               FROM (SELECT DISTINCT model_a FROM votes) v ORDER BY v.model_a LIMIT 1";
    let row = client.query_one(sql, &[]).await.unwrap();
    let model: String = row.get(0);
    let expected = client
        .query_one("SELECT count(*) FROM votes WHERE model_b = $1", &[&model])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(1), expected.get::<_, i64>(0));
    // ARRAY(subquery) in a user query is computed (DataFusion has no such constructor).
    let row = client
        .query_one(
            "SELECT ARRAY(SELECT DISTINCT model_a FROM votes ORDER BY model_a LIMIT 2) AS two",
            &[],
        )
        .await
        .unwrap();
    let mut two: Vec<String> = row.get(0);
    two.sort(); // array_agg need not keep the subquery's order
    let first_two = client
        .query(
            "SELECT DISTINCT model_a FROM votes ORDER BY model_a LIMIT 2",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        two,
        first_two
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect::<Vec<_>>()
    );
    // regproc columns compare by name: pgjdbc's array-type lookup and ADBC's startup query.
    let is_array = client
        .query_one(
            "SELECT typinput='pg_catalog.array_in'::regproc FROM pg_catalog.pg_type WHERE oid=$1",
            &[&1009u32],
        )
        .await
        .unwrap();
    assert!(is_array.get::<_, bool>(0));
    let receivable = client
        .simple_query("SELECT oid, typname FROM pg_catalog.pg_type WHERE (typreceive != 0 OR typsend != 0) AND typtype != 'r'")
        .await
        .unwrap();
    assert!(simple_rows(&receivable).len() > 10);
    client.batch_execute("DISCARD ALL").await.unwrap();
    client.execute("DISCARD ALL", &[]).await.unwrap();
    // asyncpg's pool reset, then RESET of a setting: the connection's timeout is gone.
    let show = |sql: &'static str| {
        let client = &client;
        async move { simple_rows(&client.simple_query(sql).await.unwrap())[0][0].clone() }
    };
    let default_timeout = show("SHOW statement_timeout").await;
    client
        .batch_execute("SET statement_timeout = 5000")
        .await
        .unwrap();
    assert_ne!(show("SHOW statement_timeout").await, default_timeout);
    client
        .batch_execute("SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL")
        .await
        .unwrap();
    assert_eq!(show("SHOW statement_timeout").await, default_timeout);
    client
        .batch_execute("SET statement_timeout = 5000")
        .await
        .unwrap();
    client
        .execute("RESET statement_timeout", &[])
        .await
        .unwrap();
    assert_eq!(show("SHOW statement_timeout").await, default_timeout);
    // An engine setting is the server's, as with SET.
    let e = client
        .simple_query("RESET datafusion.execution.batch_size")
        .await
        .unwrap_err();
    assert_eq!(code(&e), "42501", "{e:?}");
    assert_eq!(
        simple_rows(&client.simple_query("SELECT 1").await.unwrap()),
        vec![vec!["1".to_string()]]
    );
    server.stop().await;
}

/// Cursors over both protocols: a parameter bound to the DECLARE, FETCH in pieces that add
/// up to the whole result in order, typed values over the extended protocol (where the
/// FETCH is described with the cursor's columns), and Postgres's errors for what they
/// cannot do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursors_fetch_in_pieces_over_both_protocols() {
    let server = start(demo_context(None), loopback()).await;
    let mut client = connect(&server.url("prefdb")).await;
    let whole = "SELECT model_a, turn_len_a FROM votes WHERE category = 'coding' ORDER BY ts, model_a, model_b, turn_len_a LIMIT 25";
    let expected = simple_rows(&client.simple_query(whole).await.unwrap());
    assert_eq!(expected.len(), 25);

    let tx = client.transaction().await.unwrap();
    let declare = "DECLARE c CURSOR FOR SELECT model_a, turn_len_a FROM votes WHERE category = $1 ORDER BY ts, model_a, model_b, turn_len_a LIMIT 25";
    tx.execute(declare, &[&"coding"]).await.unwrap();
    let mut fetched: Vec<Vec<String>> = vec![];
    for step in [
        "FETCH FORWARD 10 FROM c",
        "FETCH 7 FROM c",
        "FETCH NEXT FROM c",
    ] {
        // Extended protocol: typed values.
        for row in tx.query(step, &[]).await.unwrap() {
            let model: String = row.get(0);
            let turns: i64 = row.get(1);
            fetched.push(vec![model, turns.to_string()]);
        }
    }
    // Simple protocol: the rest, then nothing.
    fetched.extend(simple_rows(
        &tx.simple_query("FETCH ALL FROM c").await.unwrap(),
    ));
    assert_eq!(fetched, expected);
    assert!(simple_rows(&tx.simple_query("FETCH ALL FROM c").await.unwrap()).is_empty());
    tx.simple_query("CLOSE c").await.unwrap();
    let gone = tx.simple_query("FETCH 1 FROM c").await.unwrap_err();
    assert_eq!(code(&gone), "34000", "{gone:?}");
    assert!(
        message(&gone).contains("cursor \"c\" does not exist"),
        "{gone:?}"
    );
    tx.rollback().await.unwrap();

    client
        .simple_query("DECLARE d CURSOR FOR SELECT 1 AS one")
        .await
        .unwrap();
    let back = client
        .simple_query("FETCH BACKWARD 1 FROM d")
        .await
        .unwrap_err();
    assert_eq!(code(&back), "0A000", "{back:?}");
    assert!(
        message(&back).contains("cursors scan forward only"),
        "{back:?}"
    );
    client.simple_query("CLOSE d").await.unwrap();
    let scroll = client
        .simple_query("DECLARE e SCROLL CURSOR FOR SELECT 1")
        .await
        .unwrap_err();
    assert_eq!(code(&scroll), "0A000", "{scroll:?}");
    for i in 0..64 {
        client
            .simple_query(&format!("DECLARE k{i} CURSOR FOR SELECT {i}"))
            .await
            .unwrap_or_else(|e| panic!("cursor {i}: {e:?}"));
    }
    let many = client
        .simple_query("DECLARE k64 CURSOR FOR SELECT 64")
        .await
        .unwrap_err();
    assert_eq!(code(&many), "54000", "{many:?}");
    assert!(
        message(&many).contains("at most 64 per connection"),
        "{many:?}"
    );
    client.simple_query("CLOSE ALL").await.unwrap();
    client
        .simple_query("DECLARE k64 CURSOR FOR SELECT 64")
        .await
        .unwrap();
    assert_serves_votes(&client).await;
    server.stop().await;
}

/// `COPY (query) TO STDOUT` (connectorx, ADBC, psycopg's copy) in text, CSV and binary, on
/// a read-only server; `COPY ... TO 'file'` stays refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_to_stdout_serves_text_csv_and_binary() {
    use futures::TryStreamExt;
    let server = start(demo_context(None), loopback()).await;
    let client = connect(&server.url("prefdb")).await;
    let copied = |sql: &'static str| {
        let client = &client;
        async move {
            let stream = client.copy_out(sql).await.unwrap();
            let chunks: Vec<_> = stream.try_collect().await.unwrap();
            chunks.concat()
        }
    };
    let sql =
        "SELECT 'a,b' AS \"x y\", 1 AS n, NULL::text AS z UNION ALL SELECT 'c', 2, 'w' ORDER BY n";
    let text = copied(Box::leak(
        format!("COPY ({sql}) TO STDOUT").into_boxed_str(),
    ))
    .await;
    assert_eq!(String::from_utf8(text).unwrap(), "a,b\t1\t\\N\nc\t2\tw\n");
    let csv = copied(Box::leak(
        format!("COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER)").into_boxed_str(),
    ))
    .await;
    assert_eq!(
        String::from_utf8(csv).unwrap(),
        "x y,n,z\n\"a,b\",1,\nc,2,w\n"
    );
    let binary = copied("COPY (SELECT 7::bigint AS n) TO STDOUT (FORMAT binary)").await;
    let mut expected = b"PGCOPY\n\xFF\r\n\x00".to_vec();
    expected.extend_from_slice(&[0; 8]); // flags, header extension
    expected.extend_from_slice(&[0, 1, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 7]); // 1 field of 8 bytes
    expected.extend_from_slice(&[0xFF, 0xFF]); // trailer
    assert_eq!(binary, expected);
    let empty = copied("COPY (SELECT 1 AS n WHERE false) TO STDOUT (FORMAT binary)").await;
    assert_eq!(empty.len(), 19 + 2, "{empty:?}");
    // The simple protocol, as psql sends it.
    if let Some(psql) = component("psql (postgresql-client)", "psql", &["--version"]) {
        let out = run_psql(
            &psql,
            &server,
            &[
                "-c",
                "COPY (SELECT count(*) AS n FROM votes) TO STDOUT WITH (FORMAT csv, HEADER)",
            ],
        )
        .await;
        let votes = client
            .query_one("SELECT count(*) FROM votes", &[])
            .await
            .unwrap();
        assert_eq!(out, format!("n\n{}\n", votes.get::<_, i64>(0)));
    }
    let e = client
        .batch_execute("COPY (SELECT 1) TO '/tmp/prefdb-copy-refused.csv'")
        .await
        .unwrap_err();
    assert_eq!(e.code().map(|c| c.code()), Some("42501"), "{e:?}");
    let Err(e) = client
        .copy_out("COPY (SELECT 1) TO STDOUT (FORMAT xml)")
        .await
    else {
        panic!("an unknown COPY format is an error");
    };
    assert_eq!(e.code().map(|c| c.code()), Some("0A000"), "{e:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_waits_for_running_queries() {
    let server = start(
        demo_context(None),
        ServeOptions {
            shutdown_grace: Duration::from_secs(15),
            ..loopback()
        },
    )
    .await;
    let client = connect(&server.url("prefdb")).await;
    // A query that needs about a second; shutdown begins while it runs.
    let slow = "SELECT count(*) FROM generate_series(1, 200000000) AS t(v) WHERE v % 7 = 3";
    let running = tokio::spawn(async move { client.simple_query(slow).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.stop().await;
    let result = running.await.unwrap();
    let rows = simple_rows(&result.expect("the running query finished"));
    assert_eq!(rows[0][0], ((200_000_000u64 - 3) / 7 + 1).to_string());
}

#[test]
fn sqlstates() {
    use datafusion::common::DataFusionError;
    use prefdb::server::sqlstate;
    assert_eq!(
        sqlstate(&DataFusionError::ResourcesExhausted("x".into())),
        "53200"
    );
    assert_eq!(
        sqlstate(&DataFusionError::Plan("table 'x' not found".into())),
        "42P01"
    );
    let _ = SqlState::QUERY_CANCELED;
}

/// A program the tests need. When it is missing the test says so loudly and skips, except
/// under CI (CI=true), where a missing component is a failure: `.ci/run` installs them.
fn component(name: &str, program: &str, probe: &[&str]) -> Option<String> {
    let ok = std::process::Command::new(program)
        .args(probe)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        return Some(program.to_string());
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{name} ({program}) is missing; .ci/run must install it");
    }
    eprintln!(
        "SKIPPED: {name} ({program}) is not installed; run .ci/run's install steps to test it"
    );
    None
}

/// The Python of the test venv that .ci/run builds (psycopg, pandas, SQLAlchemy, moto).
pub fn venv_python() -> String {
    std::env::var("PREFDB_PYTHON").unwrap_or_else(|_| {
        let home = std::env::var("HOME").unwrap_or_default();
        format!("{home}/.cache/prefdb/venv/bin/python")
    })
}

async fn run_psql(psql: &str, server: &Running, args: &[&str]) -> String {
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(psql)
            .args([
                "-X",
                "-A",
                "-t",
                "-F",
                "|",
                "-h",
                "127.0.0.1",
                "-U",
                "prefdb",
                "-d",
                "prefdb",
            ])
            .args(["-p", &server.addr.port().to_string()])
            .args(args)
            .env("PGCONNECT_TIMEOUT", "10")
            .output(),
    )
    .await
    .expect("psql finishes")
    .expect("psql runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "psql {args:?} failed: {}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_runs_the_readme_queries_and_backslash_commands() {
    let Some(psql) = component("psql (postgresql-client)", "psql", &["--version"]) else {
        return;
    };
    let server = start(demo_context(None), loopback()).await;
    let expected = embedded_rows().await;
    let out = run_psql(&psql, &server, &["-c", FLAT]).await;
    let rows: Vec<Vec<String>> = out
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split('|').map(str::to_string).collect())
        .collect();
    assert_eq!(rows.len(), expected.len(), "{out}");
    for (got, want) in rows.iter().zip(&expected) {
        assert_eq!(got[1], want[1]);
        let (g, w): (f64, f64) = (got[2].parse().unwrap(), want[2].parse().unwrap());
        assert!((g - w).abs() < 1e-9 * w.abs().max(1.0), "{g} vs {w}");
        assert_eq!(&got[3..], &want[3..]);
    }
    let dt = run_psql(&psql, &server, &["-c", "\\dt"]).await;
    assert!(
        dt.contains("votes") && dt.contains("truth_by_category"),
        "{dt}"
    );
    let d = run_psql(&psql, &server, &["-c", "\\d votes"]).await;
    assert!(d.contains("model_a") && d.contains("winner"), "{d}");
    let df = run_psql(&psql, &server, &["-c", "\\df"]).await;
    for f in ["bt_rank", "krippendorff_alpha", "ece", "pass_at_k"] {
        assert!(df.contains(&format!("|{f}|")), "\\df lacks {f}: {df}");
    }
    assert!(df.contains("|bt_rank|aggregate|item_a, item_b"), "{df}");
    server.stop().await;
}

/// Issue 21 through a real client: a per-category leaderboard sorted by item comes back
/// sorted by item (DataFusion used to drop the second sort key), with and without LIMIT, and
/// DISTINCT over the flat rows is not dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_sorts_grouped_leaderboards_by_every_key() {
    let Some(psql) = component("psql (postgresql-client)", "psql", &["--version"]) else {
        return;
    };
    let server = start(demo_context(None), loopback()).await;
    let per_category = "FROM leaderboard('SELECT category, bt_rank(model_a, model_b, winner) \
                        FROM votes GROUP BY category')";
    let rows = |out: String| -> Vec<(String, String)> {
        out.lines()
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (a, b) = l.split_once('|').expect("two columns");
                (a.to_string(), b.to_string())
            })
            .collect()
    };
    let sql = format!("SELECT category, item {per_category} ORDER BY category, item");
    let sorted = rows(run_psql(&psql, &server, &["-c", &sql]).await);
    let mut expected = sorted.clone();
    expected.sort();
    assert!(sorted.len() > 20, "{sorted:?}");
    assert_eq!(sorted, expected, "rows are not in (category, item) order");

    let sql = format!("SELECT category, item {per_category} ORDER BY category, item LIMIT 5");
    let top = rows(run_psql(&psql, &server, &["-c", &sql]).await);
    assert_eq!(top, expected[..5].to_vec());

    let sql = format!("SELECT category, item {per_category} ORDER BY category, rating, item");
    let by_rating = rows(run_psql(&psql, &server, &["-c", &sql]).await);
    let sql = format!("SELECT category, item {per_category} ORDER BY category, rating DESC, item");
    let by_rating_desc = rows(run_psql(&psql, &server, &["-c", &sql]).await);
    // Within each category, ascending rating is descending rating reversed (ratings differ).
    let categories: std::collections::BTreeSet<&String> = expected.iter().map(|(c, _)| c).collect();
    for category in categories {
        let asc: Vec<_> = by_rating.iter().filter(|(c, _)| c == category).collect();
        let desc: Vec<_> = by_rating_desc
            .iter()
            .filter(|(c, _)| c == category)
            .rev()
            .collect();
        assert_eq!(asc, desc, "{category}");
    }

    let sql = format!("SELECT DISTINCT category {per_category} ORDER BY category");
    let distinct = run_psql(&psql, &server, &["-c", &sql]).await;
    let categories: Vec<&str> = distinct.lines().filter(|l| !l.is_empty()).collect();
    let mut unique = categories.clone();
    unique.dedup();
    assert_eq!(categories, unique, "DISTINCT returned repeated categories");
    assert!(categories.len() > 1, "{distinct}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psycopg_and_pandas_read_the_leaderboard() {
    let python = venv_python();
    let Some(python) = component(
        "Python with psycopg, pandas and SQLAlchemy",
        &python,
        &["-c", "import psycopg, pandas, sqlalchemy"],
    ) else {
        return;
    };
    let server = start(demo_context(None), loopback()).await;
    let expected = embedded_rows().await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/psycopg_client.py"
    );
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new(&python)
            .arg(script)
            .arg(server.addr.port().to_string())
            .output(),
    )
    .await
    .expect("python finishes")
    .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let parsed: serde_json::Value = serde_json::from_str(text.trim()).expect("JSON");
    assert_eq!(parsed["bigint_in_range"], (1u64 << 62).to_string());
    assert_eq!(
        parsed["bigint_out_of_range"],
        serde_json::json!(["22003", "bigint out of range (parameter $1)"])
    );
    for key in ["psycopg", "pandas"] {
        let rows = parsed[key].as_array().unwrap();
        assert_eq!(rows.len(), expected.len(), "{key}");
        for (got, want) in rows.iter().zip(&expected) {
            let got: Vec<&str> = got
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            assert_eq!(got[1], want[1], "{key}");
            let (g, w): (f64, f64) = (got[2].parse().unwrap(), want[2].parse().unwrap());
            assert!((g - w).abs() < 1e-9 * w.abs().max(1.0), "{key}: {g} vs {w}");
            for c in 3..7 {
                let g: f64 = got[c].parse().unwrap();
                let w: f64 = want[c].parse().unwrap();
                assert_eq!(g, w, "{key} column {c}");
            }
        }
    }
    assert_eq!(parsed["pandas_columns"][1], "item");
    assert!(parsed["param"].as_i64().unwrap() > 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_certificate_and_password() {
    let Some(psql) = component("psql (postgresql-client)", "psql", &["--version"]) else {
        return;
    };
    let Some(openssl) = component("openssl", "openssl", &["version"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = std::process::Command::new(openssl)
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let users = prefdb::Config::parse("[[users]]\nname = 'prefdb'\npassword = 's3cret'\n")
        .unwrap()
        .users;
    let server = start(
        demo_context(None),
        ServeOptions {
            users,
            tls_cert: Some(cert.to_string_lossy().into()),
            tls_key: Some(key.to_string_lossy().into()),
            ..loopback()
        },
    )
    .await;
    let conninfo = format!(
        "host=127.0.0.1 port={} user=prefdb dbname=prefdb sslmode=require",
        server.addr.port()
    );
    let out = tokio::process::Command::new(&psql)
        .args([
            "-X",
            "-A",
            "-t",
            &conninfo,
            "-c",
            "SELECT count(*) FROM votes",
            "-c",
            "\\conninfo",
        ])
        .env("PGPASSWORD", "s3cret")
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(&SPEC.votes.to_string()), "{stdout}");
    assert!(stdout.contains("SSL"), "{stdout}");
    // The wrong password over TLS is still 28P01.
    let out = tokio::process::Command::new(&psql)
        .args(["-X", "-A", "-t", &conninfo, "-c", "SELECT 1"])
        .env("PGPASSWORD", "wrong")
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("password authentication failed")
            || stderr.contains("28P01")
            || stderr.contains("Password"),
        "{stderr}"
    );
    server.stop().await;
}

/// Mixed leaderboard and GROUP BY queries from many clients at once: every answer right,
/// no connection dropped. The 30-second version with figures is `benches/pg_load.rs`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients_get_right_answers() {
    let server = start(demo_context(None), loopback()).await;
    let expected = embedded_rows().await;
    let counts = {
        let ctx = demo_context(None);
        let b = ctx
            .sql("SELECT category, count(*) FROM votes GROUP BY category ORDER BY category")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let mut rows = Vec::new();
        for batch in &b {
            for i in 0..batch.num_rows() {
                rows.push((
                    array_value_to_string(batch.column(0), i).unwrap(),
                    array_value_to_string(batch.column(1), i).unwrap(),
                ));
            }
        }
        rows
    };
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..32 {
        let url = server.url("prefdb");
        let (expected, counts) = (expected.clone(), counts.clone());
        tasks.spawn(async move {
            let client = connect(&url).await;
            let mut done = 0;
            while Instant::now() < deadline || done == 0 {
                if (c + done) % 2 == 0 {
                    let rows = simple_rows(&client.simple_query(FLAT).await.unwrap());
                    assert_eq!(rows.len(), expected.len());
                    assert_eq!(rows[0][1], expected[0][1]);
                } else {
                    let rows = client
                        .query(
                            "SELECT category, count(*) FROM votes GROUP BY category ORDER BY category",
                            &[],
                        )
                        .await
                        .unwrap();
                    let got: Vec<(String, String)> = rows
                        .iter()
                        .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1).to_string()))
                        .collect();
                    assert_eq!(got, counts);
                }
                done += 1;
            }
            done
        });
    }
    let mut total = 0;
    while let Some(done) = tasks.join_next().await {
        total += done.unwrap();
    }
    assert!(total >= 32);
    server.stop().await;
}

/// The client matrix: each script in `tests/clients/` runs against a server the test
/// starts, performs every operation its tool sends (connect, reflection, metadata calls,
/// cursors, COPY ...) and prints `{operation: {"ok": ...} | {"error": ...}}`. Every
/// operation must succeed except the listed `gaps`, the ones not supported yet (the
/// README's client matrix says which); a gap that starts to work fails the test, so the
/// list only shrinks.
/// Runs a client's matrix script and checks that exactly the `gaps` fail; returns what each
/// operation answered, for the caller to check values.
async fn client_matrix(
    client: &str,
    program: &str,
    args: &[&str],
    gaps: &[&str],
) -> serde_json::Map<String, serde_json::Value> {
    let server = start(demo_context(None), loopback()).await;
    let port = server.addr.port().to_string();
    let clients = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients");
    let home = std::env::var("HOME").unwrap_or_default();
    let out = tokio::time::timeout(
        Duration::from_secs(240),
        tokio::process::Command::new(program)
            .args(args)
            .arg(&port)
            .current_dir(clients)
            .env(
                "NODE_PATH",
                format!("{home}/.cache/prefdb/npm/node_modules"),
            )
            .output(),
    )
    .await
    .unwrap_or_else(|_| panic!("{client}: the matrix script ran for over 4 minutes"))
    .unwrap_or_else(|e| panic!("{client}: cannot run {program}: {e}"));
    let text = String::from_utf8_lossy(&out.stdout);
    let results: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text.trim())
        .unwrap_or_else(|e| {
            panic!(
                "{client}: no JSON ({e}): {text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let mut failed = Vec::new();
    let mut fixed = Vec::new();
    // `versions` reports what the script ran with, not an operation.
    for (operation, result) in results.iter().filter(|(op, _)| *op != "versions") {
        let ok = result.get("ok").is_some();
        match (gaps.contains(&operation.as_str()), ok) {
            (false, false) => failed.push(format!("{operation}: {result}")),
            (true, true) => fixed.push(operation.clone()),
            _ => {}
        }
    }
    for gap in gaps {
        assert!(
            results.contains_key(*gap),
            "{client}: no operation named {gap}"
        );
    }
    assert!(failed.is_empty(), "{client}:\n{}", failed.join("\n"));
    assert!(
        fixed.is_empty(),
        "{client}: these work now, remove them from the gaps: {fixed:?}"
    );
    server.stop().await;
    results
}

/// The venv `.ci/run` builds for the client matrix (SQLAlchemy 2, psycopg 3 and 2, polars,
/// connectorx, ADBC, pgcli); `clients-venv14` holds SQLAlchemy 1.4.
fn clients_python(venv: &str) -> String {
    let home = std::env::var("HOME").unwrap_or_default();
    format!("{home}/.cache/prefdb/{venv}/bin/python")
}

fn python_with(venv: &str, modules: &str) -> Option<String> {
    let python = clients_python(venv);
    component(
        &format!("{venv} with {modules}"),
        &python,
        &["-c", &format!("import {modules}")],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_matrix_psycopg() {
    let Some(python) = python_with("clients-venv", "psycopg") else {
        return;
    };
    client_matrix("psycopg 3", &python, &["psycopg_matrix.py"], &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_matrix_psycopg2() {
    let Some(python) = python_with("clients-venv", "psycopg2") else {
        return;
    };
    client_matrix("psycopg2", &python, &["psycopg2_matrix.py"], &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_matrix_sqlalchemy_2() {
    let Some(python) = python_with("clients-venv", "sqlalchemy, pandas, psycopg") else {
        return;
    };
    let args = ["sqlalchemy_matrix.py"];
    let results = client_matrix("SQLAlchemy 2", &python, &args, &[]).await;
    // Reflection sees the demo table's columns with Postgres types, and pandas reads it all.
    let columns = results["get_columns"]["ok"].to_string();
    assert!(columns.contains(r#"["model_a","TEXT",false]"#), "{columns}");
    assert!(
        columns.contains(r#"["turn_len_a","BIGINT",false]"#),
        "{columns}"
    );
    assert_eq!(
        results["read_sql_table"]["ok"],
        serde_json::json!([SPEC.votes, 7])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_matrix_sqlalchemy_1_4() {
    let Some(python) = python_with("clients-venv14", "sqlalchemy, pandas, psycopg2") else {
        return;
    };
    // The script takes the port, then the driver.
    let command = format!("exec {python} sqlalchemy_matrix.py \"$0\" psycopg2");
    client_matrix("SQLAlchemy 1.4", "bash", &["-c", &command], &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_matrix_polars_connectorx_and_adbc() {
    let Some(python) = python_with("clients-venv", "polars, connectorx, adbc_driver_postgresql")
    else {
        return;
    };
    client_matrix("polars", &python, &["polars_matrix.py"], &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_matrix_pgcli() {
    let Some(python) = python_with("clients-venv", "pgcli") else {
        return;
    };
    let results = client_matrix("pgcli", &python, &["pgcli_matrix.py"], &[]).await;
    // Function completion lists prefdb's functions and types Postgres's way.
    let functions = results["functions"]["ok"].to_string();
    assert!(functions.contains("func_name='abs'"), "{functions}");
    let typed = [
        "numeric",
        "real",
        "double precision",
        "integer",
        "bigint",
        "smallint",
    ]
    .iter()
    .any(|t| functions.contains(&format!("arg_types=('{t}',)")));
    assert!(typed, "{functions}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_matrix_node_postgres() {
    let Some(node) = component("node", "node", &["--version"]) else {
        return;
    };
    client_matrix("node-postgres", &node, &["node_pg_matrix.js"], &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_matrix_pgjdbc() {
    let jar = "/usr/share/java/postgresql.jar";
    let Some(java) = component("a JDK", "java", &["-version"]) else {
        return;
    };
    if !std::path::Path::new(jar).exists() {
        component("pgjdbc (libpostgresql-jdbc-java)", "false", &[]);
        return;
    }
    client_matrix("pgjdbc", &java, &["-cp", jar, "JdbcMatrix.java"], &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_matrix_psql() {
    if component("psql (postgresql-client)", "psql", &["--version"]).is_none() {
        return;
    }
    client_matrix("psql", "bash", &["psql_matrix.sh"], &[]).await;
}
