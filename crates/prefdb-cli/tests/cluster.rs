//! A Ballista cluster of `prefdb` processes on loopback: a scheduler and two executors,
//! queried with `prefdb sql --cluster`. Every result must equal the embedded engine's,
//! byte for byte; an executor killed mid-query must not take the cluster down.

#![cfg(feature = "cluster")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PREFDB: &str = env!("CARGO_BIN_EXE_prefdb");

/// A child process, killed on drop; its stderr is kept for failure messages.
struct Process {
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Process {
    /// Start `prefdb args...`, and wait (up to a minute) for a stderr line containing
    /// `ready`, which is returned.
    fn start(args: &[&str], ready: &str) -> (Process, String) {
        Process::start_with(args, ready, &[])
    }

    /// [`Process::start`] with these environment variables set.
    fn start_with(args: &[&str], ready: &str, env: &[(&str, &str)]) -> (Process, String) {
        let mut child = Command::new(PREFDB)
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let kept = Arc::clone(&log);
        let ready = ready.to_string();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                kept.lock().unwrap().push_str(&format!("{line}\n"));
                if line.contains(&ready) {
                    let _ = tx.send(line);
                }
            }
        });
        let process = Process { child, log };
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => (process, line),
            Err(_) => panic!(
                "prefdb {} did not start; stderr:\n{}",
                args.join(" "),
                process.log.lock().unwrap()
            ),
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

struct Cluster {
    scheduler: Process,
    address: SocketAddr,
    executors: Vec<Process>,
}

impl Cluster {
    fn start(executors: usize, settings: &[&str]) -> Cluster {
        Cluster::start_with(executors, settings, &[])
    }

    /// [`Cluster::start`] with these environment variables for the scheduler (its log
    /// level, say).
    fn start_with(executors: usize, settings: &[&str], env: &[(&str, &str)]) -> Cluster {
        let mut args = vec!["cluster", "scheduler", "--bind", "127.0.0.1:0"];
        args.extend_from_slice(settings);
        let (scheduler, line) = Process::start_with(&args, "listening on", env);
        let address: SocketAddr = line.rsplit(' ').next().unwrap().parse().unwrap();
        let mut cluster = Cluster {
            scheduler,
            address,
            executors: Vec::new(),
        };
        for _ in 0..executors {
            cluster.add_executor(settings);
        }
        cluster.wait_for_executors(executors);
        cluster
    }

    fn add_executor(&mut self, settings: &[&str]) {
        let scheduler = self.address.to_string();
        let mut args = vec![
            "cluster",
            "executor",
            "--scheduler",
            &scheduler,
            "--bind",
            "127.0.0.1:0",
            "--concurrency",
            "2",
            "--memory-limit",
            "2GiB",
        ];
        args.extend_from_slice(settings);
        let (executor, _) = Process::start(&args, "flight on");
        self.executors.push(executor);
    }

    /// Wait (bounded) until the scheduler's /readyz counts `n` executors.
    fn wait_for_executors(&self, n: usize) {
        let started = Instant::now();
        let want = format!("ready: {n} executors registered");
        loop {
            let body = readyz(self.address);
            if body.contains(&want) {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the scheduler never counted {n} executors: {body}\nscheduler:\n{}",
                self.scheduler.log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Wait (up to `seconds`) for the scheduler's log to contain `text`.
    fn wait_for_log(&self, text: &str, seconds: u64) {
        let started = Instant::now();
        while !self.scheduler.log.lock().unwrap().contains(text) {
            assert!(
                started.elapsed() < Duration::from_secs(seconds),
                "the scheduler never logged {text:?}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn url(&self) -> String {
        format!("df://{}", self.address)
    }

    fn logs(&self) -> String {
        let mut text = format!("scheduler:\n{}", self.scheduler.log.lock().unwrap());
        for (i, e) in self.executors.iter().enumerate() {
            text.push_str(&format!("executor {i}:\n{}", e.log.lock().unwrap()));
        }
        text
    }
}

/// The body of the scheduler's `/readyz`, by hand over HTTP/1.1.
fn readyz(address: SocketAddr) -> String {
    let Ok(mut s) = TcpStream::connect(address) else {
        return String::new();
    };
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let request = format!("GET /readyz HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    if s.write_all(request.as_bytes()).is_err() {
        return String::new();
    }
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    reply
}

fn prefdb(args: &[&str]) -> Output {
    Command::new(PREFDB).args(args).output().unwrap()
}

fn stdout(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `prefdb shell ARGS...` with `input` on its standard input.
fn shell_with(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(PREFDB)
        .arg("shell")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}

/// `prefdb sql --table TABLE --format json QUERY` in the embedded engine.
fn embedded_json(table: &str, query: &str) -> String {
    stdout(
        prefdb(&["sql", "--table", table, "--format", "json", query]),
        &format!("{query} embedded"),
    )
}

/// The same on `cluster`, with `extra` arguments (a config file); a failure shows the
/// cluster's logs.
fn cluster_json(cluster: &Cluster, table: &str, extra: &[&str], query: &str) -> String {
    let url = cluster.url();
    let mut args = vec!["sql", "--cluster", &url, "--table", table];
    args.extend_from_slice(extra);
    args.extend(["--format", "json", query]);
    stdout(
        prefdb(&args),
        &format!("{query} on the cluster\n{}", cluster.logs()),
    )
}

/// Eight Parquet files of an arena, in one directory.
/// `prefdb sql --cluster URL --table TABLE --format json QUERY`, started and not waited
/// for, its output piped.
fn start_sql(url: &str, table: &str, query: &str) -> Child {
    Command::new(PREFDB)
        .args([
            "sql",
            "--cluster",
            url,
            "--table",
            table,
            "--format",
            "json",
            query,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn arena(dir: &Path) -> PathBuf {
    let votes = dir.join("votes");
    std::fs::create_dir_all(&votes).unwrap();
    for part in 0..8 {
        let out = votes.join(format!("part-{part}.parquet"));
        stdout(
            prefdb(&[
                "gen",
                "arena",
                "--votes",
                "3000",
                "--models",
                "8",
                "--seed",
                &part.to_string(),
                "--out",
                out.to_str().unwrap(),
            ]),
            "gen arena",
        );
    }
    votes
}

/// The queries the issue names, over `votes`.
const QUERIES: &[&str] = &[
    "SELECT category, bt_rank(model_a, model_b, winner, 'bootstrap=200, seed=7') AS r FROM votes GROUP BY category ORDER BY category",
    "SELECT category, item, rating, ci_lower, ci_upper FROM leaderboard('SELECT category, bt_rank(model_a, model_b, winner, ''bootstrap=200, seed=7'') FROM votes GROUP BY category') ORDER BY category, item",
    "SELECT win_matrix(model_a, model_b, winner) FROM votes",
    "WITH r AS (SELECT concat(ts, model_a, model_b, turn_len_a, turn_len_b, winner) AS unit, turn_len_a, turn_len_b FROM votes) SELECT krippendorff_alpha(unit, rater, v) AS nominal, krippendorff_alpha(unit, rater, v, 'level=interval') AS interval FROM (SELECT unit, 'a' AS rater, turn_len_a % 4 AS v FROM r UNION ALL SELECT unit, 'b', turn_len_b % 4 FROM r)",
    // Grouped, a function that keeps its rows runs in one phase: the rows cross the shuffle.
    "WITH r AS (SELECT category, concat(ts, model_a, model_b, turn_len_a, turn_len_b, winner) AS unit, turn_len_a, turn_len_b FROM votes) SELECT category, krippendorff_alpha(unit, rater, v) AS alpha, count(*) AS n FROM (SELECT category, unit, 'a' AS rater, turn_len_a % 4 AS v FROM r UNION ALL SELECT category, unit, 'b', turn_len_b % 4 FROM r) GROUP BY category ORDER BY category",
    "SELECT ece(CAST(turn_len_a AS DOUBLE) / (turn_len_a + turn_len_b), winner = 'model_a') AS ece, brier_score(CAST(turn_len_a AS DOUBLE) / (turn_len_a + turn_len_b), winner = 'model_a') AS brier FROM votes",
    "SELECT item, rating FROM leaderboard('SELECT elo_rank(model_a, model_b, winner ORDER BY ts) FROM votes') ORDER BY item",
    "SELECT * FROM leaderboard('SELECT bt_rank(model_a, model_b, winner) FROM votes') ORDER BY item",
    "SELECT count(*) AS n, count(DISTINCT model_a) AS models, min(ts) AS first, max(ts) AS last FROM votes",
];

#[test]
fn a_cluster_answers_as_one_machine_does() {
    let dir = tempfile::tempdir().unwrap();
    let votes = arena(dir.path());
    let table = format!("votes={}", votes.display());
    // A Parquet file whose float column's min and max leave out its NaN (see
    // prefdb::parquet_nan): the cluster must read the NaN, as the embedded engine does.
    let nan = dir.path().join("nan.parquet");
    stdout(
        prefdb(&[
            "sql",
            &format!(
                "COPY (SELECT * FROM (VALUES (0.9), (CAST('NaN' AS DOUBLE)), (0.9), (0.9)) AS t(x)) TO '{}' STORED AS PARQUET",
                nan.display()
            ),
        ]),
        "writing nan.parquet",
    );
    let nan_table = format!("nan={}", nan.display());

    let cluster = Cluster::start(2, &[]);
    let url = cluster.url();
    for query in QUERIES {
        let embedded = embedded_json(&table, query);
        assert!(embedded.len() > 20, "{query}: {embedded}");
        assert_eq!(
            cluster_json(&cluster, &table, &[], query),
            embedded,
            "{query}"
        );
    }
    let query = "SELECT count(*) AS n, count(*) FILTER (WHERE isnan(x)) AS nans, max(x) > 1 AS nan_is_max FROM nan";
    let embedded = embedded_json(&nan_table, query);
    assert_eq!(embedded.trim(), r#"{"n":4,"nans":1,"nan_is_max":true}"#);
    assert_eq!(cluster_json(&cluster, &nan_table, &[], query), embedded);

    // A file named in the query is read on the cluster as a registered table is, and the
    // NaN-safe statistics hold for it too.
    let query = format!(
        "SELECT count(*) AS n, count(*) FILTER (WHERE isnan(x)) AS nans, max(x) > 1 AS nan_is_max FROM '{}'",
        nan.display()
    );
    assert_eq!(cluster_json(&cluster, &nan_table, &[], &query), embedded);
    let query = format!(
        "SELECT category, count(*) AS n, sum(turn_len_a) AS turns FROM '{}' GROUP BY category ORDER BY category",
        votes.join("part-0.parquet").display()
    );
    assert_eq!(
        cluster_json(&cluster, &table, &[], &query),
        embedded_json(&table, &query),
        "{query}"
    );

    // Writes run in the client; what cannot run says why.
    let copied = dir.path().join("copied.parquet");
    let copy = format!(
        "COPY (SELECT model_a, count(*) AS n FROM votes GROUP BY model_a) TO '{}' STORED AS PARQUET",
        copied.display()
    );
    stdout(
        prefdb(&["sql", "--cluster", &url, "--table", &table, &copy]),
        "COPY on the cluster",
    );
    let copied_rows = stdout(
        prefdb(&[
            "sql",
            "--format",
            "csv",
            &format!("SELECT * FROM '{}' ORDER BY model_a", copied.display()),
        ]),
        "reading the copy",
    );
    let direct = stdout(
        prefdb(&[
            "sql",
            "--table",
            &table,
            "--format",
            "csv",
            "SELECT model_a, count(*) AS n FROM votes GROUP BY model_a ORDER BY model_a",
        ]),
        "embedded",
    );
    assert_eq!(copied_rows, direct);
    let err = prefdb(&[
        "sql", "--cluster", &url, "--table", &table,
        "SELECT count(*) FROM votes JOIN information_schema.tables t ON t.table_name = votes.model_a",
    ]);
    let err = String::from_utf8(err.stderr).unwrap();
    assert!(
        err.contains("information_schema together with other tables"),
        "{err}"
    );

    // The shell, from standard input.
    let count = "SELECT count(*) AS n FROM votes WHERE winner = 'model_a';\n";
    let shell = |cluster: Option<&str>| {
        let mut args = vec!["--table", table.as_str()];
        args.extend(cluster.map(|url| ["--cluster", url]).into_iter().flatten());
        let out = stdout(shell_with(&args, count), "shell");
        // Without the timing line.
        out.lines()
            .filter(|l| !l.contains("row(s) in"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let embedded = shell(None);
    assert!(embedded.contains("| n "), "{embedded}");
    assert_eq!(shell(Some(&url)), embedded);
    // A table made in the client is queried there, and cannot be joined with files.
    let out = shell_with(
        &["--table", &table, "--cluster", &url],
        "CREATE TABLE small AS VALUES (7);\nSELECT column1 * 6 AS answer FROM small;\nSELECT count(*) FROM votes, small;\n",
    );
    let (text, err) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(text.contains("| 42 "), "{text}\n{err}");
    assert!(
        format!("{text}{err}").contains("small' is held by this client"),
        "{text}\n{err}"
    );

    // INSERT into a file table runs in the client, reading the cluster's table.
    let inserted = dir.path().join("inserted");
    std::fs::create_dir_all(&inserted).unwrap();
    let out = shell_with(
        &["--table", &table, "--cluster", &url],
        &format!(
            "CREATE EXTERNAL TABLE counts (model_a VARCHAR, n BIGINT) STORED AS PARQUET LOCATION '{}/';\n\
             INSERT INTO counts SELECT model_a, count(*) FROM votes GROUP BY model_a;\n",
            inserted.display()
        ),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read_back = stdout(
        prefdb(&[
            "sql",
            "--format",
            "csv",
            &format!("SELECT * FROM '{}/' ORDER BY model_a", inserted.display()),
        ]),
        "reading the inserted rows",
    );
    assert_eq!(read_back, direct);

    // A report from the cluster draws the same figures as one from this machine.
    let report = |on: Option<&str>, name: &str| {
        let out = dir.path().join(name);
        let mut args = vec!["report", "arena", "--table", table.as_str()];
        args.extend(on.map(|url| ["--cluster", url]).into_iter().flatten());
        args.extend(["--out", out.to_str().unwrap()]);
        stdout(prefdb(&args), &format!("report {name}\n{}", cluster.logs()));
        std::fs::read_to_string(out).unwrap()
    };
    let (here, there) = (report(None, "here.html"), report(Some(&url), "there.html"));
    assert_eq!(
        here.matches("<svg").count(),
        4,
        "leaderboard, heatmap, battles, over time"
    );
    assert_eq!(there.matches("<svg").count(), here.matches("<svg").count());
    // The leaderboard's forest plot: one whisker per model, each the same. The report is
    // deterministic (seeded intervals), so the pages are equal.
    let whisker = r#"<g class="whisker">"#;
    assert_eq!(here.matches(whisker).count(), 8, "one per model");
    assert_eq!(
        there.matches(whisker).count(),
        here.matches(whisker).count()
    );
    assert!(
        there == here,
        "the cluster's report differs from this machine's"
    );

    // The Postgres-wire server, with psql as the client.
    if !Command::new("psql")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return missing("psql (postgresql-client)");
    }
    let (_serve, port) = serve(&url, &table, &[]);
    let psql = |sql: &str| stdout(psql_at(port, sql), "psql");
    let sql = "SELECT item, round(rating, 9) FROM leaderboard('SELECT bt_rank(model_a, model_b, winner) FROM votes') ORDER BY item";
    let served = psql(sql);
    assert_eq!(served.lines().count(), 8, "{served}");
    let embedded = stdout(
        prefdb(&["sql", "--table", &table, "--format", "csv", sql]),
        "embedded",
    );
    let embedded: Vec<String> = embedded
        .lines()
        .skip(1)
        .map(|l| l.replace(',', "|"))
        .collect();
    assert_eq!(served.lines().collect::<Vec<_>>(), embedded);
}

/// `prefdb serve --cluster URL --table TABLE` on a free loopback port, with `extra`
/// arguments; the process and its port.
fn serve(url: &str, table: &str, extra: &[&str]) -> (Process, u16) {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec![
        "serve",
        "--cluster",
        url,
        "--table",
        table,
        "--listen",
        &listen,
    ];
    args.extend_from_slice(extra);
    let (process, _) = Process::start(&args, "prefdb serve:");
    (process, port)
}

/// `psql -At -c SQL` against the server on `port`.
fn psql_at(port: u16, sql: &str) -> Output {
    Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "prefdb",
            "-At",
            "-c",
            sql,
        ])
        .output()
        .unwrap()
}

fn missing(what: &str) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{what} is missing; .ci/run must install it");
    }
    eprintln!("SKIPPED: {what} is not installed; run .ci/run's install steps to test it");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP/1.1 request to moto (which takes unsigned requests), returning the status line.
fn http(port: u16, method: &str, path: &str, body: &[u8]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    reply.lines().next().unwrap_or_default().to_string()
}

/// An `s3://` table on moto's S3 server: the scheduler lists it and the executors read it,
/// each with the store settings of the config file it was started with.
#[test]
fn a_cluster_reads_s3_tables() {
    let home = std::env::var("HOME").unwrap_or_default();
    let venv =
        std::env::var("PREFDB_VENV").unwrap_or_else(|_| format!("{home}/.cache/prefdb/venv"));
    let moto = format!("{venv}/bin/moto_server");
    if !Path::new(&moto).exists() {
        return missing("moto_server (pip moto[server] in the test venv)");
    }
    let port = free_port();
    let mut server = Process {
        child: Command::new(&moto)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
        log: Arc::default(),
    };
    // Ready when it answers S3 (a listing of no buckets), not merely when its port accepts:
    // with five cluster tests at once, the first connections can beat its request handler.
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err()
        || !http(port, "GET", "/", b"").contains("200")
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "moto_server did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let dir = tempfile::tempdir().unwrap();
    let votes = arena(dir.path());
    assert!(http(port, "PUT", "/arena", b"").contains("200"));
    for part in 0..8 {
        let bytes = std::fs::read(votes.join(format!("part-{part}.parquet"))).unwrap();
        let status = http(
            port,
            "PUT",
            &format!("/arena/votes/part-{part}.parquet"),
            &bytes,
        );
        assert!(status.contains("200"), "{status}");
    }
    let config = dir.path().join("prefdb.toml");
    std::fs::write(
        &config,
        format!(
            "[stores.s3]\nendpoint = \"http://127.0.0.1:{port}\"\nallow_http = true\nregion = \"us-east-1\"\naccess_key_id = \"prefdb-test\"\nsecret_access_key = \"prefdb-test\"\n"
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let cluster = Cluster::start(2, &["--config", config]);
    let local = format!("votes={}", votes.display());
    for query in QUERIES {
        let s3 = cluster_json(
            &cluster,
            "votes=s3://arena/votes/",
            &["--config", config],
            query,
        );
        assert_eq!(s3, embedded_json(&local, query), "{query}");
    }
    server.kill();
}

/// An executor killed (SIGKILL, no goodbye) while a query runs: the query finishes on the
/// other executor, or fails with one clear line; either way the cluster goes on serving.
#[test]
fn a_cluster_survives_a_dead_executor() {
    let dir = tempfile::tempdir().unwrap();
    let votes = arena(dir.path());
    let table = format!("votes={}", votes.display());
    let mut cluster = Cluster::start(2, &[]);
    let url = cluster.url();
    // Long enough to be running when the executor dies: a large bootstrap per category
    // (about 8 s of work for the cluster's 2 cores).
    let query = "SELECT category, bt_rank(model_a, model_b, winner, 'bootstrap=50000, seed=1') AS r FROM votes GROUP BY category ORDER BY category";
    let mut running = start_sql(&url, &table, query);
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        running.try_wait().unwrap().is_none(),
        "the query ended before the executor was killed: make it longer"
    );
    cluster.executors[1].kill();
    let started = Instant::now();
    // Bounded: the scheduler takes the executor for dead after 20 s without a heartbeat.
    while running.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(120) {
            let _ = running.kill();
            panic!("the query hung after the executor died\n{}", cluster.logs());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let waited = started.elapsed();
    let out = running.wait_with_output().unwrap();
    eprintln!(
        "with an executor killed, the query {} after {waited:?} more",
        if out.status.success() {
            "succeeded"
        } else {
            "failed"
        }
    );
    if out.status.success() {
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            embedded_json(&table, query)
        );
    } else {
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("error: "), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // The cluster still answers, on the executor that is left.
    let query = "SELECT * FROM leaderboard('SELECT bt_rank(model_a, model_b, winner) FROM votes') ORDER BY item";
    assert_eq!(
        cluster_json(&cluster, &table, &[], query),
        embedded_json(&table, query)
    );
}

/// Ctrl-C in `prefdb sql --cluster`: the client asks the scheduler to cancel the statement's
/// job (Ballista's client would leave it running), says so in one line, and the scheduler
/// cancels it.
#[test]
fn ctrl_c_cancels_the_job_on_the_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let votes = arena(dir.path());
    let table = format!("votes={}", votes.display());
    let cluster = Cluster::start_with(1, &[], &[("RUST_LOG", "info")]);
    let url = cluster.url();
    let scheduler_log = || cluster.scheduler.log.lock().unwrap().clone();
    // About 8 s of work for the cluster's 2 cores, as in the test above.
    let query = "SELECT category, bt_rank(model_a, model_b, winner, 'bootstrap=50000, seed=1') AS r FROM votes GROUP BY category";
    let running = start_sql(&url, &table, query);
    // The scheduler logs each job it starts.
    cluster.wait_for_log("Job submitted: [", 60);
    std::thread::sleep(Duration::from_millis(500));
    let interrupt = Command::new("kill")
        .args(["-INT", &running.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupt.success());
    let out = running.wait_with_output().unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        !out.status.success(),
        "the query was not interrupted: {err}"
    );
    assert!(
        !scheduler_log().contains("Job finished successfully"),
        "the query ended before it was interrupted: make it longer"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    let id = err
        .strip_prefix("error: interrupted; job ")
        .and_then(|rest| rest.strip_suffix(" cancelled on the cluster\n"))
        .unwrap_or_else(|| panic!("{err}"));
    cluster.wait_for_log(&format!("Job cancelled: [{id}]"), 30);
    assert!(out.stdout.is_empty());
}

/// A statement that `serve --cluster` stops (here at its `--query-timeout`; a cancel request
/// or a client that hangs up set the same stop flag) has its job cancelled on the cluster.
#[test]
fn a_stopped_server_statement_cancels_its_job() {
    if !Command::new("psql")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return missing("psql (postgresql-client)");
    }
    let dir = tempfile::tempdir().unwrap();
    let votes = arena(dir.path());
    let table = format!("votes={}", votes.display());
    let cluster = Cluster::start_with(1, &[], &[("RUST_LOG", "info")]);
    let url = cluster.url();
    let (_serve, port) = serve(&url, &table, &["--query-timeout", "2"]);
    // About 8 s of work for the cluster's 2 cores.
    let query = "SELECT category, bt_rank(model_a, model_b, winner, 'bootstrap=50000, seed=1') AS r FROM votes GROUP BY category";
    let out = psql_at(port, query);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success(), "the statement was not stopped");
    assert!(err.contains("timeout"), "{err}");
    cluster.wait_for_log("Job cancelled: [", 30);
    assert!(
        !cluster.logs().contains("Job finished successfully"),
        "the job ran to its end:\n{}",
        cluster.logs()
    );
}
