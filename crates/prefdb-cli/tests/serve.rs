//! `prefdb serve` as a process: the demo arena by default, a config file, refusals at
//! start-up, and exit 0 on SIGTERM and Ctrl-C (SIGINT) while a client is connected.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(args: &[&str]) -> (Serve, u16) {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_prefdb"))
        .arg("serve")
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "prefdb serve did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (Serve(child), port)
}

/// One Postgres startup and simple query by hand, so this test needs no client library:
/// returns the first column of the first data row.
fn query_one(port: u16, sql: &str) -> String {
    query(port, sql).unwrap_or_else(|e| panic!("server error: {e}"))
}

/// As [`query_one`], with the server's error message as `Err`.
fn query(port: u16, sql: &str) -> Result<String, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut startup = Vec::new();
    startup.extend_from_slice(&196608u32.to_be_bytes());
    for kv in ["user", "prefdb", "database", "prefdb"] {
        startup.extend_from_slice(kv.as_bytes());
        startup.push(0);
    }
    startup.push(0);
    let mut packet = ((startup.len() + 4) as u32).to_be_bytes().to_vec();
    packet.extend(startup);
    s.write_all(&packet).unwrap();
    let mut q = vec![b'Q'];
    q.extend_from_slice(&((sql.len() + 5) as u32).to_be_bytes());
    q.extend_from_slice(sql.as_bytes());
    q.push(0);
    s.write_all(&q).unwrap();
    loop {
        let mut head = [0u8; 5];
        s.read_exact(&mut head).unwrap();
        let len = u32::from_be_bytes(head[1..5].try_into().unwrap()) as usize - 4;
        let mut body = vec![0u8; len];
        s.read_exact(&mut body).unwrap();
        match head[0] {
            b'D' => {
                let n = i32::from_be_bytes(body[2..6].try_into().unwrap()) as usize;
                return Ok(String::from_utf8(body[6..6 + n].to_vec()).unwrap());
            }
            b'E' => return Err(String::from_utf8_lossy(&body).to_string()),
            _ => {}
        }
    }
}

fn stop_with(mut server: Serve, signal: &str) -> String {
    let pid = server.0.id().to_string();
    let status = Command::new("kill").args([signal, &pid]).status().unwrap();
    assert!(status.success());
    let started = Instant::now();
    loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            let mut err = String::new();
            server
                .0
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            assert!(status.success(), "exit {status:?}: {err}");
            return err;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no exit after {signal}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn serves_the_demo_arena_and_exits_0_on_sigterm() {
    let (server, port) = serve(&[]);
    assert_eq!(query_one(port, "SELECT count(*) FROM votes"), "100000");
    let top = query_one(
        port,
        "SELECT item FROM leaderboard('SELECT bt_rank(model_a, model_b, winner) FROM votes') ORDER BY rank LIMIT 1",
    );
    assert!(top.starts_with("model-"), "{top}");
    // A connected, idle client does not hold the shutdown up.
    let _idle = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let err = stop_with(server, "-TERM");
    assert!(err.contains("the demo arena"), "{err}");
    assert!(err.contains("shut down"), "{err}");
}

/// Queries that used to abort the whole server process: `pg_roles` (an endless recursion in
/// datafusion-pg-catalog) and a 2,500-term expression (a stack overflow). Each gets an
/// answer or an error, and the same server goes on answering.
#[test]
fn queries_that_aborted_the_server_get_answers_or_errors() {
    let (server, port) = serve(&[]);
    assert_eq!(
        query_one(port, "SELECT 1 FROM pg_catalog.pg_roles LIMIT 1"),
        "1"
    );
    let terms = |n: usize| vec!["1"; n].join("+");
    let e = query(port, &format!("SELECT {}", terms(2500))).unwrap_err();
    assert!(e.contains("54001"), "{e}");
    assert!(
        e.contains("query too complex: an expression chains 2499 operators"),
        "{e}"
    );
    let ors = vec!["model_a = 'x'"; 20_000].join(" OR ");
    let e = query(port, &format!("SELECT count(*) FROM votes WHERE {ors}")).unwrap_err();
    assert!(e.contains("query too complex"), "{e}");
    assert_eq!(query_one(port, &format!("SELECT {}", terms(2000))), "2000");
    // A select list that would plan for minutes.
    let columns = vec!["1"; 100_000].join(", ");
    let e = query(port, &format!("SELECT {columns}")).unwrap_err();
    assert!(e.contains("54001"), "{e}");
    assert!(e.contains("a select list names 100000 items"), "{e}");
    // Calls nested 45 deep, which the Postgres-dialect parser would take years over.
    let calls = format!("SELECT {}1{}", "abs(".repeat(45), ")".repeat(45));
    let e = query(port, &calls).unwrap_err();
    assert!(e.contains("54001"), "{e}");
    assert!(e.contains("function calls nest 45 deep"), "{e}");
    let nested = "SELECT * FROM leaderboard('SELECT * FROM leaderboard(''SELECT bt_rank(model_a, model_b, winner) FROM votes'')')";
    let e = query(port, nested).unwrap_err();
    assert!(e.contains("exactly one list-of-structs column"), "{e}");
    assert_eq!(query_one(port, "SELECT count(*) FROM votes"), "100000");
    stop_with(server, "-TERM");
}

#[test]
fn serves_config_tables_and_exits_0_on_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("ratings.csv");
    std::fs::write(&csv, "item,rater,label\n1,a,x\n1,b,x\n2,a,y\n2,b,z\n").unwrap();
    let config = dir.path().join("prefdb.toml");
    std::fs::write(
        &config,
        format!(
            "[tables]\nratings = \"{}\"\n\n[server]\nquery_timeout_secs = 60\nmax_connections = 8\n",
            csv.display()
        ),
    )
    .unwrap();
    let (server, port) = serve(&["--config", config.to_str().unwrap()]);
    assert_eq!(
        query_one(
            port,
            "SELECT percent_agreement(item, rater, label) FROM ratings"
        ),
        "0.5"
    );
    let err = stop_with(server, "-INT");
    assert!(err.contains("tables ratings"), "{err}");
}

#[test]
fn refuses_unsafe_or_broken_setups_at_start() {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_prefdb"))
            .arg("serve")
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        err
    };
    let err = run(&["--listen", "0.0.0.0:0"]);
    assert!(err.contains("without authentication"), "{err}");
    let err = run(&["--listen", "127.0.0.1:0", "--memory-limit", "lots"]);
    assert!(err.contains("invalid size"), "{err}");
    let err = run(&[
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        "/nope.pem",
        "--tls-key",
        "/nope.key",
    ]);
    assert!(err.contains("cannot read TLS file"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prefdb.toml");
    std::fs::write(&config, "[server]\nlisten_on = 1\n").unwrap();
    let err = run(&["--config", config.to_str().unwrap()]);
    assert!(err.contains("unknown field `listen_on`"), "{err}");
}

/// `prefdb sql` reads a table by URL: a one-file HTTP server on loopback, in a thread.
#[test]
fn sql_reads_a_table_over_http() {
    let body = b"item,rater,label\n1,a,x\n1,b,x\n2,a,y\n2,b,y\n".to_vec();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(16) {
            let Ok(mut s) = stream else { continue };
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let head = String::from_utf8_lossy(&request).to_string();
            let mut reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nLast-Modified: Sun, 22 Nov 2026 10:00:00 GMT\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .into_bytes();
            if !head.starts_with("HEAD") {
                reply.extend_from_slice(&body);
            }
            let _ = s.write_all(&reply);
        }
    });
    let out = Command::new(env!("CARGO_BIN_EXE_prefdb"))
        .args([
            "sql",
            "SELECT percent_agreement(item, rater, label) AS p FROM ratings",
            "--format",
            "csv",
        ])
        .arg("--table")
        .arg(format!("ratings=http://127.0.0.1:{port}/ratings.csv"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "p\n1.0");
}
