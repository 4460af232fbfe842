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
        "error: bt_rank: unknown option 'scael' (expected one of: scale, base, ties, prior, max_iter, tol, se, confidence, bootstrap, seed)"
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
