//! `racegate repro --bisect` under `git bisect run`: in a throwaway git
//! repository of five commits, one of which introduces the seed's race into
//! a small Python asyncio server, `git bisect run` names that commit.
//! Needs git and python3 (both on the machine; CI runs it).

use std::path::Path;
use std::process::{Command, Output};

fn git(repo: &Path, args: &[&str]) -> Output {
    let o = Command::new("git")
        .args(args)
        .current_dir(repo)
        .env("GIT_AUTHOR_NAME", "racegate test")
        .env("GIT_AUTHOR_EMAIL", "test@racegate.invalid")
        .env("GIT_COMMITTER_NAME", "racegate test")
        .env("GIT_COMMITTER_EMAIL", "test@racegate.invalid")
        .output()
        .expect("git runs");
    assert!(
        o.status.success() || args[0] == "bisect",
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn commit(repo: &Path, message: &str) -> String {
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", message]);
    String::from_utf8_lossy(&git(repo, &["rev-parse", "HEAD"]).stdout)
        .trim()
        .to_owned()
}

const SCENARIO: &str = r#"
title = "the chat server keeps answering concurrent chats"
trials = 1
[server]
command = ["python3", "{cwd}/app.py", "--port", "{port}"]
ready = "/healthz"
ready_timeout = "10s"
[verdict]
confidence_floor = 0.9
[variants.tree]
expect = "pass"
[[steps]]
fire = "/api/chat"
method = "POST"
body = '{"message": "test {i}"}'
concurrency = 10
requests = 10
burst = true
expect_json_field = ["response"]
"#;

#[test]
fn git_bisect_run_names_the_commit_that_introduced_the_race() {
    let server = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/python-asyncio/server.py"),
    )
    .unwrap();
    let buggy = server.clone();
    let fixed = server.replace(
        "POOL = ConnectionPool(args.fixed)",
        "POOL = ConnectionPool(True)",
    );
    assert_ne!(
        buggy, fixed,
        "the example's pool line moved; update this test"
    );

    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    git(repo, &["init", "-q"]);
    std::fs::write(repo.join("scenario.toml"), SCENARIO).unwrap();
    std::fs::write(repo.join("app.py"), &fixed).unwrap();
    let good = commit(repo, "chat server with a lazily created lock");
    std::fs::write(repo.join("NOTES.md"), "notes\n").unwrap();
    commit(repo, "notes");
    std::fs::write(repo.join("app.py"), &buggy).unwrap();
    let culprit = commit(
        repo,
        "create the pool's lock at start-up (faster first request)",
    );
    std::fs::write(repo.join("NOTES.md"), "notes, more\n").unwrap();
    commit(repo, "more notes");
    std::fs::write(repo.join("NOTES.md"), "notes, even more\n").unwrap();
    let bad = commit(repo, "even more notes");

    git(repo, &["bisect", "start", &bad, &good]);
    let run = git(
        repo,
        &[
            "bisect",
            "run",
            env!("CARGO_BIN_EXE_racegate"),
            "repro",
            "--bisect",
            "--quiet",
            "scenario.toml",
        ],
    );
    let out = String::from_utf8_lossy(&run.stdout);
    git(repo, &["bisect", "reset"]);
    assert!(
        out.contains(&format!("{culprit} is the first bad commit")),
        "git bisect did not name {culprit}:\n{out}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

#[test]
fn bisect_skips_when_the_server_cannot_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.toml");
    std::fs::write(
        &path,
        SCENARIO.replace("{cwd}/app.py", "{cwd}/no-such-file.py"),
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_racegate"))
        .args(["repro", "--bisect", path.to_str().unwrap()])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(125),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn bisect_skips_when_the_verdict_is_inconclusive() {
    // Three requests that all pass cannot reach a 99 % confidence floor
    // (their interval's lower bound is ~44 %), and one trial is all it may
    // run: neither good nor bad, so git bisect must skip this commit.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("short.toml");
    std::fs::write(
        &path,
        r#"title = "too short to tell"
[server]
reference = true
[variants.after]
expect = "pass"
[[steps]]
fire = "/livez"
requests = 3
"#,
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_racegate"))
        .args(["repro", "--bisect", "--trials", "1", "--max-trials", "1"])
        .arg(&path)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(125), "{out}");
    assert!(
        out.contains("inconclusive") && out.contains("skip"),
        "{out}"
    );
}
