//! The settings endpoints: put, get, merge and list.

mod common;
use axum::http::Method;
use common::app::App;
use serde_json::json;

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

/// One request with headers; the status, the `ETag` and the JSON body.
async fn send(
    app: &App,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: Option<serde_json::Value>,
) -> (u16, Option<String>, serde_json::Value) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let mut req = axum::http::Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let body = match body {
        Some(b) => {
            req = req.header("content-type", "application/json");
            axum::body::Body::from(b.to_string())
        }
        None => axum::body::Body::empty(),
    };
    let resp = app
        .router
        .clone()
        .oneshot(req.body(body).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let etag = resp
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        etag,
        serde_json::from_slice(&bytes).unwrap_or_default(),
    )
}

async fn put(
    app: &App,
    headers: &[(&str, &str)],
    v: serde_json::Value,
) -> (u16, Option<String>, serde_json::Value) {
    send(app, Method::PUT, "/api/settings/k", headers, Some(v)).await
}

#[tokio::test]
async fn conditional_puts_check_the_etag_and_answer_412_when_it_moved() {
    let app = App::new();
    // Create only if absent: once.
    let (s, created, _) = put(&app, &[("if-none-match", "*")], json!(1)).await;
    assert_eq!(s, 200);
    let (s, _, v) = put(&app, &[("if-none-match", "*")], json!(2)).await;
    assert_eq!(
        (s, &v["error"]["code"]),
        (412, &json!("precondition_failed")),
        "{v}"
    );
    // The read names the same ETag the write answered.
    let (s, read, v) = send(&app, Method::GET, "/api/settings/k", &[], None).await;
    assert_eq!((s, &v["value"], &read), (200, &json!(1), &created));
    let tag = read.unwrap();
    // If-Match with the current tag succeeds once; the same tag again is 412.
    let (s, next, _) = put(&app, &[("if-match", &tag)], json!(2)).await;
    assert_eq!(s, 200);
    assert_ne!(next.as_deref(), Some(tag.as_str()));
    let (s, _, v) = put(&app, &[("if-match", &tag)], json!(3)).await;
    assert_eq!(s, 412, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("has ETag"),
        "{v}"
    );
    let (_, _, v) = send(&app, Method::GET, "/api/settings/k", &[], None).await;
    assert_eq!(v["value"], json!(2), "the refused write changed nothing");
    // A list naming the current tag matches; `*` matches any value; a weak
    // tag never matches (strong comparison); If-Match on an absent key fails.
    let list = format!("\"nope\", {}", next.unwrap());
    assert_eq!(put(&app, &[("if-match", &list)], json!(4)).await.0, 200);
    assert_eq!(put(&app, &[("if-match", "*")], json!(5)).await.0, 200);
    assert_eq!(put(&app, &[("if-match", "W/\"x\"")], json!(6)).await.0, 412);
    let (s, _, _) = send(
        &app,
        Method::PUT,
        "/api/settings/other",
        &[("if-match", "*")],
        Some(json!(1)),
    )
    .await;
    assert_eq!(s, 412);
}

#[tokio::test]
async fn messages_append_one_by_one_and_read_back_in_order() {
    let app = App::new();
    for (i, content) in ["a", "b", "c"].iter().enumerate() {
        let (s, _, v) = send(
            &app,
            Method::POST,
            "/api/conversations/c1/messages",
            &[],
            Some(json!({ "content": content })),
        )
        .await;
        assert_eq!(
            (s, &v["message"]["content"]),
            (201, &json!(content)),
            "{i}: {v}"
        );
    }
    let (s, v) = app.get("/api/conversations/c1/messages").await;
    assert_eq!(s, 200);
    let contents: Vec<&str> = v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, ["a", "b", "c"]);
    let (s, _, v) = send(
        &app,
        Method::POST,
        "/api/conversations/c1/messages",
        &[],
        Some(json!({"text": "x"})),
    )
    .await;
    assert_eq!(s / 100, 4, "an unknown field is a client mistake: {v}");
}
