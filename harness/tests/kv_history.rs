//! `racegate kv` against the reference server on real sockets and a real
//! SQLite file: the fixed server's history is linearizable; with reads
//! served from a cache refreshed off the write path (`stale-read`, PUT
//! writes) or with merges that lose updates (`lost-update`, PATCH writes)
//! every request still answers 200, and only the history check fails — with
//! a counterexample of at least two operations and a self-contained HTML view.

use std::process::Command;

use racegate::history::{OpKind, Verdict};
use racegate::kv::{self, KvSpec};
use racegate_server::{Bug, RunningServer, ServerConfig};

fn server(bugs: &[Bug]) -> (RunningServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), dir.path().join("kv.db"));
    config.inject = bugs.to_vec();
    (RunningServer::start(config).unwrap(), dir)
}

fn spec(write: &str, body: &str, requests: u64) -> KvSpec {
    KvSpec {
        read: "GET /api/settings/{key}".into(),
        read_value: "/value".into(),
        absent_status: 404,
        write: Some(write.into()),
        cas: None,
        version_at: None,
        append: None,
        item_value: String::new(),
        write_body: body.into(),
        keys: 8,
        concurrency: 16,
        requests,
        write_ratio: 0.5,
        budget: std::time::Duration::from_secs(10),
        timeout: std::time::Duration::from_secs(10),
        key_prefix: None,
        seed: Some(7),
        cancel: None,
        faults: Vec::new(),
        tls: Default::default(),
        http2: None,
    }
}

fn stop(server: RunningServer) {
    server.stop().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fixed_server_is_linearizable_with_every_operation_recorded() {
    let (srv, _dir) = server(&[]);
    let run = kv::run(
        &srv.url(""),
        &spec("PUT /api/settings/{key}", "{value}", 3000),
        false,
        None,
    )
    .await
    .unwrap();
    let h = run.report.history.as_ref().unwrap();
    assert_eq!(h.verdict, Verdict::Linearizable, "{}", run.report.summary());
    assert_eq!((h.ops, h.keys), (3000, 8));
    assert_eq!(run.ops.len(), 3000);
    assert!(run.report.gate.passed);
    // Writes write unique values; reads name one of them (or absent).
    let writes: std::collections::HashSet<u64> = run
        .ops
        .iter()
        .filter(|o| o.kind == OpKind::Write)
        .map(|o| o.value.unwrap())
        .collect();
    assert_eq!(
        writes.len(),
        run.ops.iter().filter(|o| o.kind == OpKind::Write).count()
    );
    assert!(run
        .ops
        .iter()
        .filter(|o| o.kind == OpKind::Read)
        .all(|o| o.value.is_none_or(|v| writes.contains(&v))));
    tokio::task::spawn_blocking(move || stop(srv))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_reads_and_lost_updates_are_found_only_by_the_history() {
    for (bug, write, body) in [
        (Bug::StaleRead, "PUT /api/settings/{key}", "{value}"),
        (
            Bug::LostUpdate,
            "PATCH /api/settings",
            r#"{"{key}": {value}}"#,
        ),
    ] {
        let (srv, _dir) = server(&[bug]);
        let run = kv::run(&srv.url(""), &spec(write, body, 2000), false, None)
            .await
            .unwrap();
        let report = &run.report;
        // Every request was answered as it should be…
        assert_eq!(report.passed, report.total, "{bug}: {}", report.summary());
        // …and still the history is impossible.
        let h = report.history.as_ref().unwrap();
        assert_eq!(h.verdict, Verdict::Violation, "{bug}");
        let cx = h.counterexample.as_ref().unwrap();
        assert!(cx.ops.len() >= 2, "{bug}: {cx:?}");
        assert!(
            cx.explanation.starts_with("read of"),
            "{bug}: {}",
            cx.explanation
        );
        assert!(!report.gate.passed);
        tokio::task::spawn_blocking(move || stop(srv))
            .await
            .unwrap();
    }
}

#[test]
fn the_cli_exits_1_with_a_self_contained_history_view_and_0_when_fixed() {
    let racegate = |url: &str, out: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_racegate"))
            .args(["kv", url, "--read", "GET /api/settings/{key}", "--write"])
            .args(["PUT /api/settings/{key}", "-n", "2000", "--quiet", "--out"])
            .arg(out)
            .output()
            .unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let (srv, _db) = server(&[Bug::StaleRead]);
    let o = racegate(&srv.url(""), &dir.path().join("stale"));
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let html = std::fs::read_to_string(dir.path().join("stale/history.html")).unwrap();
    assert!(
        html.contains("<svg") && html.contains("impossible"),
        "{html}"
    );
    // Self-contained: nothing is fetched from anywhere.
    for outside in ["src=", "href=", "url(", "@import", "<link", "<script"] {
        assert!(!html.contains(outside), "history.html references {outside}");
    }
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("stale/report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(report["history"]["verdict"], "violation");
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../schema/report.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // The recorded history, checked offline, gets the same verdict and the
    // same explanation.
    let o = history_check(&dir.path().join("stale/history.jsonl"));
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let offline: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(offline["verdict"], "violation");
    assert_eq!(
        offline["counterexample"]["explanation"],
        report["history"]["counterexample"]["explanation"]
    );
    assert_eq!(offline["ops"], report["history"]["ops"]);
    let md = std::fs::read_to_string(dir.path().join("stale/report.md")).unwrap();
    assert!(
        md.contains("not linearizable") && md.contains("- write "),
        "{md}"
    );
    srv.stop().unwrap();

    let (srv, _db) = server(&[]);
    let o = racegate(&srv.url(""), &dir.path().join("fixed"));
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!dir.path().join("fixed/history.html").exists());
    let o = history_check(&dir.path().join("fixed/history.jsonl"));
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    srv.stop().unwrap();

    // Usage errors are exit 2 with the reason.
    let o = Command::new(env!("CARGO_BIN_EXE_racegate"))
        .args([
            "kv",
            "http://127.0.0.1:9",
            "--read",
            "GET /x",
            "--write",
            "PUT /y",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("{key}"));
}

fn history_check(file: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_racegate"))
        .args(["history", "check", "--json", "--quiet"])
        .arg(file)
        .output()
        .unwrap()
}
