//! TLS for `https://` targets, with rustls (ring as its crypto provider; no
//! OpenSSL): whom to trust ([`TlsOptions`]), the connector every connection
//! of a run shares ([`Tls`]), and a handshake failure put in one line
//! ([`describe`]) so that failures of one cause cluster together.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_rustls::TlsConnector;

/// Whom an `https://` run trusts.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsOptions {
    /// PEM certificates (a private CA) trusted besides the system's roots.
    #[serde(default)]
    pub cacert: Option<PathBuf>,
    /// Skip verifying the server's certificate (the handshake's signatures
    /// are still checked). Printed in the summary and recorded in the
    /// report.
    #[serde(default)]
    pub insecure: bool,
}

/// Why TLS could not be set up for a run: a setup error (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The CA file could not be read or holds no certificate.
    #[error("--cacert {path}: {reason}")]
    CaCert {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The host cannot be a TLS server name.
    #[error("{0:?} cannot be a TLS server name")]
    Name(String),
}

/// The TLS half of every connection of a run: the connector (its config
/// shared, so resumption tickets are too) and the name sent as SNI and
/// verified against the certificate.
#[derive(Clone)]
pub struct Tls {
    connector: TlsConnector,
    name: ServerName<'static>,
    insecure: bool,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").field("name", &self.name).finish()
    }
}

impl Tls {
    /// A connector for `host` (as in the URL: a name or an IP address),
    /// offering `alpn` (e.g. `http/1.1`).
    pub fn new(options: &TlsOptions, host: &str, alpn: &[&[u8]]) -> Result<Self, TlsError> {
        let provider = Arc::new(provider());
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions");
        let mut config = if options.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
                .with_no_client_auth()
        } else {
            builder
                .with_root_certificates(roots(options.cacert.as_deref())?)
                .with_no_client_auth()
        };
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let name =
            ServerName::try_from(bare.to_owned()).map_err(|_| TlsError::Name(host.into()))?;
        Ok(Self {
            connector: TlsConnector::from(Arc::new(config)),
            name,
            insecure: options.insecure,
        })
    }

    /// The connector.
    pub fn connector(&self) -> &TlsConnector {
        &self.connector
    }

    /// Whether the server's certificate goes unverified (`--insecure`).
    pub fn insecure(&self) -> bool {
        self.insecure
    }

    /// The server name.
    pub fn name(&self) -> ServerName<'static> {
        self.name.clone()
    }
}

/// ring's provider. rustls 0.23.48 deprecates it for lacking post-quantum
/// key exchange; aws-lc-rs has it but builds C with cmake, which a user's
/// `cargo install` should not need, and a load test's traffic is not a
/// harvest-now-decrypt-later target.
#[allow(deprecated)]
pub fn provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// The system's roots (whatever loads) and `cacert`'s certificates.
fn roots(cacert: Option<&Path>) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    // A broken system store is not fatal: a private CA may be all a run needs.
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = cacert {
        let bad = |reason: String| TlsError::CaCert {
            path: path.to_owned(),
            reason,
        };
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| bad(e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(e.to_string()))?;
        if certs.is_empty() {
            return Err(bad("no PEM certificate in it".into()));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| bad(e.to_string()))?;
        }
    }
    Ok(roots)
}

/// `--insecure`: any certificate is accepted; the handshake's signatures are
/// still verified, so the session is encrypted to whoever holds the key.
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A failed handshake in one line, the same for every connection that
/// failed for the same cause: "certificate expired", "unknown issuer",
/// "name mismatch", the server's alert, or the I/O error.
pub fn describe(error: &std::io::Error) -> String {
    let Some(tls) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return format!("TLS handshake: {error}");
    };
    let reason = match tls {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "certificate expired".to_owned()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "certificate not valid yet".to_owned()
            }
            CertificateError::UnknownIssuer => "unknown issuer".to_owned(),
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                "name mismatch".to_owned()
            }
            CertificateError::Revoked => "certificate revoked".to_owned(),
            CertificateError::BadSignature => "bad certificate signature".to_owned(),
            other => format!("invalid certificate: {other:?}"),
        },
        rustls::Error::AlertReceived(alert) => format!("server sent alert {alert:?}"),
        rustls::Error::NoApplicationProtocol => "no common application protocol (ALPN)".to_owned(),
        other => other.to_string(),
    };
    format!("TLS handshake: {reason}")
}
