//! The built `racegate` binary: exit codes 0 / 1 / 2 with a one-line reason,
//! report files that match the schema, JUnit that parses as XML.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{handler, index_of, serve_on_thread, Answer, ThreadServer};

fn racegate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_racegate"))
        .args(args)
        .output()
        .expect("run racegate")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A server on its own runtime thread: every 10th request a 500.
fn flaky_server() -> ThreadServer {
    serve_on_thread(handler(|body| async move {
        let i = index_of(&body);
        if i % 10 == 9 {
            Answer::Respond(500, r#"{"error": "flaky"}"#.into())
        } else {
            Answer::Respond(200, format!(r#"{{"response": "r{i}", "n": 3}}"#))
        }
    }))
}

fn validate_against_schema(report: &Path) {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../schema/report.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&json)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "report.json violates the schema: {errors:#?}"
    );
}

#[test]
fn exit_0_when_the_gate_passes_and_reports_are_valid() {
    let server = flaky_server();
    let addr = server.addr;
    let out = tempfile::tempdir().unwrap();
    let url = format!("http://{addr}/api");
    let o = racegate(&[
        "fire",
        &url,
        "-m",
        "POST",
        "-d",
        r#"{"i": {i}}"#,
        "-n",
        "200",
        "-c",
        "8",
        "--expect-json-field",
        "response",
        "--expect-json",
        "/n=3",
        "--min-pass-rate",
        "0.85",
        "--out",
        out.path().to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let report_path = out.path().join("report.json");
    validate_against_schema(&report_path);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    assert_eq!(report["total"], 200);
    assert_eq!(report["passed"], 180);
    assert_eq!(report["failures_by_kind"]["status"], 20);

    let junit = std::fs::read_to_string(out.path().join("junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&junit).expect("junit.xml is XML");
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    let cases: Vec<_> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    // complete answers, status, two body checks, the pass-rate threshold.
    assert_eq!(cases.len(), 5);
    assert_eq!(suite.attribute("failures"), Some("0"));
    let md = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    assert!(md.contains("90%") && md.contains("flaky"), "{md}");
    drop(server);
}

#[test]
fn exit_1_when_the_gate_fails() {
    let server = flaky_server();
    let addr = server.addr;
    let out = tempfile::tempdir().unwrap();
    let url = format!("http://{addr}/api");
    let o = racegate(&[
        "fire",
        &url,
        "-m",
        "POST",
        "-d",
        r#"{"i": {i}}"#,
        "-n",
        "100",
        "-c",
        "4",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("gate: FAIL: pass rate 90% is below the required 100%"),
        "{stdout}"
    );
    validate_against_schema(&out.path().join("report.json"));
    let junit = std::fs::read_to_string(out.path().join("junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&junit).unwrap();
    let failed: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .collect();
    assert_eq!(
        failed.len(),
        2,
        "the status check and the pass-rate threshold fail: {junit}"
    );
    // A p99 threshold is a gate too.
    let o = racegate(&[
        "fire",
        &url,
        "-n",
        "20",
        "-c",
        "2",
        "--expect-status",
        "2xx,500",
        "--max-p99-ms",
        "0.001",
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(1));
    drop(server);
}

#[test]
fn exit_2_for_usage_and_setup_errors_with_a_one_line_reason() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let unreachable = format!("http://{closed}/");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["fire", "not a url"], "bad URL"),
        (vec!["fire", "https://127.0.0.1/"], "https is not supported"),
        (vec!["fire", &unreachable], "cannot reach"),
        // Refused before any traffic is sent.
        (vec!["fire", "http://10.255.255.1:9/"], "not loopback"),
        (
            vec!["fire", "http://127.0.0.1:9/", "-d", "@/no/such/file"],
            "cannot read body file",
        ),
        (
            vec!["fire", "http://127.0.0.1:9/", "--expect-status", "7xx"],
            "bad status",
        ),
        (
            vec!["fire", "http://127.0.0.1:9/", "-z", "ten"],
            "bad duration",
        ),
        (
            vec!["fire", "http://127.0.0.1:9/", "--rate", "5", "--burst"],
            "do not mix",
        ),
        (
            vec!["fire", "http://127.0.0.1:9/", "-c", "0"],
            "concurrency",
        ),
        (
            vec!["fire", "http://127.0.0.1:9/", "-H", "novalue"],
            "bad header",
        ),
        (vec!["nonsense"], "unrecognized subcommand"),
    ];
    for (args, needle) in cases {
        let o = racegate(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(needle),
            "{args:?}: expected {needle:?} in {err}"
        );
    }
}

#[test]
fn merge_adds_runs_exactly() {
    let server = flaky_server();
    let addr = server.addr;
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let url = format!("http://{addr}/api");
    for d in &dirs {
        let o = racegate(&[
            "fire",
            &url,
            "-m",
            "POST",
            "-d",
            r#"{"i": {i}}"#,
            "-n",
            "50",
            "-c",
            "2",
            "--min-pass-rate",
            "0",
            "--quiet",
            "--out",
            d.path().to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let merged = tempfile::tempdir().unwrap();
    let a = dirs[0].path().join("report.json");
    let b = dirs[1].path().join("report.json");
    let o = racegate(&[
        "merge",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--out",
        merged.path().to_str().unwrap(),
    ]);
    // The merged report keeps the runs' gate (min pass rate 0): exit 0.
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let m = racegate::Report::read(&merged.path().join("report.json")).unwrap();
    assert_eq!((m.total, m.passed), (100, 90));
    assert_eq!(m.failure_clusters.iter().map(|c| c.count).sum::<u64>(), 10);
    validate_against_schema(&merged.path().join("report.json"));
    drop(server);
}
