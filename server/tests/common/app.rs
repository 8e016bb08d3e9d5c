//! The router driven in-process through `oneshot` (no socket), on a fresh
//! SQLite file.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use racegate_server::http::app;
use racegate_server::serve::build_state;
use serde_json::Value;
use tower::ServiceExt;

use super::TempDb;

/// The router in-process (no socket) on a fresh database.
pub struct App {
    pub router: Router,
    pub _db: TempDb,
}

impl App {
    /// The router over a fresh database.
    pub fn new() -> Self {
        let db = TempDb::new();
        let router = app(build_state(&db.config()));
        Self { router, _db: db }
    }

    /// One request; the status, the body as JSON (`Null` if not), and as text.
    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        content_type: Option<&str>,
        body: impl Into<Body>,
    ) -> (StatusCode, Value, String) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let resp = self
            .router
            .clone()
            .oneshot(req.body(body.into()).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            text,
        )
    }

    /// A JSON request.
    pub async fn json(&self, method: Method, uri: &str, body: Value) -> (StatusCode, Value) {
        let (s, v, _) = self
            .call(method, uri, Some("application/json"), body.to_string())
            .await;
        (s, v)
    }

    /// A GET.
    pub async fn get(&self, uri: &str) -> (StatusCode, Value) {
        let (s, v, _) = self.call(Method::GET, uri, None, Body::empty()).await;
        (s, v)
    }
}

/// An error answer: this status, this code, and a message.
pub fn assert_error(status: StatusCode, body: &Value, want_status: u16, want_code: &str) {
    assert_eq!(status.as_u16(), want_status, "{body}");
    assert_eq!(body["error"]["code"], want_code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}
