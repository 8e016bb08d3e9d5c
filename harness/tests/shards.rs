//! Scale-out: four shards of a 1,000-request run, started together, deliver
//! each `{i}` in 0..999 exactly once; `merge` says 1,000 whether it reads the
//! report files or the shards' JSON lines on stdin (as `kubectl logs` gives
//! them, summaries interleaved) and on the timeline, warns about missing shards, refuses runs
//! that cannot merge, and gates the union with fire's flags.

mod common;

use std::io::Write as _;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use common::{handler, index_of, serve_on_thread, Answer, ThreadServer};

/// A server on its own runtime thread that records every `{i}` it gets and
/// fails every 10th.
fn recording_server() -> (ThreadServer, Arc<Mutex<Vec<u64>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let server = serve_on_thread(handler(move |body| {
        let record = Arc::clone(&record);
        async move {
            let i = index_of(&body);
            record.lock().unwrap().push(i);
            if i % 10 == 9 {
                Answer::Respond(500, r#"{"error": "every tenth"}"#.into())
            } else {
                Answer::Respond(200, r#"{"response": "ok"}"#.into())
            }
        }
    }));
    (server, seen)
}

fn racegate(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_racegate"));
    c.args(args);
    c
}

fn merged(o: &Output) -> serde_json::Value {
    let line = String::from_utf8_lossy(&o.stdout);
    serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("{e}: {line}"))
}

#[test]
fn four_shards_deliver_every_index_once_and_merge_exactly() {
    let (server, seen) = recording_server();
    let addr = server.addr;
    let url = format!("http://{addr}/");
    let dir = tempfile::tempdir().unwrap();
    let start_at = (std::time::SystemTime::now() + std::time::Duration::from_millis(800))
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .to_string();
    let shards: Vec<_> = (0..4)
        .map(|k| {
            let out = dir.path().join(format!("shard-{k}"));
            racegate(&[
                "fire",
                &url,
                "-m",
                "POST",
                "-d",
                r#"{"i": {i}}"#,
                "-n",
                "1000",
                "-c",
                "8",
            ])
            .args([
                "--shard",
                &format!("{k}/4"),
                "--run-id",
                "test-run",
                "--start-at",
                &start_at,
            ])
            .args(["--min-pass-rate", "0", "--json", "--out"])
            .arg(&out)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    let outputs: Vec<Output> = shards
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    for o in &outputs {
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // Every index exactly once across the four machines.
    let mut indices = seen.lock().unwrap().clone();
    indices.sort_unstable();
    assert_eq!(indices, (0..1000).collect::<Vec<u64>>());
    // Each shard's report says which shard it is.
    let first: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&outputs[2].stdout).trim()).unwrap();
    assert_eq!(first["shard"]["index"], 2);
    assert_eq!(first["shard"]["count"], 4);
    assert_eq!(first["shard"]["run_id"], "test-run");
    assert_eq!(first["total"], 250);
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../schema/report.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&first)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");

    // Merged from the directories…
    let from_files = racegate(&[
        "merge",
        dir.path().to_str().unwrap(),
        "--json",
        "--min-pass-rate",
        "0.85",
    ])
    .output()
    .unwrap();
    assert_eq!(
        from_files.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&from_files.stderr)
    );
    let files = merged(&from_files);
    assert_eq!(
        (files["total"].as_u64(), files["passed"].as_u64()),
        (Some(1000), Some(900))
    );
    // …its timeline on the shards' shared wall-clock grid sums to the
    // merged totals, bucket for bucket, and every failure names its cluster.
    let buckets = files["timeline"]["buckets"].as_array().unwrap();
    let sum = |field: &str| {
        buckets
            .iter()
            .map(|b| b[field].as_u64().unwrap())
            .sum::<u64>()
    };
    assert_eq!(
        (sum("sent"), sum("passed"), sum("failed")),
        (1000, 900, 100)
    );
    let by_cluster: u64 = buckets
        .iter()
        .flat_map(|b| {
            b["failed_by_cluster"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|pair| pair[1].as_u64().unwrap())
        .sum();
    assert_eq!(by_cluster, 100);
    // …equals the merge of the JSON lines on stdin, summaries and all.
    let mut child = racegate(&["merge", "-", "--json", "--min-pass-rate", "0.85"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        for o in &outputs {
            stdin.write_all(&o.stderr).unwrap(); // the human summary, as pod logs mix it in
            stdin.write_all(&o.stdout).unwrap();
        }
    }
    let from_stdin = child.wait_with_output().unwrap();
    assert_eq!(
        from_stdin.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&from_stdin.stderr)
    );
    let stdin = merged(&from_stdin);
    for field in [
        "total",
        "passed",
        "failed",
        "failures_by_kind",
        "latency_ms",
        "histogram",
        "failure_clusters",
    ] {
        assert_eq!(
            files[field], stdin[field],
            "{field} differs between file and stdin merges"
        );
    }

    // The union's pass rate (90 %) is below a 95 % floor: the gate fails.
    let strict = racegate(&[
        "merge",
        dir.path().to_str().unwrap(),
        "--min-pass-rate",
        "0.95",
    ])
    .output()
    .unwrap();
    assert_eq!(strict.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&strict.stdout).contains("pass rate 90% is below the required 95%")
    );

    // A missing shard is named.
    let partial = racegate(&["merge", "--quiet"])
        .args((0..3).map(|k| dir.path().join(format!("shard-{k}/report.json"))))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&partial.stderr).contains("missing shard(s) 3/4"),
        "{}",
        String::from_utf8_lossy(&partial.stderr)
    );

    // A run with another body template cannot merge: exit 2, with the reason.
    let other = dir.path().join("other");
    let o = racegate(&[
        "fire",
        &url,
        "-m",
        "POST",
        "-d",
        r#"{"i": {i}, "x": 1}"#,
        "-n",
        "10",
    ])
    .args(["--min-pass-rate", "0", "--quiet", "--out"])
    .arg(&other)
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let o = racegate(&["merge"])
        .arg(dir.path().join("shard-0/report.json"))
        .arg(other.join("report.json"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("body template"));
}

#[test]
fn bad_shard_flags_are_usage_errors() {
    for (args, needle) in [
        (vec!["--shard", "4/4"], "index must be below the count"),
        (vec!["--shard", "x"], "use I/N"),
        (vec!["--shards", "4"], "JOB_COMPLETION_INDEX"),
        (vec!["--start-at", "yesterday"], "RFC 3339"),
    ] {
        let o = racegate(&["fire", "http://127.0.0.1:9/"])
            .args(&args)
            .env_remove("JOB_COMPLETION_INDEX")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}
