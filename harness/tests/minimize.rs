//! `racegate repro --minimize` on servers whose bug is exact. One fails a
//! request whenever three are in flight at once (each takes 250 ms): the
//! search must find concurrency 3 — two never overlap three, one burst of
//! three always does — then the fewest requests at that level (3), with
//! every level it tried and its detection rate in `repro.json`. The other
//! fails a request that shares its time with exactly one other, or with
//! six or more: 8 and 2 reproduce, 4 does not, and the result says so.
//! Needs python3 (on the machine; CI runs it).

use std::process::Command;

const SERVER: &str = r#"
import http.server, json, sys, threading, time
lock, in_flight, peaks = threading.Lock(), [0], []
crowded = {"three": lambda n: n >= 3, "pairs": lambda n: n == 2 or n >= 6}[sys.argv[2]]
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
        # The most requests in flight at once while this one was.
        with lock:
            in_flight[0] += 1
            me = [in_flight[0]]
            peaks.append(me)
            for p in peaks:
                p[0] = max(p[0], in_flight[0])
        time.sleep(0.25)
        with lock:
            in_flight[0] -= 1
            peaks.remove(me)
        if crowded(me[0]):
            self.answer(500, {"error": "three at once"})
        else:
            self.answer(200, {"response": "ok"})
http.server.ThreadingHTTPServer.daemon_threads = True
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"#;

const SCENARIO: &str = r#"
title = "three at once"
[server]
command = ["python3", "{scenario_dir}/server.py", "{port}", "three"]
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

/// Runs `repro --minimize` on `scenario` (named `name`) with the server;
/// its stdout and the variant's `minimal`.
fn minimize(name: &str, scenario: &str) -> (String, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("server.py"), SERVER).unwrap();
    let path = dir.path().join(format!("{name}.toml"));
    std::fs::write(&path, scenario).unwrap();
    let out = dir.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_racegate"))
        .args(["repro", "--minimize", "--minimize-trials", "3", "--out"])
        .arg(&out)
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join(name).join("repro.json")).unwrap())
            .unwrap();
    (stdout, report["variants"][0]["minimal"].clone())
}

/// Each level tried: (concurrency, requests, detected trials).
fn levels(m: &serde_json::Value) -> Vec<(u64, u64, u64)> {
    m["levels"]
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
        .collect()
}

#[test]
fn minimize_finds_the_exact_concurrency_then_the_fewest_requests() {
    let (stdout, m) = minimize("three", SCENARIO);
    assert_eq!(m["step"], "crowd");
    assert_eq!(
        (m["concurrency"].as_u64(), m["requests"].as_u64()),
        (Some(3), Some(3)),
        "{m:#}"
    );
    assert_eq!(m["non_monotonic"], false);
    // The levels tried: concurrency halved from 8 to 1 (2 and 1 never
    // fail), back up to 3; then requests at 3 down to 3 (fewer cannot crowd
    // it).
    let levels = levels(&m);
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

#[test]
fn a_bug_that_comes_back_at_lower_concurrency_is_flagged_non_monotonic() {
    let scenario = SCENARIO
        .replace("\"three\"]", "\"pairs\"]")
        .replace("requests = 6", "requests = 8");
    let (stdout, m) = minimize("pairs", &scenario);
    let levels = levels(&m);
    // 8 at once and 2 at once reproduce; 4 at once (two rounds of 4) and 1
    // do not. The halving goes on past 4 and finds 2.
    let detected = |c: u64| levels.iter().find(|l| l.0 == c && l.1 == 8).map(|l| l.2);
    assert_eq!(
        (detected(8), detected(4), detected(2), detected(1)),
        (Some(3), Some(0), Some(3), Some(0)),
        "{levels:?}"
    );
    assert_eq!(m["concurrency"].as_u64(), Some(2), "{m:#}");
    assert_eq!(m["non_monotonic"], true, "{m:#}");
    assert!(stdout.contains("NOT monotonic"), "{stdout}");
}
