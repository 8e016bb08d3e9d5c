//! racegate against the reference chat server, in-process on port 0 with a
//! fresh SQLite file.

use racegate::Fire;
use racegate_server::{RunningServer, ServerConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_chats_at_concurrency_ten_all_pass() {
    let dir = tempfile::tempdir().unwrap();
    let server = RunningServer::start(ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        dir.path().join("chat.db"),
    ))
    .unwrap();
    let report = Fire::post(
        server.url("/api/chat"),
        r#"{"message": "test {i} from worker {worker}"}"#,
    )
    .concurrency(10)
    .requests(100)
    .expect_json_field("response")
    .expect_json_field("conversation_id")
    .run()
    .await
    .unwrap();
    report.assert_gate();
    assert_eq!((report.total, report.passed), (100, 100));
    assert!(report.pass_rate_ci95[0] > 0.96);
    tokio::task::spawn_blocking(move || server.stop())
        .await
        .unwrap()
        .unwrap();
}
