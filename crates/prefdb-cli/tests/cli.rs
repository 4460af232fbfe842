//! The `prefdb` binary as a user runs it: output formats, errors, gen, demo and shell.

use assert_cmd::Command;
use std::path::Path;

fn prefdb() -> Command {
    Command::cargo_bin("prefdb").unwrap()
}

fn gen(dir: &Path, name: &str, seed: u64) -> String {
    let out = dir.join(name);
    prefdb()
        .args(["gen", "arena", "--votes", "5000", "--models", "6", "--seed"])
        .arg(seed.to_string())
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    out.to_string_lossy().into_owned()
}

fn stdout(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A failing command: non-zero exit and exactly one line on stderr, with no panic text.
fn one_line_error(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(!out.status.success(), "expected failure");
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "stderr: {err}");
    assert!(err.starts_with("error: "), "stderr: {err}");
    for bad in ["panicked", "backtrace", "RUST_BACKTRACE"] {
        assert!(!err.contains(bad), "stderr: {err}");
    }
    err
}

#[test]
fn gen_is_deterministic_for_a_seed() {
    let dir = tempfile::tempdir().unwrap();
    let a = std::fs::read(gen(dir.path(), "a.parquet", 7)).unwrap();
    let b = std::fs::read(gen(dir.path(), "b.parquet", 7)).unwrap();
    let c = std::fs::read(gen(dir.path(), "c.parquet", 8)).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn sql_prints_a_table_and_reads_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let votes = gen(dir.path(), "votes.parquet", 1);
    let out = stdout(
        prefdb()
            .args([
                "sql",
                "SELECT count(*) AS n, count(DISTINCT model_a) AS models FROM votes",
            ])
            .arg("--table")
            .arg(format!("votes={votes}")),
    );
    assert!(out.contains("| n    | models |"), "{out}");
    assert!(out.contains("| 5000 | 6      |"), "{out}");
}

#[test]
fn sql_writes_csv_json_and_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let votes = gen(dir.path(), "votes.parquet", 1);
    let table = format!("votes={votes}");
    let query = "SELECT rank, item, rating FROM leaderboard('SELECT bt_rank(model_a, model_b, winner) FROM votes')";

    let csv = stdout(prefdb().args(["sql", query, "--format", "csv", "--table", &table]));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "rank,item,rating");
    assert_eq!(lines.len(), 7);
    assert!(lines[1].starts_with("1,model-"), "{csv}");

    let json = stdout(prefdb().args(["sql", query, "--format", "json", "--table", &table]));
    assert_eq!(json.lines().count(), 6);
    assert!(
        json.lines()
            .next()
            .unwrap()
            .starts_with("{\"rank\":1,\"item\":\"model-"),
        "{json}"
    );

    let out = dir.path().join("lb.parquet");
    prefdb()
        .args([
            "sql", query, "--format", "parquet", "--table", &table, "--output",
        ])
        .arg(&out)
        .assert()
        .success();
    let count = stdout(
        prefdb()
            .args([
                "sql",
                "SELECT count(*) AS n FROM lb",
                "--format",
                "csv",
                "--table",
            ])
            .arg(format!("lb={}", out.display())),
    );
    assert_eq!(count, "n\n6\n");

    // The nested form as JSON keeps the structure.
    let nested = stdout(prefdb().args([
        "sql",
        "SELECT bt_rank(model_a, model_b, winner) AS lb FROM votes",
        "--format",
        "json",
        "--table",
        &table,
    ]));
    assert!(nested.starts_with("{\"lb\":[{\"rank\":1,"), "{nested}");
}

#[test]
fn errors_are_one_line_with_context_and_nonzero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let votes = gen(dir.path(), "votes.parquet", 1);
    let table = format!("votes={votes}");

    let e = one_line_error(prefdb().args(["sql", "SELEC 1"]));
    assert!(e.contains("SQL syntax error"), "{e}");

    let e =
        one_line_error(prefdb().args(["sql", "SELECT 1", "--table", "v=/nowhere/votes.parquet"]));
    assert!(
        e.contains("no such file or directory: '/nowhere/votes.parquet'"),
        "{e}"
    );

    let e = one_line_error(prefdb().args([
        "sql",
        "SELECT bt_rank(model_a, model_b, winner, 'scael=400') FROM votes",
        "--table",
        &table,
    ]));
    assert_eq!(
        e.trim_end(),
        "error: bt_rank: unknown option 'scael' (expected one of: scale, base, ties, prior, max_iter, tol, se, confidence, bootstrap, seed, reweight, min_pair_count, anchor)"
    );

    let e = one_line_error(prefdb().args([
        "sql",
        "SELECT bt_rank(model_a, turn_len_a) FROM votes",
        "--table",
        &table,
    ]));
    assert!(
        e.contains("both item arguments must be strings or both integers"),
        "{e}"
    );

    let e = one_line_error(prefdb().args(["sql", "SELECT * FROM missing_table"]));
    assert!(e.contains("missing_table"), "{e}");

    let e = one_line_error(prefdb().args(["sql", "SELECT 1", "--format", "parquet"]));
    assert!(e.contains("--format parquet needs --output"), "{e}");

    let e = one_line_error(prefdb().args(["sql", "SELECT 1", "--table", "novalue"]));
    assert!(e.contains("name=path"), "{e}");
}

#[test]
fn demo_prints_leaderboards_beside_the_truth() {
    let out = stdout(prefdb().args(["demo", "--votes", "20000", "--models", "5"]));
    for expected in [
        "Overall leaderboard",
        "true_rating",
        "Top 3 per category (GROUP BY category)",
        "coding",
        "Head to head (win_matrix)",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in\n{out}");
    }
}

#[test]
fn shell_runs_multi_line_statements_from_stdin() {
    let out = stdout(
        prefdb()
            .arg("shell")
            .write_stdin("SELECT 40 +\n 2 AS answer;\nSELECT nope;\n\\df\n\\q\n"),
    );
    assert!(out.contains("| answer |"), "{out}");
    for function in ["bt_rank", "krippendorff_alpha", "kendall_tau", "pass_at_k"] {
        assert!(out.contains(function), "\\df lacks {function}: {out}");
    }
    assert!(out.contains("| 42     |"), "{out}");
}

/// The one-line error for `--table t=<location>`, without the trailing newline.
fn table_error(location: &str) -> String {
    let e = one_line_error(prefdb().args(["sql", "SELECT 1", "--table", &format!("t={location}")]));
    e.trim_end().to_string()
}

#[test]
fn wrong_files_name_the_table_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let votes = gen(dir.path(), "votes.parquet", 1);
    let file = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p.display().to_string()
    };

    let empty = file("empty.csv", b"");
    assert_eq!(
        table_error(&empty),
        format!("error: table 't': '{empty}' is empty (0 bytes)")
    );

    let csv = file("csv.parquet", b"a,b\n1,2\n");
    assert_eq!(
        table_error(&csv),
        format!("error: table 't': cannot read '{csv}' as Parquet: Invalid Parquet file. Corrupt footer (prefdb takes the format from the file extension)")
    );

    let bytes = std::fs::read(&votes).unwrap();
    let truncated = file("truncated.parquet", &bytes[..bytes.len() / 2]);
    assert!(table_error(&truncated).starts_with(&format!(
        "error: table 't': cannot read '{truncated}' as Parquet: "
    )));

    let garbage = file("garbage.arrow", &[0x9f; 3000]);
    assert_eq!(
        table_error(&garbage),
        format!("error: table 't': cannot read '{garbage}' as Arrow IPC: it is neither an Arrow file nor an Arrow stream (prefdb takes the format from the file extension)")
    );

    // A JSON array is not newline-delimited JSON, and the message must not quote the file.
    let rows: Vec<String> = (0..2000)
        .map(|i| format!("{{\"a\":{i},\"b\":\"xxxxxxxxxx\"}}"))
        .collect();
    let array = file("array.json", format!("[{}]", rows.join(",")).as_bytes());
    assert_eq!(
        table_error(&array),
        format!("error: table 't': '{array}' holds a JSON array, but prefdb reads newline-delimited JSON, one object per line (convert with: jq -c '.[]')")
    );
    let pretty = file("pretty.json", b"{\"a\": 1,\n \"b\": 2}\n");
    assert_eq!(
        table_error(&pretty),
        format!("error: table 't': cannot read '{pretty}' as newline-delimited JSON (one object per line): Not valid JSON: EOF while parsing a value at line 1 column 8")
    );

    // Globs: no match, bad syntax.
    assert_eq!(
        table_error(&format!("{d}/*.ndjson")),
        format!("error: table 't': no files match '{d}/*.ndjson'")
    );
    assert_eq!(
        table_error(&format!("{d}/*.csv")),
        format!(
            "error: table 't': '{d}/*.csv' holds one file, 'empty.csv', and it is empty (0 bytes)"
        )
    );
    assert_eq!(
        table_error(&format!("{d}/[.parquet")),
        format!("error: table 't': '{d}/[.parquet' is not a valid glob: invalid range pattern (a literal '[' is written [[])")
    );

    // A newline in a path is shown escaped, not as a line break or a space.
    assert_eq!(
        table_error(&format!("{d}/v\n.parquet")),
        format!("error: table 't': no such file or directory: '{d}/v\\n.parquet'")
    );
}

#[cfg(target_os = "linux")]
#[test]
fn pipes_and_symlink_loops_are_refused_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.csv");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let fifo = fifo.display().to_string();
    assert_eq!(
        table_error(&fifo),
        format!("error: table 't': '{fifo}' is not a regular file or a directory (a pipe or a device cannot be read as a table)")
    );

    let looped = dir.path().join("loop.parquet");
    std::os::unix::fs::symlink(&looped, &looped).unwrap();
    let looped = looped.display().to_string();
    assert_eq!(
        table_error(&looped),
        format!("error: table 't': cannot read '{looped}': Too many levels of symbolic links (os error 40)")
    );
    let dangling = dir.path().join("gone.parquet");
    std::os::unix::fs::symlink(dir.path().join("nothing"), &dangling).unwrap();
    let dangling = dangling.display().to_string();
    assert_eq!(
        table_error(&dangling),
        format!("error: table 't': '{dangling}' is a symbolic link to a file that does not exist")
    );
}

#[test]
fn wrong_urls_fail_before_any_network_access() {
    assert_eq!(
        table_error("ftp://host/x.parquet"),
        "error: table 't': unsupported URL scheme 'ftp://' in 'ftp://host/x.parquet': prefdb reads s3://, gs://, az://, abfs(s)://, http(s):// and file:// URLs"
    );
    assert_eq!(
        table_error("s3:///x.parquet"),
        "error: table 't': 's3:///x.parquet' names no bucket: write s3://BUCKET/path"
    );
    assert_eq!(
        table_error("https:///x.parquet"),
        "error: table 't': 'https:///x.parquet' names no host: write https://HOST/path"
    );
    assert_eq!(
        table_error("http://[::1"),
        "error: table 't': 'http://[::1' is not a valid URL: invalid IPv6 address"
    );
    assert_eq!(
        table_error("://x.parquet"),
        "error: table 't': '://x.parquet' is not a valid URL: it has no scheme (such as s3:// or https://)"
    );
    assert_eq!(
        table_error("file://data/v.parquet"),
        "error: table 't': file URL 'file://data/v.parquet' must hold an absolute path, as in file:///data/votes.parquet (or give the path itself)"
    );
    // A file URL is a path: a directory and a glob work as they do for paths.
    let dir = tempfile::tempdir().unwrap();
    gen(dir.path(), "votes.parquet", 1);
    for location in [
        format!("file://{}/", dir.path().display()),
        format!("file://{}/*.parquet", dir.path().display()),
    ] {
        let out = stdout(prefdb().args([
            "sql",
            "SELECT count(*) AS n FROM t",
            "--format",
            "csv",
            "--table",
            &format!("t={location}"),
        ]));
        assert_eq!(out, "n\n5000\n", "{location}");
    }
    // A query's FROM 'url' gets the same reasons.
    let e = one_line_error(prefdb().args(["sql", "SELECT * FROM 'ftp://host/y.parquet'"]));
    assert_eq!(
        e.trim_end(),
        "error: FROM 'ftp://host/y.parquet': unsupported URL scheme 'ftp://' in 'ftp://host/y.parquet': prefdb reads s3://, gs://, az://, abfs(s)://, http(s):// and file:// URLs"
    );
}

#[test]
fn table_names_and_files_named_in_queries() {
    let e = one_line_error(prefdb().args(["sql", "SELECT 1", "--table", "table=v.parquet"]));
    assert_eq!(
        e.trim_end(),
        "error: invalid value 'table=v.parquet' for '--table <NAME=PATH>': table name 'table' is an SQL keyword, so every query would have to quote it (\"table\"): choose another name (see prefdb --help)"
    );
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothere.parquet").display().to_string();
    let e = one_line_error(prefdb().args(["sql", &format!("SELECT * FROM '{missing}'")]));
    assert_eq!(
        e.trim_end(),
        format!("error: FROM '{missing}': no such file or directory: '{missing}'")
    );
    let txt = dir.path().join("notes.txt");
    std::fs::write(&txt, "a,b\n").unwrap();
    let txt = txt.display().to_string();
    let e = one_line_error(prefdb().args(["sql", &format!("SELECT * FROM '{txt}'")]));
    assert_eq!(
        e.trim_end(),
        format!("error: FROM '{txt}': cannot tell the format of '{txt}': use a .parquet, .csv, .json/.ndjson or .arrow extension")
    );
    // A reader's error that names no file gets the file's name.
    let csv = dir.path().join("csv.parquet");
    std::fs::write(&csv, "a,b\n1,2\n").unwrap();
    let csv = csv.display().to_string();
    let e = one_line_error(prefdb().args(["sql", &format!("SELECT count(*) FROM '{csv}'")]));
    assert_eq!(
        e.trim_end(),
        format!("error: FROM '{csv}': cannot read '{csv}' as Parquet: Invalid Parquet file. Corrupt footer (prefdb takes the format from the file extension)")
    );
    // A missing table that is not a file keeps DataFusion's message.
    let e = one_line_error(prefdb().args(["sql", "SELECT * FROM missing_table"]));
    assert_eq!(
        e.trim_end(),
        "error: table 'prefdb.public.missing_table' not found"
    );
}

#[test]
fn config_and_limits_name_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let config = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let bad = config("bad.toml", "this is [not toml\n");
    let e = one_line_error(prefdb().args(["sql", "SELECT 1", "--config", &bad]));
    assert_eq!(
        e.trim_end(),
        format!("error: config file '{bad}': line 1, column 6: key with no value, expected `=`")
    );
    let typed = config("typed.toml", "[server]\nmax_connections = \"lots\"\n");
    let e = one_line_error(prefdb().args(["sql", "SELECT 1", "--config", &typed]));
    assert_eq!(
        e.trim_end(),
        format!("error: config file '{typed}': line 2, column 19: invalid type: string \"lots\", expected usize")
    );
    let named = config("named.toml", "[tables]\n\"a b\" = \"v.parquet\"\n");
    let e = one_line_error(prefdb().args(["sql", "SELECT 1", "--config", &named]));
    assert_eq!(
        e.trim_end(),
        format!("error: config file '{named}': [tables] table name 'a b' must be letters, digits and underscores, not starting with a digit")
    );
    let store = config("store.toml", "[stores.s3]\ncolour = \"blue\"\n");
    let e = one_line_error(prefdb().args(["sql", "SELECT 1", "--config", &store]));
    assert_eq!(
        e.trim_end(),
        format!("error: config file '{store}': [stores.s3]: 'colour' is not an option of the s3 object store")
    );
    let grace = config(
        "grace.toml",
        "[server]\nshutdown_grace_secs = 9223372036854775807\n",
    );
    let e = one_line_error(prefdb().args(["sql", "SELECT 1", "--config", &grace]));
    assert_eq!(
        e.trim_end(),
        format!("error: config file '{grace}': [server] shutdown_grace_secs must be at most 31536000 (a year), got 9223372036854775807")
    );

    for (size, expected) in [
        ("0", "error: --memory-limit: invalid size '0': must be at least 1 byte"),
        ("1XB", "error: --memory-limit: invalid size '1XB': unknown unit 'xb' (use B, KB, MB, GB or TB, or KiB, MiB, GiB, TiB)"),
        ("-1", "error: --memory-limit: invalid size '-1': expected a number and a unit, as in 4GiB"),
    ] {
        let e = one_line_error(prefdb().args(["sql", "SELECT 1", &format!("--memory-limit={size}")]));
        assert_eq!(e.trim_end(), expected);
    }
}

#[test]
fn numeric_arguments_out_of_range_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("g.parquet").display().to_string();
    let gen_error = |args: &[&str]| {
        let e = one_line_error(prefdb().args(["gen", "arena", "--out", &out]).args(args));
        e.trim_end().to_string()
    };
    assert_eq!(
        gen_error(&["--votes", "10", "--models", "18446744073709551615"]),
        "error: invalid value '18446744073709551615' for '--models <MODELS>': expected a whole number from 2 to 1000000 (see prefdb --help)"
    );
    assert_eq!(
        gen_error(&["--votes", "-5", "--models", "3"]),
        "error: invalid value '-5' for '--votes <VOTES>': expected a whole number from 0 to 10000000000 (see prefdb --help)"
    );
    assert_eq!(
        gen_error(&["--votes", "18446744073709551615", "--models", "3"]),
        "error: invalid value '18446744073709551615' for '--votes <VOTES>': expected a whole number from 0 to 10000000000 (see prefdb --help)"
    );
    assert_eq!(
        one_line_error(prefdb().args(["demo", "--votes", "100000001"])).trim_end(),
        "error: invalid value '100000001' for '--votes <VOTES>': expected a whole number from 0 to 100000000 (see prefdb --help)"
    );
    assert_eq!(
        gen_error(&["--votes", "10", "--models", "3", "--tie-rate", "-0.5"]),
        "error: invalid value '-0.5' for '--tie-rate <TIE_RATE>': expected a probability from 0 to 1 (see prefdb --help)"
    );
    assert!(!std::path::Path::new(&out).exists());

    let e = one_line_error(prefdb().args(["serve", "--query-timeout", "18446744073709551615"]));
    assert_eq!(
        e.trim_end(),
        "error: invalid value '18446744073709551615' for '--query-timeout <SECS>': expected whole seconds from 1 to 31536000 (a year), or 0 for no limit (see prefdb --help)"
    );
    let e = one_line_error(prefdb().args(["serve", "--max-connections", "-1"]));
    assert_eq!(
        e.trim_end(),
        "error: invalid value '-1' for '--max-connections <MAX_CONNECTIONS>': expected a whole number from 1 to 1000000 (see prefdb --help)"
    );
}

/// A long statement run with `prefdb sql` or `prefdb shell`, interrupted by SIGINT as Ctrl-C
/// sends it: `sql` fails with one line, and the shell says so and reads the next statement.
/// The statement is a bootstrap, whose fits run within one poll and keep every worker busy:
/// the interrupt must still stop it at once (before, SIGINT ended the process).
#[test]
fn ctrl_c_stops_the_statement_not_the_shell() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let votes = dir.path().join("votes.parquet");
    prefdb()
        .args([
            "gen", "arena", "--votes", "20000", "--models", "30", "--seed", "1",
        ])
        .arg("--out")
        .arg(&votes)
        .assert()
        .success();
    let table = format!("votes={}", votes.display());
    // A minute or more of fits on two cores in a debug build.
    let long = "SELECT category, bt_rank(model_a, model_b, winner, 'bootstrap=100000, seed=1') AS r FROM votes GROUP BY category";
    // Once the statement is computing (the process has used a CPU-second: start-up and
    // planning take a fraction of that), SIGINT as Ctrl-C sends it.
    let interrupt = |child: &mut std::process::Child, what: &str| {
        let started = Instant::now();
        while cpu_seconds(child.id()) < 1.0 {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{what}: the statement never started computing"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "{what}: the statement ended before it was interrupted"
        );
        let sent = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        Instant::now()
    };
    // Bounded: the process's end, and how long after `since` it came.
    let wait = |mut child: std::process::Child, since: Instant, what: &str| {
        while child.try_wait().unwrap().is_none() {
            if since.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                panic!("{what} did not end after Ctrl-C");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let took = since.elapsed();
        (child.wait_with_output().unwrap(), took)
    };
    let bin = assert_cmd::cargo::cargo_bin("prefdb");

    let mut sql = Command::new(&bin)
        .args(["sql", "--table", &table, long])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let since = interrupt(&mut sql, "prefdb sql");
    let (out, took) = wait(sql, since, "prefdb sql");
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "error: interrupted\n"
    );
    assert!(out.stdout.is_empty());
    assert!(
        took < Duration::from_secs(10),
        "prefdb sql took {took:?} to stop"
    );

    let mut shell = Command::new(&bin)
        .args(["shell", "--table", &table])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = shell.stdin.take().unwrap();
    writeln!(input, "{long};").unwrap();
    input.flush().unwrap();
    let since = interrupt(&mut shell, "prefdb shell");
    writeln!(input, "SELECT 41 + 1 AS answer;\n\\q").unwrap();
    drop(input);
    let (out, took) = wait(shell, since, "prefdb shell");
    let (stdout, stderr) = (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    );
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stderr, "error: interrupted\n");
    assert!(stdout.contains("| 42     |"), "{stdout}");
    assert!(stdout.contains("1 row(s)"), "{stdout}");
    assert!(
        took < Duration::from_secs(10),
        "prefdb shell took {took:?} to answer"
    );
}

/// The CPU time process `pid` has used, from /proc (user and system, in clock ticks of
/// 1/100 s); 0 once it is gone.
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // The fields after the command name (which may hold spaces, in parentheses).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    // utime and stime: the 14th and 15th fields of the line, the 12th and 13th after the name.
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}
