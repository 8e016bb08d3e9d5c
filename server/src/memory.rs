//! [`MemoryService`]: conversations and their messages.
//!
//! A chat turn reads the conversation's history, "thinks" (without holding a
//! connection), then stores the user's message and the reply together in one
//! write transaction, so a conversation never holds half a turn and messages
//! keep their order.

use std::time::Duration;

use rusqlite::OptionalExtension;
use serde::Serialize;

use crate::bugs::{Bug, CancelLeak};
use crate::error::ServiceError;
use crate::responder;
use crate::store::Store;

/// The longest conversation id accepted.
pub const MAX_CONVERSATION_ID_LEN: usize = 64;

/// Stores conversations and messages.
#[derive(Clone)]
pub struct MemoryService {
    store: Store,
    think: Duration,
}

/// The outcome of one chat turn.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ChatTurn {
    /// The reply.
    pub response: String,
    /// The conversation the turn belongs to (new if none was named).
    pub conversation_id: String,
    /// The id of the stored user message; the reply is stored right after it.
    pub message_id: i64,
}

/// One stored message.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Message {
    /// Increasing with insertion order.
    pub id: i64,
    /// `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

impl MemoryService {
    /// A service over `store`; each turn waits `think` to simulate a model.
    pub fn new(store: Store, think: Duration) -> Self {
        Self { store, think }
    }

    /// Runs one chat turn. With no `conversation_id`, starts a conversation.
    pub async fn chat(
        &self,
        conversation_id: Option<String>,
        message: String,
    ) -> Result<ChatTurn, ServiceError> {
        if let Some(id) = &conversation_id {
            validate_conversation_id(id)?;
        }
        let earlier = match &conversation_id {
            None => 0,
            Some(id) => {
                let conn = self.store.acquire().await?;
                let lookup = id.clone();
                let count = self
                    .store
                    .read_on(&conn, move |c| count_messages(c, &lookup))
                    .await;
                match count {
                    Ok(Some(n)) => n,
                    Ok(None) => {
                        if self.store.pool().config().faults.is_on(Bug::LeakOnError) {
                            conn.leak();
                        }
                        return Err(ServiceError::UnknownConversation(id.clone()));
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        // `cancel-leak`: the context's connection kept through the model call.
        let context = if self.store.pool().config().faults.is_on(Bug::CancelLeak) {
            Some(CancelLeak::hold(self.store.acquire().await?))
        } else {
            None
        };
        if !self.think.is_zero() {
            tokio::time::sleep(self.think).await;
        }
        if let Some(context) = context {
            context.release();
        }
        let response = responder::reply(&message, earlier);
        // Time-ordered ids (UUIDv7): new conversations append to the end of
        // the id indexes instead of landing on a random page each, so a
        // group-commit batch dirties a few pages, not one per turn.
        let conversation_id = conversation_id.unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        let id = conversation_id.clone();
        let reply = response.clone();
        let message_id = self
            .store
            .write(move |tx: &rusqlite::Connection| {
                // Every turn runs these: prepared once per connection.
                tx.prepare_cached(
                    "INSERT INTO conversations (id, created_at, message_count) VALUES (?1, unixepoch(), 2)
                     ON CONFLICT (id) DO UPDATE SET message_count = message_count + 2",
                )?
                .execute([&id])?;
                let mut insert = tx.prepare_cached(
                    "INSERT INTO messages (conversation_id, role, content) VALUES (?1, ?2, ?3)",
                )?;
                insert.execute((&id, "user", &message))?;
                let message_id = tx.last_insert_rowid();
                insert.execute((&id, "assistant", &reply))?;
                Ok(message_id)
            })
            .await?;
        Ok(ChatTurn {
            response,
            conversation_id,
            message_id,
        })
    }

    /// Appends one user message to a conversation, starting it if it does
    /// not exist; no reply. The message and the count move together, in
    /// one write transaction.
    pub async fn append(
        &self,
        conversation_id: &str,
        content: String,
    ) -> Result<Message, ServiceError> {
        validate_conversation_id(conversation_id)?;
        let id = conversation_id.to_owned();
        let stored = content.clone();
        let message_id = self
            .store
            .write(move |tx: &rusqlite::Connection| {
                tx.prepare_cached(
                    "INSERT INTO conversations (id, created_at, message_count) VALUES (?1, unixepoch(), 1)
                     ON CONFLICT (id) DO UPDATE SET message_count = message_count + 1",
                )?
                .execute([&id])?;
                tx.prepare_cached(
                    "INSERT INTO messages (conversation_id, role, content) VALUES (?1, 'user', ?2)",
                )?
                .execute((&id, &stored))?;
                Ok(tx.last_insert_rowid())
            })
            .await?;
        Ok(Message {
            id: message_id,
            role: "user".to_owned(),
            content,
        })
    }

    /// The messages of a conversation, oldest first.
    pub async fn messages(&self, conversation_id: &str) -> Result<Vec<Message>, ServiceError> {
        validate_conversation_id(conversation_id)?;
        let id = conversation_id.to_owned();
        self.store
            .read(move |c| {
                let exists: Option<i64> = c
                    .query_row("SELECT 1 FROM conversations WHERE id = ?1", [&id], |r| {
                        r.get(0)
                    })
                    .optional()?;
                if exists.is_none() {
                    return Err(ServiceError::UnknownConversation(id));
                }
                let mut stmt = c.prepare_cached(
                    "SELECT id, role, content FROM messages WHERE conversation_id = ?1 ORDER BY id",
                )?;
                let rows = stmt.query_map([&id], |r| {
                    Ok(Message {
                        id: r.get(0)?,
                        role: r.get(1)?,
                        content: r.get(2)?,
                    })
                })?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            })
            .await
    }
}

/// The number of messages in a conversation, or `None` if it does not exist.
fn count_messages(c: &rusqlite::Connection, id: &str) -> Result<Option<usize>, ServiceError> {
    // Every chat turn in a conversation runs this: one row, kept prepared.
    let n: Option<i64> = c
        .prepare_cached("SELECT message_count FROM conversations WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    Ok(n.map(|n| usize::try_from(n).unwrap_or(0)))
}

fn validate_conversation_id(id: &str) -> Result<(), ServiceError> {
    if id.is_empty() || id.len() > MAX_CONVERSATION_ID_LEN {
        return Err(ServiceError::Invalid {
            code: "invalid_conversation_id",
            message: format!(
                "conversation_id must be 1 to {MAX_CONVERSATION_ID_LEN} bytes, got {}",
                id.len()
            ),
            status: axum::http::StatusCode::BAD_REQUEST,
        });
    }
    Ok(())
}
