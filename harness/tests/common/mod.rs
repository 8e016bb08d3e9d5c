//! A raw HTTP/1.1 server for the harness tests, so each test controls
//! exactly how every request is answered — including not at all.
#![allow(dead_code)]

pub mod certs;

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::process::{Command, Output};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How the test server answers one request.
pub enum Answer {
    /// Status and body.
    Respond(u16, String),
    /// Close the connection without answering.
    Hangup,
}

pub type Handler =
    Arc<dyn Fn(String) -> Pin<Box<dyn Future<Output = Answer> + Send>> + Send + Sync>;

/// Serves on 127.0.0.1:0 until the runtime ends; returns the address.
pub async fn serve(handler: Handler) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(connection(stream, Arc::clone(&handler)));
        }
    });
    addr
}

async fn connection(mut stream: TcpStream, handler: Handler) {
    let mut buf = Vec::new();
    loop {
        // Read one request: headers, then Content-Length bytes of body.
        let head_end = loop {
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + len {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body = String::from_utf8_lossy(&buf[head_end..head_end + len]).into_owned();
        buf.drain(..head_end + len);
        match handler(body).await {
            Answer::Hangup => return,
            Answer::Respond(status, body) => {
                let resp = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                if stream.write_all(resp.as_bytes()).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Wraps an async closure as a [`Handler`].
pub fn handler<F, Fut>(f: F) -> Handler
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Answer> + Send + 'static,
{
    Arc::new(move |body| Box::pin(f(body)))
}

/// The `i` of a `{"i": N}` body.
pub fn index_of(body: &str) -> u64 {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["i"].as_u64())
        .unwrap_or(u64::MAX)
}

/// A test server on its own runtime thread, for tests that run the built
/// binary (which needs the server alive outside any test runtime). Dropping
/// it stops the server and joins the thread.
pub struct ThreadServer {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Serves `handler` on 127.0.0.1:0 on a thread with its own runtime.
pub fn serve_on_thread(handler: Handler) -> ThreadServer {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            addr_tx.send(serve(handler).await).unwrap();
            let _ = stop_rx.await;
        });
    });
    ThreadServer {
        addr: addr_rx.recv().unwrap(),
        stop: Some(stop_tx),
        thread: Some(thread),
    }
}

impl Drop for ThreadServer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// The built binary, for tests of the command line.

/// Runs the built `racegate` binary.
pub fn racegate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_racegate"))
        .args(args)
        .output()
        .expect("run racegate")
}

/// A finished run's stderr.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A server on its own runtime thread: every 10th request a 500.
pub fn flaky_server() -> ThreadServer {
    serve_on_thread(handler(|body| async move {
        let i = index_of(&body);
        if i % 10 == 9 {
            Answer::Respond(500, r#"{"error": "flaky"}"#.into())
        } else {
            Answer::Respond(200, format!(r#"{{"response": "r{i}", "n": 3}}"#))
        }
    }))
}

/// Fails unless `report` is valid against `schema/report.schema.json`.
pub fn validate_against_schema(report: &Path) {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../schema/report.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&json)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "report.json violates the schema: {errors:#?}"
    );
}
