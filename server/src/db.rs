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
///
/// Shaped for the chat turn, which writes a conversation row and two
/// messages: `conversations` is keyed by its id alone (`WITHOUT ROWID`: one
/// b-tree, not a table plus an index on `id`), and message ids are plain
/// rowids, not `AUTOINCREMENT`, which would read and rewrite
/// `sqlite_sequence` for every message. Messages are never deleted, so their
/// ids still only grow. A database made by an earlier version keeps its
/// tables as they were; the statements below work on both.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS conversations (
    id            TEXT PRIMARY KEY,
    created_at    INTEGER NOT NULL,
    message_count INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
    id              INTEGER PRIMARY KEY,
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

/// SQLite's page size for a new database (the default; the server never
/// changes it): what `--max-db-bytes` is counted in.
pub const PAGE_SIZE: u64 = 4096;

/// When SQLite waits for the disk (`PRAGMA synchronous`), in WAL mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Synchronous {
    /// A commit is written to the WAL before it is acknowledged, and the WAL
    /// is fsynced at each checkpoint: an acknowledged write survives the
    /// process being killed (kill -9, a panic, OOM), but the last commits
    /// before a power cut or kernel crash may be lost.
    #[default]
    Normal,
    /// The WAL is also fsynced at every commit (one fsync per group-commit
    /// batch): an acknowledged write survives a power cut too.
    Full,
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        }
    }
}

/// Per-connection settings, applied when the pool opens a connection.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionSettings {
    /// How long a connection waits for a lock before `SQLITE_BUSY`.
    pub busy_timeout: Duration,
    /// How write transactions begin.
    pub write_lock: WriteLock,
    /// When commits wait for the disk.
    pub synchronous: Synchronous,
    /// `--max-db-bytes`, in pages: past it, writes fail as on a full disk.
    pub max_pages: Option<u64>,
}

impl ConnectionSettings {
    /// Applies the settings to a freshly opened connection.
    pub fn apply(&self, conn: &Connection) -> rusqlite::Result<()> {
        conn.busy_timeout(self.busy_timeout)?;
        // Chat turns, group commit and settings keep ~20 statements
        // prepared; the default cache of 16 would evict them in turn.
        conn.set_prepared_statement_cache_capacity(64);
        conn.pragma_update(None, "synchronous", self.synchronous.pragma())?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // The pool's checkpoint thread copies the WAL back, off the writer's
        // path (crate::checkpoint).
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        if let Some(pages) = self.max_pages {
            conn.pragma_update(
                None,
                "max_page_count",
                i64::try_from(pages).unwrap_or(i64::MAX),
            )?;
        }
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

/// Creates the schema if it is not there, and brings a database made by an
/// earlier version up to it.
pub fn create_schema(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(SCHEMA)?;
    migrate(&tx)?;
    tx.commit()
}

/// `conversations.message_count` (kept by every chat turn, so a turn reads
/// one row instead of counting the conversation's messages) came after the
/// first databases: add it and count once.
fn migrate(c: &Connection) -> rusqlite::Result<()> {
    let has_count = c
        .prepare("SELECT 1 FROM pragma_table_info('conversations') WHERE name = 'message_count'")?
        .exists([])?;
    if !has_count {
        c.execute_batch(
            "ALTER TABLE conversations ADD COLUMN message_count INTEGER NOT NULL DEFAULT 0;
             UPDATE conversations SET message_count =
                 (SELECT COUNT(*) FROM messages WHERE conversation_id = conversations.id);",
        )?;
    }
    Ok(())
}

/// Begins a write transaction the way `lock` says.
pub fn begin_write(conn: &mut Connection, lock: WriteLock) -> rusqlite::Result<Transaction<'_>> {
    let behavior = match lock {
        WriteLock::Immediate => TransactionBehavior::Immediate,
        WriteLock::Deferred => TransactionBehavior::Deferred,
    };
    conn.transaction_with_behavior(behavior)
}

thread_local! {
    /// The database file this thread's connection opened: (device, inode).
    /// Each connection has a thread of its own (tokio-rusqlite).
    static OPENED_FILE: std::cell::Cell<Option<(u64, u64)>> = const { std::cell::Cell::new(None) };
}

/// The (device, inode) of the file at `c`'s path now, if there is one.
fn file_id(c: &Connection) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(c.path()?).ok()?;
    Some((m.dev(), m.ino()))
}

/// Remembers which file `c` opened, on its own thread.
pub fn remember_file(c: &Connection) {
    OPENED_FILE.set(file_id(c));
}

/// Whether the file at `c`'s path is no longer the one it opened: removed,
/// or replaced. One `stat` (a write batch runs it once).
pub fn file_moved(c: &Connection) -> bool {
    match OPENED_FILE.get() {
        Some(opened) => file_id(c) != Some(opened),
        None => false,
    }
}
