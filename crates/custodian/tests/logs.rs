//! Log lines for operators: `log_format = "json"` gives one JSON object per
//! line (for journald and log shippers), text goes without colour codes when
//! standard error is not a terminal, and a wrong format is refused at start.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_custodian");

/// `custodian serve` in a fresh data directory until it listens, then
/// stopped as a service manager stops it; returns what it wrote on standard error.
fn serve_and_stop(format: Option<&str>) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(BIN);
    cmd.arg("--data-dir")
        .arg(tmp.path().join("data"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("CUSTODIAN_LANGUAGE", "en")
        .env("CUSTODIAN_LOG", "info")
        .env_remove("CUSTODIAN_DATABASE_URL")
        .env_remove("CUSTODIAN_MASTER_KEY")
        .env_remove("CUSTODIAN_CONFIG")
        .env_remove("CUSTODIAN_LOG_FORMAT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(f) = format {
        cmd.env("CUSTODIAN_LOG_FORMAT", f);
    }
    let mut child = cmd.spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let started = Instant::now();
    let mut line = String::new();
    while !line.contains("listening on") {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "the server ended before it listened");
        assert!(started.elapsed() < Duration::from_secs(60), "the server did not start");
    }
    let stopped = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(stopped.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    err
}

#[test]
fn json_logs_are_one_object_per_line_and_text_has_no_colour_codes() {
    let json = serve_and_stop(Some("json"));
    let lines: Vec<&str> = json.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "nothing logged");
    let mut messages = vec![];
    for line in &lines {
        let event: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert!(event["level"].is_string() && event["timestamp"].is_string(), "{line}");
        messages.push(event["fields"]["message"].as_str().unwrap_or_default().to_string());
    }
    assert!(messages.iter().any(|m| m == "shutting down"), "{messages:?}");
    assert!(!json.contains('\u{1b}'), "{json}");

    let text = serve_and_stop(None);
    assert!(text.contains("shutting down"), "{text}");
    assert!(!text.contains('\u{1b}'), "colour codes written to a pipe: {text:?}");
}

#[test]
fn an_unknown_log_format_is_refused_with_its_name() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(tmp.path())
        .arg("config")
        .env("CUSTODIAN_LOG_FORMAT", "xml")
        .env_remove("CUSTODIAN_CONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("log_format") && said.contains("text or json"), "{said}");
}
