//! Every endpoint and every bad input, driven in-process through the router
//! (no socket), on a fresh SQLite file per test.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use common::TempDb;
use http_body_util::BodyExt;
use racegate_server::http::app;
use racegate_server::serve::build_state;
use serde_json::{json, Value};
use tower::ServiceExt;

struct App {
    router: Router,
    _db: TempDb,
}

impl App {
    fn new() -> Self {
        let db = TempDb::new();
        let router = app(build_state(&db.config()));
        Self { router, _db: db }
    }

    async fn call(
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

    async fn json(&self, method: Method, uri: &str, body: Value) -> (StatusCode, Value) {
        let (s, v, _) = self
            .call(method, uri, Some("application/json"), body.to_string())
            .await;
        (s, v)
    }

    async fn get(&self, uri: &str) -> (StatusCode, Value) {
        let (s, v, _) = self.call(Method::GET, uri, None, Body::empty()).await;
        (s, v)
    }
}

fn assert_error(status: StatusCode, body: &Value, want_status: u16, want_code: &str) {
    assert_eq!(status.as_u16(), want_status, "{body}");
    assert_eq!(body["error"]["code"], want_code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

/// A database written before `conversations.message_count` existed: the
/// server adds the column and counts once, so an old conversation continues
/// with the history it had.
#[tokio::test]
async fn a_database_from_before_message_count_is_migrated() {
    let db = TempDb::new();
    {
        let c = rusqlite::Connection::open(db.path()).unwrap();
        c.execute_batch(
            "CREATE TABLE conversations (id TEXT PRIMARY KEY, created_at INTEGER NOT NULL);
             CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT,
                 conversation_id TEXT NOT NULL REFERENCES conversations(id),
                 role TEXT NOT NULL, content TEXT NOT NULL);
             INSERT INTO conversations VALUES ('old', 0);
             INSERT INTO messages (conversation_id, role, content) VALUES
                 ('old', 'user', 'a'), ('old', 'assistant', 'b'),
                 ('old', 'user', 'c'), ('old', 'assistant', 'd');",
        )
        .unwrap();
    }
    let app = App {
        router: app(build_state(&db.config())),
        _db: db,
    };
    let (s, turn) = app
        .json(
            Method::POST,
            "/api/chat",
            json!({"message": "still there?", "conversation_id": "old"}),
        )
        .await;
    assert_eq!(s, 200, "{turn}");
    assert!(
        turn["response"]
            .as_str()
            .unwrap()
            .contains("4 earlier messages"),
        "{turn}"
    );
}

#[tokio::test]
async fn chat_starts_and_continues_a_conversation() {
    let app = App::new();
    let (s, first) = app
        .json(Method::POST, "/api/chat", json!({"message": "hello there"}))
        .await;
    assert_eq!(s, 200, "{first}");
    assert!(first["response"].as_str().unwrap().contains("hello there"));
    let id = first["conversation_id"].as_str().unwrap().to_owned();
    let (s, second) = app
        .json(
            Method::POST,
            "/api/chat",
            json!({"message": "again", "conversation_id": id}),
        )
        .await;
    assert_eq!(s, 200);
    assert!(
        second["response"]
            .as_str()
            .unwrap()
            .contains("2 earlier messages"),
        "{second}"
    );
    assert!(second["message_id"].as_i64() > first["message_id"].as_i64());

    let (s, history) = app.get(&format!("/api/conversations/{id}/messages")).await;
    assert_eq!(s, 200);
    let contents: Vec<&str> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents.len(), 4);
    assert_eq!(contents[0], "hello there");
    assert_eq!(contents[2], "again");
    let roles: Vec<&str> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant", "user", "assistant"]);
}

#[tokio::test]
async fn bad_chat_requests_get_clear_4xx_and_the_server_keeps_serving() {
    let app = App::new();
    let cases: Vec<(Option<&str>, Vec<u8>, u16, &str)> = vec![
        (
            Some("application/json"),
            b"{\"message\": ".to_vec(),
            400,
            "invalid_json",
        ),
        (
            Some("text/plain"),
            br#"{"message":"hi"}"#.to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            None,
            br#"{"message":"hi"}"#.to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            Some("application/json"),
            br#"{}"#.to_vec(),
            422,
            "invalid_body",
        ),
        (
            Some("application/json"),
            br#"{"message": 5}"#.to_vec(),
            422,
            "invalid_body",
        ),
        (
            Some("application/json"),
            br#"{"message": ""}"#.to_vec(),
            400,
            "empty_message",
        ),
        (
            Some("application/json"),
            br#"{"message": "   "}"#.to_vec(),
            400,
            "empty_message",
        ),
        (
            Some("application/json"),
            b"{\"message\": \"\xff\xfe\"}".to_vec(),
            400,
            "invalid_json",
        ),
        (
            Some("application/json"),
            format!("{{\"message\": \"{}\"}}", "a".repeat(70_000)).into_bytes(),
            413,
            "body_too_large",
        ),
        (
            Some("application/json"),
            br#"{"message": "hi", "conversation_id": "no-such"}"#.to_vec(),
            404,
            "unknown_conversation",
        ),
        (
            Some("application/json"),
            format!(
                "{{\"message\": \"hi\", \"conversation_id\": \"{}\"}}",
                "x".repeat(65)
            )
            .into_bytes(),
            400,
            "invalid_conversation_id",
        ),
    ];
    for (ct, body, status, code) in cases {
        let (s, v, text) = app.call(Method::POST, "/api/chat", ct, body).await;
        assert_eq!(s.as_u16(), status, "{code}: {text}");
        assert_error(s, &v, status, code);
    }
    let (s, v) = app
        .json(Method::POST, "/api/chat", json!({"message": "still here"}))
        .await;
    assert_eq!(s, 200, "{v}");
}

#[tokio::test]
async fn unknown_conversation_history_is_404() {
    let app = App::new();
    let (s, v) = app.get("/api/conversations/nope/messages").await;
    assert_error(s, &v, 404, "unknown_conversation");
}

#[tokio::test]
async fn settings_put_get_merge_and_list() {
    let app = App::new();
    let (s, v) = app
        .json(Method::PUT, "/api/settings/theme", json!("dark"))
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = app.get("/api/settings/theme").await;
    assert_eq!((s.as_u16(), &v["value"]), (200, &json!("dark")));
    let (s, v) = app
        .json(
            Method::PATCH,
            "/api/settings",
            json!({"theme": "light", "model": {"name": "m", "t": 0.5}}),
        )
        .await;
    assert_eq!((s.as_u16(), &v["updated"]), (200, &json!(2)));
    let (s, v) = app.get("/api/settings").await;
    assert_eq!(s, 200);
    assert_eq!(v["count"], 2);
    assert_eq!(
        v["settings"],
        json!({"theme": "light", "model": {"name": "m", "t": 0.5}})
    );
}

#[tokio::test]
async fn bad_settings_requests_get_clear_4xx() {
    let app = App::new();
    let (s, v) = app.get("/api/settings/missing").await;
    assert_error(s, &v, 404, "unknown_setting");
    let (s, v) = app
        .json(Method::PUT, "/api/settings/bad%20key", json!(1))
        .await;
    assert_error(s, &v, 400, "invalid_key");
    let (s, v) = app
        .json(
            Method::PUT,
            &format!("/api/settings/{}", "k".repeat(129)),
            json!(1),
        )
        .await;
    assert_error(s, &v, 400, "invalid_key");
    let (s, v) = app
        .json(Method::PUT, "/api/settings/big", json!("v".repeat(9000)))
        .await;
    assert_error(s, &v, 413, "value_too_large");
    let (s, v) = app
        .json(Method::PATCH, "/api/settings", json!([1, 2]))
        .await;
    assert_error(s, &v, 422, "invalid_body");
    let (s, v, _) = app
        .call(
            Method::PATCH,
            "/api/settings",
            Some("application/json"),
            "{nope",
        )
        .await;
    assert_error(s, &v, 400, "invalid_json");
    let many: serde_json::Map<String, Value> =
        (0..300).map(|i| (format!("k{i}"), json!(i))).collect();
    let (s, v) = app
        .json(Method::PATCH, "/api/settings", Value::Object(many))
        .await;
    assert_error(s, &v, 422, "too_many_keys");
    // A rejected merge writes nothing.
    let (_, v) = app.get("/api/settings").await;
    assert_eq!(v["count"], 0);
}

#[tokio::test]
async fn unknown_routes_and_methods_are_json_errors() {
    let app = App::new();
    let (s, v) = app.get("/nope").await;
    assert_error(s, &v, 404, "no_route");
    let (s, v, _) = app
        .call(Method::DELETE, "/api/settings", None, Body::empty())
        .await;
    assert_error(s, &v, 405, "method_not_allowed");
}

#[tokio::test]
async fn probes_and_metrics() {
    let app = App::new();
    let (s, v) = app.get("/livez").await;
    assert_eq!((s.as_u16(), &v["status"]), (200, &json!("alive")));
    // livez touches nothing: the pool is still unbuilt.
    let (_, pool) = app.get("/api/pool").await;
    assert_eq!(pool["builds"], 0);
    let (s, v) = app.get("/healthz").await;
    assert_eq!((s.as_u16(), &v["status"]), (200, &json!("ready")));
    let (_, pool) = app.get("/api/pool").await;
    assert_eq!(pool["builds"], 1);
    assert_eq!(pool["connections_open"], 8);
    assert_eq!(pool["idle"], 8);
    app.json(Method::POST, "/api/chat", json!({"message": "m"}))
        .await;
    let (s, _, text) = app.call(Method::GET, "/metrics", None, Body::empty()).await;
    assert_eq!(s, 200);
    for needle in [
        "racegate_http_requests_total{route=\"/api/chat\",method=\"POST\",status=\"200\"} 1",
        "racegate_pool_size 8",
        "racegate_pool_in_use 0",
        "racegate_pool_idle 8",
        "racegate_pool_waiters 0",
        "racegate_pool_acquire_wait_seconds_count",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
}

#[tokio::test]
async fn healthz_is_503_when_the_database_cannot_open() {
    let db = TempDb::new();
    let mut config = db.config();
    config.db = db.dir.path().join("missing-dir").join("x.db");
    let router = app(build_state(&config));
    let resp = router
        .oneshot(Request::get("/healthz").body(Body::empty()).unwrap())
        .await
        .unwrap();
    // Not ready: 503 (what a load balancer reads as "not ready"), not 500.
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["error"]["code"], "database_unavailable");
}
