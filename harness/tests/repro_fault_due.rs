//! A scenario whose step is over before its server fault is due did not do
//! what it says (a history "across a kill -9" that never crossed one): the
//! run stops with exit 2 and says which fault, when it was due and when
//! the step ended, rather than certifying without it — unless the step
//! stopped at the first detection of the bug, which needs no fault.

use std::process::Command;

fn scenario(step: &str) -> String {
    format!(
        r#"
title = "a fault due after the step is over"
trials = 1
[server]
reference = true
[verdict]
confidence_floor = 0.0
[variants.after]
expect = "pass"
[[steps]]
name = "short"
{step}
"#
    )
}

#[test]
fn a_step_over_before_its_fault_is_due_is_exit_2_naming_both_times() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "fire = \"/livez\"\nconcurrency = 2\nrequests = 4\nrestart = { at = \"20s\", signal = \"KILL\" }",
            "the restart KILL due at 20000 ms was not carried out",
        ),
        (
            "kv = { read = \"GET /api/settings/{key}\", write = \"PUT /api/settings/{key}\", keys = 2, concurrency = 2, requests = 8 }\npause = { at = \"20s\", for = \"100ms\" }",
            "the pause due at 20000 ms was not carried out",
        ),
    ];
    for (i, (step, needle)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("late{i}.toml"));
        std::fs::write(&path, scenario(step)).unwrap();
        let out = dir.path().join(format!("out{i}"));
        let o = Command::new(env!("CARGO_BIN_EXE_racegate"))
            .args(["repro", path.to_str().unwrap(), "--quiet", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "case {i}: {stderr}");
        assert!(stderr.contains(needle), "case {i}: {needle:?} in {stderr}");
        assert!(
            stderr.contains("after / short: ") && stderr.contains("the step was over at"),
            "case {i}: {stderr}"
        );
    }
}

/// A step stopped at the first detection of the bug has done its job: the
/// fault it would have met later is not needed, and the bug is reported.
#[test]
fn a_step_halted_at_the_first_detection_does_not_need_its_fault() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("halted.toml");
    std::fs::write(
        &path,
        r#"
title = "a bug found before the fault is due"
trials = 1
[server]
reference = true
args = ["--pool-size", "2", "--acquire-timeout-ms", "100"]
[verdict]
confidence_floor = 0.0
[variants.before]
args = ["--inject", "leak-on-error"]
expect = "fail"
symptom = "no database connection came free"
[[steps]]
name = "leaks until the pool is found empty"
fire = "/api/chat"
method = "POST"
body = '{"message": "hi", "conversation_id": "no-such-{i}"}'
concurrency = 4
requests = 1000000
expect_status = "404"
timeout = "2s"
restart = { at = "60s", signal = "KILL" }
"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_racegate"))
        .args(["repro", path.to_str().unwrap(), "--quiet", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(0),
        "the bug is detected as expected: {}{stderr}",
        String::from_utf8_lossy(&o.stdout)
    );
    let text = std::fs::read_to_string(out.join("halted").join("repro.json")).unwrap();
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    let variant = &report["variants"][0];
    assert_eq!(variant["verdict"], "fail", "{report}");
    assert!(
        variant["total"].as_u64().unwrap() < 1_000_000,
        "halted: {report}"
    );
}
