//! The nemesis's client cancellation (`--cancel`), on the reference server:
//! abandoned requests are counted as faulted and kept out of the pass rate,
//! the same seed abandons the same requests, and `cancel-leak` — a bug that
//! every patient client passes — is found only when clients give up.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use racegate::nemesis::CancelSpec;
use racegate_server::{RunningServer, ServerConfig};

fn racegate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_racegate"))
        .args(args)
        .output()
        .expect("run racegate")
}

fn scenario() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/cancel-leak.toml")
}

/// The fixed reference server, whose chats think 20 ms: longer than any
/// delay below, so every request the nemesis picks is abandoned.
fn thinking_server(dir: &Path) -> RunningServer {
    let mut config = ServerConfig::new(
        "127.0.0.1:0".parse().expect("an address"),
        dir.join("chat.db"),
    );
    config.think_ms = 20;
    RunningServer::start(config).expect("the server starts")
}

#[test]
fn abandoned_requests_are_faulted_not_judged_and_the_seed_replays_them() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = thinking_server(dir.path());
    let url = server.url("/api/chat");
    let spec = "25%:2ms..10ms";
    let expected = {
        let cancel: CancelSpec = spec.parse().expect("a cancel spec");
        (0..80)
            .filter(|&i| cancel.decide(7, i, Duration::ZERO).is_some())
            .count() as u64
    };
    assert!(expected > 0, "the seed picks some requests");
    for _ in 0..2 {
        let o = racegate(&[
            "fire",
            &url,
            "-m",
            "POST",
            "-d",
            r#"{"message": "m{i}"}"#,
            "-n",
            "80",
            "-c",
            "8",
            "--cancel",
            spec,
            "--seed",
            "7",
            "--expect-json-field",
            "response",
            "--json",
            "--quiet",
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let report: serde_json::Value =
            serde_json::from_slice(&o.stdout).expect("the report on stdout");
        assert_eq!(
            report["faulted"], expected,
            "the seed picks the same requests"
        );
        assert_eq!(
            report["total"],
            80 - expected,
            "faulted requests are not judged"
        );
        assert_eq!(
            report["pass_rate"], 1.0,
            "and not counted against the pass rate"
        );
        assert_eq!(report["faults"]["seed"], 7);
        assert_eq!(report["faults"]["cancel"], spec);
    }
    // The fixed server gave every connection back.
    let pool = pool_stats(&server);
    assert_eq!(pool["in_use"], 0, "{pool}");
}

/// `GET /api/pool` as JSON.
fn pool_stats(server: &RunningServer) -> serde_json::Value {
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let (status, body) = rt
        .block_on(racegate::engine::get_once(
            server.addr(),
            None,
            "/api/pool",
            Duration::from_secs(5),
        ))
        .expect("GET /api/pool");
    assert_eq!(status, 200);
    serde_json::from_slice(&body).expect("JSON")
}

#[test]
fn cancel_leak_is_found_only_when_clients_give_up() {
    let scenario = scenario();
    let with = racegate(&["repro", scenario.to_str().expect("a path"), "--quiet"]);
    let stdout = String::from_utf8_lossy(&with.stdout);
    assert_eq!(with.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("bug detected"), "{stdout}");

    // The same steps with no client giving up: the buggy build passes
    // every check, as patient clients always would.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let calm = dir.path().join("calm.toml");
    let text = std::fs::read_to_string(&scenario).expect("the scenario");
    let without: String = text
        .lines()
        .filter(|l| !l.starts_with("cancel = "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(text.len(), without.len(), "the scenario cancels");
    std::fs::write(&calm, without).expect("write");
    let o = racegate(&["repro", calm.to_str().expect("a path"), "--quiet"]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("before  expect fail → bug NOT detected"),
        "{stdout}"
    );
    assert!(
        stdout.contains("after   expect pass → fix holds"),
        "{stdout}"
    );
}

#[test]
fn abandoned_kv_writes_are_info_and_the_fixed_server_stays_linearizable() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = thinking_server(dir.path());
    let base = server.url("");
    let o = racegate(&[
        "kv",
        &base,
        "--read",
        "GET /api/settings/{key}",
        "--write",
        "PUT /api/settings/{key}",
        "--keys",
        "4",
        "-c",
        "8",
        "-n",
        "600",
        "--cancel",
        "30%:0ms..1ms",
        "--seed",
        "3",
        "--json",
        "--quiet",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("the report");
    let faulted = report["faulted"].as_u64().expect("faulted");
    assert!(faulted > 0, "some operations were abandoned");
    assert_eq!(
        report["history"]["verdict"], "linearizable",
        "{}",
        report["history"]
    );
    assert_eq!(report["faults"]["seed"], 3);
}

/// Runs `fire` against `server` for 1.5 s with clients giving up only in
/// 100–700 ms, mid-turn (4 workers on 4 connections: nobody queues for
/// one), gated on a 400 ms recovery; returns the exit code and report.
fn fire_with_a_cancel_window(server: &RunningServer) -> (Option<i32>, serde_json::Value) {
    let url = server.url("/api/chat");
    let o = racegate(&[
        "fire",
        &url,
        "-m",
        "POST",
        "-d",
        r#"{"message": "m{i}"}"#,
        "-z",
        "1500ms",
        "-c",
        "4",
        "--cancel",
        "60%:5ms..15ms@100ms..700ms",
        "--seed",
        "11",
        "--max-recovery",
        "400ms",
        "--min-pass-rate",
        "0",
        "--timeout",
        "2s",
        "--json",
        "--quiet",
    ]);
    let report = serde_json::from_slice(&o.stdout).expect("the report on stdout");
    (o.status.code(), report)
}

#[test]
fn a_cancel_window_is_judged_for_recovery_and_gated() {
    // The fixed server never breaks: recovered at once, the gate passes.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let fixed = thinking_server(dir.path());
    let (code, report) = fire_with_a_cancel_window(&fixed);
    let window = &report["faults"]["windows"][0];
    assert_eq!(
        (window["from_ms"].as_u64(), window["to_ms"].as_u64()),
        (Some(100), Some(700))
    );
    assert_eq!(window["recovery_ms"], 0, "{window}");
    assert_eq!(code, Some(0), "{}", report["gate"]);

    // With cancel-leak, the window drains the pool for good: it never
    // recovers, and --max-recovery fails the run.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut config = ServerConfig::new(
        "127.0.0.1:0".parse().expect("an address"),
        dir.path().join("chat.db"),
    );
    config.think_ms = 20;
    config.pool_size = 4;
    config.acquire_timeout_ms = 300;
    config.inject = vec![racegate_server::Bug::CancelLeak];
    let buggy = RunningServer::start(config).expect("the server starts");
    let (code, report) = fire_with_a_cancel_window(&buggy);
    let window = &report["faults"]["windows"][0];
    assert!(window["recovery_ms"].is_null(), "{window}");
    assert_eq!(code, Some(1));
    let reasons = report["gate"]["reasons"].to_string();
    assert!(reasons.contains("did not recover"), "{reasons}");
}
