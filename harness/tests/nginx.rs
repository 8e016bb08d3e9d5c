//! Against nginx, where it is installed (skipped, saying so, where it is
//! not): HTTPS with a private CA, HTTP/2 over TLS (ALPN) and over h2c, and
//! nginx's own GOAWAY after `keepalive_requests` — a real server closing its
//! HTTP/2 connections mid-run, which the run must ride through.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::certs::Ca;
use racegate::{Fire, TlsOptions};

fn nginx() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// nginx serving `dir/www/ok.json` over TLS with HTTP/2 on `tls`, and h2c
/// on `h2c`; 50 requests per connection.
fn start(exe: &Path, dir: &Path, cert: &Path, key: &Path, tls: u16, h2c: u16) -> Nginx {
    std::fs::create_dir_all(dir.join("www")).unwrap();
    std::fs::write(dir.join("www/ok.json"), r#"{"response":"ok"}"#).unwrap();
    // nginx's workers may run as another user: they must read the files.
    use std::os::unix::fs::PermissionsExt;
    for p in [dir, &dir.join("www")] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    for p in [cert, key, &dir.join("www/ok.json")] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let d = dir.display();
    let conf = format!(
        "worker_processes 1;\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n  access_log off;\n  keepalive_requests 50;\n\
           client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;\n\
           uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
           server {{ listen 127.0.0.1:{tls} ssl http2; ssl_certificate {}; ssl_certificate_key {};\n\
             location / {{ root {d}/www; default_type application/json; }} }}\n\
           server {{ listen 127.0.0.1:{h2c} http2;\n\
             location / {{ root {d}/www; default_type application/json; }} }}\n}}\n",
        cert.display(),
        key.display()
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let child = Command::new(exe)
        .args([
            "-c",
            &dir.join("nginx.conf").display().to_string(),
            "-p",
            &d.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Nginx(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", h2c)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nginx did not start: {}",
            std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_and_http2_against_nginx() {
    let Some(exe) = nginx() else {
        // .ci/run installs nginx and sets this: there the test must run.
        assert!(
            std::env::var_os("RACEGATE_REQUIRE_NGINX").is_none(),
            "RACEGATE_REQUIRE_NGINX is set and nginx is not installed"
        );
        eprintln!("skipped: nginx is not installed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new(dir.path());
    let cert = ca.issue(dir.path(), "nginx", &["127.0.0.1"], false);
    let (tls, h2c) = (free_port(), free_port());
    let _nginx = start(&exe, dir.path(), &cert.cert, &cert.key, tls, h2c);
    let trust = TlsOptions {
        cacert: Some(ca.pem.clone()),
        insecure: false,
    };
    // HTTPS over HTTP/1.1: nginx closes each connection after 50 requests.
    let report = Fire::get(format!("https://127.0.0.1:{tls}/ok.json"))
        .concurrency(4)
        .requests(400)
        .expect_json_field("response")
        .tls(trust.clone())
        .run()
        .await
        .unwrap();
    assert_eq!(report.passed, 400, "{}", report.summary());
    // HTTP/2 over TLS and over h2c: nginx's GOAWAY after 50 streams on a
    // connection moves the run to new connections, and nothing fails.
    for url in [
        format!("https://127.0.0.1:{tls}/ok.json"),
        format!("http://127.0.0.1:{h2c}/ok.json"),
    ] {
        let report = Fire::get(&url)
            .concurrency(2)
            .http2(8)
            .requests(1000)
            .expect_json_field("response")
            .tls(trust.clone())
            .run()
            .await
            .unwrap();
        assert_eq!(report.passed, 1000, "{url}: {}", report.summary());
        let h2 = report.load.http2.as_ref().unwrap();
        assert_eq!(
            h2.max_concurrent_streams,
            Some(128),
            "{url}: nginx's default"
        );
    }
}
