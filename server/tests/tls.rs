//! HTTPS on the reference server (`--tls-cert`, `--tls-key`): a certificate
//! that cannot be used stops it before it accepts, and a client that
//! connects and never shakes hands holds up nobody else's handshake.

use std::sync::Arc;
use std::time::Duration;

use racegate_server::serve::{bind, serve, ServeError};
use racegate_server::{RunningServer, ServerConfig};
use rcgen::{CertificateParams, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

fn config(dir: &std::path::Path) -> ServerConfig {
    ServerConfig::new("127.0.0.1:0".parse().unwrap(), dir.join("tls.db"))
}

#[test]
fn an_unusable_certificate_stops_the_server_before_it_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not PEM\n").unwrap();
    for (cert, key) in [
        (junk.clone(), junk.clone()),
        (dir.path().join("missing.pem"), junk),
    ] {
        let mut config = config(dir.path());
        config.tls_cert = Some(cert.clone());
        config.tls_key = Some(key);
        let listener = bind(config.addr).unwrap();
        let err = serve(&config, listener, CancellationToken::new(), false).unwrap_err();
        assert!(matches!(err, ServeError::Tls(_)), "{cert:?}: {err}");
        assert!(err.to_string().starts_with("TLS: "), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_shakes_hands_does_not_hold_up_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let (cert_pem, key_pem) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_pem, cert.pem()).unwrap();
    std::fs::write(&key_pem, key.serialize_pem()).unwrap();
    let mut config = config(dir.path());
    config.tls_cert = Some(cert_pem);
    config.tls_key = Some(key_pem);
    let srv = RunningServer::start(config).unwrap();
    // Connected, silent: its handshake waits on a task of its own.
    let _silent = tokio::net::TcpStream::connect(srv.addr()).await.unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(cert.der().to_vec()))
        .unwrap();
    #[allow(deprecated)] // ring, as the server
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let answer = tokio::time::timeout(Duration::from_secs(5), async {
        let tcp = tokio::net::TcpStream::connect(srv.addr()).await.unwrap();
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let mut tls = connector.connect(name, tcp).await.unwrap();
        tls.write_all(b"GET /livez HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut text = String::new();
        tls.read_to_string(&mut text).await.unwrap();
        text
    })
    .await
    .expect("answered while another client sat on its handshake");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}
