//! Every client mistake gets a 4xx with a clear JSON error, and the server
//! keeps serving.

mod common;
use axum::body::Body;
use axum::http::Method;
use common::app::{assert_error, App};
use serde_json::{json, Value};

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
