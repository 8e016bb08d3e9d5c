//! `racegate kv --cas` and `--append` against the reference server: the
//! etag-race bug (every answer a 2xx or a 412, as it should be) found by the
//! history alone, and the fixed server's compare-and-sets and appends
//! linearizable.

use std::process::Command;

use racegate::history::{Model, OpKind, Outcome, Verdict};
use racegate::kv::{self, KvSpec};
use racegate_server::{Bug, RunningServer, ServerConfig};

fn server(bugs: &[Bug]) -> (RunningServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), dir.path().join("kv.db"));
    config.inject = bugs.to_vec();
    (RunningServer::start(config).unwrap(), dir)
}

fn spec(json: serde_json::Value) -> KvSpec {
    serde_json::from_value(json).expect("a kv spec")
}

fn cas_spec() -> KvSpec {
    spec(serde_json::json!({
        "read": "GET /api/settings/{key}",
        "cas": "PUT /api/settings/{key}",
        "requests": 2000,
        "keys": 4,
        "seed": 11,
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etag_race_is_found_by_the_history_alone_and_the_fix_is_linearizable() {
    for (bugs, linearizable) in [(&[][..], true), (&[Bug::EtagRace][..], false)] {
        let (srv, _dir) = server(bugs);
        let run = kv::run(&srv.url(""), &cas_spec(), false, None)
            .await
            .unwrap();
        let r = &run.report;
        // Every answer was a 2xx, a 404 or a 412: nothing to see per request.
        assert_eq!(r.passed, r.total, "{bugs:?}: {}", r.summary());
        let h = r.history.as_ref().unwrap();
        assert_eq!(h.model, Model::CasRegister.description());
        let cas: Vec<_> = run.ops.iter().filter(|o| o.kind == OpKind::Cas).collect();
        let failed = cas.iter().filter(|o| o.outcome == Outcome::Fail).count();
        assert!(
            cas.len() > 500 && failed > 10,
            "{bugs:?}: {} cas, {failed} failed",
            cas.len()
        );
        // A create (If-None-Match: *) expects absent; a cas expects what the
        // read before it saw.
        assert!(
            cas.iter().any(|o| o.expected.is_none()) && cas.iter().any(|o| o.expected.is_some())
        );
        assert_eq!(
            h.verdict == Verdict::Linearizable,
            linearizable,
            "{bugs:?}: {}",
            r.summary()
        );
        if !linearizable {
            let cx = h.counterexample.as_ref().unwrap();
            assert!(cx.ops.iter().any(|o| o.kind == OpKind::Cas), "{cx:?}");
            assert!(cx.ops.iter().all(|o| run.ops.contains(o)), "{cx:?}");
        }
        tokio::task::spawn_blocking(move || srv.stop().unwrap())
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_to_conversations_are_linearizable_on_the_fixed_server() {
    let (srv, _dir) = server(&[]);
    let spec = spec(serde_json::json!({
        "read": "GET /api/conversations/{key}/messages",
        "read_value": "/messages",
        "item_value": "/content",
        "append": "POST /api/conversations/{key}/messages",
        "write_body": "{\"content\": \"{value}\"}",
        "requests": 1500,
        "keys": 6,
        "seed": 5,
        // The check's clock is the wall's: on a busy machine a debug build
        // gets a fraction of a core (stress-ng on both cores ran 10 s out).
        "budget": "120s",
    }));
    let run = kv::run(&srv.url(""), &spec, false, None).await.unwrap();
    let r = &run.report;
    assert_eq!(r.passed, r.total, "{}", r.summary());
    let h = r.history.as_ref().unwrap();
    assert_eq!(h.model, Model::Append.description());
    assert_eq!(h.verdict, Verdict::Linearizable, "{}", r.summary());
    let appends = run.ops.iter().filter(|o| o.kind == OpKind::Append).count();
    let long_reads = run
        .ops
        .iter()
        .filter(|o| {
            o.kind == OpKind::Read
                && o.text
                    .as_deref()
                    .is_some_and(|t| t.matches(',').count() >= 3)
        })
        .count();
    assert!(
        appends > 500 && long_reads > 100,
        "{appends} appends, {long_reads} long reads"
    );
    // The same history with one append lost is not.
    let mut lost = run.ops.clone();
    let read_with_items = lost
        .iter()
        .position(|o| {
            o.kind == OpKind::Read
                && o.text
                    .as_deref()
                    .is_some_and(|t| t.matches(',').count() >= 3)
        })
        .unwrap();
    let text = lost[read_with_items].text.clone().unwrap();
    let first = text.split(',').next().unwrap().to_owned();
    lost[read_with_items].text = Some(text.replacen(&format!("{first},"), "", 1));
    let checked = racegate::history::check(&lost, std::time::Duration::from_secs(10)).unwrap();
    assert_eq!(checked.verdict, Verdict::Violation);
    tokio::task::spawn_blocking(move || srv.stop().unwrap())
        .await
        .unwrap();
}

#[test]
fn the_cli_exits_1_against_etag_race_and_0_when_fixed() {
    for (bugs, code) in [(&[Bug::EtagRace][..], 1), (&[][..], 0)] {
        let (srv, _dir) = server(bugs);
        let o = Command::new(env!("CARGO_BIN_EXE_racegate"))
            .args(["kv", &srv.url(""), "--read", "GET /api/settings/{key}"])
            .args([
                "--cas",
                "PUT /api/settings/{key}",
                "-n",
                "2000",
                "--keys",
                "4",
            ])
            .args(["--seed", "11"])
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(
            o.status.code(),
            Some(code),
            "{bugs:?}: {out}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        if code == 1 {
            assert!(
                out.contains("NOT linearizable") && out.contains("cas"),
                "{out}"
            );
        }
        srv.stop().unwrap();
    }
    // Two write modes at once is a usage error.
    let o = Command::new(env!("CARGO_BIN_EXE_racegate"))
        .args(["kv", "http://127.0.0.1:9", "--read", "GET /k/{key}"])
        .args(["--cas", "PUT /k/{key}", "--append", "POST /k/{key}"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}
