//! The arena report opened in a real browser: Debian's headless Chromium renders it, and the
//! test checks that the screenshot is not blank, that the page logged nothing to the console,
//! and that the page requested nothing (Chromium's network log).
//!
//! CI installs Chromium (`apt-get install chromium`); the test fails without it.

use assert_cmd::Command;
use std::io::Read;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";

/// Decode an 8-bit RGB or RGBA PNG into its pixels (RGBA), enough for a screenshot.
fn decode_png(bytes: &[u8]) -> (usize, usize, Vec<[u8; 4]>) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let (mut width, mut height, mut channels) = (0usize, 0usize, 0usize);
    let mut data = Vec::new();
    let mut at = 8;
    while at + 8 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let kind = &bytes[at + 4..at + 8];
        let body = &bytes[at + 8..at + 8 + len];
        match kind {
            b"IHDR" => {
                width = u32::from_be_bytes(body[0..4].try_into().unwrap()) as usize;
                height = u32::from_be_bytes(body[4..8].try_into().unwrap()) as usize;
                assert_eq!(body[8], 8, "8-bit samples");
                channels = match body[9] {
                    2 => 3,
                    6 => 4,
                    t => panic!("colour type {t}"),
                };
                assert_eq!(body[12], 0, "not interlaced");
            }
            b"IDAT" => data.extend_from_slice(body),
            b"IEND" => break,
            _ => {}
        }
        at += 12 + len;
    }
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&data[..])
        .read_to_end(&mut raw)
        .unwrap();
    let stride = width * channels;
    let mut pixels = Vec::with_capacity(width * height);
    let mut previous = vec![0u8; stride];
    for y in 0..height {
        let line = &raw[y * (stride + 1)..(y + 1) * (stride + 1)];
        let mut current = line[1..].to_vec();
        for i in 0..stride {
            let a = if i >= channels {
                current[i - channels] as i32
            } else {
                0
            };
            let b = previous[i] as i32;
            let c = if i >= channels {
                previous[i - channels] as i32
            } else {
                0
            };
            let add = match line[0] {
                0 => 0,
                1 => a,
                2 => b,
                3 => (a + b) / 2,
                4 => {
                    let p = a + b - c;
                    let (pa, pb, pc) = ((p - a).abs(), (p - b).abs(), (p - c).abs());
                    if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    }
                }
                f => panic!("filter {f}"),
            };
            current[i] = current[i].wrapping_add(add as u8);
        }
        for px in current.chunks(channels) {
            pixels.push([px[0], px[1], px[2], if channels == 4 { px[3] } else { 255 }]);
        }
        previous = current;
    }
    (width, height, pixels)
}

#[test]
fn arena_report_renders_in_chromium_without_errors_or_requests() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "this test needs Debian's chromium at {CHROMIUM} (apt-get install chromium)"
    );
    let dir = tempfile::tempdir().unwrap();
    let votes = dir.path().join("votes.parquet");
    Command::cargo_bin("prefdb")
        .unwrap()
        .args(["gen", "arena", "--votes", "20000", "--models", "8", "--out"])
        .arg(&votes)
        .assert()
        .success();
    let report = dir.path().join("report.html");
    Command::cargo_bin("prefdb")
        .unwrap()
        .args(["report", "arena", "--table"])
        .arg(format!("votes={}", votes.display()))
        .arg("--out")
        .arg(&report)
        .assert()
        .success();
    let shot = dir.path().join("shot.png");
    let net_log = dir.path().join("net.json");
    let profile = dir.path().join("profile");
    let mut child = std::process::Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--hide-scrollbars",
            "--window-size=1200,2600",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--log-net-log={}", net_log.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", report.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A bounded wait: Chromium takes a few seconds; a minute means it hung.
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("chromium did not finish in 60 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(shot.exists(), "no screenshot; chromium said:\n{log}");

    // Not blank: many colours, and a good share of the page not background.
    let (width, height, pixels) = decode_png(&std::fs::read(&shot).unwrap());
    assert_eq!((width, height), (1200, 2600));
    let mut colours: Vec<[u8; 4]> = pixels.clone();
    colours.sort_unstable();
    colours.dedup();
    let inked = pixels.iter().filter(|p| p[..3] != [255, 255, 255]).count();
    assert!(colours.len() > 50, "{} colours", colours.len());
    assert!(
        inked * 50 > pixels.len(),
        "only {inked} of {} pixels drawn",
        pixels.len()
    );
    // The figures' colours are there: the whiskers' blue and the points' vermillion.
    assert!(pixels.iter().any(|p| p[..3] == [0x00, 0x72, 0xB2]));
    assert!(pixels.iter().any(|p| p[..3] == [0xD5, 0x5E, 0x00]));

    // No console messages: the page has no scripts, and nothing failed to load.
    for line in log.lines() {
        assert!(!line.contains("CONSOLE"), "console output: {line}");
    }
    // Nothing fetched by the page. Chromium itself still calls home (its clock, updates,
    // accounts) whatever the flags; those requests are browser-initiated, logged with the
    // initiator "not an origin". Any request the page made would carry the page's origin
    // ("null" for a file).
    let net = std::fs::read_to_string(&net_log).unwrap();
    let mut initiators = 0;
    for piece in net.split("\"initiator\":\"").skip(1) {
        let initiator = &piece[..piece.find('"').unwrap_or(piece.len())];
        let url = piece
            .split("\"url\":\"")
            .nth(1)
            .map(|u| &u[..u.find('"').unwrap_or(u.len())])
            .unwrap_or("?");
        assert_eq!(initiator, "not an origin", "the page requested {url}");
        initiators += 1;
    }
    eprintln!("{initiators} browser-initiated requests, none by the page");
}
