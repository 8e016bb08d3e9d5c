//! The seed's bug, on demand (`runtime-bound-pool` in racegate's catalogue,
//! [`PoolConfig::runtime_bound_waits`](crate::PoolConfig::runtime_bound_waits)):
//! waiters ask a dispatch task that was spawned on the runtime current when
//! the pool was built. Sequential callers never wait, so they pass; once that
//! runtime is gone, every caller that has to wait fails with [`DispatchGone`].
//! It exists so racegate can prove it catches the bug.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Notify};

/// `runtime-bound-pool`: the waiter-dispatch task.
///
/// Created by [`RuntimeBoundDispatch::spawn`] on whatever runtime is current
/// when the pool is built; waiters ask it, over a channel, to tell them when a
/// connection is released. When that runtime shuts down, the task and its
/// receiver are dropped and every later wait fails.
pub struct RuntimeBoundDispatch {
    requests: mpsc::Sender<oneshot::Sender<()>>,
    released: Arc<Notify>,
}

/// The error a waiter gets from a dispatch task whose runtime is gone.
#[derive(Debug, thiserror::Error)]
#[error("waiter dispatch task is gone: the runtime that created the pool has shut down")]
pub struct DispatchGone;

impl RuntimeBoundDispatch {
    /// Spawns the dispatch task on the current runtime (the bug: the pool
    /// outlives it). While that runtime lives this works: each waiter is
    /// answered after a release ([`released`](Self::released)) or a 1 ms
    /// timer tick (both runtime-bound), then looks again.
    pub fn spawn() -> Self {
        let released = Arc::new(Notify::new());
        let (requests, mut rx) = mpsc::channel::<oneshot::Sender<()>>(1024);
        let notify = Arc::clone(&released);
        tokio::spawn(async move {
            while let Some(waiter) = rx.recv().await {
                let released = Arc::clone(&notify);
                tokio::spawn(async move {
                    tokio::select! {
                        () = released.notified() => {}
                        () = tokio::time::sleep(std::time::Duration::from_millis(1)) => {}
                    }
                    let _ = waiter.send(());
                });
            }
        });
        Self { requests, released }
    }

    /// A connection came back: answer one waiter.
    pub fn released(&self) {
        self.released.notify_one();
    }

    /// The pool closed: answer every waiter.
    pub fn closed(&self) {
        self.released.notify_waiters();
    }

    /// Waits until the dispatch task reports a release.
    pub async fn wait_for_release(&self) -> Result<(), DispatchGone> {
        let (tx, rx) = oneshot::channel();
        self.requests.send(tx).await.map_err(|_| DispatchGone)?;
        rx.await.map_err(|_| DispatchGone)
    }
}
