//! [`SettingsService`]: settings stored as JSON values under string keys.
//!
//! A merge (`PATCH /api/settings`) upserts every key of the patch inside one
//! write transaction, so concurrent merges of disjoint keys never lose one.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use rusqlite::OptionalExtension;
use serde_json::Value;

use crate::bugs::{self, Bug};
use crate::error::ServiceError;
use crate::store::Store;

/// The longest key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 128;
/// The largest value accepted, as serialised JSON, in bytes.
pub const MAX_VALUE_LEN: usize = 8 * 1024;
/// The most keys one merge may carry.
pub const MAX_KEYS_PER_MERGE: usize = 256;

/// Stores settings.
#[derive(Clone)]
pub struct SettingsService {
    store: Store,
    /// Only with `stale-read`.
    stale: Option<std::sync::Arc<bugs::StaleReadCache>>,
}

impl SettingsService {
    /// A service over `store`.
    pub fn new(store: Store) -> Self {
        let stale = store
            .pool()
            .config()
            .faults
            .is_on(Bug::StaleRead)
            .then(std::sync::Arc::default);
        Self { store, stale }
    }

    /// Every setting.
    pub async fn all(&self) -> Result<BTreeMap<String, Value>, ServiceError> {
        let rows = self
            .store
            .read(|c| {
                let mut stmt = c.prepare_cached("SELECT key, value FROM settings ORDER BY key")?;
                let rows =
                    stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .await?;
        rows.into_iter()
            .map(|(k, v)| Ok((k, serde_json::from_str(&v)?)))
            .collect()
    }

    /// One setting.
    pub async fn get(&self, key: &str) -> Result<Value, ServiceError> {
        validate_key(key)?;
        if let Some(cache) = &self.stale {
            return self.get_from_stale_cache(cache, key).await;
        }
        let k = key.to_owned();
        let stored = self
            .store
            .read(move |c| {
                Ok(
                    c.query_row("SELECT value FROM settings WHERE key = ?1", [&k], |r| {
                        r.get::<_, String>(0)
                    })
                    .optional()?,
                )
            })
            .await?;
        match stored {
            Some(v) => Ok(serde_json::from_str(&v)?),
            None => Err(ServiceError::UnknownSetting(key.to_owned())),
        }
    }

    /// `stale-read`: serve from the snapshot while it is "fresh".
    async fn get_from_stale_cache(
        &self,
        cache: &bugs::StaleReadCache,
        key: &str,
    ) -> Result<Value, ServiceError> {
        let snapshot = match cache.current() {
            Some(map) => map,
            None => {
                let rows = self
                    .store
                    .read(|c| {
                        let mut stmt = c.prepare_cached("SELECT key, value FROM settings")?;
                        let rows = stmt.query_map([], |r| {
                            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                        })?;
                        Ok(rows.collect::<rusqlite::Result<BTreeMap<_, _>>>()?)
                    })
                    .await?;
                cache.refresh(rows)
            }
        };
        match snapshot.get(key) {
            Some(v) => Ok(serde_json::from_str(v)?),
            None => Err(ServiceError::UnknownSetting(key.to_owned())),
        }
    }

    /// Sets one setting.
    pub async fn put(&self, key: &str, value: &Value) -> Result<(), ServiceError> {
        let mut patch = serde_json::Map::new();
        patch.insert(key.to_owned(), value.clone());
        self.merge(patch).await.map(drop)
    }

    /// Sets every key of `patch`, atomically; returns how many were set.
    pub async fn merge(
        &self,
        patch: serde_json::Map<String, Value>,
    ) -> Result<usize, ServiceError> {
        if patch.len() > MAX_KEYS_PER_MERGE {
            return Err(invalid(
                "too_many_keys",
                format!(
                    "a merge may set at most {MAX_KEYS_PER_MERGE} keys, got {}",
                    patch.len()
                ),
                StatusCode::UNPROCESSABLE_ENTITY,
            ));
        }
        let mut encoded = BTreeMap::new();
        for (key, value) in patch {
            validate_key(&key)?;
            let text = value.to_string();
            if text.len() > MAX_VALUE_LEN {
                return Err(invalid(
                    "value_too_large",
                    format!(
                        "the value of {key:?} is {} bytes of JSON; the limit is {MAX_VALUE_LEN}",
                        text.len()
                    ),
                    StatusCode::PAYLOAD_TOO_LARGE,
                ));
            }
            encoded.insert(key, text);
        }
        if self.store.pool().config().faults.is_on(Bug::LostUpdate) {
            let conn = self.store.acquire().await?;
            return Ok(bugs::lost_update_merge(&conn, encoded).await?);
        }
        self.store
            .write(move |tx: &rusqlite::Connection| {
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO settings (key, value) VALUES (?1, ?2)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                )?;
                for (k, v) in &encoded {
                    stmt.execute((k, v))?;
                }
                Ok(encoded.len())
            })
            .await
    }
}

fn invalid(code: &'static str, message: String, status: StatusCode) -> ServiceError {
    ServiceError::Invalid {
        code,
        message,
        status,
    }
}

fn validate_key(key: &str) -> Result<(), ServiceError> {
    let ok_chars = key
        .chars()
        .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '_' | '-' | '.' | ':'));
    if key.is_empty() || key.len() > MAX_KEY_LEN || !ok_chars {
        return Err(invalid(
            "invalid_key",
            format!(
                "setting keys are 1 to {MAX_KEY_LEN} characters of A-Z a-z 0-9 _ - . :, got {key:?}"
            ),
            StatusCode::BAD_REQUEST,
        ));
    }
    Ok(())
}
