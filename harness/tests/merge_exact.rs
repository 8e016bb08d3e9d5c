//! `racegate merge`: two runs' reports add up exactly and keep the runs'
//! gate.

mod common;

use common::{flaky_server, racegate, stderr, validate_against_schema};

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
