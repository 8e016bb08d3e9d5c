//! Shared by the criterion benches: the one manager of `tokio_rusqlite`
//! connections both pools in the pool bench use and the pool workload ([`pools`]), and a minimal
//! in-process HTTP target for the engine bench. The side-by-side comparison
//! with other tools is `compare.sh`.

pub mod pools;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use deadpool::managed::{Manager, Metrics, RecycleResult};

/// Hands out plain `tokio_rusqlite` connections, to our pool, deadpool and
/// bb8 alike, so the pool bench compares the pools and nothing else.
pub struct SqliteManager {
    /// The database file.
    pub path: PathBuf,
}

impl Manager for SqliteManager {
    type Type = tokio_rusqlite::Connection;
    type Error = rusqlite::Error;

    async fn create(&self) -> Result<Self::Type, Self::Error> {
        tokio_rusqlite::Connection::open(&self.path).await
    }

    async fn recycle(&self, _: &mut Self::Type, _: &Metrics) -> RecycleResult<Self::Error> {
        Ok(())
    }
}

impl racegate_pool::Manager for SqliteManager {
    type Connection = tokio_rusqlite::Connection;
    type Error = rusqlite::Error;
    type Companion = ();

    async fn open(&self, _index: usize) -> Result<Self::Connection, Self::Error> {
        tokio_rusqlite::Connection::open(&self.path).await
    }

    async fn close(&self, conn: Self::Connection) {
        let _ = conn.close().await;
    }

    async fn companion(&self) -> Result<(), Self::Error> {
        Ok(())
    }

    fn stop(_companion: &()) {}
}

impl bb8::ManageConnection for SqliteManager {
    type Connection = tokio_rusqlite::Connection;
    type Error = rusqlite::Error;

    async fn connect(&self) -> Result<Self::Connection, Self::Error> {
        tokio_rusqlite::Connection::open(&self.path).await
    }

    /// Checked out as deadpool's are recycled: a no-op that is still called.
    async fn is_valid(&self, _conn: &mut Self::Connection) -> Result<(), Self::Error> {
        Ok(())
    }

    fn has_broken(&self, _conn: &mut Self::Connection) -> bool {
        false
    }
}

/// Serves `{"response":"ok"}` on 127.0.0.1:0 from a runtime on its own
/// threads (so it does not share the engine's); returns the address. The
/// server lives until the process ends.
pub fn minimal_server() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            tx.send(listener.local_addr().expect("addr"))
                .expect("send addr");
            let app = axum::Router::new().route(
                "/",
                axum::routing::get(|| async {
                    (
                        [("content-type", "application/json")],
                        r#"{"response":"ok"}"#,
                    )
                }),
            );
            let _ = axum::serve(listener, app).await;
        });
    });
    rx.recv().expect("server address")
}

/// Times `iters` racegate runs of `fire` on `rt` (criterion's
/// `iter_custom`), asserting that every request of every run passed.
pub fn time_runs(rt: &tokio::runtime::Runtime, fire: &racegate::Fire, iters: u64) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let started = Instant::now();
        let report = rt
            .block_on(fire.clone().run())
            .expect("the target is reachable");
        total += started.elapsed();
        report.assert_pass_rate(1.0);
    }
    total
}
