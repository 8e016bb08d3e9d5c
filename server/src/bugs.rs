//! The bug catalogue: known concurrency bugs the server re-introduces on
//! demand (`--inject NAME`), each a faithful Rust form of a real one.
//!
//! Every entry is off by default and changes nothing when off. The buggy code
//! paths live here, next to the doc comment that names the symptom and the
//! fix; the rest of the server only asks [`Faults::is_on`] at the one place
//! each bug plugs in. `scenarios/<name>.toml` reproduces each entry.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// One known bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Bug {
    /// The seed's bug. Pool state that only the contended path uses (here a
    /// waiter-dispatch task) is created eagerly, at start-up, on a runtime the
    /// server then leaves. Sequential requests never wait for a connection and
    /// pass; concurrent ones wait, find the task gone with its runtime and fail
    /// with "waiter dispatch task is gone: the runtime that created the pool
    /// has shut down". Fix: build nothing runtime-bound; wait on a
    /// runtime-agnostic `Notify` created with the pool, lazily, in the runtime
    /// that uses it.
    RuntimeBoundPool,
    /// Lazy initialisation without the guard: concurrent first callers each
    /// build the pool, so more connections are open than the bound allows and
    /// the losers' pools are never closed. Fix: the first caller claims the
    /// build under the init lock; the others wait for it.
    UnguardedInit,
    /// Tables created on first use with a plain flag and no lock: a burst of
    /// first requests sees "table ... already exists" or "no such table".
    /// Fix: create the schema once, inside the guarded pool initialisation,
    /// with `IF NOT EXISTS`.
    RacySchema,
    /// Deferred write transactions and no busy handler: concurrent writers fail
    /// with "database is locked". Fix: `BEGIN IMMEDIATE` plus `busy_timeout`.
    LockedDb,
    /// `PATCH /api/settings` as read-modify-write outside a transaction:
    /// concurrent merges silently drop keys while every request gets 200.
    /// Fix: upsert the merged keys inside one `BEGIN IMMEDIATE` transaction.
    LostUpdate,
    /// A request that fails validation never returns its connection; after
    /// pool-size bad requests every request times out with 503. Fix: the
    /// connection is returned by its guard's `Drop` on every path.
    LeakOnError,
    /// Setting reads served from a cache refreshed off the write path (every
    /// 20 ms): a read that starts after an acknowledged write can return the
    /// older value, or "absent". Every request answers 200 (or 404); only a
    /// history check sees it. Fix: read through to the database, or update
    /// the cache on the write path before acknowledging the write.
    StaleRead,
    /// A chat reads its context on a pooled connection and keeps it through
    /// the model call (the think time); a guard gives it back when the turn
    /// ends, but a turn whose future is dropped mid-way — its client gave up
    /// and the server cancelled the handler — never gives it back. Without
    /// cancellation it passes every check, forever; with clients that give up
    /// (`racegate fire --cancel`) the pool drains and later chats get 503.
    /// Fix: the connection is owned by a guard whose `Drop` returns it, on
    /// every path, cancellation included (and is not held across the model
    /// call at all).
    CancelLeak,
    /// A conditional put (`If-Match`) checks the setting's ETag on a read,
    /// then writes in a transaction of its own: two clients holding the same
    /// ETag both pass the check and both get 200, and one update is lost.
    /// Every answer is a 2xx or a 412, as it should be; only a history of
    /// compare-and-sets (`racegate kv --cas`) sees it. Fix: check the
    /// precondition inside the write's transaction.
    EtagRace,
}

impl Bug {
    /// Every entry, in catalogue order.
    pub const ALL: [Bug; 9] = [
        Bug::RuntimeBoundPool,
        Bug::UnguardedInit,
        Bug::RacySchema,
        Bug::LockedDb,
        Bug::LostUpdate,
        Bug::LeakOnError,
        Bug::StaleRead,
        Bug::CancelLeak,
        Bug::EtagRace,
    ];

    /// The name used by `--inject` and by the scenario files.
    pub fn name(self) -> &'static str {
        match self {
            Bug::RuntimeBoundPool => "runtime-bound-pool",
            Bug::UnguardedInit => "unguarded-init",
            Bug::RacySchema => "racy-schema",
            Bug::LockedDb => "locked-db",
            Bug::LostUpdate => "lost-update",
            Bug::LeakOnError => "leak-on-error",
            Bug::StaleRead => "stale-read",
            Bug::CancelLeak => "cancel-leak",
            Bug::EtagRace => "etag-race",
        }
    }
}

impl fmt::Display for Bug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An `--inject` value that names no catalogue entry.
#[derive(Debug, thiserror::Error)]
#[error("unknown bug {0:?}; the catalogue has: {list}", list = Bug::ALL.map(Bug::name).join(", "))]
pub struct UnknownBug(String);

impl FromStr for Bug {
    type Err = UnknownBug;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Bug::ALL
            .into_iter()
            .find(|bug| bug.name() == s)
            .ok_or_else(|| UnknownBug(s.to_owned()))
    }
}

/// The set of bugs switched on for one server.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    on: Vec<Bug>,
}

impl Faults {
    /// No bug: the fixed server.
    pub fn none() -> Self {
        Self::default()
    }

    /// Exactly these bugs.
    pub fn with(bugs: impl IntoIterator<Item = Bug>) -> Self {
        let mut on: Vec<Bug> = bugs.into_iter().collect();
        on.sort();
        on.dedup();
        Self { on }
    }

    /// Whether `bug` is switched on.
    pub fn is_on(&self, bug: Bug) -> bool {
        self.on.contains(&bug)
    }

    /// The bugs switched on.
    pub fn bugs(&self) -> &[Bug] {
        &self.on
    }
}

/// `cancel-leak`: holds a connection through a turn and gives it back only
/// when [`release`](Self::release)d; dropped before that (the turn's future
/// cancelled), it forgets the connection instead of returning it.
pub struct CancelLeak<T>(Option<T>);

impl<T> CancelLeak<T> {
    /// Holds `conn` until [`release`](Self::release).
    pub fn hold(conn: T) -> Self {
        Self(Some(conn))
    }

    /// The turn finished: give the connection back.
    pub fn release(mut self) {
        drop(self.0.take());
    }
}

impl<T> Drop for CancelLeak<T> {
    fn drop(&mut self) {
        // The bug: the early exit (cancellation) forgets to give it back.
        if let Some(conn) = self.0.take() {
            std::mem::forget(conn);
        }
    }
}

/// `racy-schema`: the unguarded "are the tables there yet?" flag.
#[derive(Default)]
pub struct RacySchema {
    created: AtomicBool,
}

impl RacySchema {
    /// Creates the tables on first use: check a flag, create without
    /// `IF NOT EXISTS`, set the flag. Two first callers both create.
    pub fn ensure_tables(&self, conn: &rusqlite::Connection) -> rusqlite::Result<()> {
        if self.created.load(Ordering::Acquire) {
            return Ok(());
        }
        conn.execute_batch(&crate::db::SCHEMA.replace(" IF NOT EXISTS", ""))?;
        self.created.store(true, Ordering::Release);
        Ok(())
    }
}

/// `lost-update`: merge as read, modify in memory, write everything back, in
/// two separate steps with no transaction around them.
pub async fn lost_update_merge(
    conn: &tokio_rusqlite::Connection,
    patch: BTreeMap<String, String>,
) -> Result<usize, tokio_rusqlite::Error> {
    let mut all = conn
        .call(|c| {
            let mut stmt = c.prepare("SELECT key, value FROM settings")?;
            let rows =
                stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            rows.collect::<rusqlite::Result<BTreeMap<String, String>>>()
        })
        .await?;
    // Other requests run here, between the read and the write.
    tokio::task::yield_now().await;
    let n = patch.len();
    all.extend(patch);
    conn.call(move |c| {
        let tx = c.transaction()?;
        tx.execute("DELETE FROM settings", [])?;
        for (k, v) in &all {
            tx.execute("INSERT INTO settings (key, value) VALUES (?1, ?2)", (k, v))?;
        }
        tx.commit()
    })
    .await?;
    Ok(n)
}

/// `stale-read`: a snapshot of every setting, refreshed by whichever read
/// finds it older than [`StaleReadCache::REFRESH`] — never by a write.
#[derive(Default)]
pub struct StaleReadCache {
    snapshot: std::sync::Mutex<Option<Snapshot>>,
}

/// When a snapshot was taken, and every setting as it was then.
type Snapshot = (std::time::Instant, Arc<BTreeMap<String, String>>);

impl StaleReadCache {
    /// How old the snapshot may get before a read refreshes it.
    pub const REFRESH: std::time::Duration = std::time::Duration::from_millis(20);

    /// The snapshot, if it is fresh enough to serve (the bug: "fresh
    /// enough" ignores every write since it was taken).
    pub fn current(&self) -> Option<Arc<BTreeMap<String, String>>> {
        let guard = crate::sync::lock(&self.snapshot);
        guard
            .as_ref()
            .filter(|(at, _)| at.elapsed() < Self::REFRESH)
            .map(|(_, map)| Arc::clone(map))
    }

    /// Replaces the snapshot with one just read from the database.
    pub fn refresh(&self, all: BTreeMap<String, String>) -> Arc<BTreeMap<String, String>> {
        let map = Arc::new(all);
        *crate::sync::lock(&self.snapshot) = Some((std::time::Instant::now(), Arc::clone(&map)));
        map
    }
}
