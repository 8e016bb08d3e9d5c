//! Certificates for a scenario that serves HTTPS (`tls = true` in its
//! `[server]`): a private CA and a certificate it signs for 127.0.0.1 and
//! localhost, made with rcgen in the trial's directory and trusted by every
//! step of the trial, the readiness probe and the state checks included.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};

use crate::tls::{Tls, TlsOptions};

/// A trial's certificate files.
#[derive(Clone, Debug)]
pub struct TrialTls {
    /// The CA's certificate (what the steps trust).
    pub ca: PathBuf,
    /// The server's certificate chain (`{tls_cert}`).
    pub cert: PathBuf,
    /// The server's private key (`{tls_key}`).
    pub key: PathBuf,
}

impl TrialTls {
    /// Where a trial directory's files are (made or not).
    pub fn at(dir: &Path) -> Self {
        let tls = dir.join("tls");
        Self {
            ca: tls.join("ca.pem"),
            cert: tls.join("cert.pem"),
            key: tls.join("key.pem"),
        }
    }

    /// Makes a CA and a server certificate in `dir/tls/`.
    pub fn make(dir: &Path) -> Result<Self, String> {
        let files = Self::at(dir);
        let fail = |e: &dyn std::fmt::Display| format!("cannot make the trial's certificates: {e}");
        let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(|e| fail(&e))?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "racegate repro CA");
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate().map_err(|e| fail(&e))?;
        let ca_cert = ca.self_signed(&ca_key).map_err(|e| fail(&e))?;
        let names = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
        let mut server = CertificateParams::new(names).map_err(|e| fail(&e))?;
        server
            .distinguished_name
            .push(DnType::CommonName, "racegate repro server");
        let key = KeyPair::generate().map_err(|e| fail(&e))?;
        let cert = server
            .signed_by(&key, &ca_cert, &ca_key)
            .map_err(|e| fail(&e))?;
        let write = |path: &Path, text: String| std::fs::write(path, text).map_err(|e| fail(&e));
        std::fs::create_dir_all(dir.join("tls")).map_err(|e| fail(&e))?;
        write(&files.ca, ca_cert.pem())?;
        write(&files.cert, cert.pem())?;
        write(&files.key, key.serialize_pem())?;
        Ok(files)
    }

    /// What the steps trust: the CA.
    pub fn options(&self) -> TlsOptions {
        TlsOptions {
            cacert: Some(self.ca.clone()),
            insecure: false,
        }
    }

    /// A client connector for probes and state checks (HTTP/1.1).
    pub fn client(&self) -> Result<Tls, String> {
        Tls::new(&self.options(), "127.0.0.1", &[b"http/1.1"]).map_err(|e| e.to_string())
    }
}
