//! SQLite setup: the schema and how each pooled connection is configured.
//!
//! SQLite is opened for concurrency: WAL (readers never block the writer),
//! a `busy_timeout` so a writer waits for the lock instead of failing, and
//! write transactions that take the lock up front (`BEGIN IMMEDIATE`), so a
//! transaction never has to upgrade a read lock and hit `SQLITE_BUSY`.

use std::time::Duration;

use rusqlite::{Connection, Transaction, TransactionBehavior};

/// The schema. Every statement is idempotent; it runs once per pool build,
/// inside the guarded initialisation.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS conversations (
    id         TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    role            TEXT NOT NULL,
    content         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_conversation ON messages (conversation_id, id);
CREATE TABLE IF NOT EXISTS settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
";

/// How write transactions take the database lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteLock {
    /// `BEGIN IMMEDIATE`: the lock is taken at the start (the fix).
    Immediate,
    /// `BEGIN DEFERRED`: the lock is taken at the first write (the
    /// `locked-db` bug when combined with no busy timeout).
    Deferred,
}

/// Per-connection settings, applied when the pool opens a connection.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionSettings {
    /// How long a connection waits for a lock before `SQLITE_BUSY`.
    pub busy_timeout: Duration,
    /// How write transactions begin.
    pub write_lock: WriteLock,
}

impl ConnectionSettings {
    /// Applies the settings to a freshly opened connection.
    pub fn apply(&self, conn: &Connection) -> rusqlite::Result<()> {
        conn.busy_timeout(self.busy_timeout)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        Ok(())
    }
}

/// Switches the database file to WAL. The mode is stored in the file, so
/// this runs once, when the first connection of a pool build is opened.
pub fn enable_wal(conn: &Connection) -> rusqlite::Result<()> {
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(
            mode,
            "SQLite refused WAL; concurrent readers will block writers"
        );
    }
    Ok(())
}

/// Creates the schema if it is not there.
pub fn create_schema(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(SCHEMA)?;
    tx.commit()
}

/// Begins a write transaction the way `lock` says.
pub fn begin_write(conn: &mut Connection, lock: WriteLock) -> rusqlite::Result<Transaction<'_>> {
    let behavior = match lock {
        WriteLock::Immediate => TransactionBehavior::Immediate,
        WriteLock::Deferred => TransactionBehavior::Deferred,
    };
    conn.transaction_with_behavior(behavior)
}
