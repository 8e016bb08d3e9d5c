//! [`Store`]: how both services run SQL on a pooled connection — a read, or a
//! write in one transaction that takes the lock the pool's settings say.

use std::sync::Arc;

use rusqlite::{Connection, Transaction};

use crate::bugs::{Bug, RacySchema};
use crate::db;
use crate::error::ServiceError;
use crate::pool::{ConnectionPool, PooledConnection};

/// Runs service SQL through the pool.
#[derive(Clone)]
pub struct Store {
    pool: Arc<ConnectionPool>,
    /// Only with `racy-schema`: tables are created on first use, unguarded.
    racy_schema: Option<Arc<RacySchema>>,
}

impl Store {
    /// A store over `pool`.
    pub fn new(pool: Arc<ConnectionPool>) -> Self {
        let racy_schema = pool
            .config()
            .faults
            .is_on(Bug::RacySchema)
            .then(Arc::default);
        Self { pool, racy_schema }
    }

    /// The pool behind the store.
    pub fn pool(&self) -> &Arc<ConnectionPool> {
        &self.pool
    }

    /// Borrows a connection, to run several steps on it.
    pub async fn acquire(&self) -> Result<PooledConnection, ServiceError> {
        Ok(self.pool.acquire().await?)
    }

    /// Runs `f` outside any explicit transaction (a read).
    pub async fn read<R, F>(&self, f: F) -> Result<R, ServiceError>
    where
        F: FnOnce(&Connection) -> Result<R, ServiceError> + Send + 'static,
        R: Send + 'static,
    {
        let conn = self.acquire().await?;
        self.read_on(&conn, f).await
    }

    /// [`read`](Self::read) on a connection the caller already holds.
    pub async fn read_on<R, F>(&self, conn: &PooledConnection, f: F) -> Result<R, ServiceError>
    where
        F: FnOnce(&Connection) -> Result<R, ServiceError> + Send + 'static,
        R: Send + 'static,
    {
        let racy = self.racy_schema.clone();
        Ok(conn
            .call(move |c| {
                if let Some(racy) = &racy {
                    racy.ensure_tables(c)?;
                }
                f(c)
            })
            .await?)
    }

    /// Runs `f` in one write transaction, committed if `f` succeeds.
    pub async fn write<R, F>(&self, f: F) -> Result<R, ServiceError>
    where
        F: FnOnce(&Transaction<'_>) -> Result<R, ServiceError> + Send + 'static,
        R: Send + 'static,
    {
        let conn = self.acquire().await?;
        let racy = self.racy_schema.clone();
        let lock = self.pool.write_lock();
        Ok(conn
            .call(move |c| {
                if let Some(racy) = &racy {
                    racy.ensure_tables(c)?;
                }
                let tx = db::begin_write(c, lock)?;
                let r = f(&tx)?;
                tx.commit()?;
                Ok::<R, ServiceError>(r)
            })
            .await?)
    }
}
