//! `racegate repro --minimize` on a server whose bug is exact: it fails a
//! request whenever three are in flight at once (each takes 250 ms). The
//! search must find concurrency 3 — two never overlap three, one burst of
//! three always does — then the fewest requests at that level (3), with
//! every level it tried and its detection rate in `repro.json`.
//! Needs python3 (on the machine; CI runs it).

use std::process::Command;

const SERVER: &str = r#"
import http.server, json, sys, threading, time
lock, in_flight = threading.Lock(), [0]
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def do_GET(self):
        if self.path == "/healthz":
            return self.answer(200, {"status": "ready"})
        with lock:
            in_flight[0] += 1
            crowded = in_flight[0] >= 3
        time.sleep(0.25)
        with lock:
            in_flight[0] -= 1
        if crowded:
            self.answer(500, {"error": "three at once"})
        else:
            self.answer(200, {"response": "ok"})
http.server.ThreadingHTTPServer.daemon_threads = True
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"#;

const SCENARIO: &str = r#"
title = "three at once"
[server]
command = ["python3", "{scenario_dir}/server.py", "{port}"]
ready = "/healthz"
ready_timeout = "10s"
[variants.before]
expect = "fail"
symptom = "three at once"
[[steps]]
name = "crowd"
fire = "/work"
concurrency = 8
requests = 6
burst = true
"#;

#[test]
fn minimize_finds_the_exact_concurrency_then_the_fewest_requests() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("server.py"), SERVER).unwrap();
    let scenario = dir.path().join("three.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let out = dir.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_racegate"))
        .args(["repro", "--minimize", "--minimize-trials", "3", "--out"])
        .arg(&out)
        .arg(&scenario)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("three/repro.json")).unwrap())
            .unwrap();
    let m = &report["variants"][0]["minimal"];
    assert_eq!(m["step"], "crowd");
    assert_eq!(
        (m["concurrency"].as_u64(), m["requests"].as_u64()),
        (Some(3), Some(3)),
        "{m:#}"
    );
    assert_eq!(m["non_monotonic"], false);
    // The levels tried: concurrency halved from 8 to 2 (which never fails),
    // back up to 3; then requests at 3 down to 3 (fewer cannot crowd it).
    let levels: Vec<(u64, u64, u64)> = m["levels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["concurrency"].as_u64().unwrap(),
                l["requests"].as_u64().unwrap(),
                l["detected_trials"].as_u64().unwrap(),
            )
        })
        .collect();
    for &(c, _, detected) in &levels {
        if c <= 2 {
            assert_eq!(detected, 0, "concurrency {c} cannot crowd it: {levels:?}");
        }
    }
    assert!(
        levels.iter().any(|&(c, _, d)| c == 2 && d == 0),
        "{levels:?}"
    );
    assert!(
        levels.iter().any(|&(c, r, d)| c == 3 && r == 3 && d == 3),
        "{levels:?}"
    );
    assert!(stdout.contains("concurrency 3, 3 requests"), "{stdout}");
}
