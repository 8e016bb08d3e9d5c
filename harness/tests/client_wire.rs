//! The engine's HTTP/1.1 client against raw sockets that answer the way
//! real servers do, awkward ways included: a body split into single bytes,
//! chunked bodies, an interim `100 Continue`, `Connection: close`, a body up
//! to the close, a kept-alive connection the server closes while idle, an
//! oversized body and a malformed head. Every answer is read whole, every
//! broken one is a failure with its cause in words, and nothing hangs.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use hyper::Request;
use racegate::engine::{Client, Exchange};
use racegate::FailureKind;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Serves each connection with `script`: read one request head, write the
/// answer `answers[k]` for the k-th request on it, byte by byte if `drip`;
/// after the answers, `then_close` closes, else the connection idles.
async fn serve(answers: Vec<&'static str>, drip: bool, then_close: bool) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let answers = answers.clone();
            tokio::spawn(async move {
                for answer in answers {
                    if read_request(&mut stream).await.is_none() {
                        return;
                    }
                    if drip {
                        for b in answer.as_bytes() {
                            let _ = stream.write_all(&[*b]).await;
                            let _ = stream.flush().await;
                        }
                    } else {
                        let _ = stream.write_all(answer.as_bytes()).await;
                    }
                }
                if !then_close {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
            });
        }
    });
    addr
}

/// Reads up to the end of one request head plus its `content-length` body.
async fn read_request(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    let len = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .map_or(0, |n| n.trim().parse::<usize>().unwrap());
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).await.ok()?;
    Some(head)
}

fn get() -> Request<Bytes> {
    Request::get("/").body(Bytes::new()).unwrap()
}

async fn answered(client: &mut Client) -> (u16, Bytes) {
    match client.send(get()).await {
        Exchange::Answered { status, body, .. } => (status, body),
        Exchange::Failed { kind, message } => panic!("{kind}: {message}"),
        Exchange::Abandoned { .. } => panic!("nothing is abandoned here"),
    }
}

async fn failed(client: &mut Client) -> (FailureKind, String) {
    match client.send(get()).await {
        Exchange::Answered { status, body, .. } => panic!("answered {status} {body:?}"),
        Exchange::Failed { kind, message } => (kind, message),
        Exchange::Abandoned { .. } => panic!("nothing is abandoned here"),
    }
}

fn client(addr: SocketAddr) -> Client {
    Client::new(addr, Duration::from_secs(2))
}

#[tokio::test]
async fn bodies_are_read_whole_however_they_are_framed_and_split() {
    let answers = vec![
        "HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\nhello world",
        "HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
        "HTTP/1.1 204 No Content\r\n\r\n",
        "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 3\r\n\r\nbye",
    ];
    for drip in [false, true] {
        let addr = serve(answers.clone(), drip, true).await;
        let mut c = client(addr);
        assert_eq!(answered(&mut c).await, (200, Bytes::from("hello world")));
        assert_eq!(answered(&mut c).await, (201, Bytes::from("hello world")));
        assert_eq!(answered(&mut c).await, (200, Bytes::from("ok")));
        assert_eq!(answered(&mut c).await, (204, Bytes::new()));
        assert_eq!(answered(&mut c).await, (200, Bytes::from("bye")));
        // The server said close: the next request opens a new connection,
        // which starts the script again.
        assert_eq!(answered(&mut c).await, (200, Bytes::from("hello world")));
    }
}

#[tokio::test]
async fn a_body_without_length_runs_to_the_close() {
    let addr = serve(vec!["HTTP/1.1 200 OK\r\n\r\nuntil the end"], false, true).await;
    let mut c = client(addr);
    assert_eq!(answered(&mut c).await, (200, Bytes::from("until the end")));
    assert_eq!(answered(&mut c).await, (200, Bytes::from("until the end")));
}

#[tokio::test]
async fn a_kept_alive_connection_closed_while_idle_is_reopened_not_failed() {
    // One answer per connection, then the server closes it without saying so.
    let addr = serve(
        vec!["HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\na"],
        false,
        true,
    )
    .await;
    let mut c = client(addr);
    for _ in 0..5 {
        assert_eq!(answered(&mut c).await, (200, Bytes::from("a")));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn broken_answers_fail_with_their_cause() {
    let cases = [
        (
            "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort",
            "connection closed before a complete answer",
        ),
        ("HTTP/1.1 two hundred\r\n\r\n", "malformed HTTP response"),
        (
            "HTTP/1.1 200 OK\r\ncontent-length: 999999999999\r\n\r\n",
            "length limit exceeded",
        ),
        (
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
            "malformed chunk",
        ),
    ];
    for (answer, cause) in cases {
        let addr = serve(vec![answer], false, true).await;
        let (kind, message) = failed(&mut client(addr)).await;
        assert_eq!(kind, FailureKind::Indeterminate, "{answer:?}: {message}");
        assert!(message.contains(cause), "{answer:?}: {message}");
    }
}

#[tokio::test]
async fn an_answer_that_never_completes_times_out() {
    let addr = serve(
        vec!["HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhalf"],
        false,
        false,
    )
    .await;
    let mut c = Client::new(addr, Duration::from_millis(200));
    let started = std::time::Instant::now();
    let (kind, message) = failed(&mut c).await;
    assert_eq!(kind, FailureKind::Timeout, "{message}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_failure() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let (kind, _) = failed(&mut client(addr)).await;
    assert_eq!(kind, FailureKind::Connect);
}

#[tokio::test]
async fn an_etag_is_kept_with_its_answer_and_only_with_it() {
    let answers = vec![
        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nETag: \"v1-abc\"\r\n\r\nok",
        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
    ];
    let addr = serve(answers, true, false).await;
    let mut c = client(addr);
    for expected in [Some(&b"\"v1-abc\""[..]), None] {
        match c.send(get()).await {
            Exchange::Answered { status, etag, .. } => {
                assert_eq!((status, etag.as_deref()), (200, expected));
            }
            other => panic!("{other:?}"),
        }
    }
}
