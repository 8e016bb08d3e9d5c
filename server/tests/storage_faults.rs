//! The reference server under storage faults, on real filesystems: a small
//! tmpfs that fills, a database whose filesystem is read-only, a database
//! file removed and replaced under the running server. Each case checks the
//! 503 and its code with `Retry-After`, `/healthz` naming the condition,
//! `/metrics` counting it, recovery within 1 s of the condition clearing,
//! every acknowledged chat still there and no half-written turn.
//!
//! Mounting needs root (CI runs as root); elsewhere those tests say,
//! visibly, that they skipped. The removed-file case needs nothing.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{chat, client, messages, send, start, two_thread_runtime};
use racegate_server::ServerConfig;
use serde_json::Value;

/// A tmpfs of `size` mounted on a fresh directory, unmounted on drop; `None`
/// (with a line on stderr) where mounting is not allowed.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str, test: &str) -> Option<Self> {
        let dir = tempfile::tempdir().ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            // .ci/run sets this where it found mounting works.
            assert!(
                std::env::var_os("RACEGATE_REQUIRE_MOUNT").is_none(),
                "{test}: cannot mount a tmpfs, and RACEGATE_REQUIRE_MOUNT says it must run"
            );
            eprintln!("SKIPPED {test}: cannot mount a tmpfs here (needs root; CI runs it as root)");
            return None;
        }
        Some(Self { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn remount(&self, mode: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(self.path())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "remount {mode}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

fn config(db: PathBuf) -> ServerConfig {
    let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), db);
    config.pool_size = 4;
    config
}

/// Asserts that of up to 20 chats of 4 KiB, one gets a 503 `code` with
/// `Retry-After` (on a nearly full disk a write can still slip through).
async fn chat_refused(c: &reqwest::Client, base: &str, code: &str) {
    for _ in 0..20 {
        let body = serde_json::json!({ "message": "y".repeat(4096) });
        let resp = c
            .post(format!("{base}/api/chat"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        if status == 200 {
            continue;
        }
        assert!(
            resp.headers().get("retry-after").is_some(),
            "503 {code} without Retry-After"
        );
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (503, Some(code)),
            "{body}"
        );
        return;
    }
    panic!("20 chats of 4 KiB passed: the condition {code} is not there");
}

/// Asserts a 503 with `code` and `Retry-After`.
async fn assert_unavailable(c: &reqwest::Client, req: reqwest::RequestBuilder, code: &str) {
    let resp = req.send().await.expect("an answer");
    let status = resp.status().as_u16();
    let retry = resp.headers().get("retry-after").cloned();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some(code)),
        "{body}"
    );
    assert!(retry.is_some(), "503 {code} without Retry-After");
    let _ = c;
}

/// Chats until one passes, at most `within`; the time it took.
async fn passes_within(c: &reqwest::Client, base: &str, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        if chat(c, base, "back?", None).await.0 == 200 {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < within,
            "chats still fail {within:?} after the condition cleared"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every chat answered 200 reads back whole: the user's message and the
/// reply, nothing half-written.
async fn all_there(c: &reqwest::Client, base: &str, acknowledged: &[(String, String)]) {
    for (conversation, text) in acknowledged {
        let msgs = messages(c, base, conversation).await;
        assert_eq!(msgs.len(), 2, "{conversation}: {msgs:?}");
        assert_eq!(msgs[0]["content"], text.as_str());
        assert_eq!(msgs[1]["role"], "assistant");
    }
}

/// Chats, eight at a time, until a whole round is refused: every answer a
/// 200 or a 503 `disk_full`, never a 500. The chats acknowledged (their
/// conversation and text) and how many were refused.
async fn fill(c: &reqwest::Client, base: &str) -> (Vec<(String, String)>, u64) {
    let (mut acknowledged, mut refused) = (Vec::new(), 0);
    for round in 0..2000 {
        let sends = (0..8).map(|k| {
            let text = format!("turn {round}.{k} {}", "x".repeat(200));
            async move { (chat(c, base, &text, None).await, text) }
        });
        let mut all_refused = true;
        for ((status, body), text) in futures::future::join_all(sends).await {
            match status {
                200 => {
                    all_refused = false;
                    acknowledged.push((body["conversation_id"].as_str().unwrap().to_owned(), text));
                }
                503 => {
                    assert_eq!(body["error"]["code"], "disk_full", "{body}");
                    refused += 1;
                }
                s => panic!("status {s}: {body}"),
            }
        }
        if all_refused {
            break;
        }
    }
    (acknowledged, refused)
}

/// No conversation holds a user message without its reply: a refused chat
/// left nothing half-written. Read from the file itself, the server stopped.
fn no_half_turns(db: &Path) {
    let c = rusqlite::Connection::open(db).unwrap();
    let odd: i64 = c
        .query_row(
            "SELECT count(*) FROM (SELECT conversation_id FROM messages \
             GROUP BY conversation_id HAVING count(*) % 2 = 1)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(odd, 0, "conversations with a half-written turn");
}

async fn metric(c: &reqwest::Client, base: &str, code: &str) -> u64 {
    let text = c
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = format!("racegate_storage_errors_total{{code=\"{code}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&line))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {line} in /metrics"))
}

#[test]
fn a_full_disk_is_503_disk_full_and_heals_when_space_is_freed() {
    let Some(fs) = Tmpfs::mount(
        "600k",
        "a_full_disk_is_503_disk_full_and_heals_when_space_is_freed",
    ) else {
        return;
    };
    let filler = fs.path().join("filler");
    std::fs::write(&filler, vec![0u8; 200 * 1024]).unwrap();
    let server = start(config(fs.path().join("chat.db")));
    let base = server.url("");
    two_thread_runtime().block_on(async {
        let c = client();
        let (acknowledged, refused) = fill(&c, &base).await;
        assert!(refused > 0 && !acknowledged.is_empty(), "{refused} refused");
        chat_refused(&c, &base, "disk_full").await;
        assert_unavailable(&c, c.get(format!("{base}/healthz")), "disk_full").await;
        assert_eq!(send(c.get(format!("{base}/livez"))).await.0, 200);
        assert!(metric(&c, &base, "disk_full").await >= refused);

        std::fs::remove_file(&filler).unwrap();
        let took = passes_within(&c, &base, Duration::from_secs(1)).await;
        eprintln!("a_full_disk: chats pass again {took:?} after space was freed");
        // Health follows at its next probe.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(send(c.get(format!("{base}/healthz"))).await.0, 200);
        all_there(&c, &base, &acknowledged).await;
    });
    server.stop().unwrap();
    no_half_turns(&fs.path().join("chat.db"));
}

#[test]
fn a_database_at_its_size_cap_is_503_disk_full_never_500() {
    // `--max-db-bytes`: SQLite fails as on a full disk, and may roll the
    // whole transaction back itself; no mount needed.
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path().join("chat.db"));
    config.max_db_bytes = Some(256 * 1024);
    let server = start(config);
    let base = server.url("");
    two_thread_runtime().block_on(async {
        let c = client();
        let (acknowledged, refused) = fill(&c, &base).await;
        assert!(refused > 0 && !acknowledged.is_empty(), "{refused} refused");
        assert_unavailable(&c, c.get(format!("{base}/healthz")), "disk_full").await;
        all_there(&c, &base, &acknowledged).await;
    });
    server.stop().unwrap();
    no_half_turns(&dir.path().join("chat.db"));
}

#[test]
fn a_read_only_filesystem_is_503_database_readonly_and_heals_when_writable() {
    let Some(fs) = Tmpfs::mount(
        "8m",
        "a_read_only_filesystem_is_503_database_readonly_and_heals_when_writable",
    ) else {
        return;
    };
    let db = fs.path().join("chat.db");
    let rt = two_thread_runtime();
    // Some chats, then the server stops and the filesystem turns read-only
    // (a mount with files open for writing cannot be remounted read-only).
    let server = start(config(db.clone()));
    let base = server.url("");
    let acknowledged: Vec<(String, String)> = rt.block_on(async {
        let c = client();
        let mut acked = Vec::new();
        for i in 0..10 {
            let text = format!("before {i}");
            let (status, body) = chat(&c, &base, &text, None).await;
            assert_eq!(status, 200, "{body}");
            acked.push((body["conversation_id"].as_str().unwrap().to_owned(), text));
        }
        acked
    });
    server.stop().unwrap();
    // Its connections close on their own threads, a moment after the stop.
    let open = common::fds::wait_closed(&db, Duration::from_secs(10));
    assert!(open.is_empty(), "still open after the stop: {open:?}");
    fs.remount("ro");
    let server = start(config(db));
    let base = server.url("");
    rt.block_on(async {
        let c = client();
        assert_unavailable(
            &c,
            c.post(format!("{base}/api/chat"))
                .json(&serde_json::json!({"message": "ro?"})),
            "database_readonly",
        )
        .await;
        assert_unavailable(&c, c.get(format!("{base}/healthz")), "database_readonly").await;
        assert!(metric(&c, &base, "database_readonly").await >= 1);
        fs.remount("rw");
        let took = passes_within(&c, &base, Duration::from_secs(1)).await;
        eprintln!("a_read_only_filesystem: chats pass again {took:?} after the remount");
        all_there(&c, &base, &acknowledged).await;
    });
    server.stop().unwrap();
}

#[test]
fn a_database_file_removed_is_503_database_missing_and_heals_when_put_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.db");
    let server = start(config(db.clone()));
    let base = server.url("");
    two_thread_runtime().block_on(async {
        let c = client();
        let mut acknowledged = Vec::new();
        for i in 0..20 {
            let text = format!("kept {i}");
            let (status, body) = chat(&c, &base, &text, None).await;
            assert_eq!(status, 200, "{body}");
            acknowledged.push((body["conversation_id"].as_str().unwrap().to_owned(), text));
        }
        // An operator's copy, taken with VACUUM INTO while it runs.
        let copy = dir.path().join("copy.db");
        rusqlite::Connection::open(&db)
            .unwrap()
            .execute("VACUUM INTO ?1", [copy.to_str().unwrap()])
            .unwrap();
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        }
        assert_unavailable(
            &c,
            c.post(format!("{base}/api/chat"))
                .json(&serde_json::json!({"message": "gone?"})),
            "database_missing",
        )
        .await;
        assert_unavailable(&c, c.get(format!("{base}/healthz")), "database_missing").await;
        // No empty database was made in its place.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_unavailable(
            &c,
            c.post(format!("{base}/api/chat"))
                .json(&serde_json::json!({"message": "gone?"})),
            "database_missing",
        )
        .await;
        assert!(!db.exists(), "the server created a new, empty database");
        assert!(metric(&c, &base, "database_missing").await >= 2);
        std::fs::rename(&copy, &db).unwrap();
        let took = passes_within(&c, &base, Duration::from_secs(1)).await;
        eprintln!("a_database_file_removed: chats pass again {took:?} after it was put back");
        all_there(&c, &base, &acknowledged).await;
    });
    server.stop().unwrap();
}

#[test]
fn a_condition_is_a_handful_of_log_lines_not_one_per_request() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = dir.path().join("server.log");
    let out = std::fs::File::create(&log).unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_racegate-server"))
        .args([
            "--addr",
            &format!("127.0.0.1:{port}"),
            "--max-db-bytes",
            "262144",
            "--db",
        ])
        .arg(dir.path().join("chat.db"))
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let refused = two_thread_runtime().block_on(async {
        let c = client();
        let started = Instant::now();
        while c.get(format!("{base}/livez")).send().await.is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the server never answered"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (_, refused) = fill(&c, &base).await;
        // And some more, one by one (a small one may still fit).
        let mut more = 0;
        for _ in 0..200 {
            more += u64::from(chat(&c, &base, "more?", None).await.0 == 503);
        }
        refused + more
    });
    let _ = server.kill();
    let _ = server.wait();
    let text = std::fs::read_to_string(&log).unwrap();
    let lines = text
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .count();
    assert!(text.contains("storage condition started"), "{text}");
    assert!(
        lines <= 10,
        "{lines} warning lines for {refused} refused requests:\n{text}"
    );
}
