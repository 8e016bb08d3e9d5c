//! Porcupine's own test suite as the judge of racegate's history checker:
//! 102 Jepsen etcd histories (read, write, cas, with unknown outcomes) and
//! 6 key-value histories (get, put, append), each checked from its file as
//! `racegate history check` reads it, each verdict held to the one
//! Porcupine's tests assert (`tests/fixtures/porcupine/`, MIT; see NOTICE).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use racegate::history::{check, parse, Model, Verdict};

#[test]
fn every_porcupine_history_gets_porcupines_verdict() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/porcupine");
    let verdicts = std::fs::read_to_string(dir.join("verdicts.txt")).unwrap();
    let started = Instant::now();
    let (mut checked, mut linearizable) = (0, 0);
    let mut wrong = Vec::new();
    for line in verdicts.lines().filter(|l| !l.starts_with('#')) {
        let (file, expected) = line.split_once(' ').unwrap();
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let ops = parse::parse(&text)
            .unwrap_or_else(|e| panic!("{file}: {e}"))
            .ops;
        let expected_model = if file.starts_with("kv/") {
            Model::Append
        } else {
            Model::CasRegister
        };
        assert_eq!(Model::infer(&ops), expected_model, "{file}");
        let result = check(&ops, Duration::from_secs(60)).unwrap();
        let expected = match expected {
            "linearizable" => Verdict::Linearizable,
            _ => Verdict::Violation,
        };
        if result.verdict != expected {
            wrong.push(format!(
                "{file}: {:?}, Porcupine says {expected:?}",
                result.verdict
            ));
        }
        if result.verdict == Verdict::Violation {
            let cx = result
                .counterexample
                .expect("a violation comes with its proof");
            assert!(!cx.ops.is_empty(), "{file}: an empty counterexample");
            assert!(
                cx.ops.iter().all(|o| ops.contains(o)),
                "{file}: a counterexample op not in the history"
            );
        }
        checked += 1;
        linearizable += usize::from(expected == Verdict::Linearizable);
    }
    assert!(
        wrong.is_empty(),
        "{} of {checked} disagree:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert_eq!(
        (checked, linearizable),
        (108, 26),
        "the whole suite, 23 + 3 linearizable"
    );
    eprintln!(
        "Porcupine's suite: {checked} histories agreed in {:.2?}",
        started.elapsed()
    );
}

#[test]
fn the_cli_exits_0_linearizable_1_violation_2_unreadable() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/porcupine");
    let tmp = tempfile::tempdir().unwrap();
    let racegate = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_racegate"))
            .args(["history", "check"])
            .args(args)
            .output()
            .unwrap()
    };
    let file = |name: &str| dir.join(name).display().to_string();
    let text = |o: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };

    let o = racegate(&[&file("jepsen/etcd_002.log")]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("cas-register model"), "{}", text(&o));

    let out = tmp.path().join("bad");
    let o = racegate(&[&file("kv/c01-bad.txt"), "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("NOT linearizable"), "{}", text(&o));
    let html = std::fs::read_to_string(out.join("history.html")).unwrap();
    assert!(
        html.contains("<svg") && html.contains("impossible"),
        "{html}"
    );
    let check: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("check.json")).unwrap()).unwrap();
    assert_eq!(check["verdict"], "violation");
    assert!(check["model"].as_str().unwrap().starts_with("append"));

    // Unreadable, or a model that gives the operations no meaning: 2.
    let garbage = tmp.path().join("garbage.edn");
    std::fs::write(&garbage, "{:process 0, :type :ok, :f :read, :value 1}\n").unwrap();
    let o = racegate(&[garbage.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("line 1: process 0 completes"),
        "{}",
        text(&o)
    );
    let o = racegate(&[&file("kv/c01-ok.txt"), "--model", "register"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("cannot take an append"), "{}", text(&o));
    let o = racegate(&[&file("kv/c01-ok.txt"), "--model", "queue"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}
