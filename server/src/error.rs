//! Errors: [`ServiceError`] from the services, and [`ApiError`], the one type
//! every handler returns, which renders `{"error": {"code", "message"}}`.
//!
//! A 4xx always means the client can fix its request; a 5xx means the server
//! is at fault (or, for 503, overloaded or shutting down).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::pool::PoolError;
use crate::storage::StorageFault;

/// What a service call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The client named a conversation that does not exist.
    #[error("conversation {0:?} does not exist")]
    UnknownConversation(String),
    /// The client asked for a setting that does not exist.
    #[error("setting {0:?} does not exist")]
    UnknownSetting(String),
    /// The client sent a value the service refuses.
    #[error("{message}")]
    Invalid {
        /// Machine-readable reason.
        code: &'static str,
        /// What to fix.
        message: String,
        /// 400, 412, 413 or 422.
        status: StatusCode,
    },
    /// No connection could be had.
    #[error(transparent)]
    Pool(#[from] PoolError),
    /// SQLite failed.
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    /// A stored value could not be decoded.
    #[error("stored value is corrupt: {0}")]
    Corrupt(#[from] serde_json::Error),
    /// The connection's thread is gone.
    #[error("database connection closed")]
    ConnectionClosed,
    /// The group-commit transaction this write was part of failed.
    #[error("write batch failed: {message}")]
    WriteBatch {
        /// What SQLite said.
        message: String,
        /// Its error code, if SQLite gave one.
        sqlite: Option<rusqlite::ffi::Error>,
    },
    /// The storage cannot serve: a full disk, a read-only or vanished
    /// database, an I/O error, a lock held too long, a corrupt file.
    #[error("{message}")]
    Storage {
        /// Which.
        fault: StorageFault,
        /// What SQLite said.
        message: String,
    },
}

impl ServiceError {
    /// SQLite's error code behind this error, if there is one.
    pub fn sqlite(&self) -> Option<rusqlite::ffi::Error> {
        match self {
            ServiceError::Database(rusqlite::Error::SqliteFailure(e, _)) => Some(*e),
            ServiceError::WriteBatch { sqlite, .. } => *sqlite,
            ServiceError::Pool(PoolError::Open(e)) => e.sqlite,
            _ => None,
        }
    }
}

impl From<tokio_rusqlite::Error<ServiceError>> for ServiceError {
    fn from(e: tokio_rusqlite::Error<ServiceError>) -> Self {
        match e {
            tokio_rusqlite::Error::Error(e) => e,
            _ => ServiceError::ConnectionClosed,
        }
    }
}

impl From<tokio_rusqlite::Error> for ServiceError {
    fn from(e: tokio_rusqlite::Error) -> Self {
        match e {
            tokio_rusqlite::Error::Error(e) => ServiceError::Database(e),
            _ => ServiceError::ConnectionClosed,
        }
    }
}

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// Machine-readable reason, stable across versions.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
    /// Seconds for `Retry-After`, on 503.
    pub retry_after: Option<u32>,
}

impl ApiError {
    /// An error with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 400 with `code`.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404 with `code`.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// The same error as a readiness probe's answer: 503 with `Retry-After`.
    pub fn not_ready(self) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            retry_after: Some(1),
            ..self
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        let message = e.to_string();
        match e {
            ServiceError::UnknownConversation(_) => {
                ApiError::not_found("unknown_conversation", message)
            }
            ServiceError::UnknownSetting(_) => ApiError::not_found("unknown_setting", message),
            ServiceError::Invalid { code, status, .. } => ApiError::new(status, code, message),
            ServiceError::Pool(PoolError::Timeout(_)) => ApiError {
                retry_after: Some(1),
                ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "pool_timeout", message)
            },
            ServiceError::Pool(PoolError::Closed) => ApiError {
                retry_after: Some(1),
                ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting_down", message)
            },
            ServiceError::Pool(PoolError::RuntimeGone(_)) => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "runtime_gone", message)
            }
            ServiceError::Pool(PoolError::Open(_) | PoolError::Thread(_)) => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "database_unavailable",
                message,
            ),
            ServiceError::Storage { fault, .. } => ApiError {
                retry_after: Some(1),
                ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, fault.code(), message)
            },
            ServiceError::Database(_)
            | ServiceError::ConnectionClosed
            | ServiceError::Corrupt(_)
            | ServiceError::WriteBatch { .. } => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "database", message)
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // A 503 with Retry-After is a condition, logged where it starts and
        // ends (the pool, `storage`), not once per request.
        if self.status.is_server_error() && self.retry_after.is_none() {
            tracing::warn!(status = %self.status, code = self.code, message = %self.message, "request failed");
        }
        let body = serde_json::json!({ "error": { "code": self.code, "message": self.message } });
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
