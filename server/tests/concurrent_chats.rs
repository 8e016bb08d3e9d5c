//! 200 concurrent chats over 20 conversations, on a real socket and a real
//! SQLite file, in both runtime layouts: every chat answered, every message
//! stored, in order, per conversation.

mod common;

use std::collections::HashMap;

use common::{chat, client, messages, start, TempDb};
use racegate_server::RuntimeMode;

const CONVERSATIONS: usize = 20;
const CHATS: usize = 200;

fn concurrent_chats_are_all_answered_and_stored(mode: RuntimeMode, workers: u16) {
    let db = TempDb::new();
    let mut config = db.config();
    config.runtime = mode;
    config.workers = Some(workers);
    config.pool_size = 4;
    config.think_ms = 5;
    let server = start(config);
    let base = server.url("");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = client();
        let mut ids = Vec::new();
        for i in 0..CONVERSATIONS {
            let (status, body) = chat(&client, &base, &format!("opening {i}"), None).await;
            assert_eq!(status, 200, "{body}");
            ids.push(body["conversation_id"].as_str().unwrap().to_owned());
        }
        let tasks: Vec<_> = (0..CHATS)
            .map(|i| {
                let (client, base, id) =
                    (client.clone(), base.clone(), ids[i % CONVERSATIONS].clone());
                tokio::spawn(async move {
                    let text = format!("message {i}");
                    let (status, body) = chat(&client, &base, &text, Some(&id)).await;
                    (i, id, text, status, body)
                })
            })
            .collect();
        let mut acknowledged: HashMap<String, Vec<(i64, String)>> = HashMap::new();
        for task in tasks {
            let (i, id, text, status, body) = task.await.unwrap();
            assert_eq!(status, 200, "chat {i}: {body}");
            assert!(
                body["response"].as_str().is_some_and(|r| !r.is_empty()),
                "{body}"
            );
            assert_eq!(body["conversation_id"], id.as_str());
            acknowledged
                .entry(id)
                .or_default()
                .push((body["message_id"].as_i64().unwrap(), text));
        }
        for id in &ids {
            let stored = messages(&client, &base, id).await;
            assert_eq!(
                stored.len(),
                2 + 2 * CHATS / CONVERSATIONS,
                "conversation {id}"
            );
            let msg_ids: Vec<i64> = stored.iter().map(|m| m["id"].as_i64().unwrap()).collect();
            assert!(
                msg_ids.windows(2).all(|w| w[0] < w[1]),
                "messages out of order: {msg_ids:?}"
            );
            for pair in stored.chunks(2) {
                assert_eq!(pair[0]["role"], "user");
                assert_eq!(pair[1]["role"], "assistant");
                assert_eq!(
                    pair[1]["id"].as_i64().unwrap(),
                    pair[0]["id"].as_i64().unwrap() + 1
                );
            }
            for (message_id, text) in &acknowledged[id] {
                let m = stored
                    .iter()
                    .find(|m| m["id"].as_i64() == Some(*message_id));
                let m = m.unwrap_or_else(|| panic!("acknowledged message {message_id} missing"));
                assert_eq!(m["content"], text.as_str());
            }
        }
    });
    server.stop().unwrap();
}

#[test]
fn multi_thread_runtime() {
    concurrent_chats_are_all_answered_and_stored(RuntimeMode::Multi, 2);
}

#[test]
fn per_core_runtimes() {
    concurrent_chats_are_all_answered_and_stored(RuntimeMode::PerCore, 4);
}
