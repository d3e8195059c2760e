//! TLS on both sides, with rustls and the *ring* crypto provider: the server's configuration
//! (`server.tls_cert`/`server.tls_key`, mutual TLS with `server.tls_client_ca`) and a sync client's (a peer's `ca_cert`,
//! `tls_only_ca_cert`, `client_cert`/`client_key`, else the built-in web roots).

use std::{path::Path, sync::Arc};

use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};

use policy::config::PeerConfig;

/// A TLS setting that cannot be used: which file and why.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct TlsError {
    /// The file (or setting) at fault.
    pub path: String,
    /// Why.
    pub message: String,
}

fn err(path: &Path, message: impl Into<String>) -> TlsError {
    TlsError {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// Makes *ring* the process's rustls provider (idempotent). Every HTTP client of the process
/// (reqwest built with `rustls-no-provider`) needs one before it is built.
pub fn ensure_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Every certificate of a PEM file (at least one).
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = std::fs::read(path).map_err(|e| err(path, format!("cannot read: {e}")))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(path, format!("not a PEM certificate file: {e}")))?;
    if certs.is_empty() {
        return Err(err(path, "holds no PEM certificate (BEGIN CERTIFICATE)"));
    }
    Ok(certs)
}

/// The private key of a PEM file (PKCS#8, PKCS#1 or SEC1).
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = std::fs::read(path).map_err(|e| err(path, format!("cannot read: {e}")))?;
    PrivateKeyDer::from_pem_slice(&bytes)
        .map_err(|e| err(path, format!("holds no usable PEM private key: {e}")))
}

/// The server side: the certificate chain and key, HTTP/1.1 by ALPN, TLS 1.2 and 1.3; with
/// `client_ca`, mutual TLS: a client without a certificate issued by one of those CAs is refused
/// in the handshake.
pub fn server_config(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
) -> Result<ServerConfig, TlsError> {
    let chain = load_certs(cert)?;
    let key_der = load_key(key)?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| err(cert, e.to_string()))?;
    let builder = match client_ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for c in load_certs(ca)? {
                roots
                    .add(c)
                    .map_err(|e| err(ca, format!("not a usable CA certificate: {e}")))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider(),
            )
            .build()
            .map_err(|e| err(ca, format!("cannot verify clients with it: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut cfg = builder
        .with_single_cert(chain, key_der)
        .map_err(|e| err(key, format!("does not fit the certificate: {e}")))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

/// The client side for one peer: roots from `ca_cert` (and the built-in web roots unless
/// `tls_only_ca_cert`), and the client certificate when configured.
pub fn client_config(peer: &PeerConfig) -> Result<ClientConfig, TlsError> {
    let mut roots = RootCertStore::empty();
    if !peer.tls_only_ca_cert {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    if let Some(ca) = &peer.ca_cert {
        for c in load_certs(ca)? {
            roots
                .add(c)
                .map_err(|e| err(ca, format!("not a usable CA certificate: {e}")))?;
        }
    }
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError {
            path: format!("peer `{}`", peer.name),
            message: e.to_string(),
        })?
        .with_root_certificates(roots);
    let mut cfg = match (&peer.client_cert, &peer.client_key) {
        (Some(cert), Some(key)) => builder
            .with_client_auth_cert(load_certs(cert)?, load_key(key)?)
            .map_err(|e| err(key, format!("does not fit the client certificate: {e}")))?,
        _ => builder.with_no_client_auth(),
    };
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}
