//! The one check specification inside a scenario: each of the four checks
//! (`expect_status`, `expect_json_field`, `expect_json`,
//! `expect_body_contains`) passes when the reference server's answer meets
//! it and fails, naming what it saw, when it does not.

use std::path::Path;
use std::process::Command;

fn scenario(check: &str) -> String {
    format!(
        r#"
title = "one check inside a scenario"
trials = 1
[server]
reference = true
ready = "/livez"
[verdict]
confidence_floor = 0.0
[variants.after]
expect = "pass"
[[steps]]
fire = "/api/settings/no-such-key"
concurrency = 2
requests = 4
{check}
"#
    )
}

#[test]
fn each_check_passes_and_fails_inside_a_scenario() {
    // The server answers 404 {"error": {"code": "unknown_setting", ...}}.
    let cases = [
        ("expect_status = 404", "expect_status = [200, \"5xx\"]", "status 404 (expected 200,5xx)"),
        (
            "expect_status = 404\nexpect_json_field = [\"error\"]",
            "expect_status = 404\nexpect_json_field = [\"settings\"]",
            "JSON field settings missing",
        ),
        (
            "expect_status = \"4xx\"\nexpect_json = [\"/error/code=unknown_setting\"]",
            "expect_status = \"4xx\"\nexpect_json = [\"/error/code=other\"]",
            "JSON /error/code is \"unknown_setting\", expected \"other\"",
        ),
        (
            "expect_status = 404\nexpect_body_contains = [\"unknown_setting\", \"no-such-key\"]",
            "expect_status = 404\nexpect_body_contains = [\"unknown_setting\", \"nothing like this\"]",
            "body lacks \"nothing like this\"",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (i, (pass, fail, _)) in cases.iter().enumerate() {
        for (kind, check) in [("pass", pass), ("fail", fail)] {
            let path = dir.path().join(format!("c{i}-{kind}.toml"));
            std::fs::write(&path, scenario(check)).unwrap();
            files.push(path);
        }
    }
    let out = dir.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_racegate"))
        .arg("repro")
        .args(&files)
        .args(["--quiet", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(1),
        "half the scenarios fail: {stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let verdict = |name: &str| -> serde_json::Value {
        let text = std::fs::read_to_string(Path::new(&out).join(name).join("repro.json")).unwrap();
        let report: serde_json::Value = serde_json::from_str(&text).unwrap();
        report["variants"][0].clone()
    };
    for (i, (_, _, seen)) in cases.iter().enumerate() {
        let pass = verdict(&format!("c{i}-pass"));
        assert_eq!(pass["verdict"], "pass", "case {i}: {pass}");
        assert_eq!(pass["passed"], 4);
        let fail = verdict(&format!("c{i}-fail"));
        assert_eq!(fail["verdict"], "fail", "case {i}: {fail}");
        assert_eq!(fail["passed"], 0);
        let message = fail["failure_clusters"][0]["message"].as_str().unwrap();
        assert!(message.contains(seen), "case {i}: {message}");
    }
}

#[test]
fn a_check_key_on_a_state_step_or_a_bad_value_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("expect_json = [\"count=3\"]", "use /pointer=value"),
        ("expect_status = \"7xx\"", "bad status"),
        ("expect_jsn = [\"/a=1\"]", "unknown field `expect_jsn`"),
    ];
    for (i, (check, needle)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("bad{i}.toml"));
        std::fs::write(&path, scenario(check)).unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_racegate"))
            .args(["repro", path.to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{check}: {stderr}");
        assert!(
            stderr.contains(needle),
            "{check}: expected {needle:?} in {stderr}"
        );
    }
}
