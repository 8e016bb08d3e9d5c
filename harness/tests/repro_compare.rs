//! `repro --compare` holds a fresh run to what the committed run observed:
//! the verdict, the declared symptom, and the evidence (the cluster, history
//! anomaly or state check that showed it). A committed report whose evidence
//! differs, or that has none, is a difference and exit 1.

use std::path::Path;
use std::process::{Command, Output};

fn racegate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_racegate"))
        .args(args)
        .output()
        .expect("run racegate")
}

fn repro(scenario: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["repro", scenario.to_str().unwrap(), "--quick", "--quiet"];
    args.extend_from_slice(extra);
    racegate(&args)
}

#[test]
fn compare_fails_on_evidence_that_differs_from_the_committed_run() {
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/unguarded-init.toml");
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let o = repro(&scenario, &["--out", dir]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let committed = out.path().join("unguarded-init/repro.json");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&committed).unwrap()).unwrap();
    let variants = report["variants"].as_array().unwrap();
    let before = variants.iter().find(|v| v["name"] == "before").unwrap();
    assert_eq!(
        before["evidence"],
        serde_json::json!({
            "step": "the pool was built once",
            "source": "state",
            "seen": "/api/pool /builds is <n>, expected 1",
        }),
        "{before}"
    );
    let after = variants.iter().find(|v| v["name"] == "after").unwrap();
    assert!(after["evidence"].is_null(), "{after}");

    // A second run observes the same thing.
    let o = repro(&scenario, &["--compare", dir]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );

    // Committed evidence of another kind, or none, is a difference.
    for (tampered, says) in [
        (
            serde_json::json!({"step": "the pool was built once", "source": "cluster", "seen": "status 500"}),
            r#"unguarded-init / before: evidence {"#,
        ),
        (serde_json::Value::Null, "committed null"),
    ] {
        let mut changed = report.clone();
        let at = variants.iter().position(|v| v["name"] == "before").unwrap();
        changed["variants"][at]["evidence"] = tampered;
        std::fs::write(&committed, changed.to_string()).unwrap();
        let o = repro(&scenario, &["--compare", dir]);
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.code(), Some(1), "{stdout}");
        assert!(stdout.contains(says), "{stdout}");
    }
}
