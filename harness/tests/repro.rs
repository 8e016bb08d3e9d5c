//! `racegate repro` from the built binary: every catalogue entry is detected
//! and every fix holds; servers that die or never get ready end in a clear
//! exit 2 within the timeout; no server process outlives a run.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn racegate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_racegate"))
        .args(args)
        .output()
        .expect("run racegate")
}

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

/// Processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(marker) {
                found.push(format!(
                    "{}: {cmdline}",
                    entry.file_name().to_string_lossy()
                ));
            }
        }
    }
    found
}

fn write_scenario(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn every_catalogue_entry_is_detected_and_every_fix_holds() {
    let out = tempfile::tempdir().unwrap();
    let dir = scenarios_dir();
    let o = racegate(&[
        "repro",
        "--all",
        "--quick",
        "--quiet",
        "--dir",
        dir.to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for bug in racegate_server::Bug::ALL {
        let path = out.path().join(bug.name()).join("repro.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("no scenario reproduces {bug}"));
        let report: serde_json::Value = serde_json::from_str(&text).unwrap();
        let variant = |name: &str| {
            report["variants"]
                .as_array()
                .unwrap()
                .iter()
                .find(|v| v["name"] == name)
                .cloned()
                .unwrap_or_else(|| panic!("{bug}: no {name} variant"))
        };
        let before = variant("before");
        assert_eq!(
            before["verdict"], "fail",
            "{bug}: the harness misses the bug"
        );
        // Detected for the right reason: the declared symptom was seen.
        let symptom = &before["symptom"];
        let text = symptom["contains"]
            .as_str()
            .or(symptom["regex"].as_str())
            .unwrap_or_else(|| panic!("{bug}: the buggy variant names no symptom: {before}"));
        assert!(!text.is_empty());
        assert!(
            before["detected_trials"].as_u64().unwrap() >= 1,
            "{bug}: {before}"
        );
        // And what it observed is recorded, for --compare.
        let evidence = &before["evidence"];
        assert!(
            evidence["step"].is_string() && evidence["seen"].is_string(),
            "{bug}: no evidence: {before}"
        );
        assert_eq!(
            variant("after")["verdict"],
            "pass",
            "{bug}: the fixed server does not pass"
        );
        assert!(variant("before")["command"]
            .as_str()
            .unwrap()
            .contains(&format!("--inject {}", bug.name())));
    }
    let index = std::fs::read_to_string(out.path().join("README.md")).unwrap();
    assert!(
        index.contains("| [runtime-bound-pool](runtime-bound-pool/repro.md) |"),
        "{index}"
    );
    let junit = std::fs::read_to_string(out.path().join("locked-db/junit.xml")).unwrap();
    roxmltree::Document::parse(&junit).expect("junit.xml is XML");
    // One self-contained page per scenario, the variants side by side, and
    // an index whose only links are to those pages.
    for bug in racegate_server::Bug::ALL {
        let page = std::fs::read_to_string(out.path().join(bug.name()).join("report.html"))
            .unwrap_or_else(|_| panic!("{bug}: no report.html"));
        assert!(
            page.contains("before (fail)") && page.contains("after (pass)"),
            "{bug}"
        );
        assert!(page.contains("<svg"), "{bug}: no chart");
        let lower = page.to_ascii_lowercase();
        for outside in ["src=", "href=", "url(", "<link", "<script", "@import"] {
            assert!(
                !lower.contains(outside),
                "{bug}: report.html contains {outside:?}"
            );
        }
    }
    let index = std::fs::read_to_string(out.path().join("index.html")).unwrap();
    let links: Vec<&str> = index
        .split("href=\"")
        .skip(1)
        .map(|l| &l[..l.find('"').unwrap()])
        .collect();
    // One per catalogue entry, and the four fixed-server scenarios (mixed
    // load; the server paused and restarted; network faults; a full disk).
    assert_eq!(
        links.len(),
        racegate_server::Bug::ALL.len() + 4,
        "{links:?}"
    );
    for link in links {
        assert!(
            link.ends_with("/report.html") && !link.contains(':') && !link.starts_with('/'),
            "index.html links outside the reports: {link}"
        );
        assert!(out.path().join(link).exists(), "{link}");
    }
    for outside in ["src=", "url(", "<link", "<script"] {
        assert!(!index.contains(outside), "index.html contains {outside:?}");
    }
}

#[test]
fn a_failure_without_the_declared_symptom_is_not_a_detection() {
    let dir = tempfile::tempdir().unwrap();
    // locked-db fails with "database is locked", not with this symptom.
    // 16 bursts of 32 writes: under a loaded machine's scheduling a few
    // bursts can go by without two writers meeting.
    let path = write_scenario(
        dir.path(),
        "wrong-symptom",
        r#"
title = "a bug that fails for another reason than the one declared"
[server]
reference = true
args = ["--pool-size", "8"]
[variants.before]
args = ["--inject", "locked-db"]
expect = "fail"
symptom = "waiter dispatch task is gone"
[[steps]]
fire = "/api/chat"
method = "POST"
body = '{"message": "write {i}"}'
concurrency = 32
requests = 512
burst = true
expect_json_field = ["response"]
"#,
    );
    let out = dir.path().join("out");
    let o = racegate(&[
        "repro",
        path.to_str().unwrap(),
        "--trials",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("but not with the expected symptom"),
        "{stdout}"
    );
    // What was seen instead is shown.
    assert!(stdout.contains("database is locked"), "{stdout}");
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("wrong-symptom/repro.json")).unwrap(),
    )
    .unwrap();
    let before = &report["variants"][0];
    assert_eq!(before["verdict"], "wrong_symptom");
    assert_eq!(before["detected_trials"], 0);
    assert_eq!(before["failed_trials"], 1);
}

#[test]
fn a_clean_variant_short_of_the_floor_gets_more_trials_or_says_how_many() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_scenario(
        dir.path(),
        "few",
        r#"
title = "50 clean requests a trial: the 99% floor needs 381"
trials = 1
[server]
reference = true
ready = "/livez"
[variants.after]
expect = "pass"
[[steps]]
fire = "/livez"
concurrency = 4
requests = 50
"#,
    );
    let out = dir.path().join("out");
    let o = racegate(&[
        "repro",
        path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("few/repro.json")).unwrap())
            .unwrap();
    let after = &report["variants"][0];
    assert_eq!(after["verdict"], "pass");
    // 8 trials × 50 = 400 ≥ 381; 7 × 50 = 350 is not enough.
    assert_eq!(after["trials"], 8, "{after}");

    // The report, committed, is repeated by a fresh run; a verdict that
    // changed is caught.
    let o = racegate(&[
        "repro",
        path.to_str().unwrap(),
        "--compare",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let committed = out.join("few/repro.json");
    let mut tampered = report.clone();
    tampered["variants"][0]["verdict"] = "inconclusive".into();
    std::fs::write(&committed, tampered.to_string()).unwrap();
    let o = racegate(&[
        "repro",
        path.to_str().unwrap(),
        "--compare",
        out.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(r#"few / after: verdict "pass", committed "inconclusive""#),
        "{stdout}"
    );

    let o = racegate(&["repro", path.to_str().unwrap(), "--max-trials", "2"]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("inconclusive") && stdout.contains("--trials 8 would settle it"),
        "{stdout}"
    );
}

#[test]
fn a_server_that_exits_at_once_is_a_clear_error_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_scenario(
        dir.path(),
        "exits",
        r#"
title = "a server that dies at start"
[server]
command = ["sh", "-c", "echo 'cannot bind: address in use' >&2; exit 3"]
ready_timeout = "30s"
[variants.after]
expect = "pass"
[[steps]]
fire = "/"
"#,
    );
    let started = Instant::now();
    let o = racegate(&["repro", path.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("exited") && stderr.contains("cannot bind: address in use"),
        "{stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "noticed the exit, not the ready timeout"
    );
}

#[test]
fn a_server_that_never_becomes_ready_is_exit_2_within_its_timeout_and_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let marker = format!("600.{}", std::process::id());
    let path = write_scenario(
        dir.path(),
        "hangs",
        &format!(
            r#"
title = "a server that never listens"
[server]
command = ["sh", "-c", "sleep {marker}; echo never"]
ready_timeout = "1s"
[variants.after]
expect = "pass"
[[steps]]
fire = "/"
"#
        ),
    );
    let started = Instant::now();
    let o = racegate(&["repro", path.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("was not ready within 1s"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(15));
    // The shell and the sleep it started are both gone (SIGKILL reaches the
    // orphaned sleep at once, but a loaded machine may take a moment to
    // reap it: bounded).
    let deadline = Instant::now() + Duration::from_secs(5);
    while !processes_with(&marker).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(processes_with(&marker), Vec::<String>::new());
}

#[test]
fn no_server_outlives_repro_when_a_step_fails() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    let path = write_scenario(
        dir.path(),
        "failing",
        r#"
title = "a step that fails"
[server]
reference = true
[variants.after]
expect = "pass"
[[steps]]
fire = "/no-such-route"
requests = 20
"#,
    );
    let o = racegate(&[
        "repro",
        path.to_str().unwrap(),
        "--trials",
        "2",
        "--work-dir",
        work.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("FAILS in 2/2 trials"), "{stdout}");
    assert!(stdout.contains("status 404"), "{stdout}");
    assert_eq!(processes_with(work.to_str().unwrap()), Vec::<String>::new());
}

#[test]
fn bad_scenario_files_are_exit_2_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("no-server", "title = 'x'\n[variants.a]\nexpect = 'pass'\n[[steps]]\nfire = '/'\n", "missing field `server`"),
        ("both", "title = 'x'\n[server]\nreference = true\ncommand = ['x']\n[variants.a]\nexpect = 'pass'\n[[steps]]\nfire = '/'\n", "exactly one of"),
        ("no-steps", "title = 'x'\nsteps = []\n[server]\nreference = true\n[variants.a]\nexpect = 'pass'\n", "no [[steps]]"),
        ("state-without-check", "title = 'x'\n[server]\nreference = true\n[variants.a]\nexpect = 'pass'\n[[steps]]\nstate = '/x'\npointer = '/a'\n", "needs `equals`"),
        ("typo", "title = 'x'\n[server]\nreference = true\n[variants.a]\nexpect = 'pass'\n[[steps]]\nfire = '/'\nconcurrancy = 3\n", "unknown field `concurrancy`"),
    ];
    for (name, text, needle) in cases {
        let path = write_scenario(dir.path(), name, text);
        let o = racegate(&["repro", path.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {stderr}");
        assert!(
            stderr.contains(needle),
            "{name}: expected {needle:?} in {stderr}"
        );
    }
}
