//! A scenario over HTTPS and HTTP/2 (`tls = true`, `protocol = "h2"`): the
//! reference server gets a certificate made for the trial, the readiness
//! probe, every step and the state check trust its CA, and the catalogue
//! bug is still found with its symptom while the fix still holds.

use std::process::Command;

#[test]
fn a_scenario_over_https_and_http2_detects_the_bug_and_certifies_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tls-h2.toml");
    std::fs::write(
        &path,
        r#"
title = "unguarded-init, over HTTPS and HTTP/2"
[server]
reference = true
args = ["--pool-size", "4"]
ready = "/livez"
tls = true
protocol = "h2"
[variants.before]
args = ["--inject", "unguarded-init"]
expect = "fail"
symptom_regex = '/builds is \d+, expected 1'
[variants.after]
expect = "pass"
[[steps]]
fire = "/api/settings"
concurrency = 32
requests = 128
burst = true
expect_json_field = ["settings"]
[[steps]]
state = "/api/pool"
pointer = "/builds"
equals = 1
"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_racegate"))
        .args([
            "repro",
            path.to_str().unwrap(),
            "--quick",
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("tls-h2/repro.json")).unwrap())
            .unwrap();
    let after = &report["variants"][1];
    assert_eq!(after["verdict"], "pass", "{after}");
    // The load went over HTTPS, as HTTP/2 streams: 32 workers, 4 × 8.
    let step = &after["steps"][0];
    assert!(
        step["target"]["url"]
            .as_str()
            .unwrap()
            .starts_with("https://127.0.0.1:"),
        "{step}"
    );
    assert_eq!(step["target"]["tls"]["insecure"], false);
    assert_eq!(step["load"]["concurrency"], 4);
    assert_eq!(step["load"]["http2"]["effective_concurrency"], 32);
}
