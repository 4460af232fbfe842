//! Figures and reports: `sql --format svg`, the shell's `\plot`, `prefdb report` for each
//! kind, checked on the SVG and HTML they write (one whisker per model, a heatmap cell per
//! pair, axis labels, no reference to anything outside the file). The rendering in a real
//! browser is `report_in_chromium.rs`.

use assert_cmd::Command;
use std::path::Path;

fn prefdb() -> Command {
    Command::cargo_bin("prefdb").unwrap()
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn arena(dir: &Path) -> String {
    let out = dir.join("votes.parquet");
    prefdb()
        .args([
            "gen", "arena", "--votes", "20000", "--models", "6", "--seed", "3", "--out",
        ])
        .arg(&out)
        .assert()
        .success();
    out.to_string_lossy().into_owned()
}

fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

/// Nothing in the page may make a browser fetch: no URLs, no external scripts, styles,
/// fonts or images.
pub fn assert_self_contained(html: &str) {
    for bad in [
        "http://", "https://", "<script", "src=", "href=", "url(", "@import", "<link",
    ] {
        let cleaned = html.replace("http://www.w3.org/2000/svg", "");
        assert!(
            !cleaned.contains(bad),
            "the page refers outside itself: {bad}"
        );
    }
}

#[test]
fn sql_format_svg_draws_a_leaderboard_a_heatmap_and_a_reliability_diagram() {
    let dir = tempfile::tempdir().unwrap();
    let votes = arena(dir.path());
    let svg = run_ok(prefdb().args([
        "sql",
        "SELECT * FROM leaderboard('SELECT bt_rank(model_a, model_b, winner, ''se=sandwich'') FROM votes')",
        "--format",
        "svg",
        "--table",
    ]).arg(format!("votes={votes}")));
    assert!(svg.starts_with("<svg"), "{svg}");
    assert_eq!(
        count(&svg, r#"<g class="whisker">"#),
        6,
        "one whisker per model"
    );
    assert_eq!(count(&svg, r#"class="item-label""#), 6);
    assert!(svg.contains(">rating<") && svg.contains(">rank range<"));

    let svg = run_ok(prefdb().args([
        "sql",
        "SELECT * FROM leaderboard('SELECT win_matrix(model_a, model_b, winner) FROM votes')",
        "--format",
        "svg",
        "--table",
    ]).arg(format!("votes={votes}")));
    assert_eq!(
        count(&svg, r#"class="cell""#),
        30,
        "a cell per ordered pair of 6 models"
    );
    assert_eq!(count(&svg, r#"class="row-label""#), 6);

    let svg = run_ok(prefdb().args([
        "sql",
        "SELECT * FROM leaderboard('SELECT reliability_bins(p, y) FROM (VALUES (0.1, 0), (0.15, 0), (0.4, 1), (0.45, 0), (0.8, 1), (0.9, 1), (0.95, 1)) AS t(p, y)')",
        "--format",
        "svg",
    ]));
    assert!(svg.contains("ECE = "), "{svg}");
    assert!(svg.contains(">mean predicted probability<") && svg.contains(">fraction positive<"));
}

#[test]
fn format_svg_says_what_it_can_draw() {
    let out = prefdb()
        .args(["sql", "SELECT 1 AS n, 'x' AS s", "--format", "svg"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        err.trim_end(),
        "error: cannot draw a result with columns n, s; prefdb draws a forest plot (columns item, rating, ci_lower, ci_upper: a leaderboard), a win-rate heatmap (item_a, item_b, win_rate: win_matrix) or a reliability diagram (mean_prob, frac_positive, count: reliability_bins)"
    );
}

#[test]
fn shell_plot_writes_the_last_result() {
    let dir = tempfile::tempdir().unwrap();
    let votes = arena(dir.path());
    let file = dir.path().join("board.svg");
    let script = format!(
        "\\plot {f}\nSELECT * FROM leaderboard('SELECT bt_rank(model_a, model_b, winner, ''se=fisher'') FROM votes');\n\\plot {f}\n\\q\n",
        f = file.display()
    );
    let out = prefdb()
        .args(["shell", "--table"])
        .arg(format!("votes={votes}"))
        .write_stdin(script)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no result to draw yet"), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("wrote {}", file.display())));
    let svg = std::fs::read_to_string(&file).unwrap();
    assert_eq!(count(&svg, r#"<g class="whisker">"#), 6);
}

#[test]
fn arena_report_has_every_figure_with_its_sql() {
    let dir = tempfile::tempdir().unwrap();
    let votes = arena(dir.path());
    let out = dir.path().join("report.html");
    let printed = run_ok(
        prefdb()
            .args(["report", "arena", "--table"])
            .arg(format!("votes={votes}"))
            .arg("--out")
            .arg(&out),
    );
    assert_eq!(printed.trim(), out.display().to_string());
    let html = std::fs::read_to_string(&out).unwrap();
    assert_self_contained(&html);
    for heading in [
        "Leaderboard",
        "Head to head",
        "Battles per model",
        "Rating over time",
        "Ranks per category",
    ] {
        assert!(
            html.contains(&format!("<h2>{heading}</h2>")),
            "no {heading}"
        );
    }
    assert_eq!(count(&html, "<svg"), 4, "forest, heatmap, bars, lines");
    assert_eq!(count(&html, r#"<g class="whisker">"#), 6);
    assert_eq!(count(&html, r#"class="cell""#), 30);
    assert_eq!(count(&html, r#"class="bar""#), 6);
    assert!(count(&html, r#"class="series""#) >= 6);
    // The rank table: a row per model, a column per category (the generator's 5).
    assert_eq!(count(&html, r#"<th scope="row">"#), 6);
    assert!(html.contains("bt_rank(model_a, model_b, winner, ''se=sandwich'')"));
    assert!(html.contains("<pre><code>SELECT"));
    assert!(html.contains("<title>Arena report"));
}

#[test]
fn arena_report_names_missing_columns() {
    let dir = tempfile::tempdir().unwrap();
    let votes = arena(dir.path());
    let out = prefdb()
        .args(["report", "arena", "--model-a", "left", "--table"])
        .arg(format!("votes={votes}"))
        .arg("--out")
        .arg(dir.path().join("r.html"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("error: table votes has no column left for --model-a; its columns are model_a, model_b, winner, category, turn_len_a, turn_len_b, ts"),
        "{err}"
    );
    // Without time and category columns, the report says what it left out.
    let slim = dir.path().join("slim.parquet");
    run_ok(
        prefdb()
            .arg("sql")
            .arg(format!(
                "COPY (SELECT model_a, model_b, winner FROM votes) TO '{}'",
                slim.display()
            ))
            .arg("--table")
            .arg(format!("votes={votes}")),
    );
    let out = dir.path().join("slim.html");
    run_ok(
        prefdb()
            .args(["report", "arena", "--table"])
            .arg(format!("v={}", slim.display()))
            .arg("--out")
            .arg(&out),
    );
    let html = std::fs::read_to_string(&out).unwrap();
    assert_eq!(count(&html, "<svg"), 3, "forest, heatmap, bars");
    assert!(html.contains("No rating over time: table v has no column ts (name one with --time)."));
    assert!(html.contains(
        "No ranks per category: table v has no column category (name one with --category)."
    ));
}

#[test]
fn agreement_and_calibration_reports() {
    let dir = tempfile::tempdir().unwrap();
    let ratings = dir.path().join("ratings.csv");
    let mut csv = String::from("aspect,item,rater,value\n");
    for (i, aspect) in ["fluency", "accuracy"].iter().enumerate() {
        for item in 0..30 {
            for rater in ["ann", "bob", "cy"] {
                let value = (item * (i + 1) + if rater == "cy" { item % 3 } else { 0 }) % 4;
                csv.push_str(&format!("{aspect},{item},{rater},{value}\n"));
            }
        }
    }
    std::fs::write(&ratings, csv).unwrap();
    let out = dir.path().join("agreement.html");
    run_ok(
        prefdb()
            .args(["report", "agreement", "--table"])
            .arg(format!("ratings={}", ratings.display()))
            .arg("--out")
            .arg(&out),
    );
    let html = std::fs::read_to_string(&out).unwrap();
    assert_self_contained(&html);
    assert_eq!(
        count(&html, r#"<g class="whisker">"#),
        2,
        "one interval per aspect"
    );
    assert!(html.contains("<h2>Two raters</h2>"));
    assert_eq!(count(&html, r#"class="row-label""#), 4, "the four labels");

    let preds = dir.path().join("preds.csv");
    let mut csv = String::from("score,label\n");
    for i in 0..400 {
        let score = (i as f64 + 0.5) / 400.0;
        let label = u8::from((i * 7919) % 400 < i);
        csv.push_str(&format!("{score},{label}\n"));
    }
    std::fs::write(&preds, csv).unwrap();
    let out = dir.path().join("calibration.html");
    run_ok(
        prefdb()
            .args(["report", "calibration", "--table"])
            .arg(format!("preds={}", preds.display()))
            .arg("--out")
            .arg(&out),
    );
    let html = std::fs::read_to_string(&out).unwrap();
    assert_self_contained(&html);
    assert!(html.contains("Reliability diagram (ECE = "), "{html}");
    assert!(
        html.contains("15 uniform bins)"),
        "ece's and reliability_bins' default"
    );
    assert_eq!(count(&html, r#"class="bin""#), 15);
    assert_eq!(count(&html, r#"class="series""#), 2, "one line per label");
}

/// Progress shows on a terminal only: `script` gives the command one.
#[test]
fn long_queries_show_rows_scanned_on_a_terminal_only() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        panic!("this test needs util-linux's script(1)");
    }
    let dir = tempfile::tempdir().unwrap();
    let votes = arena(dir.path());
    let prefdb = assert_cmd::cargo::cargo_bin("prefdb");
    let query = "SELECT count(DISTINCT model_a) + count(*) AS n FROM votes";
    let typescript = dir.path().join("typescript");
    let status = std::process::Command::new("script")
        .args(["-q", "-e", "-c"])
        .arg(format!(
            "{} sql '{query}' --table votes={votes}",
            prefdb.display()
        ))
        .arg(&typescript)
        .env("PREFDB_PROGRESS_AFTER_MS", "0")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let seen = String::from_utf8_lossy(&std::fs::read(&typescript).unwrap()).into_owned();
    assert!(seen.contains("rows scanned"), "{seen}");
    assert!(seen.contains("20006"), "{seen}");
    // Not a terminal: nothing on stderr.
    let out = prefdb_cmd()
        .args(["sql", query, "--table"])
        .arg(format!("votes={votes}"))
        .env("PREFDB_PROGRESS_AFTER_MS", "0")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn prefdb_cmd() -> Command {
    prefdb()
}
