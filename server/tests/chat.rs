//! `POST /api/chat` and a conversation's history: a chat starts and
//! continues a conversation; an unknown one is 404.

mod common;
use axum::http::Method;
use common::app::{assert_error, App};
use serde_json::json;

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
async fn unknown_conversation_history_is_404() {
    let app = App::new();
    let (s, v) = app.get("/api/conversations/nope/messages").await;
    assert_error(s, &v, 404, "unknown_conversation");
}
