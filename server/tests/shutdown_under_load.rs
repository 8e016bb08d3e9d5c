//! Shutdown under load: SIGTERM the built binary while chats are in flight.
//! Every request in flight when SIGTERM arrived gets a complete answer (200,
//! or a clear 503 "shutting_down"), never a reset; the server exits 0 within
//! its grace period; after a restart on the same file every message that got
//! a 200 is there. The same holds after SIGKILL (kill -9) mid-load: with
//! `synchronous=NORMAL` a commit is in the WAL before it is acknowledged.

mod common;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{chat, client, messages, TempDb};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn_server(db: &TempDb, port: u16, think_ms: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_racegate-server"))
        .args([
            "--addr",
            &format!("127.0.0.1:{port}"),
            "--pool-size",
            "4",
            "--think-ms",
            think_ms,
        ])
        .arg("--db")
        .arg(db.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn racegate-server")
}

/// One request the load sent: when, what, and how it ended.
struct Sent {
    from: Duration,
    until: Duration,
    text: String,
    /// The status and JSON body, or why no complete answer came.
    answer: Result<(u16, serde_json::Value), String>,
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await {
            if r.status() == 200 {
                return;
            }
        }
        assert!(Instant::now() < deadline, "server never became ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "server did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sixteen workers chatting, each in its own conversation, until `stop`.
fn spawn_load(
    rt: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    base: &str,
    stop: &Arc<AtomicBool>,
    started: Instant,
) -> Vec<tokio::task::JoinHandle<Vec<Sent>>> {
    (0..16)
        .map(|w| {
            let (client, base, stop) = (client.clone(), base.to_owned(), stop.clone());
            rt.spawn(async move {
                // Staggered, so that whenever SIGTERM lands most workers are
                // mid-turn rather than all between requests.
                tokio::time::sleep(Duration::from_millis(10 * w)).await;
                let mut sent: Vec<Sent> = Vec::new();
                let mut conversation: Option<String> = None;
                for i in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let text = format!("worker {w} message {i}");
                    let mut body = serde_json::json!({ "message": text });
                    if let Some(id) = &conversation {
                        body["conversation_id"] = id.clone().into();
                    }
                    let from = started.elapsed();
                    let answer = async {
                        let resp = client
                            .post(format!("{base}/api/chat"))
                            .json(&body)
                            .send()
                            .await
                            .map_err(|e| format!("{e:?}"))?;
                        let status = resp.status().as_u16();
                        let v = resp
                            .json::<serde_json::Value>()
                            .await
                            .map_err(|e| format!("body cut off: {e:?}"))?;
                        Ok::<_, String>((status, v))
                    }
                    .await;
                    let until = started.elapsed();
                    if let Ok((200, v)) = &answer {
                        let id = v["conversation_id"].as_str().unwrap().to_owned();
                        conversation = Some(id);
                    } else {
                        // Refused once the listener is gone: do not spin.
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    sent.push(Sent {
                        from,
                        until,
                        text,
                        answer,
                    });
                }
                sent
            })
        })
        .collect()
}

/// The built server on a fresh file, ready, with a runtime and a client.
struct Running {
    db: TempDb,
    port: u16,
    base: String,
    server: KillOnDrop,
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
}

fn start(think_ms: &str) -> Running {
    let db = TempDb::new();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let server = KillOnDrop(spawn_server(&db, port, think_ms));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = client();
    rt.block_on(wait_ready(&client, &base));
    Running {
        db,
        port,
        base,
        server,
        rt,
        client,
    }
}

/// Everything the load's workers sent.
fn join(rt: &tokio::runtime::Runtime, load: Vec<tokio::task::JoinHandle<Vec<Sent>>>) -> Vec<Sent> {
    rt.block_on(async {
        let mut all = Vec::new();
        for t in load {
            all.extend(t.await.unwrap());
        }
        all
    })
}

#[test]
fn every_acknowledged_message_survives_sigterm_and_restart() {
    // Turns long enough that many requests are mid-turn when SIGTERM lands.
    let Running {
        db,
        port,
        base,
        mut server,
        rt,
        client,
    } = start("150");

    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let load = spawn_load(&rt, &client, &base, &stop, started);

    std::thread::sleep(Duration::from_millis(500));
    let sigterm_at = started.elapsed();
    let status = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = wait_exit(&mut server.0, Duration::from_secs(15));
    assert!(exit.success(), "graceful shutdown exits 0, got {exit:?}");
    stop.store(true, Ordering::Relaxed);
    let sent = join(&rt, load);

    // In flight at SIGTERM: sent well before it (so the server had read it),
    // answered after it. Each must be answered in full: 200, or 503
    // shutting_down — never a reset or a cut-off body.
    let in_flight: Vec<&Sent> = sent
        .iter()
        .filter(|s| s.from + Duration::from_millis(30) <= sigterm_at && s.until > sigterm_at)
        .collect();
    assert!(
        in_flight.len() >= 8,
        "too few requests in flight at SIGTERM to judge ({})",
        in_flight.len()
    );
    for s in &in_flight {
        match &s.answer {
            Ok((200, _)) => {}
            Ok((503, v)) if v["error"]["code"] == "shutting_down" => {}
            other => panic!(
                "a request in flight at SIGTERM ({:?} → {:?}, SIGTERM at {sigterm_at:?}) got {other:?}",
                s.from, s.until
            ),
        }
    }
    assert_acknowledged_survive(&rt, &client, &base, &db, port, &sent);
}

/// Restarts on the same file and checks that every message that got a 200
/// is stored, under its id.
fn assert_acknowledged_survive(
    rt: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    base: &str,
    db: &TempDb,
    port: u16,
    sent: &[Sent],
) {
    let acked: Vec<(String, i64, String)> = sent
        .iter()
        .filter_map(|s| match &s.answer {
            Ok((200, v)) => Some((
                v["conversation_id"].as_str().unwrap().to_owned(),
                v["message_id"].as_i64().unwrap(),
                s.text.clone(),
            )),
            _ => None,
        })
        .collect();
    assert!(
        acked.len() > 16,
        "load ran before shutdown ({} acks)",
        acked.len()
    );

    let _restarted = KillOnDrop(spawn_server(db, port, "0"));
    rt.block_on(async {
        wait_ready(client, base).await;
        let mut by_conversation: HashMap<&str, Vec<(i64, &str)>> = HashMap::new();
        for (id, message_id, text) in &acked {
            by_conversation
                .entry(id)
                .or_default()
                .push((*message_id, text));
        }
        for (id, wanted) in by_conversation {
            let stored = messages(client, base, id).await;
            for (message_id, text) in wanted {
                assert!(
                    stored
                        .iter()
                        .any(|m| m["id"].as_i64() == Some(message_id) && m["content"] == text),
                    "acknowledged message {message_id} of {id} lost"
                );
            }
            // The kept message count agrees with the stored messages.
            let (s, turn) = chat(client, base, "after restart", Some(id)).await;
            assert_eq!(s, 200, "{turn}");
            let n = stored.len();
            let said = turn["response"].as_str().unwrap_or_default();
            assert!(
                said.contains(&format!("I remember {n} earlier message")),
                "{id} stores {n} messages, but the turn said: {said}"
            );
        }
        let (s, _) = chat(client, base, "after restart", None).await;
        assert_eq!(s, 200);
    });
}

#[test]
fn every_acknowledged_message_survives_kill_9_and_restart() {
    // No think time: turns commit back to back, so SIGKILL lands among
    // group-commit batches being written.
    let Running {
        db,
        port,
        base,
        mut server,
        rt,
        client,
    } = start("0");
    let stop = Arc::new(AtomicBool::new(false));
    let load = spawn_load(&rt, &client, &base, &stop, Instant::now());
    std::thread::sleep(Duration::from_millis(600));
    server.0.kill().unwrap(); // SIGKILL: no shutdown code runs
    let _ = server.0.wait();
    stop.store(true, Ordering::Relaxed);
    let sent = join(&rt, load);
    assert_acknowledged_survive(&rt, &client, &base, &db, port, &sent);
}
