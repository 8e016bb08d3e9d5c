//! A scenario whose step is over before its server fault is due did not do
//! what it says (a history "across a kill -9" that never crossed one): the
//! run stops with exit 2 and says which fault, when it was due and when
//! the step ended, rather than certifying without it.

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
