//! The fault proxy's faults on the bytes, both ways into it: the TCP proxy
//! on a loopback port (`racegate proxy`) and the in-process pipe `fire` and
//! `kv` dial (`--fault`). Whichever way the client comes in, the server's
//! side is a real TCP connection and sees real resets and real slow bytes.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use racegate::nemesis::proxy::{Dialer, Proxy, ProxyFault, ProxyFaultReport};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn faults(specs: &[&str]) -> Vec<ProxyFault> {
    specs
        .iter()
        .map(|s| s.parse().unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// The proxy, entered one way or the other.
enum Via {
    Tcp(Proxy),
    Pipe(Dialer),
}

const BOTH: [&str; 2] = ["tcp", "pipe"];

impl Via {
    async fn start(way: &str, upstream: SocketAddr, specs: &[&str]) -> Self {
        let timeout = Duration::from_secs(5);
        match way {
            "tcp" => Self::Tcp(
                Proxy::start(
                    "127.0.0.1:0".parse().unwrap(),
                    upstream,
                    faults(specs),
                    1,
                    timeout,
                )
                .await
                .expect("the proxy listens"),
            ),
            _ => Self::Pipe(Dialer::new(upstream, faults(specs), 1, timeout)),
        }
    }

    async fn connect(&self) -> Box<dyn Io> {
        match self {
            Self::Tcp(p) => Box::new(TcpStream::connect(p.addr()).await.unwrap()),
            Self::Pipe(d) => Box::new(d.dial().await.expect("the upstream is there")),
        }
    }

    async fn stop(self) -> Vec<ProxyFaultReport> {
        match self {
            Self::Tcp(p) => p.stop().await,
            Self::Pipe(d) => d.stop(),
        }
    }
}

/// An upstream that answers every read with `reply` and reports, for each
/// connection, how its life ended: the bytes it read and whether a read
/// failed with a reset.
async fn upstream(
    reply: &'static [u8],
) -> (
    SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<(usize, bool)>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (mut read, mut buf) = (0, [0u8; 4096]);
                let reset = loop {
                    match tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await {
                        Ok(Ok(0)) | Err(_) => break false,
                        Ok(Ok(n)) => {
                            read += n;
                            // The peer may be gone: the next read says how.
                            let _ = s.write_all(reply).await;
                        }
                        Ok(Err(e)) => break e.kind() == std::io::ErrorKind::ConnectionReset,
                    }
                };
                let _ = tx.send((read, reset));
            });
        }
    });
    (addr, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_is_a_real_rst_at_both_ends() {
    for way in BOTH {
        let (up, mut ended) = upstream(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await;
        let p = Via::start(way, up, &["reset=100%"]).await;
        for _ in 0..12 {
            let mut c = p.connect().await;
            c.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
                .await
                .unwrap();
            let mut got = Vec::new();
            let read = tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut got)).await;
            match read.expect("the proxy answers or resets within 5 s") {
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
                other => panic!("{way}: the client saw {other:?} after {got:?}, not a reset"),
            }
        }
        // Every upstream connection ended in a reset too: some before the
        // request reached it (nothing read), the others after it answered.
        let (mut before, mut after) = (0, 0);
        for _ in 0..12 {
            let (read, reset) = tokio::time::timeout(Duration::from_secs(5), ended.recv())
                .await
                .expect("each upstream connection ends")
                .unwrap();
            assert!(
                reset || read == 0,
                "{way}: an upstream connection ended without a reset after {read} bytes"
            );
            if read == 0 {
                before += 1
            } else {
                after += 1
            }
        }
        assert!(
            before > 0 && after > 0,
            "{way}: resets land before ({before}) and after ({after}) the server saw the request"
        );
        assert_eq!(p.stop().await[0].injected, 12, "{way}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_after_ends_the_connection_with_a_fin_at_that_byte() {
    for way in BOTH {
        let (up, mut ended) = upstream(b"").await;
        let p = Via::start(way, up, &["close-after=1000"]).await;
        let mut c = p.connect().await;
        // More than the limit: the write may or may not fail, the read sees
        // an orderly end, not a reset.
        let _ = c.write_all(&[b'x'; 600]).await;
        let _ = c.write_all(&[b'y'; 600]).await;
        let mut got = Vec::new();
        let end = tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut got)).await;
        assert!(matches!(end, Ok(Ok(0))), "{way}: {end:?}");
        // The server read exactly the first 1000 bytes, then a FIN.
        let (read, reset) = tokio::time::timeout(Duration::from_secs(5), ended.recv())
            .await
            .expect("the upstream connection ends")
            .unwrap();
        assert_eq!((read, reset), (1000, false), "{way}");
        assert_eq!(p.stop().await[0].injected, 1, "{way}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bandwidth_slows_and_slices_split_but_neither_breaks() {
    // An echo of 64 KiB at 256 KiB/s takes at least a quarter second (a
    // lower bound only: a busy machine makes it slower, never faster).
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let echo = listener.local_addr().unwrap();
    let reads = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = std::sync::Arc::clone(&reads);
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let counted = std::sync::Arc::clone(&counted);
            tokio::spawn(async move {
                let mut buf = [0u8; 65536];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                    counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
    });
    for way in BOTH {
        let p = Via::start(way, echo, &["bandwidth=256KiB/s"]).await;
        let c = p.connect().await;
        let started = Instant::now();
        let data = vec![7u8; 64 * 1024];
        let (mut r, mut w) = tokio::io::split(c);
        let (sent, back) = tokio::join!(w.write_all(&data), async {
            let mut back = vec![0u8; data.len()];
            r.read_exact(&mut back).await.map(|_| back)
        });
        sent.unwrap();
        assert_eq!(back.unwrap(), data, "{way}");
        assert!(
            started.elapsed() >= Duration::from_millis(240),
            "{way}: {:?}",
            started.elapsed()
        );
        assert!(p.stop().await[0].injected > 0, "{way}");

        // Sliced into pieces of at most 8 bytes (each its own write; the
        // sizes are unit-tested in link.rs): every byte arrives, in order.
        let p = Via::start(way, echo, &["slice=1..8B"]).await;
        let mut c = p.connect().await;
        let msg: Vec<u8> = (0..200u8).collect();
        c.write_all(&msg).await.unwrap();
        let mut back = vec![0u8; msg.len()];
        tokio::time::timeout(Duration::from_secs(5), c.read_exact(&mut back))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(back, msg, "{way}");
        assert!(reads.load(std::sync::atomic::Ordering::Relaxed) > 0);
        assert!(p.stop().await[0].injected >= 2, "{way}: both ways sliced");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dialling_a_server_that_is_not_there_fails_as_a_connect_would() {
    // A port nothing listens on: bound, then closed.
    let gone = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let d = Dialer::new(gone, faults(&["latency=0ms"]), 1, Duration::from_secs(5));
    let e = d.dial().await.err().expect("no pipe to nowhere");
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
}
