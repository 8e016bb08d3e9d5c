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
    // A run over HTTP/2, or over https://, is not the same run.
    let mut h1 = racegate::Report::read(&a).unwrap();
    let mut h2 = h1.clone();
    h2.load.http2 = Some(racegate::report::Http2Info {
        streams: 4,
        max_concurrent_streams: None,
        effective_concurrency: 8,
    });
    let err = h1.merge(&h2).unwrap_err();
    assert!(err.to_string().contains("protocols differ"), "{err}");
    let mut tls = h1.clone();
    tls.target.url = tls.target.url.replacen("http://", "https://", 1);
    assert!(h1
        .merge(&tls)
        .unwrap_err()
        .to_string()
        .contains("protocols differ"));
    drop(server);
}
