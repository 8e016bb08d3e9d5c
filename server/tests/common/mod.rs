//! Shared by the server's tests: a fresh database per test, a server on port
//! 0, and a small JSON client.
#![allow(dead_code)]

pub mod app;
pub mod fds;

use std::path::PathBuf;

use racegate_server::{RunningServer, ServerConfig};
use serde_json::Value;

/// A temporary directory holding one test's database; removed on drop.
pub struct TempDb {
    pub dir: tempfile::TempDir,
}

impl TempDb {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("racegate.db")
    }

    /// Default config on 127.0.0.1:0 with this database.
    pub fn config(&self) -> ServerConfig {
        ServerConfig::new("127.0.0.1:0".parse().unwrap(), self.path())
    }
}

/// A multi-thread runtime with two workers, like the CI machine's cores.
pub fn two_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

pub fn start(config: ServerConfig) -> RunningServer {
    RunningServer::start(config).expect("server starts")
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .pool_max_idle_per_host(256)
        .build()
        .expect("client")
}

pub async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let resp = req.send().await.expect("request completes");
    let status = resp.status().as_u16();
    let body = resp.bytes().await.expect("body");
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (status, json)
}

pub async fn chat(
    client: &reqwest::Client,
    base: &str,
    message: &str,
    conversation: Option<&str>,
) -> (u16, Value) {
    let mut body = serde_json::json!({ "message": message });
    if let Some(id) = conversation {
        body["conversation_id"] = id.into();
    }
    send(client.post(format!("{base}/api/chat")).json(&body)).await
}

pub async fn messages(client: &reqwest::Client, base: &str, conversation: &str) -> Vec<Value> {
    let (status, body) =
        send(client.get(format!("{base}/api/conversations/{conversation}/messages"))).await;
    assert_eq!(status, 200, "{body}");
    body["messages"].as_array().cloned().unwrap_or_default()
}
