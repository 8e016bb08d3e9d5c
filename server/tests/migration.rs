//! A database from an older schema is migrated in place: one written
//! before `conversations.message_count` existed gets the column, counted
//! once, so an old conversation continues with the history it had.

mod common;
use axum::http::Method;
use common::app::App;
use common::TempDb;
use racegate_server::http::app;
use racegate_server::serve::build_state;
use serde_json::json;

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
