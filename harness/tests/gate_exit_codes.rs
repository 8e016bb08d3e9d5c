//! The built `racegate fire`: exit 0 when the gate passes, 1 when it fails,
//! with report files that match the schema and JUnit that parses as XML.

mod common;

use common::{flaky_server, racegate, stderr, validate_against_schema};

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
