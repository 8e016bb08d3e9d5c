//! [`SettingsService`]: settings stored as JSON values under string keys.
//!
//! A merge (`PATCH /api/settings`) upserts every key of the patch inside one
//! write transaction, so concurrent merges of disjoint keys never lose one.
//!
//! Each setting has an `ETag`: a hash of its stored JSON. A conditional put
//! (`If-Match`, `If-None-Match`) checks it inside the write's own
//! transaction, so of two clients holding one ETag exactly one succeeds and
//! the other gets 412.

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
    /// `etag-race`: the precondition checked before the write, apart.
    etag_race: bool,
}

/// What a conditional put requires of the setting's current ETag.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Precondition {
    /// Nothing: an unconditional put.
    #[default]
    None,
    /// `If-Match`: one of these tags, or `*` (any current value).
    Match(Vec<String>),
    /// `If-None-Match`: none of these tags; `*`: no current value at all.
    NoneMatch(Vec<String>),
}

impl Precondition {
    /// Whether it holds when the setting's ETag is `current` (`None`:
    /// absent). Tags compare strongly: a weak `W/"…"` never matches.
    pub fn holds(&self, current: Option<&str>) -> bool {
        let names = |tags: &[String], etag: &str| tags.iter().any(|t| t == "*" || t == etag);
        match (self, current) {
            (Precondition::None, _) => true,
            (Precondition::Match(tags), Some(etag)) => names(tags, etag),
            (Precondition::Match(_), None) => false,
            (Precondition::NoneMatch(tags), Some(etag)) => !names(tags, etag),
            (Precondition::NoneMatch(_), None) => true,
        }
    }
}

/// The ETag of a setting stored as `text`: FNV-1a of its JSON, quoted.
pub fn etag(text: &str) -> String {
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("\"{hash:016x}\"")
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
        let etag_race = store.pool().config().faults.is_on(Bug::EtagRace);
        Self {
            store,
            stale,
            etag_race,
        }
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
        self.get_tagged(key).await.map(|(value, _)| value)
    }

    /// One setting and its ETag.
    pub async fn get_tagged(&self, key: &str) -> Result<(Value, String), ServiceError> {
        validate_key(key)?;
        let stored = match &self.stale {
            Some(cache) => self.get_from_stale_cache(cache, key).await?,
            None => self.stored(key).await?,
        };
        match stored {
            Some(v) => Ok((serde_json::from_str(&v)?, etag(&v))),
            None => Err(ServiceError::UnknownSetting(key.to_owned())),
        }
    }

    /// The stored JSON of one setting, read through to the database.
    async fn stored(&self, key: &str) -> Result<Option<String>, ServiceError> {
        let k = key.to_owned();
        self.store.read(move |c| Ok(current(c, &k)?)).await
    }

    /// `stale-read`: serve from the snapshot while it is "fresh".
    async fn get_from_stale_cache(
        &self,
        cache: &bugs::StaleReadCache,
        key: &str,
    ) -> Result<Option<String>, ServiceError> {
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
        Ok(snapshot.get(key).cloned())
    }

    /// Sets one setting.
    pub async fn put(&self, key: &str, value: &Value) -> Result<(), ServiceError> {
        self.put_if(key, value, Precondition::None).await.map(drop)
    }

    /// Sets one setting if `pre` holds, checked in the write's transaction;
    /// returns its new ETag. A precondition that fails is 412.
    pub async fn put_if(
        &self,
        key: &str,
        value: &Value,
        pre: Precondition,
    ) -> Result<String, ServiceError> {
        let text = encode(key, value)?;
        let tag = etag(&text);
        if pre == Precondition::None {
            let mut patch = serde_json::Map::new();
            patch.insert(key.to_owned(), value.clone());
            return self.merge(patch).await.map(|_| tag);
        }
        if self.etag_race {
            // The bug (`Bug::EtagRace`): checked on a read, written apart.
            let now = self.stored(key).await?;
            if !pre.holds(now.as_deref().map(etag).as_deref()) {
                return Err(precondition_failed(key, now.as_deref()));
            }
            tokio::task::yield_now().await;
            let mut patch = serde_json::Map::new();
            patch.insert(key.to_owned(), value.clone());
            return self.merge(patch).await.map(|_| tag);
        }
        let k = key.to_owned();
        let written = self
            .store
            .write(move |tx: &rusqlite::Connection| {
                let now = current(tx, &k)?;
                if !pre.holds(now.as_deref().map(etag).as_deref()) {
                    // Nothing written: the batch goes on without it.
                    return Ok(Err(now));
                }
                tx.prepare_cached(
                    "INSERT INTO settings (key, value) VALUES (?1, ?2)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                )?
                .execute((&k, &text))?;
                Ok(Ok(()))
            })
            .await?;
        match written {
            Ok(()) => Ok(tag),
            Err(now) => Err(precondition_failed(key, now.as_deref())),
        }
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
            let text = encode(&key, &value)?;
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

/// The stored JSON of `key` on `c`, if it is set.
fn current(c: &rusqlite::Connection, key: &str) -> rusqlite::Result<Option<String>> {
    c.prepare_cached("SELECT value FROM settings WHERE key = ?1")?
        .query_row([key], |r| r.get::<_, String>(0))
        .optional()
}

/// `value` as stored for `key`, both checked.
fn encode(key: &str, value: &Value) -> Result<String, ServiceError> {
    validate_key(key)?;
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
    Ok(text)
}

fn precondition_failed(key: &str, now: Option<&str>) -> ServiceError {
    let state = now.map_or_else(
        || "is not set".to_owned(),
        |v| format!("has ETag {}", etag(v)),
    );
    invalid(
        "precondition_failed",
        format!("the precondition does not hold: setting {key:?} {state}"),
        StatusCode::PRECONDITION_FAILED,
    )
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
