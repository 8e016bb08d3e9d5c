//! The fault proxy (`--fault`) in runs against the reference server:
//! requests it broke are faulted (not judged), a
//! latency window longer than the timeout fails its window and the run
//! recovers at once after it, and a keyed history through resets stays
//! linearizable on the fixed server while `stale-read` is still found.

use std::time::Duration;

use racegate::Fire;
use racegate_server::{Bug, RunningServer, ServerConfig};

fn reference_server(dir: &std::path::Path, bug: Option<Bug>) -> RunningServer {
    let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), dir.join("chat.db"));
    config.inject = bug.into_iter().collect();
    RunningServer::start(config).expect("the server starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_the_proxy_broke_are_faulted_and_every_other_one_passes() {
    let dir = tempfile::tempdir().unwrap();
    let server = reference_server(dir.path(), None);
    let report = Fire::post(server.url("/api/chat"), r#"{"message": "m{i}"}"#)
        .concurrency(8)
        .requests(600)
        .timeout(Duration::from_millis(300))
        .expect_json_field("response")
        .fault("reset=5%".parse().unwrap())
        .fault("stall=2%".parse().unwrap())
        .fault("slice=1..64B".parse().unwrap())
        .seed(11)
        .run()
        .await
        .unwrap();
    let faults = report.faults.as_ref().expect("faults recorded");
    let injected: Vec<u64> = faults.proxy.iter().map(|p| p.injected).collect();
    assert!(injected.iter().all(|&n| n > 0), "{injected:?}");
    // Each reset or stall broke one request: all of them faulted, and
    // every request the proxy did not break passed.
    assert_eq!(
        report.faulted,
        injected[0] + injected[1],
        "{}",
        report.summary()
    );
    assert_eq!(report.passed, report.total, "{}", report.summary());
    assert_eq!(report.total + report.faulted, 600);
}

/// Over HTTP/2 a reset breaks every stream on its connection, and may come
/// while the session is being set up: all of those are faulted (the
/// connection's port names them), and every other request passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http2_every_stream_a_reset_broke_is_faulted() {
    let dir = tempfile::tempdir().unwrap();
    let server = reference_server(dir.path(), None);
    let report = Fire::post(server.url("/api/chat"), r#"{"message": "m{i}"}"#)
        .concurrency(2)
        .http2(4)
        .requests(400)
        .timeout(Duration::from_millis(500))
        .expect_json_field("response")
        .fault("reset=30%".parse().unwrap())
        .seed(5)
        .run()
        .await
        .unwrap();
    assert!(report.faulted > 0, "{}", report.summary());
    assert_eq!(report.passed, report.total, "{}", report.summary());
    assert_eq!(report.total + report.faulted, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_latency_window_longer_than_the_timeout_fails_and_recovers_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = reference_server(dir.path(), None);
    let report = Fire::get(server.url("/livez"))
        .concurrency(8)
        .duration(Duration::from_millis(1200))
        .timeout(Duration::from_millis(100))
        .fault("latency=300ms@300ms..600ms".parse().unwrap())
        .run()
        .await
        .unwrap();
    let w = &report.faults.as_ref().expect("faults").windows[0];
    assert_eq!((w.from_ms, w.to_ms), (300, 600));
    // Every request sent inside the window waits 600 ms for its answer:
    // past the timeout.
    let around = |report: &racegate::report::Report| {
        let t = report.timeline.as_ref().unwrap();
        let off = t.start_unix_ms as i64 - report.faults.as_ref().unwrap().start_unix_ms as i64;
        t.buckets
            .iter()
            .filter(|b| b.sent > 0 && (250..650).contains(&(b.t_ms as i64 + off)))
            .map(|b| format!("{}:{}/{}", b.t_ms as i64 + off, b.passed, b.sent))
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert!(
        w.pass_rate.is_some_and(|r| r < 0.5),
        "{w:?} {}",
        around(&report)
    );
    let recovery = w.recovery_ms.expect("it recovered");
    assert!(recovery < 500, "recovered in {recovery} ms");
    // Latency is a slowdown, not a fault: those timeouts are failures.
    assert_eq!(report.faulted, 0);
    assert!(report.passed < report.total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_through_resets_is_linearizable_on_the_fixed_server_and_stale_read_is_still_found(
) {
    // Every other key at its default, as a scenario's `kv = { … }` has it.
    let spec = || -> racegate::kv::KvSpec {
        serde_json::from_value(serde_json::json!({
            "read": "GET /api/settings/{key}",
            "write": "PUT /api/settings/{key}",
            "requests": 2000,
            "seed": 3,
            "faults": ["reset=5%"],
        }))
        .expect("a kv spec")
    };
    for (bug, linearizable) in [(None, true), (Some(Bug::StaleRead), false)] {
        let dir = tempfile::tempdir().unwrap();
        let server = reference_server(dir.path(), bug);
        let run = racegate::kv::run(&server.url(""), &spec(), false, None)
            .await
            .unwrap();
        let r = &run.report;
        assert!(r.faulted > 0, "resets broke some operations");
        let check = r.history.as_ref().expect("a history check");
        assert_eq!(
            check.verdict == racegate::history::Verdict::Linearizable,
            linearizable,
            "{bug:?}: {}",
            r.summary()
        );
    }
}

#[test]
fn racegate_proxy_stands_alone_and_says_what_it_did() {
    use std::io::{BufRead, Read, Write};
    let bin = env!("CARGO_BIN_EXE_racegate");
    // A non-loopback listen address is refused, as a non-loopback target is.
    let o = std::process::Command::new(bin)
        .args([
            "proxy",
            "--listen",
            "0.0.0.0:0",
            "--upstream",
            "127.0.0.1:9",
            "--fault",
            "reset=1%",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--allow-remote"));
    let o = std::process::Command::new(bin)
        .args([
            "proxy",
            "--upstream",
            "127.0.0.1:9",
            "--fault",
            "reset=5 percent",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a number"));

    // In front of a plain TCP server: every connection reset, counted.
    let upstream = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let up = upstream.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in upstream.incoming().flatten() {
            let mut s = s;
            let mut buf = [0u8; 64];
            if s.read(&mut buf).is_ok() {
                let _ = s.write_all(b"pong");
            }
        }
    });
    let mut child = std::process::Command::new(bin)
        .args([
            "proxy",
            "--upstream",
            &up.to_string(),
            "--fault",
            "reset=100%",
            "--seed",
            "1",
            "--for",
            "3s",
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    err.read_line(&mut first).unwrap();
    // "racegate proxy: 127.0.0.1:P → …"
    let addr: std::net::SocketAddr = first
        .split_whitespace()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {first:?}"));
    for _ in 0..3 {
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.write_all(b"ping").unwrap();
        let mut got = Vec::new();
        let e = c.read_to_end(&mut got).expect_err("reset");
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{got:?}");
    }
    let mut rest = String::new();
    err.read_to_string(&mut rest).unwrap();
    assert!(child.wait().unwrap().success());
    assert!(rest.contains("3 × reset=100%"), "{rest}");
}
