//! Concurrent `PATCH /api/settings` merges of disjoint keys: none is lost.

mod common;

use common::{client, send, start, TempDb};
use racegate_server::RuntimeMode;

#[test]
fn concurrent_merges_of_disjoint_keys_lose_nothing() {
    for mode in [RuntimeMode::Multi, RuntimeMode::PerCore] {
        let db = TempDb::new();
        let mut config = db.config();
        config.runtime = mode;
        config.workers = Some(3);
        config.pool_size = 4;
        let server = start(config);
        let base = server.url("");
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let client = client();
            let tasks: Vec<_> = (0..100)
                .map(|i| {
                    let (client, base) = (client.clone(), base.clone());
                    tokio::spawn(async move {
                        let patch = serde_json::json!({
                            format!("client{i}.a"): i,
                            format!("client{i}.b"): {"nested": [i, "x"]},
                            format!("client{i}.c"): format!("v{i}"),
                        });
                        send(client.patch(format!("{base}/api/settings")).json(&patch)).await
                    })
                })
                .collect();
            for t in tasks {
                let (status, body) = t.await.unwrap();
                assert_eq!(status, 200, "{body}");
                assert_eq!(body["updated"], 3);
            }
            let (status, body) = send(client.get(format!("{base}/api/settings"))).await;
            assert_eq!(status, 200);
            assert_eq!(body["count"], 300, "{mode:?}: keys lost");
            for i in 0..100 {
                assert_eq!(body["settings"][format!("client{i}.a")], i);
                assert_eq!(body["settings"][format!("client{i}.b")]["nested"][0], i);
            }
        });
        server.stop().unwrap();
    }
}
