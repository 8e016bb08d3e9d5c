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
