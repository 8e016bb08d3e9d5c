//! `racegate kv` against a server that is not ours: stdlib Python, whose
//! writes always commit but sometimes answer 500 or answer too late (the
//! client has timed out). Those writes are *info*: they may have taken
//! effect, and reads that see them are no violation. The same server
//! acknowledging a write it then drops is a violation. (Marking a 500 or a
//! timeout *fail* instead of *info* makes the first run a false violation:
//! a read of a value "never written".) Needs python3.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use racegate::history::{OpKind, Outcome, Verdict};
use racegate::kv::{self, KvSpec};

const SERVER: &str = r#"
import http.server, json, random, sys, threading, time
mode, lock, state, count = sys.argv[1], threading.Lock(), {}, [0]
random.seed(7)
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def answer(self, status, body):
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass
    def do_GET(self):
        with lock:
            value = state.get(self.path)
        if value is None:
            self.answer(404, {"error": "absent"})
        else:
            self.answer(200, {"value": value})
    def do_PUT(self):
        value = int(self.rfile.read(int(self.headers["content-length"])))
        with lock:
            count[0] += 1
            lost = mode == "lossy" and count[0] % 7 == 0
            if not lost:
                state[self.path] = value
            r = random.random()
        if mode == "flaky" and r < 0.1:
            return self.answer(500, {"error": "committed, then failed"})
        if mode == "flaky" and r < 0.2:
            time.sleep(1.2)
        self.answer(200, {"value": value})
http.server.ThreadingHTTPServer.daemon_threads = True
http.server.ThreadingHTTPServer.request_queue_size = 128
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The server in `mode`, and its port (it prints it once listening).
fn start(mode: &str) -> (Server, u16) {
    let mut child = Command::new("python3")
        .args(["-c", SERVER, mode])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().parse().expect("the server prints its port");
    (Server(child), port)
}

fn spec() -> KvSpec {
    serde_json::from_value(serde_json::json!({
        "read": "GET /kv/{key}",
        "write": "PUT /kv/{key}",
        "requests": 600,
        "concurrency": 8,
        "keys": 4,
        "seed": 3,
        "timeout": "500ms",
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_that_commit_then_fail_or_time_out_are_info_not_violations() {
    let (_server, port) = start("flaky");
    let run = kv::run(&format!("http://127.0.0.1:{port}"), &spec(), false, None)
        .await
        .unwrap();
    let info = run
        .ops
        .iter()
        .filter(|o| o.kind == OpKind::Write && o.outcome == Outcome::Info)
        .count();
    let h = run.report.history.as_ref().unwrap();
    assert_eq!(h.verdict, Verdict::Linearizable, "{}", run.report.summary());
    assert!(info >= 20, "{info} info writes: {}", run.report.summary());
    // Reads saw some of them: they did take effect.
    let info_values: Vec<u64> = run
        .ops
        .iter()
        .filter(|o| o.kind == OpKind::Write && o.outcome == Outcome::Info)
        .filter_map(|o| o.value)
        .collect();
    assert!(run
        .ops
        .iter()
        .any(|o| o.kind == OpKind::Read && o.value.is_some_and(|v| info_values.contains(&v))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledged_write_the_server_drops_is_a_violation() {
    let (_server, port) = start("lossy");
    let run = kv::run(&format!("http://127.0.0.1:{port}"), &spec(), false, None)
        .await
        .unwrap();
    let r = &run.report;
    assert_eq!(
        r.passed,
        r.total,
        "every request answered as it should: {}",
        r.summary()
    );
    let h = r.history.as_ref().unwrap();
    assert_eq!(h.verdict, Verdict::Violation, "{}", r.summary());
}
